// `mayfly proxy --listen --users` as a real process, with psql connecting through it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, freePort } from '../../support/postgres';
import { createSampleData } from '../../../proxy/demo/sampleData';
import { runMayfly } from '../../support/cli';
import { startProxy, type RunningProxy } from '../../support/proxyProcess';

// Its own instances/privileges, so its role is not shared with other test files.
const POLICIES = `policy "wire-cli" {
  engine              = "postgres"
  plugin_config_entry = "wire-cli-credentials"
  expiration          = "1h"
  instances           = ["testdb", "dellstore.store"]
  grant_privileges    = ["SELECT", "DELETE"]
}
`;

describe('mayfly proxy --listen (the real process)', function () {
  let proxy: RunningProxy;
  let port: number;
  let config: string[];
  let dsnEnv: Record<string, string>;
  let dir: string;

  before(async function () {
    const server = await startEmbeddedPostgres();
    await createSampleData(server.superuser);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-wire-cli-'));
    fs.writeFileSync(path.join(dir, 'config.hcl'), POLICIES);
    fs.writeFileSync(
      path.join(dir, 'users.json'),
      JSON.stringify([
        { username: 'ann', password: 'ann-secret', type: 'text', role: 'database' },
        { username: 'bad', type: 'text', role: 'database' },
      ]),
    );
    const s = server.superuser;
    // sslmode=prefer: the upstream login asks for TLS first and continues in plaintext on "N".
    dsnEnv = { MAYFLY_WIRE_CLI_DSN: `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=prefer` };
    config = ['--config', `policy-config=path:${path.join(dir, 'config.hcl')}`, '--config', 'wire-cli-credentials=env:MAYFLY_WIRE_CLI_DSN'];
    port = await freePort();
    proxy = await startProxy([...config, '--listen', `127.0.0.1:${port}`, '--users', path.join(dir, 'users.json')], dsnEnv);
  });

  after(async () => {
    await runMayfly(['session', 'revoke', 'wire-cli'], { env: proxy.env });
    assert.equal(await proxy.stop(), 0);
    assert.ok(!proxy.output().includes('ann-secret') && !proxy.output().includes('ben-secret'), 'no password in the log');
  });

  it('announces the listen address and skips the malformed user', () => {
    assert.match(proxy.output(), new RegExp(`proxy.started.*listen="127\\.0\\.0\\.1:${port}"`));
    assert.match(proxy.output(), /users\.skipped.*password must be a non-empty string/);
  });

  it('psql connects through it and lands on the session role', async () => {
    const r = spawnSync('psql', ['-XAtc', 'select current_user, current_database()'], {
      env: { PATH: process.env.PATH, PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'ann@wire-cli', PGPASSWORD: 'ann-secret' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.trim(), /^_hoop_session_user_[0-9a-f]{8}\|testdb$/);
    const deadline = Date.now() + 5000;
    while (!/auth\.success.*user="ann@wire-cli"/.test(proxy.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(proxy.output(), /auth\.success.*user="ann@wire-cli"/);
  });

  it('offers TLS with a self-signed certificate it created once in the config folder', () => {
    assert.match(proxy.output(), /wire\.listening.*tls=true/);
    const key = path.join(proxy.home, 'tls', 'proxy.key');
    assert.equal(fs.statSync(key).mode & 0o777, 0o600);
    const r = spawnSync('psql', ['-XAtc', 'select 1'], {
      env: {
        PATH: process.env.PATH,
        PGHOST: '127.0.0.1',
        PGPORT: String(port),
        PGUSER: 'ann@wire-cli',
        PGPASSWORD: 'ann-secret',
        PGSSLMODE: 'verify-full',
        PGSSLROOTCERT: path.join(proxy.home, 'tls', 'proxy.crt'),
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.stdout.trim(), '1', r.stderr);
  });

  it('with --allow-remote, clients from other addresses must use TLS', async function () {
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    if (!external) return; // no non-loopback interface on this machine: nothing to connect from
    // One Mayfly process holds a role's password at a time: hand the role over.
    await runMayfly(['session', 'revoke', 'wire-cli'], { env: proxy.env });
    const remotePort = await freePort();
    const remote = await startProxy([...config, '--listen', `0.0.0.0:${remotePort}`, '--allow-remote', '--users', path.join(dir, 'users.json')], dsnEnv);
    try {
      const base = { PATH: process.env.PATH, PGHOST: external, PGPORT: String(remotePort), PGUSER: 'ann@wire-cli', PGPASSWORD: 'ann-secret' };
      const plain = spawnSync('psql', ['-XAtc', 'select 1'], { env: { ...base, PGSSLMODE: 'disable' }, encoding: 'utf8', timeout: 30_000 });
      assert.match(plain.stderr, /must use TLS/);
      const secure = spawnSync('psql', ['-XAtc', 'select 1'], { env: { ...base, PGSSLMODE: 'require' }, encoding: 'utf8', timeout: 30_000 });
      assert.equal(secure.stdout.trim(), '1', secure.stderr);
    } finally {
      const revoked = await runMayfly(['session', 'revoke', 'wire-cli'], { env: remote.env });
      assert.equal(revoked.code, 0, revoked.stderr);
      await remote.stop();
    }
  });

  it('reloads the users file when it changes; a broken edit keeps the last good users', async function () {
    this.timeout(30_000);
    const file = path.join(dir, 'users.json');
    const waitFor = async (re: RegExp): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!re.test(proxy.output())) {
        if (Date.now() > deadline) throw new Error(`no ${re} in the log`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const login = (user: string, password: string) =>
      spawnSync('psql', ['-XAtc', 'select 1'], {
        env: { PATH: process.env.PATH, PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: `${user}@wire-cli`, PGPASSWORD: password, PGSSLMODE: 'disable' },
        encoding: 'utf8',
        timeout: 30_000,
      });
    assert.match(login('ben', 'ben-secret').stderr, /password authentication failed/);
    fs.writeFileSync(
      file,
      JSON.stringify([
        { username: 'ann', password: 'ann-secret', type: 'text', role: 'database' },
        { username: 'ben', password: 'ben-secret', type: 'text', role: 'database' },
      ]),
    );
    await waitFor(/users\.reconciled[^\n]*users=2/);
    const ben = login('ben', 'ben-secret');
    assert.equal(ben.stdout.trim(), '1', ben.stderr);
    fs.writeFileSync(file, '[{"username": "ann", ');
    await waitFor(/users\.source-failed/);
    assert.equal(login('ben', 'ben-secret').stdout.trim(), '1', 'the last good set stays in force');
  });

  it('refuses a non-loopback address without --allow-remote, and --users without --listen', async () => {
    const remote = await runMayfly(['proxy', ...config, '--control', path.join(dir, 'c.sock'), '--listen', '0.0.0.0:0'], { env: dsnEnv });
    assert.equal(remote.code, 1);
    assert.match(remote.stderr, /only loopback addresses/);
    const users = await runMayfly(['proxy', ...config, '--users', path.join(dir, 'users.json')], { env: dsnEnv });
    assert.equal(users.code, 1);
    assert.match(users.stderr, /--users needs --listen/);
  });
});
