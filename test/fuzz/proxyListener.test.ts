/**
 * Fuzzing the real `mayfly proxy --listen` process (dist/proxy.js) with malformed and
 * mutated startup and authentication packets over real sockets, in front of a real
 * PostgreSQL 18. `npm test` sends ~500; `npm run fuzz` 10,000 (MAYFLY_FUZZ_RUNS).
 *
 * For every connection:
 * - the proxy closes it: by itself, with a FATAL ErrorResponse carrying the SQLSTATE its
 *   decoder decided on, where the packet was complete and wrong; without one for a
 *   CancelRequest or bytes smuggled behind an SSLRequest/GSSENCRequest; as soon as we
 *   hang up when the packet was incomplete;
 * - everything it sent is well formed (answer bytes, then whole backend messages, an
 *   ErrorResponse only last);
 * - it authenticates only known users with the right password and the valid messages,
 *   and always authenticates those (unless the failure rate limiter says no).
 * Throughout: the process stays up, logs no internal error, keeps valid logins working
 * (a query through the relay every 250 packets), holds no file descriptor for a closed
 * connection, and its resident memory stays bounded (the figures are printed).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { scramVerifier } from '../../proxy/auth/scramVerifier';
import { createSampleData } from '../../proxy/demo/sampleData';
import { md5Secret } from '../../proxy/wire/auth/md5';
import { MAX_AUTH_MESSAGE, MAX_STARTUP_PACKET } from '../../proxy/wire/protocol/codes';
import { FrameDecoder, type Frame } from '../../proxy/wire/protocol/frames';
import { parseStartupPacket } from '../../proxy/wire/protocol/startup';
import { runMayfly } from '../support/cli';
import { freePort, startEmbeddedPostgres } from '../support/postgres';
import { startProxy, type RunningProxy } from '../support/proxyProcess';
import * as wb from '../support/wireBytes';
import { mutate, mutatedBytes, mutation, type MutatedBytes, type Mutation } from './support/mutate';
import { directTlsClientHello, VALID_STARTUP_PACKETS } from './support/packets';
import { errorFields, RawConnection, type BackendMessage } from './support/rawConnection';
import { md5Password, RfcScramClient, sameFrame, sameMd5Answer, sameScramFinal } from './support/rfcClient';
import { checkAsyncProperty, runs, Tally } from './support/settings';

// Its own instances and privileges, so its session role is not shared with other test files.
const POLICIES = `policy "fuzz" {
  engine              = "postgres"
  plugin_config_entry = "fuzz-credentials"
  expiration          = "1h"
  instances           = ["testdb"]
  grant_privileges    = ["SELECT", "TRIGGER"]
}
`;

const PASSWORDS = { alice: 'alice-fuzz-secret', bob: 'bob-fuzz-secret', carol: 'carol-fuzz-secret' } as const;
const USERS = [
  { username: 'alice', password: PASSWORDS.alice, type: 'text', role: 'database', policy: 'fuzz' },
  { username: 'bob', password: md5Secret('bob', PASSWORDS.bob), type: 'md5', role: 'database', policy: 'fuzz' },
  { username: 'carol', password: scramVerifier(PASSWORDS.carol), type: 'scram-sha-256', role: 'database', policy: 'fuzz' },
];
type User = keyof typeof PASSWORDS | 'nobody';

// ------------------------------------------------------------------ cases

type ProxyCase =
  /** Startup-phase bytes mutated from valid packets; `tls`: sent inside TLS after a real handshake. */
  | { kind: 'startup'; packet: MutatedBytes; tls: boolean }
  /** A valid StartupMessage, then the authentication exchange with its messages mutated. */
  | {
      kind: 'auth';
      user: User;
      minor: 0 | 2 | 3;
      /** Inside TLS, where SCRAM-SHA-256-PLUS is offered; `plus`: the client binds to the certificate. */
      tls: boolean;
      plus: boolean;
      wrongPassword: boolean;
      first?: Mutation;
      final?: Mutation;
      source: number;
    };

