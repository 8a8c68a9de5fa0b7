// Sessions end to end: the real CLI and proxy processes, a real PostgreSQL, real psql.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type PgServer } from '../../support/postgres';
import { createSampleData } from '../../../proxy/demo/sampleData';
import { runMayfly } from '../../support/cli';
import { startProxy, type RunningProxy } from '../../support/proxyProcess';
import { ControlClient } from '../../../proxy/control/client';
import pg from 'pg';
import { DEMO_POLICIES } from '../../support/policies';

const POLICIES = `${DEMO_POLICIES}
policy "short" {
  engine              = "postgres"
  plugin_config_entry = "pg-homolog-credentials"
  expiration          = "3s"
  instances           = ["testdb"]
  grant_privileges    = ["SELECT", "INSERT"]
}
`;

function parseEnv(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

function psql(env: Record<string, string>, sql: string): { code: number | null; out: string; err: string } {
  const r = spawnSync('psql', ['-XAtc', sql], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

describe('sessions from the CLI on a real PostgreSQL', function () {
  let server: PgServer;
  let dir: string;
  let policyFile: string;
  let dsnEnv: Record<string, string>;
  let dsnPassword: string;
  let config: string[];

  before(async function () {
    server = await startEmbeddedPostgres();
    await createSampleData(server.superuser);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-sessions-'));
    policyFile = path.join(dir, 'config.hcl');
    fs.writeFileSync(policyFile, POLICIES);
    const s = server.superuser;
    dsnPassword = s.password!;
    dsnEnv = { MAYFLY_TEST_DSN: `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable` };
    config = ['--config', `policy-config=path:${policyFile}`, '--config', 'pg-homolog-credentials=env:MAYFLY_TEST_DSN'];
  });

  describe('through a running proxy', () => {
    let proxy: RunningProxy;
    before(async () => {
      proxy = await startProxy(config, dsnEnv);
    });
    after(async () => {
      assert.equal(await proxy.stop(), 0, 'the proxy stops cleanly on SIGTERM');
      const log = proxy.output();
      assert.ok(!log.includes(dsnPassword), 'the granter password never reaches the log');
      assert.ok(!log.includes(encodeURIComponent(dsnPassword)));
    });

    it('session open --env prints credentials that psql logs in with', async () => {
      const r = await runMayfly(['session', 'open', 'pg-homolog', '--env'], { env: proxy.env });
      assert.equal(r.code, 0, r.stderr);
      const env = parseEnv(r.stdout);
      assert.deepEqual(Object.keys(env), ['HOST', 'PORT', 'USER', 'PGPASSWORD', 'PASS', 'PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE']);
      assert.equal(env.USER, '_hoop_session_user_bb0465c4');
      assert.equal(env.PGDATABASE, 'dellstore');
      assert.equal(env.PASS, env.PGPASSWORD);
      const q = psql(env, 'select current_user');
      assert.equal(q.out, '_hoop_session_user_bb0465c4', q.err);
      assert.ok(!proxy.output().includes(env.PGPASSWORD!), 'the session password is not logged');
    });

    it('a second open shares the live password (nobody is locked out)', async () => {
      const a = parseEnv((await runMayfly(['session', 'open', 'pg-homolog', '--env'], { env: proxy.env })).stdout);
      const b = parseEnv((await runMayfly(['session', 'open', 'pg-homolog', '--env'], { env: proxy.env })).stdout);
      assert.equal(a.PGPASSWORD, b.PGPASSWORD);
      assert.equal(psql(a, 'select 1').out, '1');
    });

    it('--json prints the same as an object with expiresAt', async () => {
      const r = await runMayfly(['session', 'open', 'store-readonly', '--json'], { env: proxy.env });
      const data = JSON.parse(r.stdout) as Record<string, string>;
      assert.equal(data.PGDATABASE, 'dellstore');
      const ms = new Date(data.expiresAt!).getTime() - Date.now();
      assert.ok(ms > 3500e3 && ms <= 3600e3, `expires in ${ms} ms`);
    });

    it('exec runs a command with the credentials and passes its exit code through', async () => {
      const ok = await runMayfly(['exec', 'store-readonly', '--', 'psql', '-XAtc', 'select current_user, count(*) > 0 from store.products'], { env: proxy.env });
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^_hoop_session_user_[0-9a-f]{8}\|t$/m);
      const seven = await runMayfly(['exec', 'store-readonly', '--', 'sh', '-c', 'exit 7'], { env: proxy.env });
      assert.equal(seven.code, 7);
      const denied = await runMayfly(['exec', 'store-readonly', '--', 'psql', '-XAtc', 'insert into store.products default values'], { env: proxy.env });
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, /permission denied/);
    });

    it('lists, renews (same password) and revokes sessions', async () => {
      const env = parseEnv((await runMayfly(['session', 'open', 'store-readonly', '--env'], { env: proxy.env })).stdout);
      const list = await runMayfly(['session', 'list', '--json'], { env: proxy.env });
      const sessions = JSON.parse(list.stdout) as { policy: string; password?: string }[];
      assert.ok(sessions.some((s) => s.policy === 'store-readonly'));
      assert.ok(sessions.every((s) => s.password === undefined), 'list never prints passwords');
      const renew = await runMayfly(['session', 'renew', 'store-readonly'], { env: proxy.env });
      assert.equal(renew.code, 0, renew.stderr);
      assert.equal(psql(env, 'select 1').out, '1', 'the renewed session keeps its password');
      const revoke = await runMayfly(['session', 'revoke', 'store-readonly'], { env: proxy.env });
      assert.equal(revoke.code, 0, revoke.stderr);
      assert.match(revoke.stdout, /role is expired/);
      const after = psql(env, 'select 1');
      assert.notEqual(after.code, 0);
      assert.match(after.err, /password authentication failed|expired/);
    });

    it('keeps the last valid policy while the file is broken, and reloads when fixed', async () => {
      fs.writeFileSync(policyFile, POLICIES.replace('"SELECT"]\n}\n', '"SELEC"]\n}\n'));
      await new Promise((r) => setTimeout(r, 1500));
      const stale = await runMayfly(['exec', 'store-readonly', '--', 'psql', '-XAtc', 'select 1'], { env: proxy.env });
      assert.equal(stale.code, 0, stale.stderr);
      assert.match(proxy.output(), /policies\.problem.*Unknown privilege/);
      fs.writeFileSync(policyFile, POLICIES.replace('"1h"', '"2h"'));
      await new Promise((r) => setTimeout(r, 1500));
      const r = await runMayfly(['session', 'open', 'store-readonly', '--json'], { env: proxy.env });
      const ms = new Date((JSON.parse(r.stdout) as { expiresAt: string }).expiresAt).getTime() - Date.now();
      assert.ok(ms > 7000e3, `reloaded expiration, expires in ${ms} ms`);
      fs.writeFileSync(policyFile, POLICIES);
    });

    it('50 concurrent opens of one policy all succeed with one role and one password', async () => {
      const client = new ControlClient(proxy.socket);
      const sessions = await Promise.all(Array.from({ length: 50 }, () => client.open({ policy: 'pg-homolog' })));
      assert.equal(new Set(sessions.map((s) => s.role)).size, 1);
      assert.equal(new Set(sessions.map((s) => s.password)).size, 1);
      const roles = await server.query('postgres', "SELECT rolname FROM pg_roles WHERE rolname LIKE '\\_hoop\\_session\\_user\\_%' AND rolname = $1", [sessions[0]!.role]);
      assert.equal(roles.length, 1);
    });

    it('at expiry, ends the role: open connections are terminated and new logins refused', async function () {
      const client = new ControlClient(proxy.socket);
      const s = await client.open({ policy: 'short' });
      const conn = new pg.Client({ host: s.host, port: s.port, user: s.user, password: s.password, database: 'testdb' });
      conn.on('error', () => undefined); // the termination also arrives as an 'error' event
      await conn.connect();
      assert.equal((await conn.query('select current_user as u')).rows[0].u, s.role);
      const validUntil = await server.query<{ v: Date }>('postgres', 'SELECT rolvaliduntil AS v FROM pg_roles WHERE rolname = $1', [s.role]);
      assert.ok(Math.abs(validUntil[0]!.v.getTime() - new Date(s.expiresAt).getTime()) < 1000, 'VALID UNTIL is the session expiry');
      // Not before the deadline...
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await conn.query('select 1 as one')).rows[0].one, 1);
      // ...but after it.
      await new Promise((r) => setTimeout(r, 3000));
      await assert.rejects(conn.query('select 1'));
      await conn.end().catch(() => undefined);
      const again = new pg.Client({ host: s.host, port: s.port, user: s.user, password: s.password, database: 'testdb' });
      again.on('error', () => undefined);
      await assert.rejects(again.connect(), /password authentication failed/);
      assert.match(proxy.output(), /session\.expired.*"short"/);
      assert.match(proxy.output(), /role\.expired/);
    });

    it('names unknown policies and exits 1', async () => {
      const r = await runMayfly(['session', 'open', 'nope', '--env'], { env: proxy.env });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no policy named "nope"/);
    });
  });

  describe('without a proxy (direct provisioning)', () => {
    let home: string;
    before(() => (home = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-direct-'))));

    it('opens a session directly, shares it with the next call, and refuses to silently rotate a password it does not hold', async () => {
      const env = { ...dsnEnv, MAYFLY_HOME: home };
      // Start from an expired role so the first open may issue a password.
      await runMayfly(['session', 'revoke', 'store-readonly', ...config], { env });
      const first = await runMayfly(['session', 'open', 'store-readonly', '--env', ...config], { env });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /no proxy is running/);
      const creds = parseEnv(first.stdout);
      assert.equal(psql(creds, 'select 1').out, '1');
      // The same user's next call finds the live password in its state file.
      const shared = await runMayfly(['session', 'open', 'store-readonly', '--env', ...config], { env });
      assert.equal(shared.code, 0, shared.stderr);
      assert.equal(parseEnv(shared.stdout).PGPASSWORD, creds.PGPASSWORD);
      // Another Mayfly (another home, say another user's) does not hold it: it refuses.
      const otherEnv = { ...dsnEnv, MAYFLY_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-other-')) };
      const second = await runMayfly(['session', 'open', 'store-readonly', '--env', ...config], { env: otherEnv });
      assert.equal(second.code, 1);
      assert.match(second.stderr, /live until .* --rotate/);
      assert.equal(psql(creds, 'select 1').out, '1', 'the first holder still works');
      const rotated = await runMayfly(['session', 'open', 'store-readonly', '--env', '--rotate', ...config], { env: otherEnv });
      assert.equal(rotated.code, 0, rotated.stderr);
      assert.notEqual(parseEnv(rotated.stdout).PGPASSWORD, creds.PGPASSWORD);
      for (const r of [first, shared, second, rotated]) assert.ok(!r.stderr.includes(dsnPassword));
    });

    it('exec without a proxy ends its role when the command ends', async () => {
      const env = { ...dsnEnv, MAYFLY_HOME: home };
      await runMayfly(['session', 'revoke', 'pg-homolog', ...config], { env });
      const r = await runMayfly(['exec', 'pg-homolog', ...config, '--', 'sh', '-c', 'psql -XAtc "select current_user"; echo "PW=$PGPASSWORD"'], { env });
      assert.equal(r.code, 0, r.stderr);
      const pw = /PW=(\S+)/.exec(r.stdout)![1]!;
      const after = psql({ PGHOST: '127.0.0.1', PGPORT: String(server.port), PGUSER: '_hoop_session_user_bb0465c4', PGPASSWORD: pw, PGDATABASE: 'dellstore' }, 'select 1');
      assert.notEqual(after.code, 0, 'the role no longer accepts the password');
    });

    it('sweep drops roles expired past the grace period and reports them', async () => {
      const env = { ...dsnEnv, MAYFLY_HOME: home };
      await runMayfly(['session', 'revoke', 'store-readonly', ...config], { env });
      const r = await runMayfly(['sweep', '--grace', '0s', ...config], { env });
      assert.equal(r.code, 0, r.stderr);
      const reports = JSON.parse(r.stdout) as { entry: string; report: { dropped: string[] } }[];
      assert.equal(reports[0]!.entry, 'pg-homolog-credentials');
      assert.ok(reports[0]!.report.dropped.includes('_hoop_session_user_3ea7a2af'), r.stdout);
      const left = await server.query('postgres', 'SELECT 1 FROM pg_roles WHERE rolname = $1', ['_hoop_session_user_3ea7a2af']);
      assert.equal(left.length, 0);
      assert.ok(!r.stdout.includes(dsnPassword) && !r.stderr.includes(dsnPassword));
    });

    it('says what to do when neither a proxy nor --config is there', async () => {
      const r = await runMayfly(['session', 'open', 'pg-homolog'], { env: { MAYFLY_HOME: home } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no Mayfly proxy is running and no --config was given/);
    });

    it('reports a missing DSN variable without leaking anything', async () => {
      const r = await runMayfly(['session', 'open', 'pg-homolog', ...config], { env: { MAYFLY_HOME: home, MAYFLY_TEST_DSN: '' } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /config entry "pg-homolog-credentials" \(env:MAYFLY_TEST_DSN\): the environment variable MAYFLY_TEST_DSN is not set/);
    });
  });
});
