/** Shared by the extension-host suites: activation and polling. */
import assert from 'node:assert/strict';
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
