// `session open --via-proxy` / `exec --via-proxy`: the real CLI and proxy processes, a real
// PostgreSQL, real psql connecting to the proxy's listener as the session role.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, freePort, type PgServer } from '../../support/postgres';
import { createSampleData } from '../../../proxy/demo/sampleData';
import { runMayfly } from '../../support/cli';
import { startProxy, type RunningProxy } from '../../support/proxyProcess';
import { ControlClient } from '../../../proxy/control/client';
import { sessionUserName } from '../../../policy/naming';

// Instances and privileges no other test file uses, so these roles are this file's alone.
const POLICIES = `policy "via-proxy" {
  engine              = "postgres"
  plugin_config_entry = "via-proxy-credentials"
  expiration          = "1h"
  instances           = ["dellstore", "testdb"]
  grant_privileges    = ["SELECT", "TEMPORARY"]
}

policy "via-proxy-untouched" {
  engine              = "postgres"
  plugin_config_entry = "via-proxy-credentials"
  expiration          = "1h"
  instances           = ["testdb"]
  grant_privileges    = ["SELECT", "TEMPORARY"]
}
`;
const ROLE = sessionUserName(['dellstore', 'testdb'], ['SELECT', 'TEMPORARY']);
const UNTOUCHED_ROLE = sessionUserName(['testdb'], ['SELECT', 'TEMPORARY']);

