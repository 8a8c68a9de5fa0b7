// Upstream TLS: Mayfly talks to a PostgreSQL that serves a certificate from a test CA.
// sslmode=verify-full in the granter DSN must work with the right CA and refuse a wrong
// CA or a host name the certificate does not name — before any SQL runs, so nothing is
// provisioned — both for provisioning (node-postgres) and for the wire proxy's own
// upstream login (proxy/wire/upstream.ts).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDedicatedEmbeddedPostgres, dropRoleEverywhere, freePort, type PgServer } from '../../support/postgres';
import { makeTestPki, type TestPki } from '../../support/certs';
import { runMayfly } from '../../support/cli';
import { startProxy } from '../../support/proxyProcess';
import { sessionUserName } from '../../../policy/naming';

const POLICY = `policy "tls-upstream" {
  engine              = "postgres"
  plugin_config_entry = "tls-granter"
  expiration          = "1h"
  instances           = ["tlsdb"]
  grant_privileges    = ["SELECT"]
}
`;
const ROLE = sessionUserName(['tlsdb'], ['SELECT']);

describe('upstream TLS (sslmode=verify-full against a server with a test CA)', function () {
  let server: PgServer;
  let pki: TestPki;
  let dir: string;
  let config: string[];

  const dsn = (host: string, ca: string, mode = 'verify-full'): string => {
    const s = server.superuser;
    return `postgres://${s.user}:${encodeURIComponent(s.password!)}@${host}:${s.port}/postgres?sslmode=${mode}&sslrootcert=${encodeURIComponent(ca)}`;
  };
  const roleExists = async (): Promise<boolean> => (await server.query('postgres', 'SELECT 1 FROM pg_roles WHERE rolname = $1', [ROLE])).length > 0;

  before(async function () {
    pki = makeTestPki(['localhost']);
    server = await startDedicatedEmbeddedPostgres([], (scratch) => {
      // The server reads its key as the `postgres` OS user, and refuses a key others can read.
      for (const f of ['server.pem', 'server.key']) fs.copyFileSync(path.join(pki.dir, f), path.join(scratch, f));
      fs.chmodSync(path.join(scratch, 'server.key'), 0o600);
      if (process.getuid?.() === 0) execFileSync('chown', ['postgres', path.join(scratch, 'server.pem'), path.join(scratch, 'server.key')]);
    });
    // ssl is reloadable: turn it on with the certificate placed in the scratch folder.
    const scratch = path.dirname(String((await server.query<{ d: string }>('postgres', "SELECT current_setting('data_directory') AS d"))[0]!.d));
    await server.query('postgres', `ALTER SYSTEM SET ssl_cert_file = '${path.join(scratch, 'server.pem')}'`);
    await server.query('postgres', `ALTER SYSTEM SET ssl_key_file = '${path.join(scratch, 'server.key')}'`);
    await server.query('postgres', 'ALTER SYSTEM SET ssl = on');
    await server.query('postgres', 'SELECT pg_reload_conf()');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await server.query<{ ssl: string }>('postgres', 'SHOW ssl'))[0]!.ssl, 'on');
    await server.createDatabase('tlsdb');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-tls-upstream-'));
    fs.writeFileSync(path.join(dir, 'config.hcl'), POLICY);
    config = ['--config', `policy-config=path:${path.join(dir, 'config.hcl')}`, '--config', 'tls-granter=env:MAYFLY_TLS_DSN'];
  });

  afterEach(async () => {
    await dropRoleEverywhere(server, ROLE);
  });

  const open = (dsnValue: string) =>
    runMayfly(['session', 'open', 'tls-upstream', '--env', ...config], {
      env: { MAYFLY_TLS_DSN: dsnValue, MAYFLY_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-home-')) },
    });

  it('provisions over verify-full with the right CA, and the session works', async () => {
    const r = await open(dsn('localhost', pki.ca));
    assert.equal(r.code, 0, r.stderr);
    assert.ok(await roleExists());
    const env = Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const q = spawnSync('psql', ['-XAtc', 'select ssl from pg_stat_ssl where pid = pg_backend_pid()'], {
      env: { PATH: process.env.PATH, ...env, PGSSLMODE: 'verify-full', PGSSLROOTCERT: pki.ca, PGHOST: 'localhost' },
      encoding: 'utf8',
    });
    assert.equal(q.status, 0, q.stderr);
    assert.equal(q.stdout.trim(), 't');
  });

  it('refuses a certificate from another CA, provisions nothing, and keeps the password out of the error', async () => {
    const r = await open(dsn('localhost', pki.otherCa));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /certificate/i);
    assert.ok(!r.stderr.includes(server.superuser.password!) && !r.stderr.includes(encodeURIComponent(server.superuser.password!)));
    assert.equal(await roleExists(), false);
  });

  it('refuses a host name the certificate does not name (verify-full), but verify-ca accepts it', async () => {
    const wrongHost = await open(dsn('127.0.0.1', pki.ca));
    assert.notEqual(wrongHost.code, 0);
    assert.match(wrongHost.stderr, /certificate|altnames|host/i);
    assert.equal(await roleExists(), false);
    const ca = await open(dsn('127.0.0.1', pki.ca, 'verify-ca'));
    assert.equal(ca.code, 0, ca.stderr);
  });

  it('the wire proxy logs in upstream over verify-full, and refuses a wrong CA with a FATAL for the client', async () => {
    const users = path.join(dir, 'users.json');
    fs.writeFileSync(users, JSON.stringify([{ username: 'tess', password: 'tess-secret', type: 'text', role: 'database' }]));
    for (const [ca, ok] of [
      [pki.ca, true],
      [pki.otherCa, false],
    ] as const) {
      const port = await freePort();
      const proxy = await startProxy([...config, '--listen', `127.0.0.1:${port}`, '--users', users], { MAYFLY_TLS_DSN: dsn('localhost', ca) });
      try {
        const q = spawnSync('psql', ['-XAtc', 'select current_user, (select ssl from pg_stat_ssl where pid = pg_backend_pid())'], {
          env: { PATH: process.env.PATH, PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'tess@tls-upstream', PGPASSWORD: 'tess-secret', PGDATABASE: 'tlsdb', PGSSLMODE: 'disable' },
          encoding: 'utf8',
          timeout: 30_000,
        });
        if (ok) {
          assert.equal(q.status, 0, q.stderr);
          assert.equal(q.stdout.trim(), `${ROLE}|t`);
        } else {
          assert.notEqual(q.status, 0);
          assert.match(q.stderr, /FATAL/);
          assert.match(q.stderr, /certificate/i);
          assert.equal(await roleExists(), false, 'nothing provisioned through an unverified server');
        }
      } finally {
        await runMayfly(['session', 'revoke', 'tls-upstream'], { env: proxy.env });
        assert.equal(await proxy.stop(), 0);
        await dropRoleEverywhere(server, ROLE);
      }
      assert.ok(!proxy.output().includes(server.superuser.password!), 'no DSN password in the proxy log');
    }
  });
});