/** `bases`: the packets startup cases mutate (valid startup packets, and a direct-TLS ClientHello). */
const proxyCase = (bases: Buffer[]): fc.Arbitrary<ProxyCase> => fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('startup' as const), packet: mutatedBytes(fc.constantFrom(...bases), 0, 4), tls: fc.boolean() }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('auth' as const),
      user: fc.constantFrom<User>('alice', 'bob', 'carol', 'nobody'),
      minor: fc.constantFrom<0 | 2 | 3>(0, 2, 3),
      tls: fc.boolean(),
      plus: fc.boolean(),
      wrongPassword: fc.boolean(),
      first: fc.option(mutation(), { freq: 2, nil: undefined }),
      final: fc.option(mutation(), { freq: 2, nil: undefined }),
      // A source address per failure bucket (127.0.1.1 and up), so the rate limiter rarely decides.
      source: fc.integer({ min: 257, max: 65_000 }),
    }),
  },
);

/** What the proxy must do with startup-phase bytes, from its own decoder and parser. */
type StartupExpectation =
  | { end: 'error'; answers: string; codes: string[]; reachedAuth?: boolean }
  | { end: 'close'; answers: string; reachedAuth?: undefined }
  | { end: 'wait'; answers: string; startTls?: boolean; reachedAuth?: boolean; directTls?: boolean };

function expectStartup(bytes: Buffer, encrypted: boolean): StartupExpectation {
  const d = new FrameDecoder('startup', MAX_STARTUP_PACKET);
  d.append(bytes);
  let answers = '';
  for (let first = true; ; first = false) {
    const f = d.next();
    if (!f) return { end: 'wait', answers };
    // A first packet that starts like a TLS record is taken for direct TLS (sslnegotiation=direct):
    // the handshake on our junk fails, or waits for the rest of a record we never send.
    if (f.kind === 'error' && first && !encrypted && bytes[0] === 0x16) return { end: 'wait', answers, directTls: true };
    if (f.kind === 'error') return { end: 'error', answers, codes: [f.code] };
    if (f.kind !== 'startup') throw new Error('startup framing gave a message');
    const p = parseStartupPacket(f.packet);
    switch (p.kind) {
      case 'error':
        return { end: 'error', answers, codes: [p.code] };
      case 'ssl':
      case 'gssenc':
        if (d.buffered > 0) return { end: 'close', answers }; // CVE-2021-3935
        if (p.kind === 'ssl' && !encrypted) return { end: 'wait', answers: answers + 'S', startTls: true };
        answers += 'N';
        continue;
      case 'cancel':
        return { end: 'close', answers };
      case 'startup': {
        const r = p.params.get('replication');
        if (r && !['false', 'off', 'no', '0'].includes(r.toLowerCase())) return { end: 'error', answers, codes: ['0A000'] };
        // Bytes after the StartupMessage are the client's first answer to the authentication
        // request: a whole message of ours is never a valid one.
        const answer = new FrameDecoder('message', MAX_AUTH_MESSAGE);
        answer.append(d.take());
        if (answer.next()) return { end: 'error', answers, codes: ['08P01', '28P01'], reachedAuth: true };
        return { end: 'wait', answers, reachedAuth: true };
      }
    }
  }
}

// ------------------------------------------------------------------ checks

const hex = (b: Buffer): string => (b.length > 120 ? b.subarray(0, 120).toString('hex') + '…' : b.toString('hex'));

function checkFatal(m: BackendMessage, codes: string[], where: string): string {
  const f = errorFields(m.body);
  assert.equal(f.get('S'), 'FATAL', `${where}: ErrorResponse severity`);
  assert.equal(f.get('V'), 'FATAL', `${where}: ErrorResponse V field`);
  const code = f.get('C') ?? '';
  assert.ok(codes.includes(code), `${where}: SQLSTATE ${code}, expected one of ${codes.join(' ')} (${f.get('M')})`);
  assert.ok((f.get('M') ?? '').length > 0, `${where}: ErrorResponse without a message`);
  return code;
}

/** Reads everything until the proxy closes; checks answers, then whole messages, an error only last. */
async function readToClose(c: RawConnection, answers: string, allowed: string[], where: string): Promise<BackendMessage[]> {
  for (const want of answers) assert.equal(await c.byte(), want, `${where}: answer byte`);
  const out: BackendMessage[] = [];
  for (;;) {
    const m = await c.message();
    if (!m) break;
    assert.ok(allowed.includes(m.type), `${where}: unexpected message ${m.type} ${hex(m.body)}`);
    if (m.type === 'R') assert.notEqual(m.body.readInt32BE(0), 0, `${where}: AuthenticationOk for a bad packet`);
    assert.ok(!out.some((x) => x.type === 'E'), `${where}: a message after an ErrorResponse`);
    out.push(m);
  }
  assert.ok(await c.waitClosed(), `${where}: the proxy left the connection open (received ${hex(c.received)})`);
  assert.equal(c.unread.length, 0, `${where}: a partial message before the close: ${hex(c.unread)}`);
  return out;
}

