/** Starts the bare Node relay (bench/nodeRelay.ts) as its own process, like the proxy it is compared with. */
import { spawn } from 'node:child_process';
import path from 'node:path';

export interface RunningNodeRelay {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export async function startNodeRelay(upstreamPort: number): Promise<RunningNodeRelay> {
  const script = path.join(__dirname, 'nodeRelay.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, String(upstreamPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`the Node relay did not start: ${out}`)), 20_000);
    const fail = (e: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(e);
    };
    child.once('exit', (code) => fail(new Error(`the Node relay exited ${code}: ${out}`)));
    child.stdout.on('data', () => {
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve(Number(m[1]));
      }
    });
  });
  return {
    port,
    pid: child.pid!,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
