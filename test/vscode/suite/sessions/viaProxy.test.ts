/**
 * mayfly.terminal.connectVia in a real VS Code: flipping it to "proxy" restarts the bundled
 * proxy with --listen, and session terminals then get the proxy's address, where psql logs
 * in as the session role. Runs after sessions.test.ts in the same window (files run in
 * name order), against the same real PostgreSQL.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { MayflyApi } from '../../../../extension/extension';
import { activateMayfly, recordSessionSecrets, runIn, waitFor } from '../helpers';

const ROLE = '_hoop_session_user_3ea7a2af'; // store-readonly's session role

type OpenResult = { session: { id: string; role: string }; terminalName: string; connectVia: 'server' | 'proxy' } | undefined;

function settings(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('mayfly');
}

async function openTerminal(policy: string): Promise<{ result: NonNullable<OpenResult>; terminal: vscode.Terminal }> {
  const result = await vscode.commands.executeCommand<OpenResult>('mayfly.openSessionTerminal', policy);
  assert.ok(result, 'the command returned nothing (see the Mayfly output)');
  // The newest: terminals of one session share its name.
  const terminal = vscode.window.terminals.filter((t) => t.name === result.terminalName).pop();
  assert.ok(terminal);
  return { result, terminal };
}

describe('Session terminals through the proxy (mayfly.terminal.connectVia)', function () {
  let api: MayflyApi;
  let serverPort: string;

  before(async () => {
    api = await activateMayfly();
    serverPort = /@[^/]+:(\d+)\//.exec(process.env.MAYFLY_TEST_DSN!)![1]!;
    await waitFor('proxy running', () => api.services.proxy.state.kind === 'running' || undefined, 30_000);
  });
  afterEach(() => recordSessionSecrets(api));

  after(async () => {
    await settings().update('terminal.connectVia', undefined, vscode.ConfigurationTarget.Workspace);
    await settings().update('proxy.listen', undefined, vscode.ConfigurationTarget.Workspace);
  });

  it('says why, when the proxy cannot listen where terminals should connect', async () => {
    const pid = api.services.proxy.pid;
    // While terminals connect to the server the address is not used: no restart.
    await settings().update('proxy.listen', '192.0.2.1:0', vscode.ConfigurationTarget.Workspace);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(api.services.proxy.pid, pid);
    assert.equal(api.services.proxy.state.kind, 'running');

    await settings().update('terminal.connectVia', 'proxy', vscode.ConfigurationTarget.Workspace);
    const state = await waitFor('the proxy to fail', () => {
      const s = api.services.proxy.state;
      return s.kind === 'error' ? s : undefined;
    }, 30_000);
    assert.match(state.message, /the proxy exited \(code 1\): --listen 192\.0\.2\.1: only loopback addresses/);
    assert.match(api.status.text, /Mayfly: error/);

    const result = await vscode.commands.executeCommand<OpenResult>('mayfly.openSessionTerminal', 'store-readonly');
    assert.equal(result, undefined);
    assert.ok(
      api.services.output.lines.some((l) => /error: could not open a session for "store-readonly": .*only loopback addresses/.test(l)),
      'the refusal and its reason reach the user',
    );
  });

  let sessionId: string;

  it('with "proxy", terminals get the proxy\'s address and psql logs in through it as the session role', async () => {
    await settings().update('proxy.listen', '127.0.0.1:0', vscode.ConfigurationTarget.Workspace);
    const listen = await waitFor('the proxy to listen', () => {
      const s = api.services.proxy.state;
      return s.kind === 'running' && s.listen ? s.listen : undefined;
    }, 30_000);
    assert.notEqual(listen.port, 0, 'port 0 became a real port');
    assert.deepEqual((await api.services.proxy.client.health()).listen, { host: '127.0.0.1', port: listen.port, tls: true });

    const { result, terminal } = await openTerminal('store-readonly');
    sessionId = result.session.id;
    assert.equal(result.connectVia, 'proxy');
    const env = (terminal.creationOptions as vscode.TerminalOptions).env!;
    assert.equal(env.PGHOST, '127.0.0.1');
    assert.equal(env.PGPORT, String(listen.port));
    assert.equal(env.PGSSLMODE, 'prefer');

    assert.match(await runIn(terminal, 'echo "at=$PGHOST:$PGPORT"'), new RegExp(`^at=127\\.0\\.0\\.1:${listen.port}$`, 'm'));
    const query = await runIn(terminal, 'psql -XAtc "select current_user, current_database()"');
    assert.match(query, new RegExp(`^${ROLE}\\|dellstore$`, 'm'));
    assert.match(query, /exit=0/);
    // TLS on that port is the proxy's: the test server has none.
    const info = await runIn(terminal, 'psql -Xc "\\conninfo"');
    assert.match(info, new RegExp(`at port "${listen.port}"\\.\\s+SSL connection`));
    assert.notEqual(String(listen.port), serverPort);
    await waitFor('the proxy to log the login', () =>
      api.services.output.lines.some((l) => l.includes('auth.success') && l.includes(`user="${ROLE}"`) && l.includes('kind="session"')) || undefined,
    );
    assert.equal(api.services.terminals.routeOf(sessionId)?.viaProxy, true);
    assert.match(api.services.terminals.routeOf(sessionId)!.text, new RegExp(`through the Mayfly proxy at 127\\.0\\.0\\.1:${listen.port}`));
    // DB tools get the same address as terminals.
    await vscode.commands.executeCommand('mayfly.copyConnectionDetails', sessionId, 'Connection URI');
    assert.equal(await vscode.env.clipboard.readText(), `postgresql://${ROLE}@127.0.0.1:${listen.port}/dellstore`);
  });

  it('back to "server": new terminals get the server\'s address, without restarting the proxy', async () => {
    const pid = api.services.proxy.pid;
    await settings().update('terminal.connectVia', 'server', vscode.ConfigurationTarget.Workspace);
    const { result, terminal } = await openTerminal('store-readonly');
    assert.equal(result.connectVia, 'server');
    assert.match(await runIn(terminal, 'echo "at=$PGPORT ssl=${PGSSLMODE:-unset}"'), new RegExp(`^at=${serverPort} ssl=unset$`, 'm'));
    assert.match(await runIn(terminal, 'psql -XAtc "select current_user"'), new RegExp(`^${ROLE}$`, 'm'));
    assert.equal(api.services.proxy.pid, pid, 'the proxy (and its sessions) stayed');
    assert.equal(api.services.terminals.routeOf(result.session.id)?.viaProxy, false);
    await vscode.commands.executeCommand('mayfly.copyConnectionDetails', result.session.id, 'JDBC URL');
    assert.equal(await vscode.env.clipboard.readText(), `jdbc:postgresql://127.0.0.1:${serverPort}/dellstore?user=${ROLE}`);
    const password = api.services.sessions.sessions.find((s) => s.policy === 'store-readonly')?.password;
    assert.ok(password);
    assert.ok(!api.services.output.lines.some((l) => l.includes(password)), 'no session password in the output channel');
  });
});
