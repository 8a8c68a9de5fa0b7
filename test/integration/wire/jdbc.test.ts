// DBeaver and other JDBC tools through the proxy: the real PostgreSQL JDBC driver (Debian's
// libpostgresql-jdbc-java) in a real JVM, choosing the policy the two documented ways
// (`user@policy`, and the URL's `options=-c mayfly.policy=NAME`), over plaintext and TLS,
// reading metadata as a tool's navigator does, cancelling a query as its Stop button does,
// and getting the errors a wrong password or a database outside the policy deserve.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type PgServer } from '../../support/postgres';
import { createSampleData } from '../../../proxy/demo/sampleData';
import { MayflyApp } from '../../../proxy/app';
import { createLogger } from '../../../proxy/log/logger';
import { md5Secret } from '../../../proxy/wire/auth/md5';
import { scramVerifier } from '../../../proxy/auth/scramVerifier';
import { selfSignedFiles } from '../../../proxy/wire/tls';
import { sessionUserName } from '../../../policy/naming';
import { DEMO_POLICIES, SEED_ROLE } from '../../support/policies';

const DRIVER = '/usr/share/java/postgresql.jar';
const PROBE = path.join(__dirname, 'fixtures', 'JdbcProbe.java');
const STORE_READONLY_ROLE = sessionUserName(['dellstore.store'], ['SELECT']);

const USERS = [
  { username: 'alice', password: 'alice-secret', type: 'text', role: 'database' },
  { username: 'bob', password: md5Secret('bob', 'bob-secret'), type: 'md5', role: 'database', policy: 'store-readonly' },
  { username: 'carol', password: scramVerifier('carol-secret'), type: 'scram-sha-256', role: 'database' },
];

interface Attempt {
  name: string;
  url: string;
  user: string;
  password: string;
  action: string;
}

type Outcome = { ok: true; result: string } | { ok: false; sqlState: string; message: string };

/** Runs every attempt in one JVM (its start-up is the slow part); the result per attempt name. */
function runProbe(attempts: Attempt[]): Promise<Map<string, Outcome>> {
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-cp', DRIVER, PROBE], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`JdbcProbe exited ${code}: ${err}`));
      const outcomes = new Map<string, Outcome>();
      for (const line of out.split('\n').filter(Boolean)) {
        const [name, status, a = '', b = ''] = line.split('\t');
        outcomes.set(name!, status === 'OK' ? { ok: true, result: a } : { ok: false, sqlState: a, message: b });
      }
      resolve(outcomes);
    });
    child.stdin.end(attempts.map((a) => [a.name, a.url, a.user, a.password, a.action].join('\t') + '\n').join(''));
  });
}

