/** Shared by the extension-host suites: activation and polling. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as vscode from 'vscode';
import type { MayflyApi } from '../../../extension/extension';

export async function activateMayfly(): Promise<MayflyApi> {
  const ext = vscode.extensions.getExtension<MayflyApi>('mayfly.mayfly');
  assert.ok(ext, 'extension mayfly.mayfly is not loaded');
  return ext.activate();
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function workspacePath(...parts: string[]): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'no workspace folder');
  return vscode.Uri.joinPath(folder.uri, ...parts).fsPath;
}

let outputs = 0;

/** Runs one simple command in the terminal and returns its output and `exit=CODE`, through a file the shell writes. */
export async function runIn(terminal: vscode.Terminal, command: string): Promise<string> {
  const out = workspacePath(`.out-${process.pid}-${Date.now()}-${++outputs}.txt`);
  terminal.sendText(`${command} > '${out}.tmp' 2>&1; echo "exit=$?" >> '${out}.tmp'; mv '${out}.tmp' '${out}'`);
  const text = await waitFor(`output of ${command}`, () => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : undefined), 30_000);
  fs.rmSync(out, { force: true });
  return text;
}

/**
 * Notes the session passwords the extension holds now, for the runner's scan of everything
 * VS Code wrote (test/vscode/runner/secretScan.ts). Call it after each test.
 */
export function recordSessionSecrets(api: MayflyApi): void {
  recordSecrets(api.services.sessions.sessions.map((s) => s.password));
}

/** Notes secrets a test made up (say, passwords it stored in Secrets Manager) for the same scan. */
export function recordSecrets(values: (string | undefined)[]): void {
  const file = process.env.MAYFLY_TEST_SECRETS_FILE;
  const secrets = values.filter((v): v is string => !!v);
  if (file && secrets.length) fs.appendFileSync(file, secrets.join('\n') + '\n');
}
