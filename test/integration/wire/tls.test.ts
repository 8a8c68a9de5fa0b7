// TLS on the local proxy: direct TLS (PostgreSQL 17's sslnegotiation=direct, ALPN
// "postgresql") and SCRAM-SHA-256-PLUS with tls-server-end-point channel binding, with
// real clients: psql 15 (libpq), node-postgres, and raw Node TLS sockets, against proxies
// logging in to a real PostgreSQL 18 (pass-through identities, so no session is needed).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import pg from 'pg';
import { startEmbeddedPostgres, type PgServer } from '../../support/postgres';
import { MayflyApp } from '../../../proxy/app';
import { createLogger } from '../../../proxy/log/logger';
import { selfSignedFiles, type TlsFiles } from '../../../proxy/wire/tls';
import { FrameDecoder, type Frame } from '../../../proxy/wire/protocol/frames';
import { certKinds, makeCert, rsaKeyFile } from '../../support/certAlgorithms';
import { PgScram, type CertSource } from '../../support/pgScram';
import * as wb from '../../support/wireBytes';
import { psql } from '../../support/psql';

const TEXT = 'mayfly_tls_text';
const SCRAM = 'mayfly_tls_scram';
const PLUS = 'SCRAM-SHA-256-PLUS';


/** A protocol connection over any socket (plain or TLS): send bytes, read framed messages. */
class Conn {
  private readonly decoder = new FrameDecoder('message', 1 << 24);
  private wake?: () => void;
  closed = false;
  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.decoder.append(d);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }
  /** The next message, or undefined once the connection closed. */
  async message(ms = 5000): Promise<Frame | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = this.decoder.next();
      if (f) return f;
      if (this.closed) return undefined;
      if (Date.now() > deadline) throw new Error('timed out waiting for the proxy');
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 50);
      });
    }
  }
  async expectClosed(): Promise<void> {
    while (!this.closed) await this.message();
  }
}

const body = (f: Frame | undefined, type: string): Buffer => {
  assert.ok(f && f.kind === 'message', `expected a ${type} message, got ${f ? JSON.stringify(f) : 'a closed connection'}`);
  assert.equal(f.type, type, f.type === 'E' ? errorFields(f.body).M : undefined);
  return f.body;
};

function errorFields(b: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < b.length && b[i] !== 0; ) {
    const end = b.indexOf(0, i + 1);
    out[String.fromCharCode(b[i]!)] = b.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return out;
}

/** TLS started directly (sslnegotiation=direct), with these ALPN protocols. */
async function directTls(port: number, alpn?: string[]): Promise<tls.TLSSocket | Error> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(alpn ? { ALPNProtocols: alpn } : {}) });
    s.once('secureConnect', () => resolve(s));
    s.once('error', (e) => resolve(e));
  });
}

/** SSLRequest, `S`, then TLS on the same connection. */
async function sslRequestTls(port: number, alpn?: string[]): Promise<tls.TLSSocket | Error> {
  const raw = net.connect(port, '127.0.0.1');
  raw.on('error', () => undefined);
  await new Promise((r) => raw.once('connect', r));
  raw.write(wb.ssl());
  const answer = await new Promise<Buffer>((r) => raw.once('data', r));
  assert.equal(answer.toString(), 'S');
  return new Promise((resolve) => {
    const s = tls.connect({ socket: raw, rejectUnauthorized: false, ...(alpn ? { ALPNProtocols: alpn } : {}) });
    s.once('secureConnect', () => resolve(s));
    s.once('error', (e) => resolve(e));
  });
}

interface LoginTrace {
  mechanisms: string[];
  chosen: string;
  /** server-first-message with nonce and salt replaced, to compare shapes. */
  serverFirstShape?: string;
  /** What followed the client's last message: SASLFinal..ReadyForQuery, or an error. */
  end: Frame[];
}

/**
 * A SCRAM login with node-postgres's client over `c`. `bind`: the certificate the client
 * binds to (none: no channel binding); `offer` edits the mechanism list the client sees.
 */
