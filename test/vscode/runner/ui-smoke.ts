/**
 * Demonstration of the UI helpers (docs/testing-vscode.md):
 *   node --import tsx test/vscode/runner/ui-smoke.ts [out.png]
 * Opens the default fixture workspace, opens mayfly.hcl through Quick Open, opens a terminal
 * through the command palette, echoes an env var given to the server, and saves a screenshot
 * (default out/screenshots/ui-smoke.png). Ends with "N passed, N failed" like the other tiers.
 */
import { openFile, openWorkbench, runCommand, screenshot, waitForTerminalReady, waitForTerminalText } from './ui';

async function main(): Promise<void> {
  const out = process.argv[2] ?? 'out/screenshots/ui-smoke.png';
  const t0 = Date.now();
  const wb = await openWorkbench({
    workspace: 'test/vscode/fixtures/default',
    env: { MAYFLY_UI_SMOKE: 'hello from the Mayfly UI smoke' },
  });
  try {
    await openFile(wb.page, 'mayfly.hcl');
    await runCommand(wb.page, 'Terminal: Create New Terminal');
    await waitForTerminalReady(wb.page);
    await wb.page.keyboard.type('echo "$MAYFLY_UI_SMOKE"');
    await wb.page.keyboard.press('Enter');
    await waitForTerminalText(wb.page, 'hello from the Mayfly UI smoke');
    const file = await screenshot(wb.page, out);
    console.log(`screenshot: ${file} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (err) {
    const file = await screenshot(wb.page, out.replace(/\.png$/, '-failure.png')).catch(() => '');
    throw new Error(`${(err as Error).message}${file ? `\nscreenshot of the failure: ${file}` : ''}`);
  } finally {
    await wb.close();
  }
}

main().then(
  () => console.log('1 passed, 0 failed'),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    console.log('0 passed, 1 failed');
    process.exitCode = 1;
  },
);