describe('JDBC (the PostgreSQL JDBC driver, as DBeaver uses it) through the proxy', function () {
  this.timeout(180_000);
  let server: PgServer;
  let app: MayflyApp;
  let outcomes: Map<string, Outcome>;
  let dsnPassword: string;
  const logLines: string[] = [];

  before(async function () {
    server = await startEmbeddedPostgres();
    await createSampleData(server.superuser);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-jdbc-'));
    fs.writeFileSync(path.join(dir, 'config.hcl'), DEMO_POLICIES);
    fs.writeFileSync(path.join(dir, 'users.json'), JSON.stringify(USERS));
    const s = server.superuser;
    dsnPassword = s.password!;
    process.env.MAYFLY_JDBC_TEST_DSN = `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable`;
    app = new MayflyApp({
      config: [`policy-config=path:${path.join(dir, 'config.hcl')}`, 'pg-homolog-credentials=env:MAYFLY_JDBC_TEST_DSN'],
      log: createLogger((l) => logLines.push(l)),
    });
    const { port } = await app.serveWire({ listen: '127.0.0.1:0', users: [path.join(dir, 'users.json')], tls: selfSignedFiles(dir) });
    const url = (database: string, query = 'sslmode=disable'): string => `jdbc:postgresql://127.0.0.1:${port}/${database}${query ? `?${query}` : ''}`;
    const who = 'select current_user, current_database()';
    outcomes = await runProbe([
      { name: 'user@policy', url: url('dellstore'), user: 'alice@pg-homolog', password: 'alice-secret', action: who },
      // The README's JDBC form, verbatim: options in the URL, space as %20.
      { name: 'options', url: url('testdb', 'sslmode=disable&options=-c%20mayfly.policy=pg-homolog'), user: 'carol', password: 'carol-secret', action: who },
      { name: 'md5 default policy', url: url('dellstore'), user: 'bob', password: 'bob-secret', action: who },
      { name: 'tls', url: url('dellstore', 'sslmode=require'), user: 'carol@pg-homolog', password: 'carol-secret', action: "select current_user, (select ssl::text from pg_stat_ssl where pid = pg_backend_pid())" },
      // No parameters at all, as a new DBeaver connection starts: the driver's sslmode=prefer.
      { name: 'driver defaults', url: url('dellstore', ''), user: 'alice@pg-homolog', password: 'alice-secret', action: who },
      { name: 'metadata', url: url('dellstore'), user: 'alice@pg-homolog', password: 'alice-secret', action: 'TABLES:store' },
      { name: 'prepared', url: url('dellstore', 'sslmode=disable&prepareThreshold=1'), user: 'bob', password: 'bob-secret', action: 'select count(*) from store.products' },
      { name: 'cancel', url: url('dellstore'), user: 'alice@pg-homolog', password: 'alice-secret', action: 'CANCEL' },
      { name: 'wrong password', url: url('dellstore'), user: 'alice@pg-homolog', password: 'not-alice', action: who },
      { name: 'unknown user', url: url('dellstore'), user: 'mallory@pg-homolog', password: 'whatever', action: who },
      { name: 'database outside the policy', url: url('testdb'), user: 'bob', password: 'bob-secret', action: who },
    ]);
  });

  after(async () => {
    for (const s of app?.sessions.list() ?? []) await app.sessions.revoke(s.id).catch(() => undefined);
    await app?.close();
    delete process.env.MAYFLY_JDBC_TEST_DSN;
    const log = logLines.join('\n');
    for (const secret of [dsnPassword, 'alice-secret', 'bob-secret', 'carol-secret']) assert.ok(!log.includes(secret), 'no password reaches the log');
  });

  const ok = (name: string): string => {
    const o = outcomes.get(name);
    assert.ok(o, `no outcome for "${name}"`);
    assert.ok(o.ok, `"${name}" failed: ${!o.ok ? `${o.sqlState} ${o.message}` : ''}`);
    return o.result;
  };
  const failed = (name: string): { sqlState: string; message: string } => {
    const o = outcomes.get(name);
    assert.ok(o, `no outcome for "${name}"`);
    assert.ok(!o.ok, `"${name}" should have failed but gave ${o.ok ? o.result : ''}`);
    return o;
  };

  it('user@policy lands on the policy session role', () => {
    assert.equal(ok('user@policy'), `${SEED_ROLE}|dellstore`);
  });

  it('options=-c mayfly.policy=NAME in the URL chooses the policy (a SCRAM-stored user)', () => {
    assert.equal(ok('options'), `${SEED_ROLE}|testdb`);
  });

  it('an MD5-stored user with a default policy', () => {
    assert.equal(ok('md5 default policy'), `${STORE_READONLY_ROLE}|dellstore`);
  });

  it('sslmode=require: TLS to the proxy, the upstream login as the session role', () => {
    // The upstream leg is the granter DSN's (sslmode=disable here), so the server reports no TLS.
    assert.equal(ok('tls'), `${SEED_ROLE}|false`);
  });

  it("the driver's defaults (sslmode=prefer: TLS with the proxy's self-signed certificate)", () => {
    assert.equal(ok('driver defaults'), `${SEED_ROLE}|dellstore`);
  });

  it('the log tells encrypted logins from plaintext ones', () => {
    const successes = (user: string): string[] => logLines.filter((l) => l.includes('auth.success') && l.includes(`user="${user}"`));
    // carol@pg-homolog logged in once, with sslmode=require; alice@pg-homolog with the defaults
    // (TLS) and several times with sslmode=disable.
    assert.equal(successes('carol@pg-homolog').length, 1);
    assert.match(successes('carol@pg-homolog')[0]!, / tls=true /);
    const alice = successes('alice@pg-homolog');
    assert.equal(alice.filter((l) => l.includes(' tls=true ')).length, 1, alice.join('\n'));
    assert.ok(alice.length >= 3);
  });

  it("DatabaseMetaData lists the schema's tables, as a navigator shows them", () => {
    assert.deepEqual(ok('metadata').split(',').sort(), ['inventory', 'products']);
  });

  it('server-side prepared statements (prepareThreshold=1) work through the relay', () => {
    assert.match(ok('prepared'), /^\d+$/);
  });

  it("Statement.cancel() stops a running query through the proxy's cancel keys; the connection stays usable", () => {
    assert.equal(ok('cancel'), 'cancelled 57014 after <10s, then still here');
  });

  it('a wrong password and an unknown user get the same error', () => {
    const wrong = failed('wrong password');
    const unknown = failed('unknown user');
    assert.equal(wrong.sqlState, '28P01');
    assert.match(wrong.message, /password authentication failed for user "alice@pg-homolog"/);
    assert.equal(unknown.sqlState, wrong.sqlState);
    assert.equal(unknown.message.replace('mallory@pg-homolog', 'X'), wrong.message.replace('alice@pg-homolog', 'X'));
  });

  it("a database outside the policy is refused with the policy's databases named", () => {
    const r = failed('database outside the policy');
    assert.match(r.message, /testdb/);
    assert.match(r.message, /store-readonly/);
  });
});