/** Startup cases come from here; 127.0.0.1 is kept for the valid logins, which the rate limiter must never see fail. */
const STARTUP_SOURCE = '127.0.0.2';

async function runStartupCase(port: number, k: Extract<ProxyCase, { kind: 'startup' }>, tally: Tally): Promise<void> {
  const c = await RawConnection.connect(port, STARTUP_SOURCE);
  const where = `startup case ${hex(k.packet.bytes)}${k.tls ? ' inside TLS' : ''}`;
  try {
    if (k.tls) {
      c.write(wb.ssl());
      assert.equal(await c.byte(), 'S', `${where}: SSLRequest answered`);
      assert.ok(await c.startTls(), `${where}: TLS handshake`);
    }
    const e = expectStartup(k.packet.bytes, k.tls);
    c.write(k.packet.bytes);
    // The proxy waits for more (an incomplete packet, a TLS handshake, a password): show it the end.
    if (e.end === 'wait') c.end();
    if (e.end === 'wait' && e.directTls) {
      // It answers in TLS records (a ServerHello, an alert) or not at all, and closes.
      assert.ok(await c.waitClosed(), `${where}: the proxy left a direct TLS connection open`);
      assert.ok(c.received.length === 0 || c.received[0] === 0x16 || c.received[0] === 0x15, `${where}: not a TLS record: ${hex(c.received)}`);
      tally.add('startup: taken for direct TLS, then hung up');
      return;
    }
    const allowed = e.reachedAuth ? ['v', 'R', 'E'] : e.end === 'error' ? ['v', 'E'] : [];
    const msgs = await readToClose(c, e.answers, allowed, where);
    const errors = msgs.filter((m) => m.type === 'E');
    if (e.end === 'error') {
      assert.equal(errors.length, 1, `${where}: expected an ErrorResponse ${e.codes.join(' or ')}`);
      const code = checkFatal(errors[0]!, e.codes, where);
      tally.add(`startup: FATAL ${code}${e.reachedAuth ? ' (junk as the first password message)' : ''}${k.tls ? ' in TLS' : ''}`);
    } else if (e.end === 'close') {
      assert.equal(msgs.length, 0, `${where}: expected a silent close`);
      tally.add(`startup: closed silently (cancel, smuggled bytes)${k.tls ? ' in TLS' : ''}`);
    } else {
      // Only the rate limiter may refuse a well-formed startup before authentication.
      for (const m of errors) checkFatal(m, ['28P01'], where);
      tally.add((e.reachedAuth ? 'startup: reached authentication, then hung up' : e.startTls ? 'startup: TLS offered, then hung up' : 'startup: incomplete, then hung up') + (k.tls ? ' in TLS' : ''));
    }
  } finally {
    c.destroy();
  }
}