async function scramLogin(c: Conn, user: string, password: string, bind?: CertSource, offer = (l: string[]) => l): Promise<LoginTrace> {
  c.socket.write(wb.startup({ user, database: 'postgres' }));
  const sasl = body(await c.message(), 'R');
  assert.equal(sasl.readInt32BE(0), 10, 'AuthenticationSASL');
  const mechanisms = sasl.subarray(4).toString().split('\0').filter(Boolean);
  const client = new PgScram(password, bind);
  const [chosen, first] = client.first(offer(mechanisms));
  c.socket.write(wb.saslInitial(chosen, first));
  const next = await c.message();
  if (!next || next.kind !== 'message' || next.type !== 'R') return { mechanisms, chosen, end: next ? [next] : [] };
  const serverFirst = next.body.subarray(4).toString();
  c.socket.write(wb.msg('p', await client.final(serverFirst)));
  const end: Frame[] = [];
  for (;;) {
    const f = await c.message();
    if (!f) break;
    end.push(f);
    if (f.kind === 'message' && (f.type === 'Z' || f.type === 'E')) break;
  }
  return { mechanisms, chosen, serverFirstShape: serverFirst.replace(/r=[^,]+/, 'r=N').replace(/s=[^,]+/, (s) => `s=${s.length}`), end };
}

async function query(c: Conn, sql: string): Promise<string[]> {
  c.socket.write(wb.query(sql));
  const values: string[] = [];
  for (;;) {
    const f = await c.message();
    const m = f && f.kind === 'message' ? f : undefined;
    assert.ok(m, 'connection closed during a query');
    if (m.type === 'E') assert.fail(errorFields(m.body).M);
    if (m.type === 'D') values.push(m.body.toString('utf8', 6, 6 + m.body.readInt32BE(2)));
    if (m.type === 'Z') return values;
  }
}

const lastType = (t: LoginTrace): string | undefined => {
  const f = t.end.at(-1);
  return f?.kind === 'message' ? f.type : undefined;
};

const peer = (s: tls.TLSSocket): CertSource => ({ getPeerCertificate: () => ({ raw: s.getPeerCertificate().raw }) });

interface Proxy {
  app: MayflyApp;
  port: number;
  files?: TlsFiles;
}

