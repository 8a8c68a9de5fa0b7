/**
 * Mayfly in a real VS Code, trusted workspace, against a real PostgreSQL (the runner starts
 * one and passes its granter DSN as MAYFLY_TEST_DSN; the fixture's settings point
 * mayfly.configEntries at it).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as vscode from 'vscode';
import type { MayflyApi } from '../../../../extension/extension';
import { activateMayfly, recordSessionSecrets, runIn, waitFor, workspacePath } from '../helpers';

let api: MayflyApi;

describe('Mayfly sessions in a real VS Code', function () {
  before(async () => {
    assert.ok(process.env.MAYFLY_TEST_DSN, 'the runner must pass MAYFLY_TEST_DSN');
    api = await activateMayfly();
  });
  afterEach(() => recordSessionSecrets(api));

  it('starts the bundled proxy and shows it in the status bar', async () => {
    await waitFor('proxy running', () => api.services.proxy.state.kind === 'running' || undefined, 30_000);
    assert.ok(api.services.proxy.pid);
    await waitFor('status text', () => /Mayfly: \d+ session/.test(api.status.text) || undefined);
  });

  it('shows diagnostics for a broken policy and clears them when fixed', async () => {
    const uri = vscode.Uri.file(workspacePath('scratch.policy.hcl'));
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    const start = doc.getText().indexOf('"SELECT"') + 1;
    const range = new vscode.Range(doc.positionAt(start), doc.positionAt(start + 6));
    const broken = new vscode.WorkspaceEdit();
    broken.replace(uri, range, 'select');
    await vscode.workspace.applyEdit(broken);
    const diags = await waitFor('a diagnostic', () => {
      const d = vscode.languages.getDiagnostics(uri);
      return d.length ? d : undefined;
    });
    assert.equal(diags[0]!.code, 'policy.privilege-case');
    const fixed = new vscode.WorkspaceEdit();
    fixed.replace(uri, range, 'SELECT');
    await vscode.workspace.applyEdit(fixed);
    await waitFor('diagnostics cleared', () => vscode.languages.getDiagnostics(uri).length === 0 || undefined);
    await vscode.commands.executeCommand('workbench.action.files.revert');
  });

  it('code lens and hover carry the session role', async () => {
    const uri = vscode.Uri.file(workspacePath('config.hcl'));
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    const lenses = await waitFor('code lenses', async () => {
      const l = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri);
      return l?.length ? l : undefined;
    });
    const titles = lenses.map((l) => l.command?.title ?? '');
    assert.ok(titles.some((t) => t.includes('_hoop_session_user_bb0465c4')), titles.join(' | '));
    assert.ok(titles.includes('Open session terminal'));
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, new vscode.Position(0, 10));
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
    assert.match(text, /_hoop_session_user_bb0465c4/);
  });

  it('lists the policies in the view', () => {
    assert.deepEqual(api.services.policies.policies.map((p) => [p.name, p.sessionUser]), [
      ['pg-homolog', '_hoop_session_user_bb0465c4'],
      ['store-readonly', '_hoop_session_user_3ea7a2af'],
      ['via-secret', '_hoop_session_user_c8305b0f'],
    ]);
  });

  let terminal: vscode.Terminal;
  let sessionId: string;

  it('Open Session Terminal gives a terminal where psql logs in as the session role', async () => {
    const result = await vscode.commands.executeCommand<{ session: { id: string; role: string }; terminalName: string }>(
      'mayfly.openSessionTerminal',
      'pg-homolog',
    );
    assert.ok(result, 'the command returned nothing (see the Mayfly output)');
    sessionId = result.session.id;
    assert.match(result.terminalName, /^Mayfly: pg-homolog \(until .+\)$/);
    terminal = vscode.window.terminals.find((t) => t.name === result.terminalName)!;
    assert.ok(terminal);
    const out = await runIn(terminal, "psql -XAtc 'select current_user'");
    assert.match(out, /^_hoop_session_user_bb0465c4$/m);
    assert.match(out, /exit=0/);
    // The credentials are in the terminal's own environment, not the persistent collection.
    assert.equal(api.services.context.environmentVariableCollection.get('PGPASSWORD'), undefined);
  });

  it('lists the session in the Sessions view model', async () => {
    await api.services.sessions.refresh();
    const s = api.services.sessions.sessions.find((x) => x.id === sessionId);
    assert.ok(s);
    assert.equal(s.policy, 'pg-homolog');
  });

  it('Renew keeps the password, so the open terminal keeps working', async () => {
    const before = api.services.sessions.sessions.find((x) => x.id === sessionId)!;
    const renewed = await vscode.commands.executeCommand<{ expiresAt: string }>('mayfly.renewSession', sessionId);
    assert.ok(renewed);
    await api.services.sessions.refresh();
    const after = api.services.sessions.sessions.find((x) => x.id === sessionId)!;
    assert.equal(after.password, before.password);
    assert.match(await runIn(terminal, "psql -XAtc 'select 1'"), /exit=0/);
  });

  it('Copy Connection Details copies no password unless asked', async () => {
    await vscode.commands.executeCommand('mayfly.copyConnectionDetails', sessionId, 'Connection URI');
    const uri = await vscode.env.clipboard.readText();
    assert.match(uri, /^postgresql:\/\/_hoop_session_user_bb0465c4@127\.0\.0\.1:\d+\/dellstore$/);
  });

  it('Revoke ends the session: the terminal can no longer log in', async () => {
    const r = await vscode.commands.executeCommand<{ roleExpired: boolean }>('mayfly.revokeSession', sessionId);
    assert.ok(r?.roleExpired);
    const out = await runIn(terminal, "psql -XAtc 'select 1'");
    assert.match(out, /password authentication failed/);
    assert.doesNotMatch(out, /exit=0/);
  });

  it('Set Entry DSN keeps a DSN in SecretStorage and the proxy uses it', async () => {
    const dsn = process.env.MAYFLY_TEST_DSN!;
    const before = api.services.proxy.pid;
    await vscode.commands.executeCommand('mayfly.setEntryDsn', 'secret-entry', dsn);
    assert.equal(await api.services.context.secrets.get('mayfly.entryDsn.secret-entry'), dsn);
    await waitFor('proxy restarted', () => (api.services.proxy.state.kind === 'running' && api.services.proxy.pid !== before) || undefined, 30_000);
    const result = await vscode.commands.executeCommand<{ terminalName: string }>('mayfly.openSessionTerminal', 'via-secret');
    assert.ok(result, 'opening a session through the stored DSN failed');
    const t = vscode.window.terminals.find((x) => x.name === result.terminalName)!;
    assert.match(await runIn(t, "psql -XAtc 'select current_database()'"), /^testdb$/m);
    // Nothing that holds the DSN was written to settings.
    const settings = fs.readFileSync(workspacePath('.vscode', 'settings.json'), 'utf8');
    assert.ok(!settings.includes('secret-entry'));
  });

  it('Sweep Expired Roles reports per configured entry', async () => {
    const reports = await vscode.commands.executeCommand<{ entry: string; error?: string }[]>('mayfly.sweepExpiredRoles');
    assert.ok(reports);
    assert.deepEqual(reports.map((r) => [r.entry, r.error]), [
      ['pg-homolog-credentials', undefined],
      ['secret-entry', undefined],
    ]);
  });

  it('restarts the proxy after a crash; open terminals keep working and the new proxy takes up their sessions', async () => {
    const opened = await vscode.commands.executeCommand<{ session: { id: string }; terminalName: string }>('mayfly.openSessionTerminal', 'pg-homolog');
    assert.ok(opened);
    // The newest terminal of that name (an earlier, revoked one may carry the same name).
    const t = vscode.window.terminals.filter((x) => x.name === opened.terminalName).pop()!;
    assert.match(await runIn(t, "psql -XAtc 'select 1'"), /exit=0/);
    recordSessionSecrets(api);
    const pid = api.services.proxy.pid!;
    process.kill(pid, 'SIGKILL');
    await waitFor('proxy restarted', () => (api.services.proxy.state.kind === 'running' && api.services.proxy.pid !== pid) || undefined, 30_000);
    // The issued credentials still log in, and the restarted proxy lists the session again.
    assert.match(await runIn(t, "psql -XAtc 'select current_user'"), /exit=0/);
    await waitFor('session taken up', async () => {
      await api.services.sessions.refresh();
      return api.services.sessions.sessions.some((x) => x.id === opened.session.id) || undefined;
    });
    // Opening the policy again shares the live password rather than refusing or rotating it.
    const again = await vscode.commands.executeCommand<{ session: { id: string } }>('mayfly.openSessionTerminal', 'pg-homolog');
    assert.ok(again, 'the restarted proxy refused the live role (see the Mayfly output)');
    assert.match(await runIn(t, "psql -XAtc 'select 1'"), /exit=0/);
  });

  it("keeps the DSN out of the proxy's process arguments", () => {
    const dsn = process.env.MAYFLY_TEST_DSN!;
    const password = decodeURIComponent(/:\/\/[^:]+:([^@]+)@/.exec(dsn)![1]!);
    const args = fs.readFileSync(`/proc/${api.services.proxy.pid}/cmdline`, 'utf8');
    assert.match(args, /proxy/);
    assert.ok(!args.includes(password) && !args.includes(encodeURIComponent(password)));
  });

  it('never writes a DSN or password to the output channel', async () => {
    const dsn = process.env.MAYFLY_TEST_DSN!;
    const password = decodeURIComponent(/:\/\/[^:]+:([^@]+)@/.exec(dsn)![1]!);
    const all = api.services.output.lines.join('\n');
    assert.ok(all.length > 0);
    assert.ok(!all.includes(password));
    assert.ok(!all.includes(dsn));
  });
});
