/**
 * Users from Secrets Manager at the Postgres listener, end to end: the real proxy process,
 * the real AWS SDK against the local Secrets Manager server, a primary and a replica
 * PostgreSQL, and psql. Rotation, removal, revoked CONNECT and replica routing, with the
 * pooled server connections checked in pg_stat_activity.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { awsTestEnv, startSecretsManagerServer, type SecretsManagerServer } from '../../support/secretsManagerServer';
import { freePort, startDedicatedEmbeddedPostgres, type PgServer } from '../../support/postgres';
import { startProxy, type RunningProxy } from '../../support/proxyProcess';
import { SEED_POLICY } from '../../support/policies';
import { eventually } from './helpers';

const SECRET = 'mayfly/wire-users';
const DB = 'wudb';
const FDW_PASSWORD = 'fdw-shared-Secret-1';
const REPL_PASSWORD = 'repl-Secret-1';

interface Entry {
  username: string;
  password: string;
  type: string;
  role: string;
}

describe('Secrets Manager users at the listener (rotation, removal, CONNECT, replicas)', function () {
  this.timeout(120_000);
  let sm: SecretsManagerServer;
  let primary: PgServer;
  let replica: PgServer;
  let proxy: RunningProxy;
  let port: number;
  let users: Entry[];
  const secrets: string[] = [FDW_PASSWORD, REPL_PASSWORD];

  const publish = () => sm.put(SECRET, users);
  const psql = (user: string, password: string, sql: string, extra: Record<string, string> = {}) =>
    spawnSync('psql', ['-XAtc', sql], {
      env: { PATH: process.env.PATH, PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: user, PGPASSWORD: password, PGDATABASE: DB, PGSSLMODE: 'disable', ...extra },
      encoding: 'utf8',
      timeout: 30_000,
    });
  const backends = async (server: PgServer, user: string) =>
    (await server.query<{ pid: number }>('postgres', 'SELECT pid FROM pg_stat_activity WHERE usename = $1 AND datname = $2', [user, DB])).map((r) => r.pid);
  const waitForLog = (re: RegExp, what: string) => eventually(() => re.test(proxy.output()), 15_000, what);
  /** Polls an async condition (server state changes a moment after the proxy acts). */
  const until = async (cond: () => Promise<boolean>, what: string, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    sm = await startSecretsManagerServer();
    primary = await startDedicatedEmbeddedPostgres();
    replica = await startDedicatedEmbeddedPostgres();
    for (const server of [primary, replica]) await server.createDatabase(DB);
    // On the primary, users log in with their own passwords; on the replica (a server with the
    // same roles) with the shared proxy_to_fdw password, as in the seed.
    await primary.query('postgres', `CREATE ROLE wu_dana LOGIN PASSWORD 'dana-1'`);
    await primary.query('postgres', `CREATE ROLE wu_erin LOGIN PASSWORD 'erin-1'`);
    await primary.query('postgres', `CREATE ROLE wu_repl LOGIN PASSWORD '${REPL_PASSWORD}'`);
    await replica.query('postgres', `CREATE ROLE wu_dana LOGIN PASSWORD '${FDW_PASSWORD}'`);
    users = [
      { username: 'wu_dana', password: 'dana-1', type: 'text', role: 'database' },
      { username: 'wu_erin', password: 'erin-1', type: 'text', role: 'database' },
      { username: 'wu_repl', password: REPL_PASSWORD, type: 'text', role: 'replication' },
      { username: 'wu_fdw', password: FDW_PASSWORD, type: 'text', role: 'proxy_to_fdw' },
    ];
    publish();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-wire-users-'));
    fs.writeFileSync(path.join(dir, 'config.hcl'), SEED_POLICY);
    const dsn = (s: PgServer) => `postgres://${s.superuser.user}:${encodeURIComponent(s.superuser.password!)}@${s.superuser.host}:${s.superuser.port}/postgres?sslmode=disable`;
    secrets.push(primary.superuser.password!, replica.superuser.password!);
    port = await freePort();
    proxy = await startProxy(
      [
        '--config', `policy-config=path:${path.join(dir, 'config.hcl')}`,
        '--config', 'pg-homolog-credentials=env:WU_PRIMARY',
        '--config', 'primary=env:WU_PRIMARY',
        '--config', 'replica=env:WU_REPLICA',
        '--listen', `127.0.0.1:${port}`, '--no-tls',
        '--primary', 'primary', '--replica', 'replica',
        '--users', `aws:${SECRET}`, '--users-refresh', '500ms',
      ],
      { WU_PRIMARY: dsn(primary), WU_REPLICA: dsn(replica), ...awsTestEnv(sm) },
    );
  });

  after(async () => {
    assert.equal(await proxy.stop(), 0);
    await sm.stop();
    const log = proxy.output();
    for (const s of [...secrets, 'dana-1', 'dana-2', 'erin-1']) assert.ok(!log.includes(s), 'no secret value in the proxy log');
  });

  it('a Secrets Manager user logs in to the primary as itself, and its connection is pooled', async () => {
    const r = psql('wu_dana', 'dana-1', 'select current_user, inet_server_port()');
    assert.equal(r.stdout.trim(), `wu_dana|${primary.port}`, r.stderr);
    await until(async () => (await backends(primary, 'wu_dana')).length === 1, 'the idle server connection to stay in the pool');
  });

  it('a rotated password takes effect within a refresh: the old one is refused, the new one works, the old pooled connection is gone', async () => {
    const pooled = await backends(primary, 'wu_dana');
    assert.equal(pooled.length, 1);
    await primary.query('postgres', `ALTER ROLE wu_dana PASSWORD 'dana-2'`);
    users[0]!.password = 'dana-2';
    const rotatedAt = Date.now();
    publish();
    await waitForLog(/users\.changed[^\n]*wu_dana/, 'the rotation to be picked up');
    console.log(`      rotation took effect after ${Date.now() - rotatedAt} ms (refresh every 500 ms)`);
    await until(async () => !(await backends(primary, 'wu_dana')).includes(pooled[0]!), 'the pooled connection with the old credential to close');
    assert.match(psql('wu_dana', 'dana-1', 'select 1').stderr, /password authentication failed/);
    assert.equal(psql('wu_dana', 'dana-2', 'select 1').stdout.trim(), '1');
  });

  it("a user that loses CONNECT loses new connections to that database and its pooled ones", async () => {
    assert.equal(psql('wu_erin', 'erin-1', 'select 1').stdout.trim(), '1');
    await until(async () => (await backends(primary, 'wu_erin')).length === 1, 'the pooled connection');
    await primary.query('postgres', `REVOKE CONNECT ON DATABASE ${DB} FROM PUBLIC`);
    await primary.query('postgres', `GRANT CONNECT ON DATABASE ${DB} TO wu_dana`);
    try {
      await waitForLog(/users\.allowed-changed/, 'the CONNECT change to be picked up');
      await until(async () => (await backends(primary, 'wu_erin')).length === 0, 'its pooled connection to close');
      const refused = psql('wu_erin', 'erin-1', 'select 1');
      assert.match(refused.stderr, /permission denied for database "wudb"/);
      assert.equal(psql('wu_dana', 'dana-2', 'select 1').stdout.trim(), '1', 'others keep their access');
    } finally {
      await primary.query('postgres', `GRANT CONNECT ON DATABASE ${DB} TO PUBLIC`);
    }
  });

  it('a read-only session goes to the replica with the shared proxy_to_fdw credential, after the primary accepted the user', async () => {
    const r = psql('wu_dana', 'dana-2', 'select current_user, inet_server_port()', { PGOPTIONS: '-c mayfly.target=replica' });
    assert.equal(r.stdout.trim(), `wu_dana|${replica.port}`, r.stderr);
    // The primary is asked first: a user it refuses never reaches the replica.
    await primary.query('postgres', 'ALTER ROLE wu_dana NOLOGIN');
    try {
      const refused = psql('wu_dana', 'dana-2', 'select 1', { PGOPTIONS: '-c mayfly.target=replica' });
      assert.match(refused.stderr, /not permitted to log in/);
    } finally {
      await primary.query('postgres', 'ALTER ROLE wu_dana LOGIN');
    }
    // The CONNECT map counted the NOLOGIN role out; wait until a refresh counts it back in.
    await until(async () => psql('wu_dana', 'dana-2', 'select 1').stdout.trim() === '1', 'wu_dana to be allowed again');
    assert.match(psql('wu_dana', 'dana-1', 'select 1', { PGOPTIONS: '-c mayfly.target=replica' }).stderr, /password authentication failed/);
  });

  it('a removed user is refused, and its open connection and pooled ones are closed', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'wu_dana', password: 'dana-2', database: DB });
    client.on('error', () => undefined);
    await client.connect();
    assert.equal((await client.query('select 1 as x')).rows[0].x, 1);
    users = users.filter((u) => u.username !== 'wu_dana');
    publish();
    await waitForLog(/users\.removed[^\n]*wu_dana/, 'the removal to be picked up');
    await assert.rejects(client.query('select 1'), /removed|terminat|Connection/i);
    await client.end().catch(() => undefined);
    await until(async () => (await backends(primary, 'wu_dana')).length === 0, "the removed user's server connections to close");
    assert.match(psql('wu_dana', 'dana-2', 'select 1').stderr, /password authentication failed/);
  });
});