function parseEnv(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** psql with only this environment (PGSSLMODE from the user's shell must not leak in). */
function psql(env: Record<string, string>, ...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync('psql', ['-X', ...args], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

async function waitForLog(proxy: RunningProxy, re: RegExp): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!re.test(proxy.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.match(proxy.output(), re);
}

describe('session open --via-proxy (real CLI, proxy, PostgreSQL and psql)', function () {
  let server: PgServer;
  let config: string[];
  let dsnEnv: Record<string, string>;
  let dsnPassword: string;
  let listening: RunningProxy;
  let port: number;

  before(async function () {
    server = await startEmbeddedPostgres();
    await createSampleData(server.superuser);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-via-proxy-'));
    fs.writeFileSync(path.join(dir, 'config.hcl'), POLICIES);
    const s = server.superuser;
    dsnPassword = s.password!;
    dsnEnv = { MAYFLY_VIA_PROXY_DSN: `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable` };
    config = ['--config', `policy-config=path:${path.join(dir, 'config.hcl')}`, '--config', 'via-proxy-credentials=env:MAYFLY_VIA_PROXY_DSN'];
    port = await freePort();
    listening = await startProxy([...config, '--listen', `127.0.0.1:${port}`], dsnEnv);
  });

  after(async () => {
    await runMayfly(['session', 'revoke', 'via-proxy'], { env: listening.env });
    assert.equal(await listening.stop(), 0);
    assert.ok(!listening.output().includes(dsnPassword), 'the granter password never reaches the log');
  });

  it('health advertises the listener with its TLS', async () => {
    const health = await new ControlClient(listening.socket).health();
    assert.deepEqual(health.listen, { host: '127.0.0.1', port, tls: true });
  });

  it('prints an environment that points at the proxy, and psql logs in through it as the session role', async () => {
    const r = await runMayfly(['session', 'open', 'via-proxy', '--via-proxy', '--env'], { env: listening.env });
    assert.equal(r.code, 0, r.stderr);
    const env = parseEnv(r.stdout);
    assert.deepEqual(Object.keys(env), ['HOST', 'PORT', 'USER', 'PGPASSWORD', 'PASS', 'PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGSSLMODE']);
    assert.equal(env.PGHOST, '127.0.0.1');
    assert.equal(env.PGPORT, String(port));
    assert.equal(env.HOST, env.PGHOST);
    assert.equal(env.PORT, env.PGPORT);
    assert.notEqual(env.PGPORT, String(server.port));
    assert.equal(env.PGUSER, ROLE);
    assert.equal(env.PGDATABASE, 'dellstore');
    assert.equal(env.PGSSLMODE, 'prefer', 'the proxy offers TLS with a certificate psql cannot verify');

    const q = psql(env, '-Atc', 'select current_user, current_database()');
    assert.equal(q.code, 0, q.err);
    assert.equal(q.out, `${env.PGUSER}|dellstore`);
    // The server offers no TLS (the embedded PostgreSQL has ssl off), so a TLS connection on
    // the proxy's port can only be the proxy.
    const info = psql(env, '-c', '\\conninfo');
    assert.match(info.out, new RegExp(`as user "${env.PGUSER}" on host "127\\.0\\.0\\.1" at port "${port}"`), info.err);
    assert.match(info.out, /SSL connection/);
    await waitForLog(listening, new RegExp(`auth\\.success.*user="${env.PGUSER}".*kind="session".*database="dellstore"`));
    assert.ok(!listening.output().includes(env.PGPASSWORD!), 'the session password is not logged');

    // The same credentials work on the server itself: only the address changed.
    const direct = psql({ ...env, PGHOST: server.superuser.host, PGPORT: String(server.port), PGSSLMODE: 'disable' }, '-Atc', 'select current_user');
    assert.equal(direct.out, env.PGUSER, direct.err);
  });

  it('--json carries the proxy address too', async () => {
    const r = await runMayfly(['session', 'open', 'via-proxy', '--via-proxy', '--json'], { env: listening.env });
    assert.equal(r.code, 0, r.stderr);
    const data = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(data.PGPORT, String(port));
    assert.equal(data.PGSSLMODE, 'prefer');
    assert.deepEqual(data.databases, ['dellstore', 'testdb']);
  });

  it('the proxy keeps the session role to its own databases', async () => {
    const env = parseEnv((await runMayfly(['session', 'open', 'via-proxy', '--via-proxy', '--env'], { env: listening.env })).stdout);
    const testdb = psql({ ...env, PGDATABASE: 'testdb' }, '-Atc', 'select current_database()');
    assert.equal(testdb.out, 'testdb', testdb.err);
    const other = psql({ ...env, PGDATABASE: 'postgres' }, '-Atc', 'select 1');
    assert.notEqual(other.code, 0);
    assert.match(other.err, /database "postgres" is not among the session's databases \(dellstore, testdb\)/);
  });

  it('exec --via-proxy runs the command against the proxy and passes its exit code through', async () => {
    const r = await runMayfly(
      ['exec', 'via-proxy', '--via-proxy', '--', 'sh', '-c', 'echo "port=$PGPORT"; psql -XAtc "select current_user"'],
      { env: listening.env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^port=${port}$`, 'm'));
    assert.match(r.stdout, new RegExp(`^${ROLE}$`, 'm'));
    const seven = await runMayfly(['exec', 'via-proxy', '--via-proxy', '--', 'sh', '-c', 'exit 7'], { env: listening.env });
    assert.equal(seven.code, 7);
  });

  describe('when it cannot point at a proxy', () => {
    it('names the flag to add when the running proxy does not listen, and opens nothing', async () => {
      const quiet = await startProxy(config, dsnEnv);
      try {
        assert.equal((await new ControlClient(quiet.socket).health()).listen, undefined);
        const r = await runMayfly(['session', 'open', 'via-proxy-untouched', '--via-proxy', '--env'], { env: quiet.env });
        assert.equal(r.code, 1);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /the running Mayfly proxy \(pid \d+\) does not listen for Postgres clients.*restart it with --listen 127\.0\.0\.1:6432/);
        const exec = await runMayfly(['exec', 'via-proxy-untouched', '--via-proxy', '--', 'true'], { env: quiet.env });
        assert.equal(exec.code, 1);
        assert.match(exec.stderr, /does not listen for Postgres clients/);
        const list = await runMayfly(['session', 'list'], { env: quiet.env });
        assert.equal(list.stdout.trim(), 'no open sessions');
      } finally {
        assert.equal(await quiet.stop(), 0);
      }
    });

    it('refuses without a running proxy instead of provisioning directly', async () => {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-via-none-'));
      const r = await runMayfly(['session', 'open', 'via-proxy-untouched', '--via-proxy', ...config], { env: { ...dsnEnv, MAYFLY_HOME: home } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no Mayfly proxy is running .*--via-proxy.*--listen 127\.0\.0\.1:6432/);
      assert.ok(!r.stderr.includes(dsnPassword));
      const roles = await server.query('postgres', 'SELECT 1 FROM pg_roles WHERE rolname = $1', [UNTOUCHED_ROLE]);
      assert.equal(roles.length, 0, 'no role was provisioned');
    });
  });
});