async function runAuthCase(port: number, k: Extract<ProxyCase, { kind: 'auth' }>, tally: Tally): Promise<void> {
  const source = `127.0.${k.source >> 8}.${k.source & 255}`;
  const c = await RawConnection.connect(port, source);
  const where = `auth case ${JSON.stringify({ ...k, first: !!k.first, final: !!k.final })}`;
  const name = k.user === 'nobody' ? `nobody-${k.source}` : k.user;
  const password = k.user === 'nobody' ? 'whatever' : PASSWORDS[k.user];
  const plus = k.tls && k.plus;
  let scram = new RfcScramClient(name, k.wrongPassword ? password + 'x' : password);
  // What the proxy reads, frame by frame, from what we sent (the same decoder it uses).
  const mirror = new FrameDecoder('message', MAX_AUTH_MESSAGE);
  const consumed: Frame[] = [];
  const valid: Buffer[] = [];
  let hungUp = false;
  let authenticated = false;
  let serverProved: boolean | undefined;
  let upstreamErrors = 0;
  let error: BackendMessage | undefined;
  const respond = (bytes: Buffer, m: Mutation | undefined): void => {
    valid.push(bytes);
    const sent = m ? mutate(bytes, m.edits, m.fixLength, 1).bytes : bytes;
    c.write(sent);
    mirror.append(sent);
    const f = mirror.next();
    if (f) consumed.push(f);
    // The proxy will wait for the rest of a message we never send: hang up.
    if (!f) {
      hungUp = true;
      c.end();
    }
  };
  try {
    if (k.tls) {
      c.write(wb.ssl());
      assert.equal(await c.byte(), 'S', `${where}: SSLRequest answered`);
      assert.ok(await c.startTls(), `${where}: TLS handshake`);
      // tls-server-end-point (RFC 5929): the certificate's hash; the self-signed one is signed with SHA-256.
      const endPoint = crypto.createHash('sha256').update(c.peerCertificate()!).digest();
      scram = new RfcScramClient(name, k.wrongPassword ? password + 'x' : password, plus ? 'p' : 'n', undefined, endPoint);
    }
    c.write(wb.startup({ user: name, database: 'testdb', application_name: 'mayfly-fuzz' }, 3, k.minor));
    for (;;) {
      const m = await c.message();
      if (!m) break;
      // After the login, messages come from the server through the relay (junk we sent after
      // a valid login reaches it and earns its FATAL, then the proxy says the server closed).
      if (authenticated) {
        assert.ok(['S', 'K', 'Z', 'N', 'E'].includes(m.type), `${where}: after AuthenticationOk: ${m.type}`);
        if (m.type === 'E') upstreamErrors++;
        if (m.type === 'Z') {
          c.write(wb.msg('X'));
          c.end();
        }
        continue;
      }
      assert.ok(!error, `${where}: a message after an ErrorResponse`);
      if (m.type === 'E') {
        error = m;
        continue;
      }
      if (m.type === 'v') {
        assert.ok(k.minor > 2 && !authenticated, `${where}: NegotiateProtocolVersion`);
        continue;
      }
      assert.equal(m.type, 'R', `${where}: expected an authentication request, got ${m.type}`);
      const code = m.body.readInt32BE(0);
      const data = m.body.subarray(4);
      if (code === 10) {
        const offered = data.toString('utf8').split('\0').filter(Boolean);
        assert.deepEqual(offered, k.tls ? ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] : ['SCRAM-SHA-256'], `${where}: mechanisms`);
        respond(scram.first(), k.first);
      }
      else if (code === 11) respond(scram.final(data.toString('utf8')), k.final);
      else if (code === 12) serverProved = scram.verify(data.toString('utf8'));
      else if (code === 5) respond(md5Password(name, k.wrongPassword ? password + 'x' : password, data.subarray(0, 4)), k.first);
      else if (code === 0) authenticated = true;
      else assert.fail(`${where}: authentication request ${code}`);
    }
    assert.ok(await c.waitClosed(), `${where}: the proxy left the connection open`);
    assert.equal(c.unread.length, 0, `${where}: a partial message before the close`);

    const known = k.user !== 'nobody';
    const md5 = k.user === 'bob';
    const equivalent = md5 ? consumed.length === 1 && sameMd5Answer(consumed[0], valid[0]!) : consumed.length === 2 && sameFrame(consumed[0], valid[0]!) && sameScramFinal(consumed[1], valid[1]!);
    const rateLimited = !!error && /too many failed/.test(errorFields(error.body).get('M') ?? '');
    if (authenticated) {
      assert.ok(known && !k.wrongPassword && equivalent, `${where}: authenticated without the right credentials`);
      if (!md5) assert.equal(serverProved, true, `${where}: the server did not prove itself`);
      tally.add(upstreamErrors ? 'auth: authenticated, the server refused the bytes after the login' : `auth: authenticated${md5 ? ' (MD5)' : plus ? ' (SCRAM-SHA-256-PLUS)' : ''}, relayed, terminated`);
      return;
    }
    assert.ok(!(known && !k.wrongPassword && !k.first && !k.final && !rateLimited), `${where}: a valid login was refused: ${error ? errorFields(error.body).get('M') : 'closed'}`);
    if (error) {
      const code = checkFatal(error, ['28P01', '08P01'], where);
      tally.add(rateLimited ? 'auth: refused by the rate limiter' : `auth: refused, FATAL ${code}`);
    } else {
      assert.ok(hungUp, `${where}: closed without an ErrorResponse though we sent whole messages`);
      tally.add('auth: incomplete message, then hung up');
    }
  } finally {
    c.destroy();
  }
}

