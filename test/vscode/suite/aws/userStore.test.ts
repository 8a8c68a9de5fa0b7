/**
 * The user store from AWS Secrets Manager, set up through the extension's settings, in a
 * real VS Code: the runner's setup serves a real PostgreSQL and the local Secrets Manager
 * (with an admin endpoint for the tests), the real AWS SDK in the bundled proxy reads it,
 * psql logs in through the proxy, and the status bar follows an outage and its end.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import * as vscode from 'vscode';
import type { MayflyApi } from '../../../../extension/extension';
import type { DirectoryStatus } from '../../../../proxy/users/directory';
import { activateMayfly, recordSecrets, recordSessionSecrets, waitFor } from '../helpers';

const SECRET = 'mayfly/users';
const REGION = 'eu-central-1';

function settings(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('mayfly');
}

async function admin<T>(method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
  const res = await fetch(process.env.MAYFLY_TEST_SM_ADMIN + route, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const json = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(`admin ${route}: ${json.error}`);
  return json;
}

function newPassword(): string {
  const p = crypto.randomBytes(18).toString('base64url');
  recordSecrets([p]);
  return p;
}

const md5Password = (user: string, password: string) => 'md5' + crypto.createHash('md5').update(password + user).digest('hex');

/** psql through the proxy; resolves with its exit code and output, never rejects. */
function psql(port: number, user: string, password: string, sql: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      'psql',
      ['-XAt', '-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', 'testdb', '-c', sql],
      { env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '10', PGSSLMODE: 'prefer' }, timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

describe('Users from AWS Secrets Manager through the extension settings', function () {
  let api: MayflyApi;
  let port: number;
  const alice = newPassword();
  const bob = newPassword();
  const carol = newPassword();
  const users = [
    { username: 'alice', password: alice, type: 'text', role: 'database', policy: 'pg-homolog' },
    // MD5 hashes the name the client sends, so an md5 user logs in by its plain name (its default policy).
    { username: 'bob', password: md5Password('bob', bob), type: 'md5', role: 'database', policy: 'pg-homolog' },
    { username: 'no-password', type: 'text', role: 'database' },
  ];

  before(async () => {
    assert.ok(process.env.MAYFLY_TEST_SM_ADMIN && process.env.MAYFLY_TEST_SM_ENDPOINT, 'the suite setup must pass the Secrets Manager addresses');
    assert.equal(process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER, undefined, 'the endpoint must come from the setting, not the environment');
    assert.equal(process.env.AWS_REGION, undefined, 'the region must come from the setting, not the environment');
    api = await activateMayfly();
    await waitFor('proxy running', () => api.services.proxy.state.kind === 'running' || undefined, 30_000);
    await admin('POST', '/put', { name: SECRET, value: users });
  });
  afterEach(async () => {
    await api.services.sessions.refresh();
    recordSessionSecrets(api);
  });
  after(async () => {
    await admin('POST', '/outage', { outage: false }).catch(() => undefined);
    for (const key of ['users.sources', 'aws.endpoint', 'aws.region']) await settings().update(key, undefined, vscode.ConfigurationTarget.Workspace);
  });

  it('without user sources the proxy does not listen and the status has no users', async () => {
    const state = api.services.proxy.state;
    assert.ok(state.kind === 'running' && !state.listen, JSON.stringify(state));
    assert.equal(await api.services.users.refresh(), undefined);
    assert.doesNotMatch(api.status.text, /user/);
    assert.equal((await api.services.proxy.client.health()).users, undefined);
  });

  it('a bad source in the settings is refused by name and changes nothing', async () => {
    const pid = api.services.proxy.pid;
    await settings().update('users.sources', ['aws-tag:no-value'], vscode.ConfigurationTarget.Workspace);
    await waitFor('the refusal in the output', () =>
      api.services.output.lines.some((l) =>
        l.includes('error: mayfly.users.sources: "aws-tag:no-value": aws-tag: needs KEY=VALUE') && l.includes('not applied: the proxy keeps its previous settings'),
      ) || undefined,
    );
    assert.equal(api.services.proxy.pid, pid, 'the running proxy was left alone');
    assert.equal(api.services.proxy.state.kind, 'running');
    await settings().update('users.sources', undefined, vscode.ConfigurationTarget.Workspace);
  });

  it('sources, region and endpoint from the settings: the proxy listens, loads the users, and the status shows them', async () => {
    await settings().update('aws.region', REGION, vscode.ConfigurationTarget.Workspace);
    await settings().update('aws.endpoint', process.env.MAYFLY_TEST_SM_ENDPOINT, vscode.ConfigurationTarget.Workspace);
    await settings().update('users.sources', [`aws:${SECRET}`], vscode.ConfigurationTarget.Workspace);
    const listen = await waitFor('the proxy to listen', () => {
      const s = api.services.proxy.state;
      return s.kind === 'running' && s.listen ? s.listen : undefined;
    }, 30_000);
    port = listen.port;
    const status = await waitFor('the users in the status', async () => {
      const u = await api.services.users.refresh();
      return u && u.users === 2 && !u.stale ? u : undefined;
    }, 30_000);
    assert.deepEqual(
      status.sources.map((s) => [s.source, s.users, s.skipped, s.error]),
      [[`aws:${SECRET}`, 2, 1, undefined]],
      'alice and bob in, the entry without a password skipped',
    );
    assert.ok(Date.now() - Date.parse(status.lastSuccessAt!) < 10_000, `refreshed recently: ${status.lastSuccessAt}`);
    assert.equal(status.refreshMs, 1000, 'mayfly.users.refresh of the fixture (1s)');
    assert.match(api.status.text, /^\$\(database\) Mayfly: \d+ sessions?, 2 users$/);
    assert.match(api.status.tooltip, /\nUsers: 2 \(refreshed \d+ s ago, every 1 s\)$/);
    assert.equal(api.status.look, 'normal');

    // The SDK in the proxy signed with the setting's region and the environment's key.
    const requests = await admin<{ operation: string; region?: string; accessKeyId?: string }[]>('GET', '/requests');
    assert.ok(requests.some((r) => r.operation === 'GetSecretValue'), JSON.stringify(requests));
    assert.deepEqual([...new Set(requests.map((r) => `${r.region} ${r.accessKeyId}`))], [`${REGION} ${process.env.AWS_ACCESS_KEY_ID}`]);
  });

  it('psql through the proxy as users from the secret (user@policy, or the default policy); a wrong password is refused', async () => {
    const a = await psql(port, 'alice@pg-homolog', alice, 'select current_user, current_database()');
    assert.equal(a.code, 0, a.out);
    assert.match(a.out, /^_hoop_session_user_[0-9a-f]{8}\|testdb$/m);
    const b = await psql(port, 'bob', bob, 'select current_user');
    assert.equal(b.code, 0, b.out);
    assert.match(b.out, /^_hoop_session_user_[0-9a-f]{8}$/m);
    const wrong = await psql(port, 'alice@pg-homolog', bob, 'select 1');
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.out, /password authentication failed for user "alice@pg-homolog"/);
  });

  it('a user added to the secret logs in after the next refresh, and the count follows', async () => {
    await admin('POST', '/put', { name: SECRET, value: [...users, { username: 'carol', password: carol, type: 'text', role: 'database' }] });
    await waitFor('three users in the status bar', async () => {
      await api.services.users.refresh();
      return /, 3 users$/.test(api.status.text) || undefined;
    }, 30_000);
    const c = await psql(port, 'carol@pg-homolog', carol, 'select current_user');
    assert.equal(c.code, 0, c.out);
  });

  it('Secrets Manager unreachable: the status turns stale with the reason, users keep logging in, and it recovers', async () => {
    await admin('POST', '/outage', { outage: 'refuse' });
    const stale = await waitFor('the status to turn stale', async () => {
      await api.services.users.refresh();
      return api.status.look === 'warning' ? api.services.users.status : undefined;
    }, 30_000);
    assert.ok(stale?.stale);
    assert.equal(stale.users, 3, 'the last good users stay in force');
    assert.match(api.status.text, /^\$\(warning\) Mayfly: \d+ sessions?, users stale$/);
    assert.match(api.status.tooltip, /Users: 3, stale: the last good users stay in force \(last full refresh \d+ s ago, next try in \d+ s\)\naws:mayfly\/users: /);

    // Fail-static: logins go on with the last good users.
    const a = await psql(port, 'alice@pg-homolog', alice, 'select 1');
    assert.equal(a.code, 0, a.out);

    const shown = await vscode.commands.executeCommand<DirectoryStatus>('mayfly.showUserStore');
    assert.equal(shown?.stale, true);
    assert.ok(shown.sources[0]?.error, 'the source says why');
    assert.ok(api.services.output.lines.some((l) => /user store: 3 users, STALE, last refresh \d+ s ago/.test(l)));
    assert.ok(api.services.output.lines.some((l) => /^ {2}aws:mayfly\/users: 3 users, 1 skipped, last success \d+ s ago; failing: /.test(l)));
    assert.ok(api.services.output.lines.some((l) => /\[extension\] users are stale \(3 in force\): aws:mayfly\/users: /.test(l)));

    await admin('POST', '/outage', { outage: false });
    // Failed refreshes back off (2, 4, 8 s ... with a 1 s interval), so recovery may take a few.
    await waitFor('the status to recover', async () => {
      await api.services.users.refresh();
      return (api.status.look === 'normal' && /, 3 users$/.test(api.status.text)) || undefined;
    }, 60_000);
    assert.match(api.status.tooltip, /\nUsers: 3 \(refreshed \d+ s ago, every 1 s\)$/);
    assert.ok(api.services.output.lines.some((l) => l.includes('[extension] users refreshed again: 3 in force')));
  });

  it('no password, key or DSN in the output channel', () => {
    const lines = api.services.output.lines;
    assert.ok(lines.some((l) => l.includes('users.loaded')), 'the proxy logged its user events here');
    const secrets = [alice, bob, carol, md5Password('bob', bob), process.env.AWS_SECRET_ACCESS_KEY!, ...api.services.sessions.sessions.map((s) => s.password)];
    const dsnPassword = /:\/\/[^:]+:([^@]+)@/.exec(process.env.MAYFLY_TEST_DSN!)![1]!;
    secrets.push(decodeURIComponent(dsnPassword));
    for (const secret of secrets) assert.ok(!lines.some((l) => l.includes(secret)), `a secret of ${secret.length} characters is in the output channel`);
  });

  it('removing the sources restarts the proxy without the user store', async () => {
    await settings().update('users.sources', undefined, vscode.ConfigurationTarget.Workspace);
    await waitFor('the proxy without a listener', () => {
      const s = api.services.proxy.state;
      return (s.kind === 'running' && !s.listen) || undefined;
    }, 30_000);
    assert.equal(await api.services.users.refresh(), undefined);
    assert.doesNotMatch(api.status.text, /user/);
  });
});
