/**
 * Smoke test of the "tests inside a real VS Code" pipeline: the extension activates in a
 * real extension host, files of the fixture workspace open, and terminals receive env.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';

function workspaceDir(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the test window has no workspace folder (the runner opens a fixture workspace)');
  return folder.uri.fsPath;
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('smoke: Mayfly in a real VS Code', () => {
  it('activates the extension', async () => {
    const ext = vscode.extensions.getExtension('mayfly.mayfly');
    assert.ok(ext, 'extension mayfly.mayfly is not loaded (is extensionDevelopmentPath the repo root?)');
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  it('opens a file of the fixture workspace in an editor', async () => {
    const file = path.join(workspaceDir(), 'mayfly.hcl');
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
    const editor = await vscode.window.showTextDocument(doc);
    assert.equal(editor.document.uri.fsPath, file);
    assert.match(editor.document.getText(), /policy "smoke-readonly"/);
  });

  it('creates a terminal whose shell sees the env it was given', async () => {
    const out = path.join(workspaceDir(), `.smoke-terminal-${process.pid}-${Date.now()}.txt`);
    const terminal = vscode.window.createTerminal({
      name: 'mayfly smoke',
      env: { MAYFLY_SMOKE: 'x' },
      isTransient: true,
    });
    try {
      terminal.sendText(`echo $MAYFLY_SMOKE > '${out}'`);
      const content = await waitFor(`${out} to contain "x"`, () => {
        const text = fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trim() : '';
        return text === 'x' ? text : undefined;
      });
      assert.equal(content, 'x');
    } finally {
      terminal.dispose();
      fs.rmSync(out, { force: true });
    }
  });
});
