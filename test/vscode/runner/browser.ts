/** Debian's chromium, driven by playwright-core (no browser download). */
import { chromium, type Browser, type Page } from 'playwright-core';
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
];

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: process.env.MAYFLY_VSCODE_HEADED ? false : true,
    args: chromiumArgs,
  });
}

export async function newWorkbenchPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  return context.newPage();
}
