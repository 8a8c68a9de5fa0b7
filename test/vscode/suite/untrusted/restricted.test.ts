/** A restricted (untrusted) workspace: validation and previews work; no proxy, no credentials. */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { activateMayfly, waitFor, workspacePath } from '../helpers';

describe('Mayfly in an untrusted workspace', () => {
  it('is untrusted (the fixture is opened without trust)', () => {
    assert.equal(vscode.workspace.isTrusted, false);
  });

  it('activates, but does not start the proxy', async () => {
    const api = await activateMayfly();
    assert.equal(api.services.proxy.state.kind, 'waiting-for-trust');
    assert.equal(api.services.proxy.pid, undefined);
    assert.match(api.status.text, /restricted/);
  });

  it('still validates policy files as you type', async () => {
    const uri = vscode.Uri.file(workspacePath('broken.policy.hcl'));
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    assert.equal(doc.languageId, 'mayfly-policy');
    const diags = await waitFor('diagnostics', () => {
      const d = vscode.languages.getDiagnostics(uri);
      return d.length ? d : undefined;
    });
    assert.equal(diags[0]!.code, 'policy.engine');
  });

  it('lists policies in the view from the policy file', async () => {
    const api = await activateMayfly();
    await waitFor('policies', () => api.services.policies.policies.length === 2 || undefined);
    assert.deepEqual(api.services.policies.policies.map((p) => p.name), ['pg-homolog', 'store-readonly']);
  });

  it('refuses to open a credential terminal', async () => {
    const before = vscode.window.terminals.length;
    const result = await vscode.commands.executeCommand('mayfly.openSessionTerminal', 'pg-homolog');
    assert.equal(result, undefined);
    assert.equal(vscode.window.terminals.length, before);
  });
});
