// The local Postgres proxy end to end: an in-process Mayfly with --listen and --users,
// a real PostgreSQL 18, and real clients (psql, node-postgres).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type PgServer } from '../../support/postgres';
import { createSampleData } from '../../../proxy/demo/sampleData';
import { MayflyApp } from '../../../proxy/app';
import { createLogger } from '../../../proxy/log/logger';
import { md5Secret } from '../../../proxy/wire/auth/md5';
import { scramVerifier } from '../../../proxy/auth/scramVerifier';
import { selfSignedFiles } from '../../../proxy/wire/tls';
import * as wb from '../../support/wireBytes';
import { RawClient } from '../../support/rawClient';
import { DEMO_POLICIES } from '../../support/policies';

const POLICIES = `${DEMO_POLICIES}
policy "short" {
  engine              = "postgres"
  plugin_config_entry = "pg-homolog-credentials"
  expiration          = "3s"
  instances           = ["testdb"]
  grant_privileges    = ["SELECT", "TRUNCATE"]
}

policy "victim" {
  engine              = "postgres"
  plugin_config_entry = "pg-homolog-credentials"
  expiration          = "1h"
  instances           = ["testdb"]
  grant_privileges    = ["SELECT", "REFERENCES"]
}

policy "bench" {
  engine              = "postgres"
  plugin_config_entry = "pg-homolog-credentials"
  expiration          = "1h"
  instances           = ["mayfly_wire_bench"]
  grant_privileges    = ["SELECT", "INSERT", "UPDATE"]
}

policy "down" {
  engine              = "postgres"
  plugin_config_entry = "down-credentials"
  expiration          = "1h"
  instances           = ["testdb"]
  grant_privileges    = ["SELECT"]
}
`;

const USERS = [
  { username: 'alice', password: 'alice-secret', type: 'text', role: 'database' },
  { username: 'bob', password: md5Secret('bob', 'bob-secret'), type: 'md5', role: 'database', policy: 'store-readonly' },
  { username: 'carol', password: scramVerifier('carol-secret'), type: 'scram-sha-256', role: 'database' },
  { username: 'dave', password: 'dave-secret', type: 'text', role: 'database', policies: ['store-readonly'] },
  { username: 'repl', password: 'repl-secret', type: 'text', role: 'replication' },
  { username: 'broken', password: 'x', type: 'sha1', role: 'database' },
];

/** psql as a child process; asynchronous, because the proxy runs in this process's event loop. */
function psql(args: string[], env: Record<string, string>, input?: string): Promise<{ code: number | null; out: string; err: string }> {
  return run('psql', ['-X', '-At', ...args], env, input);
}

function run(cmd: string, args: string[], env: Record<string, string>, input?: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { PATH: process.env.PATH, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out: out.trim(), err: err.trim() });
    });
    child.stdin.end(input ?? '');
  });
}

