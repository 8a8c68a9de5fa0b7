/** Debian's chromium, driven by playwright-core (no browser download). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { trackTempDir } from './codeServer';
import { chromiumPath } from './paths';

/** Flags that keep chromium quiet on a closed network and working as root in a container. */
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
  '--disable-crash-reporter',
];

export async function launchChromium(): Promise<Browser> {
  // Chromium keeps its crash-report database under $XDG_CONFIG_HOME/chromium whatever the
  // profile dir: point it at a temp dir rather than ~/.config.
  const configHome = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-chromium-'));
  const untrack = trackTempDir(configHome);
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: process.env.MAYFLY_VSCODE_HEADED ? false : true,
    args: chromiumArgs,
    env: { ...process.env, XDG_CONFIG_HOME: configHome },
  });
  browser.on('disconnected', () => {
    fs.rmSync(configHome, { recursive: true, force: true });
    untrack();
  });
  return browser;
}

export async function newWorkbenchPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  return context.newPage();
}