/** A real login and a query through the relay: the proxy still does its job. */
async function validLoginAndQuery(port: number): Promise<void> {
  const c = await RawConnection.connect(port);
  try {
    const scram = new RfcScramClient('alice', PASSWORDS.alice);
    c.write(wb.startup({ user: 'alice', database: 'testdb' }));
    let rows: string[] = [];
    for (;;) {
      const m = await c.message(30_000);
      assert.ok(m, 'the proxy closed a valid login');
      if (m.type === 'E') assert.fail(`valid login refused: ${errorFields(m.body).get('M')}`);
      if (m.type === 'R') {
        const code = m.body.readInt32BE(0);
        if (code === 10) c.write(scram.first());
        if (code === 11) c.write(scram.final(m.body.subarray(4).toString('utf8')));
        if (code === 12) assert.ok(scram.verify(m.body.subarray(4).toString('utf8')));
      }
      if (m.type === 'D') rows = [m.body.toString('utf8', 2 + 4, m.body.length)];
      if (m.type === 'Z') {
        if (rows.length) break;
        c.write(wb.query("select current_user like '\\_hoop\\_session\\_user\\_%' and 1 + 1 = 2"));
      }
    }
    assert.deepEqual(rows, ['t']);
    c.write(wb.msg('X'));
    c.end();
    assert.ok(await c.waitClosed());
  } finally {
    c.destroy();
  }
}

// ------------------------------------------------------------------ process figures

function procStatus(pid: number): { rss: number; hwm: number } {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}
const mb = (n: number): string => `${n.toFixed(1)} MB`;

/**
 * The process's TCP sockets by kind, from its file descriptors and /proc/net/tcp:
 * `clients` are connections accepted on the listener (any state but LISTEN), `upstream`
 * those to the PostgreSQL server (its pool), `other` the rest.
 */
function tcpSockets(pid: number, listenPort: number, serverPort: number): { clients: number; upstream: number; other: number; fds: number } {
  const fds = fs.readdirSync(`/proc/${pid}/fd`);
  const inodes = new Set<string>();
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed between readdir and readlink
    }
  }
  const out = { clients: 0, upstream: 0, other: 0, fds: fds.length };
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(table)) continue;
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9]!)) continue;
      const localPort = parseInt(f[1]!.split(':')[1]!, 16);
      const remotePort = parseInt(f[2]!.split(':')[1]!, 16);
      if (f[3] === '0A') out.other++; // LISTEN
      else if (localPort === listenPort) out.clients++;
      else if (remotePort === serverPort) out.upstream++;
      else out.other++;
    }
  }
  return out;
}

/** Waits until the proxy holds no client connection (closing ones may take a moment). */
async function settledSockets(pid: number, listenPort: number, serverPort: number): Promise<ReturnType<typeof tcpSockets>> {
  const deadline = Date.now() + 10_000;
  let s = tcpSockets(pid, listenPort, serverPort);
  while (s.clients > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    s = tcpSockets(pid, listenPort, serverPort);
  }
  return s;
}

// ------------------------------------------------------------------ the run

/** Connections per property run, sent at once: the proxy serves them concurrently. */
const BATCH = 5;