describe('wire proxy TLS: direct TLS and SCRAM-SHA-256-PLUS', function () {
  this.timeout(120_000);
  let server: PgServer;
  let dir: string;
  const logLines: string[] = [];
  const proxies: Record<'ecdsa' | 'pss' | 'ed25519' | 'none', Proxy> = {} as never;

  /** The JSON log events written while `fn` ran. */
  async function eventsDuring<T>(fn: () => Promise<T>): Promise<{ result: T; events: Record<string, unknown>[] }> {
    const from = logLines.length;
    const result = await fn();
    // Logs of a connection the client already left may follow a moment later.
    await new Promise((r) => setTimeout(r, 100));
    return { result, events: logLines.slice(from).map((l) => JSON.parse(l) as Record<string, unknown>) };
  }
  const successOf = (events: Record<string, unknown>[], user: string) => events.filter((e) => e.event === 'auth.success' && e.user === user);

  before(async function () {
    server = await startEmbeddedPostgres();
    for (const r of [TEXT, SCRAM]) {
      await server.query('postgres', `drop role if exists ${r}`);
      await server.query('postgres', `create role ${r} login password '${r}-secret'`);
    }
    // The server's own verifier in the users file: SCRAM pass-through logs in as the user.
    const [row] = await server.query<{ p: string }>('postgres', `select rolpassword as p from pg_authid where rolname = '${SCRAM}'`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-wire-tls-'));
    fs.writeFileSync(path.join(dir, 'config.hcl'), '');
    fs.writeFileSync(
      path.join(dir, 'users.json'),
      JSON.stringify([
        { username: TEXT, password: `${TEXT}-secret`, type: 'text', role: 'database' },
        { username: SCRAM, password: row!.p, type: 'scram-sha-256', role: 'database' },
      ]),
    );
    const s = server.superuser;
    process.env.MAYFLY_WIRE_TLS_DSN = `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable`;
    const kinds = certKinds(rsaKeyFile(dir));
    const files = {
      ecdsa: selfSignedFiles(dir),
      pss: makeCert(dir, kinds.find((k) => k.name === 'rsa-pss-sha384')!),
      ed25519: makeCert(dir, kinds.find((k) => k.name === 'ed25519')!),
      none: false as const,
    };
    for (const [name, f] of Object.entries(files)) {
      const app = new MayflyApp({
        config: [`policy-config=path:${path.join(dir, 'config.hcl')}`, 'primary=env:MAYFLY_WIRE_TLS_DSN'],
        log: createLogger((l) => logLines.push(l), { json: true }),
      });
      const tlsFiles = f === false ? false : { cert: f.cert, key: f.key };
      const port = (await app.serveWire({ listen: '127.0.0.1:0', users: [path.join(dir, 'users.json')], primary: 'primary', tls: tlsFiles })).port;
      proxies[name as keyof typeof proxies] = { app, port, ...(tlsFiles ? { files: tlsFiles } : {}) };
    }
  });

  after(async () => {
    for (const p of Object.values(proxies)) await p.app.close();
    for (const r of [TEXT, SCRAM]) await server.query('postgres', `drop role if exists ${r}`).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.ok(!logLines.join('\n').includes('-secret'), 'no password in the log');
  });

  const env = (p: Proxy, user: string, extra: Record<string, string>): Record<string, string> => ({
    PGHOST: '127.0.0.1',
    PGPORT: String(p.port),
    PGUSER: user,
    PGPASSWORD: `${user}-secret`,
    PGDATABASE: 'postgres',
    ...extra,
  });

  it('psql over TLS: channel_binding require and prefer use SCRAM-SHA-256-PLUS, disable plain SCRAM (text and SCRAM users)', async () => {
    for (const user of [TEXT, SCRAM])
      for (const [cb, method] of [['require', 'scram-plus'], ['prefer', 'scram-plus'], ['disable', 'scram']] as const) {
        const { result, events } = await eventsDuring(() => psql(env(proxies.ecdsa, user, { PGSSLMODE: 'require', PGCHANNELBINDING: cb }), 'select current_user'));
        assert.equal(result.code, 0, `${user} ${cb}: ${result.err}`);
        assert.equal(result.out, user);
        const ok = successOf(events, user);
        assert.equal(ok.length, 1, `${user} ${cb}`);
        assert.equal(ok[0]!.method, method, `${user} channel_binding=${cb}`);
        assert.equal(ok[0]!.tls, true, 'the log says the client connected over TLS');
      }
  });

  it('verify-full with the self-signed certificate and channel_binding=require', async () => {
    const r = await psql(
      env(proxies.ecdsa, TEXT, { PGSSLMODE: 'verify-full', PGSSLROOTCERT: proxies.ecdsa.files!.cert, PGCHANNELBINDING: 'require' }),
      'select current_user',
    );
    assert.equal(r.out, TEXT, r.err);
  });

  it('plaintext: only SCRAM-SHA-256 is offered, and psql with channel_binding=require fails clearly', async () => {
    const c = new Conn(net.connect(proxies.ecdsa.port, '127.0.0.1'));
    const trace = await scramLogin(c, TEXT, `${TEXT}-secret`);
    assert.deepEqual(trace.mechanisms, ['SCRAM-SHA-256']);
    assert.equal(lastType(trace), 'Z', 'plain SCRAM logs in');
    c.socket.end(wb.msg('X'));
    const r = await psql(env(proxies.ecdsa, TEXT, { PGSSLMODE: 'disable', PGCHANNELBINDING: 'require' }), 'select 1');
    assert.notEqual(r.code, 0);
    assert.match(r.err, /channel binding required, but SSL not in use/);
    const { events } = await eventsDuring(() => psql(env(proxies.ecdsa, TEXT, { PGSSLMODE: 'disable' }), 'select 1'));
    assert.equal(successOf(events, TEXT).length, 1);
    assert.equal(successOf(events, TEXT)[0]!.tls, undefined, 'no tls field for a plaintext client');
  });

  it('a client choosing PLUS in plaintext is refused with a protocol error', async () => {
    const c = new Conn(net.connect(proxies.ecdsa.port, '127.0.0.1'));
    c.socket.write(wb.startup({ user: TEXT, database: 'postgres' }));
    body(await c.message(), 'R');
    c.socket.write(wb.saslInitial(PLUS, 'p=tls-server-end-point,,n=*,r=abcdef'));
    const e = errorFields(body(await c.message(), 'E'));
    assert.equal(e.C, '08P01');
    assert.match(e.M!, /invalid SASL authentication mechanism/);
    await c.expectClosed();
  });

  it('a wrong password with PLUS fails exactly like an unknown user (psql and the raw exchange)', async () => {
    const wrong = await psql(env(proxies.ecdsa, SCRAM, { PGSSLMODE: 'require', PGCHANNELBINDING: 'require', PGPASSWORD: 'not-it' }), 'select 1');
    const unknown = await psql(env(proxies.ecdsa, 'mayfly_tls_nobody', { PGSSLMODE: 'require', PGCHANNELBINDING: 'require', PGPASSWORD: 'not-it' }), 'select 1');
    assert.notEqual(wrong.code, 0);
    assert.equal(unknown.code, wrong.code);
    assert.match(wrong.err, /password authentication failed for user "mayfly_tls_scram"/);
    assert.equal(unknown.err.replace('mayfly_tls_nobody', 'U'), wrong.err.replace(SCRAM, 'U'));

    const traces: LoginTrace[] = [];
    for (const user of [SCRAM, 'mayfly_tls_nobody']) {
      const s = await sslRequestTls(proxies.ecdsa.port);
      assert.ok(!(s instanceof Error));
      const c = new Conn(s);
      traces.push(await scramLogin(c, user, 'not-it', peer(s)));
      await c.expectClosed();
    }
    const [known, nobody] = traces as [LoginTrace, LoginTrace];
    assert.deepEqual(known.mechanisms, [PLUS, 'SCRAM-SHA-256']);
    assert.deepEqual(nobody.mechanisms, known.mechanisms);
    assert.equal(known.chosen, PLUS);
    assert.equal(nobody.serverFirstShape, known.serverFirstShape);
    assert.equal(known.end.length, 1);
    assert.equal(nobody.end.length, 1);
    const [ek, en] = [errorFields(body(known.end[0], 'E')), errorFields(body(nobody.end[0], 'E'))];
    assert.equal(ek.C, '28P01');
    assert.deepEqual({ ...en, M: en.M!.replace('mayfly_tls_nobody', 'U') }, { ...ek, M: ek.M!.replace(SCRAM, 'U') });
  });

  it('a proof bound to another certificate (a man in the middle) is refused', async () => {
    const s = await sslRequestTls(proxies.ecdsa.port);
    assert.ok(!(s instanceof Error));
    const c = new Conn(s);
    const other: CertSource = { getPeerCertificate: () => ({ raw: new crypto.X509Certificate(fs.readFileSync(proxies.pss.files!.cert)).raw }) };
    const { result: trace, events } = await eventsDuring(() => scramLogin(c, TEXT, `${TEXT}-secret`, other));
    assert.equal(trace.chosen, PLUS);
    const e = errorFields(body(trace.end[0], 'E'));
    assert.equal(e.C, '28P01');
    assert.ok(events.some((ev) => ev.event === 'auth.failure' && ev.reason === 'SCRAM channel binding check failed'));
  });

  it('downgrade: a client that could bind but was not offered PLUS (y) is refused, alike for unknown users', async () => {
    const results: Record<string, string>[] = [];
    for (const user of [TEXT, 'mayfly_tls_nobody']) {
      const s = await sslRequestTls(proxies.ecdsa.port);
      assert.ok(!(s instanceof Error));
      const c = new Conn(s);
      // Someone in between removed SCRAM-SHA-256-PLUS from the list the client saw.
      const trace = await scramLogin(c, user, `${TEXT}-secret`, peer(s), (l) => l.filter((m) => m !== PLUS));
      assert.equal(trace.chosen, 'SCRAM-SHA-256');
      results.push(errorFields(body(trace.end[0], 'E')));
    }
    assert.equal(results[0]!.C, '08P01');
    assert.match(results[0]!.M!, /channel binding negotiation error/);
    assert.deepEqual(results[1], results[0]);
  });

  it('node-postgres with enableChannelBinding uses PLUS; an RSA-PSS/SHA-384 certificate binds for libpq and node-postgres alike', async () => {
    for (const p of [proxies.ecdsa, proxies.pss]) {
      const { events } = await eventsDuring(async () => {
        const c = new pg.Client({ host: '127.0.0.1', port: p.port, user: SCRAM, password: `${SCRAM}-secret`, database: 'postgres', ssl: { rejectUnauthorized: false }, enableChannelBinding: true });
        await c.connect();
        try {
          assert.equal((await c.query('select current_user as u')).rows[0].u, SCRAM);
        } finally {
          await c.end();
        }
      });
      assert.equal(successOf(events, SCRAM)[0]?.method, 'scram-plus');
    }
    const r = await psql(env(proxies.pss, TEXT, { PGSSLMODE: 'require', PGCHANNELBINDING: 'require' }), 'select current_user');
    assert.equal(r.out, TEXT, r.err);
  });

  it('an Ed25519 certificate cannot be bound to: PLUS is not offered, prefer uses SCRAM, require fails clearly', async () => {
    const { result, events } = await eventsDuring(() => psql(env(proxies.ed25519, TEXT, { PGSSLMODE: 'require', PGCHANNELBINDING: 'prefer' }), 'select current_user'));
    assert.equal(result.out, TEXT, result.err);
    assert.equal(successOf(events, TEXT)[0]?.method, 'scram');
    const req = await psql(env(proxies.ed25519, TEXT, { PGSSLMODE: 'require', PGCHANNELBINDING: 'require' }), 'select 1');
    assert.notEqual(req.code, 0);
    assert.match(req.err, /channel binding/);
  });

  it('direct TLS with ALPN "postgresql": a login with PLUS and a query', async () => {
    const { result, events } = await eventsDuring(async () => {
      const s = await directTls(proxies.ecdsa.port, ['postgresql']);
      assert.ok(!(s instanceof Error), String(s));
      assert.equal(s.alpnProtocol, 'postgresql');
      const c = new Conn(s);
      const trace = await scramLogin(c, SCRAM, `${SCRAM}-secret`, peer(s));
      assert.equal(trace.chosen, PLUS);
      assert.deepEqual(
        trace.end.map((f) => (f.kind === 'message' ? f.type : '?')).filter((t) => t !== 'S'),
        ['R', 'R', 'K', 'Z'],
        'SASLFinal, AuthenticationOk, ParameterStatus*, BackendKeyData, ReadyForQuery',
      );
      const rows = await query(c, 'select current_user');
      s.end(wb.msg('X'));
      return rows;
    });
    assert.deepEqual(result, [SCRAM]);
    assert.equal(successOf(events, SCRAM)[0]?.method, 'scram-plus');
  });

  it('direct TLS without ALPN is refused with a FATAL over TLS and a log event', async () => {
    const { result: err, events } = await eventsDuring(async () => {
      const s = await directTls(proxies.ecdsa.port);
      assert.ok(!(s instanceof Error), String(s));
      const c = new Conn(s);
      const e = errorFields(body(await c.message(), 'E'));
      await c.expectClosed();
      return e;
    });
    assert.equal(err.C, '08P01');
    assert.match(err.M!, /ALPN protocol "postgresql"/);
    assert.ok(events.some((e) => e.event === 'wire.direct-tls-refused' && /without ALPN/.test(String(e.reason))));
  });

  it('a TLS client offering other ALPN protocols is refused, directly or after SSLRequest', async () => {
    for (const open of [directTls, sslRequestTls]) {
      const { result, events } = await eventsDuring(() => open(proxies.ecdsa.port, ['h2', 'http/1.1']));
      assert.ok(result instanceof Error, 'the handshake fails');
      assert.match(result.message, /no.application.protocol|alert number 120/i);
      assert.ok(events.some((e) => /tls/.test(String(e.event)) && /"h2", "http\/1.1" but not "postgresql"/.test(String(e.reason))), JSON.stringify(events));
    }
    // After SSLRequest, ALPN "postgresql" is accepted too (libpq 17 always sends it).
    const s = await sslRequestTls(proxies.ecdsa.port, ['postgresql']);
    assert.ok(!(s instanceof Error));
    assert.equal(s.alpnProtocol, 'postgresql');
    const trace = await scramLogin(new Conn(s), TEXT, `${TEXT}-secret`, peer(s));
    assert.equal(lastType(trace), 'Z');
    s.end(wb.msg('X'));
  });

  it('direct TLS to a proxy without TLS is closed and logged', async () => {
    const { result, events } = await eventsDuring(() => directTls(proxies.none.port, ['postgresql']));
    assert.ok(result instanceof Error);
    assert.ok(events.some((e) => e.event === 'wire.direct-tls-refused' && /not configured/.test(String(e.reason))));
  });

  it('SSLRequest handling is unchanged: bytes smuggled after it close the connection; a ClientHello is only accepted first', async () => {
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00]);
    const smuggled = new Conn(net.connect(proxies.ecdsa.port, '127.0.0.1'));
    smuggled.socket.write(Buffer.concat([wb.ssl(), hello]));
    assert.equal(await smuggled.message(), undefined, 'closed without an answer');

    // After a refused GSSENCRequest the connection is in startup framing: no direct TLS.
    const gss = net.connect(proxies.ecdsa.port, '127.0.0.1');
    gss.on('error', () => undefined);
    gss.write(wb.gssenc());
    assert.equal((await new Promise<Buffer>((r) => gss.once('data', r))).toString(), 'N');
    const c = new Conn(gss);
    gss.write(hello);
    const e = errorFields(body(await c.message(), 'E'));
    assert.match(e.M!, /invalid length of startup packet/);
    await c.expectClosed();
  });

  it('200 broken direct-TLS openings are each closed; the proxy still serves logins', async () => {
    const attempts = Array.from(
      { length: 200 },
      (_, i) =>
        new Promise<boolean>((resolve) => {
          const s = net.connect(proxies.ecdsa.port, '127.0.0.1');
          const timer = setTimeout(() => (s.destroy(), resolve(false)), 10_000);
          s.on('error', () => undefined);
          s.on('data', () => undefined); // read, or the proxy's FIN would go unnoticed
          s.on('close', () => (clearTimeout(timer), resolve(true)));
          // A handshake record header, then garbage of varying length, then end of input.
          const junk = Buffer.alloc(i % 50);
          for (let j = 0; j < junk.length; j++) junk[j] = (i * 31 + j * 7) & 0xff;
          s.end(Buffer.concat([Buffer.from([0x16, 0x03, i % 4, (i >> 4) & 0xff, i & 0xff]), junk]));
        }),
    );
    const closed = await Promise.all(attempts);
    assert.equal(closed.filter(Boolean).length, 200, 'every broken opening was closed by the proxy');
    const r = await psql(env(proxies.ecdsa, TEXT, { PGSSLMODE: 'require', PGCHANNELBINDING: 'require' }), 'select current_user');
    assert.equal(r.out, TEXT, r.err);
  });
});
