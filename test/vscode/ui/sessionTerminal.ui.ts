/**
 * What a person sees: open the policy file (a diagnostic and the session-role code lens),
 * run "Mayfly: Open Session Terminal" from the command palette, pick the policy, run psql
 * in the terminal Mayfly opens. Saves the screenshots the README shows.
 *   node --import tsx test/vscode/ui/sessionTerminal.ui.ts [outDir=docs/images]
 */
import path from 'node:path';
import { openFile, openWorkbench, runCommand, screenshot, waitForTerminalReady, waitForTerminalText } from '../runner/ui';
import { startEmbeddedPostgres, stopAllPostgres } from '../../support/postgres';
import { createSampleData } from '../../../proxy/demo/sampleData';

async function main(): Promise<void> {
  const outDir = process.argv[2] ?? 'docs/images';
  const server = await startEmbeddedPostgres();
  await createSampleData(server.superuser);
  const s = server.superuser;
  const dsn = `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable`;
  const wb = await openWorkbench({ workspace: 'test/vscode/fixtures/ui', env: { MAYFLY_TEST_DSN: dsn } });
  const page = wb.page;
  try {
    await openFile(page, 'config.hcl');
    // The language server's diagnostic on "1d" and the code lens with the session role.
    await page.locator('.squiggly-error').first().waitFor({ timeout: 30_000 });
    await page.getByText('_hoop_session_user_bb0465c4', { exact: false }).first().waitFor({ timeout: 30_000 });
    await page.locator('.codelens-decoration', { hasText: 'Open session terminal' }).first().waitFor({ timeout: 30_000 });
    await runCommand(page, 'View: Toggle Problems');
    await page.getByText('Go durations have no "d" unit', { exact: false }).first().waitFor({ timeout: 10_000 });
    await screenshot(page, path.join(outDir, 'policy-diagnostics.png'));
    await runCommand(page, 'View: Toggle Problems');

    // The command opens its own quick pick, so drive the palette step by step.
    const input = page.locator('.quick-input-widget .quick-input-box input');
    await page.keyboard.press('F1');
    await input.fill('>Mayfly: Open Session Terminal');
    await page.locator('.quick-input-widget .monaco-list-row.focused', { hasText: 'Mayfly: Open Session Terminal' }).waitFor({ timeout: 15_000 });
    await page.keyboard.press('Enter');
    const pick = page.locator('.quick-input-widget');
    await pick.getByText('_hoop_session_user_bb0465c4').first().waitFor({ timeout: 10_000 });
    await pick.getByText('invalid').first().waitFor({ timeout: 10_000 });
    await screenshot(page, path.join(outDir, 'policy-picker.png'));
    await input.fill('pg-homolog');
    await page.locator('.quick-input-widget .monaco-list-row.focused', { hasText: 'pg-homolog' }).waitFor({ timeout: 15_000 });
    await page.keyboard.press('Enter');
    await page.getByText('Mayfly: pg-homolog (until', { exact: false }).first().waitFor({ timeout: 30_000 });
    await waitForTerminalReady(page);
    await page.keyboard.type("psql -c 'select current_user, now()::time(0) as at'");
    await page.keyboard.press('Enter');
    // psql's own output (the terminal's banner also names the role).
    await waitForTerminalText(page, '(1 row)');
    await screenshot(page, path.join(outDir, 'session-terminal.png'));
    console.log(`screenshots in ${outDir}: policy-diagnostics.png, session-terminal.png`);
  } catch (err) {
    await screenshot(page, path.join('out', 'screenshots', 'session-terminal-failure.png')).catch(() => '');
    throw err;
  } finally {
    await wb.close();
    await stopAllPostgres();
  }
}

main().then(
  () => console.log('1 passed, 0 failed'),
  (err) => {
    console.error(err instanceof Error ? err.stack ?? err.message : err);
    console.log('0 passed, 1 failed');
    process.exitCode = 1;
  },
);