describe('the local Postgres proxy (wire protocol) on a real PostgreSQL', function () {
  let server: PgServer;
  let app: MayflyApp;
  let port: number;
  let dsnPassword: string;
  const logLines: string[] = [];
  let dir: string;

  before(async function () {
    server = await startEmbeddedPostgres();
    await createSampleData(server.superuser);
    // pgbench's tables in a database of their own, created as the superuser.
    await server.dropDatabase('mayfly_wire_bench');
    await server.createDatabase('mayfly_wire_bench');
    const su = server.superuser;
    const init = await run('pgbench', ['-i', '-s', '1', '-q', '-h', su.host, '-p', String(su.port), '-U', su.user, 'mayfly_wire_bench'], { PGPASSWORD: su.password! });
    assert.equal(init.code, 0, init.err);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-wire-'));
    fs.writeFileSync(path.join(dir, 'config.hcl'), POLICIES);
    fs.writeFileSync(path.join(dir, 'users.json'), JSON.stringify(USERS));
    const s = server.superuser;
    dsnPassword = s.password!;
    process.env.MAYFLY_WIRE_TEST_DSN = `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable`;
    // A server nobody listens on: its port was free a moment ago.
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    process.env.MAYFLY_WIRE_DOWN_DSN = `postgres://${s.user}:${encodeURIComponent(s.password!)}@127.0.0.1:${deadPort}/postgres?sslmode=disable`;
    app = new MayflyApp({
      config: [
        `policy-config=path:${path.join(dir, 'config.hcl')}`,
        'pg-homolog-credentials=env:MAYFLY_WIRE_TEST_DSN',
        'down-credentials=env:MAYFLY_WIRE_DOWN_DSN',
      ],
      log: createLogger((l) => logLines.push(l)),
    });
    port = (await app.serveWire({ listen: '127.0.0.1:0', users: [path.join(dir, 'users.json')], tls: selfSignedFiles(dir) })).port;
  });

  after(async () => {
    // End the roles this process issued, so later tests can provision them afresh.
    for (const s of app?.sessions.list() ?? []) await app.sessions.revoke(s.id).catch(() => undefined);
    await app?.close();
    const log = logLines.join('\n');
    for (const secret of [dsnPassword, 'alice-secret', 'bob-secret', 'carol-secret'])
      assert.ok(!log.includes(secret), 'no password reaches the log');
  });

  const env = (user: string, password: string, extra: Record<string, string> = {}): Record<string, string> => ({
    PGHOST: '127.0.0.1',
    PGPORT: String(port),
    PGUSER: user,
    PGPASSWORD: password,
    ...extra,
  });

  it('skips the malformed users-file entry with a logged reason and loads the rest', async () => {
    assert.ok(logLines.some((l) => l.includes('users.skipped') && l.includes('broken')));
    assert.ok(logLines.some((l) => l.includes('users.loaded') && l.includes('"users":5') || l.includes('users=5')));
  });

  it('psql with user@policy lands on the session role (SCRAM from a text user)', async () => {
    const r = await psql(['-c', 'select current_user, current_database()'], env('alice@pg-homolog', 'alice-secret'));
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, '_hoop_session_user_bb0465c4|dellstore');
  });

  it('psql with PGOPTIONS -c mayfly.policy=NAME and an explicit database', async () => {
    const r = await psql(['-d', 'testdb', '-c', 'select current_user, current_database()'], env('carol', 'carol-secret', { PGOPTIONS: '-c mayfly.policy=pg-homolog' }));
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, '_hoop_session_user_bb0465c4|testdb');
  });

  it('other options pass through to the server while mayfly.* settings are removed', async () => {
    const r = await psql(['-c', 'show work_mem'], env('alice', 'alice-secret', { PGOPTIONS: '-c mayfly.policy=pg-homolog -c work_mem=7MB' }));
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, '7MB');
  });

  it('psql \\c switches to another database of the policy', async () => {
    const r = await psql(['-d', 'dellstore'], env('alice@pg-homolog', 'alice-secret'), 'select current_database();\n\\c testdb\nselect current_database(), current_user;\n');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^dellstore\n.*testdb\|_hoop_session_user_bb0465c4$/s);
  });

  it('an md5 user with a default policy, via node-postgres', async () => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'bob', password: 'bob-secret', database: 'dellstore' });
    await c.connect();
    try {
      const r = await c.query('select current_user as u, count(*)::int as n from store.products');
      assert.match(r.rows[0].u, /^_hoop_session_user_[0-9a-f]{8}$/);
      assert.ok(r.rows[0].n > 0);
      // Extended protocol with parameters goes through the relay unchanged.
      const q = await c.query('select $1::int + 1 as x', [41]);
      assert.equal(q.rows[0].x, 42);
    } finally {
      await c.end();
    }
  });

  it('node-postgres gets its own cancel key, never the upstream backend pid', async () => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'alice@pg-homolog', password: 'alice-secret', database: 'testdb', application_name: 'wire-test' });
    await c.connect();
    try {
      const r = await c.query("select current_setting('application_name') as a, pg_backend_pid() as p");
      assert.equal(r.rows[0].a, 'wire-test', 'startup parameters reach the server');
      const processID = (c as unknown as { processID: number }).processID;
      assert.ok(processID > 0 && processID !== r.rows[0].p);
    } finally {
      await c.end();
    }
  });

  it('a session role logs in through the proxy with its issued password', async () => {
    const s = await app.sessionForPolicy('pg-homolog');
    const r = await psql(['-d', 'testdb', '-c', 'select current_user'], env(s.user, s.password));
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, s.user);
    const bad = await psql(['-c', 'select 1'], env(s.user, 'not-the-password'));
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /password authentication failed for user "_hoop_session_user_bb0465c4"/);
  });

  it('a wrong password and an unknown user get the same error', async () => {
    const wrong = await psql(['-c', 'select 1'], env('alice@pg-homolog', 'nope'));
    const unknown = await psql(['-c', 'select 1'], env('mallory@pg-homolog', 'nope'));
    assert.notEqual(wrong.code, 0);
    assert.notEqual(unknown.code, 0);
    assert.equal(wrong.err.replaceAll('alice', 'X'), unknown.err.replaceAll('mallory', 'X'));
    assert.match(wrong.err, /password authentication failed/);
    assert.ok(logLines.some((l) => l.includes('auth.failure') && l.includes('alice@pg-homolog')));
  });

  it('a replication-role entry is not a client identity', async () => {
    const r = await psql(['-c', 'select 1'], env('repl@pg-homolog', 'repl-secret'));
    assert.match(r.err, /password authentication failed/);
  });

  it('refuses a database outside the policy and a policy the user may not use', async () => {
    const db = await psql(['-d', 'postgres', '-c', 'select 1'], env('alice@store-readonly', 'alice-secret'));
    assert.notEqual(db.code, 0);
    assert.match(db.err, /database "postgres" is not covered by policy "store-readonly"/);
    const pol = await psql(['-c', 'select 1'], env('dave@pg-homolog', 'dave-secret'));
    assert.match(pol.err, /may not use policy "pg-homolog"/);
    const none = await psql(['-c', 'select 1'], env('alice', 'alice-secret'));
    assert.match(none.err, /no policy chosen/);
    const unknownPolicy = await psql(['-c', 'select 1'], env('alice@nosuch', 'alice-secret'));
    assert.match(unknownPolicy.err, /no policy named "nosuch"/);
  });

  it('an unreachable upstream gives the client an error and the proxy lives on', async () => {
    const r = await psql(['-d', 'testdb', '-c', 'select 1'], env('alice@down', 'alice-secret'));
    assert.notEqual(r.code, 0);
    assert.match(r.err, /FATAL/);
    const ok = await psql(['-c', 'select 1'], env('alice@pg-homolog', 'alice-secret'));
    assert.equal(ok.out, '1', ok.err);
  });

  it('an upstream backend killed mid-session gives the client an error, the proxy lives on', async () => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'alice@pg-homolog', password: 'alice-secret', database: 'testdb' });
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    await c.connect();
    const pid = (await c.query('select pg_backend_pid() as p')).rows[0].p as number;
    await server.query('postgres', 'select pg_terminate_backend($1)', [pid]);
    await assert.rejects(c.query('select 1'), /terminat|closed|Connection/i);
    await c.end().catch(() => undefined);
    const ok = await psql(['-c', 'select 1'], env('alice@pg-homolog', 'alice-secret'));
    assert.equal(ok.out, '1', ok.err);
  });

  it('Ctrl-C in psql cancels pg_sleep through the proxy', async function () {
    this.timeout(30_000);
    const child = spawn('psql', ['-X', '-At', '-c', 'select pg_sleep(10)'], {
      env: { PATH: process.env.PATH, ...env('alice@pg-homolog', 'alice-secret') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // Wait until the query is running on the server.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const rows = await server.query<{ n: number }>('postgres', "select count(*)::int as n from pg_stat_activity where query = 'select pg_sleep(10)' and state = 'active'");
      if (rows[0]!.n > 0) break;
      if (Date.now() > deadline) throw new Error('pg_sleep never started');
      await new Promise((r) => setTimeout(r, 100));
    }
    const started = Date.now();
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    assert.ok(Date.now() - started < 5000, 'cancelled well before the 10 s sleep ended');
    assert.notEqual(code, 0);
    assert.match(err, /canceling statement due to user request/);
  });

  // (SCRAM-SHA-256-PLUS itself is covered in tls.test.ts.)
  it('TLS: psql with sslmode=require and every channel_binding setting, and verify-full with the proxy certificate', async () => {
    for (const cb of ['disable', 'prefer', 'require']) {
      const r = await psql(['-c', '\\conninfo', '-c', 'select current_user'], env('alice@pg-homolog', 'alice-secret', { PGSSLMODE: 'require', PGCHANNELBINDING: cb }));
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /SSL connection \(protocol: TLSv1\.3/);
      assert.match(r.out, /_hoop_session_user_bb0465c4$/);
    }
    const verify = await psql(['-c', 'select 1'], env('alice@pg-homolog', 'alice-secret', { PGSSLMODE: 'verify-full', PGSSLROOTCERT: path.join(dir, 'tls', 'proxy.crt') }));
    assert.equal(verify.out, '1', verify.err);
  });

  it('GSSENCRequest is answered N, then the login proceeds; BackendKeyData is our own', async () => {
    const c = new RawClient(port);
    c.socket.write(wb.gssenc());
    assert.equal((await c.bytes(1)).toString(), 'N');
    c.socket.write(wb.startup({ user: 'alice@pg-homolog', database: 'testdb' }));
    const msgs = await c.login('alice-secret');
    const types = msgs.map((m) => (m.kind === 'message' ? m.type : '?')).join('');
    // SASLFinal, AuthenticationOk, the server's ParameterStatus, our BackendKeyData, ReadyForQuery.
    assert.match(types, /^RRS+KZ$/);
    const k = msgs.find((m) => m.kind === 'message' && m.type === 'K');
    assert.ok(k && k.kind === 'message' && k.body.length === 8);
    const ps = msgs.filter((m) => m.kind === 'message' && m.type === 'S').map((m) => (m.kind === 'message' ? m.body.toString().split('\0')[0] : ''));
    assert.ok(ps.includes('server_version') && ps.includes('session_authorization'), ps.join(','));
    c.socket.write(wb.query('select pg_backend_pid()'));
    let pid = '';
    for (;;) {
      const m = await c.message();
      if (!m || m.kind !== 'message') break;
      if (m.type === 'D') pid = m.body.subarray(10).toString();
      if (m.type === 'Z') break;
    }
    assert.ok(k.kind === 'message' && String(k.body.readInt32BE(0)) !== pid, 'the client never learns the upstream pid');
    c.socket.end(wb.msg('X'));
  });

  it('bytes smuggled after SSLRequest close the connection without an answer', async () => {
    const c = new RawClient(port);
    c.socket.write(Buffer.concat([wb.ssl(), wb.startup({ user: 'alice' })]));
    await c.until(() => c.closed);
    assert.equal((await c.bytes(1)).length, 0);
  });

  it('protocol 3.2 is accepted (32-byte cancel key); 3.5 and _pq_ options get NegotiateProtocolVersion', async () => {
    const c32 = new RawClient(port);
    c32.socket.write(wb.startup({ user: 'alice@pg-homolog' }, 3, 2));
    const m32 = await c32.login('alice-secret');
    const k = m32.find((m) => m.kind === 'message' && m.type === 'K');
    assert.ok(k && k.kind === 'message' && k.body.length === 36);
    c32.socket.destroy();

    const c35 = new RawClient(port);
    c35.socket.write(wb.startup({ user: 'alice@pg-homolog', '_pq_.future': 'x' }, 3, 5));
    const v = await c35.message();
    assert.ok(v?.kind === 'message' && v.type === 'v');
    assert.equal(v.body.readInt32BE(0), (3 << 16) | 2);
    assert.equal(v.body.readInt32BE(4), 1);
    assert.equal(v.body.subarray(8).toString(), '_pq_.future\0');
    const rest = await c35.login('alice-secret');
    assert.ok(rest.some((m) => m.kind === 'message' && m.type === 'Z'));
    c35.socket.destroy();
  });

  it('a startup packet over 10,000 bytes gets a FATAL protocol violation', async () => {
    const c = new RawClient(port);
    c.socket.write(wb.startup({ user: 'alice', application_name: 'x'.repeat(10_000) }));
    const m = await c.message();
    assert.ok(m?.kind === 'message' && m.type === 'E');
    assert.match(m.body.toString(), /C08P01.*invalid length of startup packet/s);
  });

  it('repeated failures for one user and source are rate limited', async () => {
    for (let i = 0; i < 10; i++) await psql(['-c', 'select 1'], env('eve@pg-homolog', 'wrong'));
    const r = await psql(['-c', 'select 1'], env('eve@pg-homolog', 'wrong'));
    assert.match(r.err, /too many failed authentication attempts/);
    assert.ok(logLines.some((l) => l.includes('auth.rate-limited')));
    const ok = await psql(['-c', 'select 1'], env('alice@pg-homolog', 'alice-secret'));
    assert.equal(ok.out, '1', 'other users are unaffected');
  });

  it('logs every success and failure as an event', () => {
    assert.ok(logLines.some((l) => l.includes('auth.success') && l.includes('policy="pg-homolog"') && l.includes('role="_hoop_session_user_bb0465c4"')));
    assert.ok(logLines.some((l) => l.includes('auth.failure')));
    assert.ok(logLines.some((l) => l.includes('auth.denied') && l.includes('not covered by policy')));
  });

  it("at a session's expiry its clients are closed with a clear FATAL, and not before", async function () {
    this.timeout(20_000);
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'alice@short', password: 'alice-secret', database: 'testdb' });
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    await c.connect();
    const expiresAt = new Date(app.sessions.list().find((s) => s.policy === 'short')!.expiresAt).getTime();
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() - 1000)));
    assert.equal((await c.query('select 1 as x')).rows[0].x, 1, 'still connected a second before expiry');
    const deadline = Date.now() + 8000;
    while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(Date.now() >= expiresAt - 50, 'not closed before the expiry');
    assert.match(errors[0]?.message ?? '', /the Mayfly session for policy "short" expired/);
    await c.end().catch(() => undefined);
  });

  it("an upstream rejection reaches the client as the server's own FATAL, before any AuthenticationOk", async () => {
    const s = await app.sessionForPolicy('victim');
    // Someone changed the role's password behind Mayfly's back: the upstream login fails.
    await server.query('postgres', `alter role "${s.role}" password 'changed-elsewhere'`);
    const r = await psql(['-d', 'testdb', '-c', 'select 1'], env('alice@victim', 'alice-secret'));
    assert.notEqual(r.code, 0);
    assert.match(r.err, new RegExp(`FATAL:  password authentication failed for user "${s.role}"`));
    assert.ok(logLines.some((l) => l.includes('auth.upstream-failed') && l.includes(s.role)));
  });

  for (const mode of ['simple', 'extended', 'prepared'])
    it(`pgbench -S -M ${mode} runs through the proxy`, async function () {
      this.timeout(30_000);
      const r = await run('pgbench', ['-n', '-S', '-M', mode, '-c', '4', '-j', '2', '-T', '2', '-h', '127.0.0.1', '-p', String(port), '-U', 'alice@bench', 'mayfly_wire_bench'], {
        PGPASSWORD: 'alice-secret',
      });
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /number of failed transactions: 0/);
      const tps = Number(/tps = ([\d.]+)/.exec(r.out)?.[1]);
      assert.ok(tps > 50, `tps ${tps}`);
    });

  it('pgbench -C (a new connection per transaction) runs through the proxy', async function () {
    this.timeout(30_000);
    const r = await run('pgbench', ['-n', '-S', '-C', '-c', '2', '-T', '2', '-h', '127.0.0.1', '-p', String(port), '-U', 'alice@bench', 'mayfly_wire_bench'], {
      PGPASSWORD: 'alice-secret',
    });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /number of failed transactions: 0/);
  });

  it('2,000 mutated authentication exchanges are each closed with an error; the proxy lives on', async function () {
    this.timeout(60_000);
    const rnd = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(Math.random() * 256)));
    const mutate = (b: Buffer): Buffer => {
      const out = Buffer.from(b);
      for (let k = 0; k < 1 + Math.floor(Math.random() * 4); k++) out[Math.floor(Math.random() * out.length)] = Math.floor(Math.random() * 256);
      return Math.random() < 0.2 ? out.subarray(0, Math.floor(Math.random() * out.length)) : out;
    };
    const attempt = (i: number): Promise<'error' | 'closed'> =>
      new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        let got = Buffer.alloc(0);
        let sent = false;
        s.on('data', (d: Buffer) => {
          got = Buffer.concat([got, d]);
          if (!sent && got.length >= 5 && got[0] === 0x52) {
            sent = true;
            const kind = i % 4;
            const initial = wb.saslInitial('SCRAM-SHA-256', `n,,n=*,r=${'x'.repeat(i % 40)}`);
            if (kind === 0) s.write(mutate(initial));
            else if (kind === 1) s.write(wb.msg('p', rnd(i % 300)));
            else if (kind === 2) s.write(Buffer.concat([initial, wb.msg('p', mutate(Buffer.from('c=biws,r=xx,p=' + 'A'.repeat(44))))]));
            else s.write(rnd(1 + (i % 64)));
            s.end();
          }
        });
        s.on('error', () => undefined);
        s.on('close', () => resolve(got.includes(Buffer.from('SFATAL')) ? 'error' : 'closed'));
        s.setTimeout(10_000, () => s.destroy());
        // Distinct users so the failure rate limiter does not short-cut the exchanges.
        s.on('connect', () => s.write(wb.startup({ user: `fuzz${i}@pg-homolog`, database: 'testdb' })));
      });
    const results: string[] = [];
    for (let i = 0; i < 2000; i += 100) results.push(...(await Promise.all(Array.from({ length: 100 }, (_, k) => attempt(i + k)))));
    assert.equal(results.length, 2000);
    // Every one ends; most with a FATAL (some clients hang up before the answer could arrive).
    assert.ok(results.filter((r) => r === 'error').length > 1000, `errors: ${results.filter((r) => r === 'error').length}`);
    assert.ok(!logLines.some((l) => l.includes('wire.internal-error')), 'no exception inside the proxy');
    const ok = await psql(['-c', 'select 1'], env('alice@pg-homolog', 'alice-secret'));
    assert.equal(ok.out, '1', ok.err);
  });

  it('streams large messages both ways (a 16 MB row, a COPY of 100,000 rows)', async function () {
    this.timeout(30_000);
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'alice@pg-homolog', password: 'alice-secret', database: 'testdb' });
    await c.connect();
    try {
      const big = 'y'.repeat(16 * 1024 * 1024);
      const r = await c.query('select length($1::text) as n, md5($1::text) = md5(repeat($2, $3)) as same, repeat($2, $3) as back', [big, 'y', big.length]);
      assert.equal(r.rows[0].n, big.length);
      assert.equal(r.rows[0].same, true);
      assert.equal(r.rows[0].back.length, big.length);
    } finally {
      await c.end();
    }
    const copy = await psql(['-d', 'testdb', '-c', "copy (select i, repeat('z', 50) from generate_series(1, 100000) i) to stdout"], env('alice@pg-homolog', 'alice-secret'));
    assert.equal(copy.code, 0, copy.err);
    assert.equal(copy.out.split('\n').length, 100000);
  });

  it('1,000 malformed startup packets do not crash the proxy', async function () {
    this.timeout(60_000);
    const rnd = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(Math.random() * 256)));
    const packets: Buffer[] = [];
    for (let i = 0; i < 1000; i++) {
      const kind = i % 5;
      if (kind === 0) packets.push(rnd(1 + (i % 200)));
      else if (kind === 1) {
        const b = Buffer.alloc(8);
        b.writeInt32BE(20000, 0); // oversize
        b.writeInt32BE(196608, 4);
        packets.push(b);
      } else if (kind === 2) {
        const full = Buffer.concat([Buffer.alloc(8), Buffer.from('user\0alice\0database\0testdb\0\0')]);
        full.writeInt32BE(full.length, 0);
        full.writeInt32BE(196608, 4);
        packets.push(full.subarray(0, 1 + (i % (full.length - 1)))); // truncated
      } else if (kind === 3) {
        const b = Buffer.concat([Buffer.alloc(8), rnd(30)]);
        b.writeInt32BE(b.length, 0);
        b.writeInt32BE(196608, 4);
        packets.push(b); // random parameters
      } else {
        const b = Buffer.alloc(16);
        b.writeInt32BE(8, 0);
        b.writeInt32BE(80877103, 4); // SSLRequest + smuggled bytes
        packets.push(b);
      }
    }
    const batch = 100;
    for (let i = 0; i < packets.length; i += batch)
      await Promise.all(
        packets.slice(i, i + batch).map(
          (p) =>
            new Promise<void>((resolve) => {
              const s = net.connect(port, '127.0.0.1', () => s.end(p));
              s.on('error', () => resolve());
              s.on('close', () => resolve());
              s.setTimeout(5000, () => s.destroy());
              s.resume();
            }),
        ),
      );
    const ok = await psql(['-c', 'select 1'], env('alice@pg-homolog', 'alice-secret'));
    assert.equal(ok.out, '1', ok.err);
  });
});