describe('fuzz: the real proxy process under malformed startup and authentication packets', function () {
  this.timeout(2 * 60 * 60_000);
  let proxy: RunningProxy;
  let port: number;
  let serverPort: number;
  let dir: string;
  let hello: Buffer;

  before(async function () {
    this.timeout(180_000);
    const server = await startEmbeddedPostgres();
    await createSampleData(server.superuser);
    serverPort = server.port;
    hello = await directTlsClientHello();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-fuzz-'));
    fs.writeFileSync(path.join(dir, 'config.hcl'), POLICIES);
    fs.writeFileSync(path.join(dir, 'users.json'), JSON.stringify(USERS));
    const s = server.superuser;
    const dsn = `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable`;
    port = await freePort();
    proxy = await startProxy(
      ['--config', `policy-config=path:${path.join(dir, 'config.hcl')}`, '--config', 'fuzz-credentials=env:MAYFLY_FUZZ_DSN', '--listen', `127.0.0.1:${port}`, '--users', path.join(dir, 'users.json')],
      { MAYFLY_FUZZ_DSN: dsn },
    );
  });

  after(async function () {
    this.timeout(60_000);
    if (!proxy) return;
    await runMayfly(['session', 'revoke', 'fuzz'], { env: proxy.env });
    assert.equal(await proxy.stop(), 0);
    const out = proxy.output();
    for (const secret of Object.values(PASSWORDS)) assert.ok(!out.includes(secret), 'no password in the proxy log');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stays up, closes every bad connection, authenticates only valid logins, with bounded memory', async () => {
    const pid = proxy.process.pid!;
    const total = runs(1);
    const tally = new Tally();
    // Warm up (first session provisioned, code paths compiled), then take the baseline.
    await validLoginAndQuery(port);
    for (let i = 0; i < 20; i++) await runStartupCase(port, { kind: 'startup', packet: { bytes: VALID_STARTUP_PACKETS[i % VALID_STARTUP_PACKETS.length]!, edits: [], fixLength: false }, tls: i % 2 === 0 }, new Tally());
    const before = await settledSockets(pid, port, serverPort);
    const start = procStatus(pid);
    let peak = start.rss;
    let sent = 0;
    let validChecks = 0;
    const samples: string[] = [];
    /** RSS once half of the connections went by: the heap has grown to its working size. */
    let half: number | undefined;
    const started = Date.now();

    const batch = fc.array(proxyCase([...VALID_STARTUP_PACKETS, hello]), { minLength: BATCH, maxLength: BATCH });
    await checkAsyncProperty(`proxy process (${total} connections, ${BATCH} at a time)`, 1 / BATCH, fc.asyncProperty(batch, async (cases) => {
      await Promise.all(cases.map((k) => (k.kind === 'startup' ? runStartupCase(port, k, tally) : runAuthCase(port, k, tally))));
      assert.equal(proxy.process.exitCode, null, 'the proxy process exited');
      const before = Math.floor(sent / 250);
      sent += cases.length;
      if (Math.floor(sent / 250) > before) {
        await validLoginAndQuery(port);
        validChecks++;
        const rss = procStatus(pid).rss;
        peak = Math.max(peak, rss);
        if (sent % 2500 === 0) samples.push(`${sent}: ${rss.toFixed(0)}`);
        if (half === undefined && sent >= total / 2) half = rss;
      }
    }), tally);

    await validLoginAndQuery(port);
    const after = await settledSockets(pid, port, serverPort);
    const end = procStatus(pid);
    peak = Math.max(peak, end.rss);
    const secs = (Date.now() - started) / 1000;
    console.log(`      fuzz: proxy process: ${sent} connections in ${secs.toFixed(1)} s (${Math.round(sent / secs)}/s), ${validChecks + 1} valid logins with a query between them; ` +
      `RSS ${mb(start.rss)} after warm-up, ${mb(peak)} peak, ${mb(end.rss)} at the end (high-water mark ${mb(end.hwm)}); ` +
      `client sockets open ${before.clients} -> ${after.clients}, pooled server connections ${before.upstream} -> ${after.upstream}, fds ${before.fds} -> ${after.fds}` +
      (samples.length ? `; RSS (MB) by connections sent: ${samples.join(', ')}` : ''));
    assert.equal(proxy.process.exitCode, null, 'the proxy process is still running');
    assert.equal(after.clients, 0, 'the proxy still holds client connections after every client closed');
    assert.ok(after.fds <= before.fds - before.upstream + after.upstream + 2, `file descriptors: ${before.fds} before, ${after.fds} after`);
    // The heap grows to its working size early (measured: 69 MB after warm-up, 113-128 MB from
    // 5,000 connections on, level to 40,000); a leak keeps growing after that.
    assert.ok(end.rss < 256, `resident memory ${mb(end.rss)}`);
    if (half !== undefined) assert.ok(end.rss - half < 32, `resident memory grew by ${mb(end.rss - half)} in the second half of the run`);
    assert.doesNotMatch(proxy.output(), /wire\.internal-error/, 'the proxy caught an exception handling a connection');
    for (const k of ['startup: FATAL 08P01', 'auth: authenticated, relayed, terminated', 'auth: authenticated (SCRAM-SHA-256-PLUS), relayed, terminated', 'auth: refused, FATAL 28P01'])
      assert.ok(tally.get(k) > 0 || sent < 200, `nothing exercised "${k}": ${tally}`);
  });
});
