describe('tmp crash', () => {
  it('kills the extension host', async () => {
    process.kill(process.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 5000));
  });
});
