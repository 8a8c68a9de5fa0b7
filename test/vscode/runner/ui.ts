/**
 * Helpers for UI-level tests: what a person sees and does in the workbench. A code-server is
 * started WITHOUT a test payload (the extension under test is still loaded from
 * extensionDevelopmentPath), chromium opens the workspace, and the helpers drive it with the
 * keyboard as a person would: command palette, Quick Open, screenshots.
 *
 *   const wb = await openWorkbench({ workspace: 'test/vscode/fixtures/default' });
 *   try {
 *     await openFile(wb.page, 'mayfly.hcl');
 *     await runCommand(wb.page, 'Terminal: Create New Terminal');
 *     await screenshot(wb.page, 'out/screenshots/example.png');
 *   } finally {
 *     await wb.close();
 *   }
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newWorkbenchPage } from './browser';
import { remoteUri, startCodeServer, trackTempDir, type CodeServer } from './codeServer';
import { repoRoot } from './paths';

export { startCodeServer, type CodeServer } from './codeServer';

export interface WorkbenchOptions {
  /** Folder to open (relative to the repo root or absolute). */
  workspace: string;
  /** Default true: open a scratch copy so the fixture stays clean. */
  copyWorkspace?: boolean;
  /** Default true; false opens the folder in restricted mode. */
  trusted?: boolean;
  /** Extra environment for the server (extension host, terminals). */
  env?: Record<string, string>;
  /** Extra user settings. */
  settings?: Record<string, unknown>;
  /** Extension loaded as in development (default: the repo root); false loads none. */
  extensionDir?: string | false;
}

export interface Workbench {
  server: CodeServer;
  browser: Browser;
  page: Page;
  /** The folder actually opened (the scratch copy unless copyWorkspace: false). */
  workspace: string;
  close(): Promise<void>;
}

/** Starts a code-server and opens the workspace in headless chromium; waits for the workbench. */
export async function openWorkbench(opts: WorkbenchOptions): Promise<Workbench> {
  const source = path.resolve(repoRoot, opts.workspace);
  let workspace = source;
  let scratch: string | undefined;
  let untrackScratch = (): void => {};
  if (opts.copyWorkspace !== false) {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-ui-ws-'));
    untrackScratch = trackTempDir(scratch);
    workspace = path.join(scratch, path.basename(source));
    fs.cpSync(source, workspace, { recursive: true });
  }
  const server = await startCodeServer({ trusted: opts.trusted !== false, env: opts.env, settings: opts.settings });
  let browser: Browser | undefined;
  const close = async (): Promise<void> => {
    await browser?.close().catch(() => undefined);
    await server.stop();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    untrackScratch();
  };
  try {
    browser = await launchChromium();
    const page = await newWorkbenchPage(browser);
    const extensionDir = opts.extensionDir === undefined ? repoRoot : opts.extensionDir;
    const payload: string[][] = [['skipWelcome', 'true']];
    if (extensionDir) payload.unshift(['extensionDevelopmentPath', remoteUri(server.port, path.resolve(extensionDir))]);
    await page.goto(
      `${server.url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`,
    );
    await waitForWorkbench(page);
    return { server, browser, page, workspace, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Waits until the workbench shows its status bar and the explorer of the opened folder. */
export async function waitForWorkbench(page: Page, timeoutMs = 60_000): Promise<void> {
  await page.locator('.monaco-workbench .part.statusbar').waitFor({ state: 'visible', timeout: timeoutMs });
  await page.locator('.monaco-workbench .explorer-folders-view').waitFor({ state: 'visible', timeout: timeoutMs });
}

const quickInput = '.quick-input-widget';

async function pickInQuickInput(page: Page, text: string, expect: string): Promise<void> {
  const input = page.locator(`${quickInput} .quick-input-box input`);
  await input.waitFor({ state: 'visible' });
  await input.fill(text);
  // Enter picks the focused row: wait until it is the one we mean.
  await page
    .locator(`${quickInput} .monaco-list-row.focused`, { hasText: expect })
    .first()
    .waitFor({ state: 'visible', timeout: 15_000 });
  await page.keyboard.press('Enter');
  await page.locator(quickInput).waitFor({ state: 'hidden', timeout: 15_000 });
}

/** Runs a command through the command palette (F1, type its label, Enter). */
export async function runCommand(page: Page, label: string): Promise<void> {
  await page.keyboard.press('F1');
  await pickInQuickInput(page, `>${label}`, label);
}

/** Opens a workspace file through Quick Open (Ctrl+P) and waits for its editor tab. */
export async function openFile(page: Page, relativePath: string): Promise<void> {
  await page.keyboard.press('Control+P');
  const name = path.basename(relativePath);
  await pickInQuickInput(page, relativePath, name);
  await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ state: 'visible', timeout: 15_000 });
}

/** Text the visible terminal shows (needs the DOM renderer: defaultSettings turn GPU off). */
export async function terminalText(page: Page): Promise<string> {
  return (await page.locator('.terminal-wrapper.active .xterm-rows').first().textContent()) ?? '';
}

/** Waits until the visible terminal shows something (the shell's prompt) so typing is not typeahead. */
export async function waitForTerminalReady(page: Page, timeoutMs = 20_000): Promise<void> {
  await page.locator('.terminal-wrapper.active .xterm-rows').first().waitFor({ state: 'visible', timeout: timeoutMs });
  const deadline = Date.now() + timeoutMs;
  while (!(await terminalText(page).catch(() => '')).trim()) {
    if (Date.now() > deadline) throw new Error(`terminal showed no prompt within ${timeoutMs} ms`);
    await page.waitForTimeout(200);
  }
}

/** Waits until the visible terminal shows `text`. */
export async function waitForTerminalText(page: Page, text: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await terminalText(page).catch(() => '')).includes(text)) {
    if (Date.now() > deadline) throw new Error(`terminal did not show "${text}" within ${timeoutMs} ms`);
    await page.waitForTimeout(200);
  }
}

/** Saves a PNG of the whole window to `file` (folders created); returns the absolute path. */
export async function screenshot(page: Page, file: string): Promise<string> {
  const abs = path.resolve(repoRoot, file);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  await page.screenshot({ path: abs });
  return abs;
}
