// Session pooling of server connections through the local proxy, on a real PostgreSQL 18:
// what pg_stat_activity shows (the same backend reused, state reset, connections gone when
// evicted), the caps and the queue, cancels on a reused backend, and clients that leave
// in the middle of something.
import assert from 'node:assert/strict';
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
import { WireListener } from '../../../proxy/wire/listener';
import { DEFAULT_POOL_LIMITS, UpstreamPool, type PoolLimits } from '../../../proxy/wire/pool';
import { FrameReader } from '../../../proxy/wire/frameReader';
import { FrameDecoder } from '../../../proxy/wire/protocol/frames';
import type { UpstreamTarget } from '../../../proxy/wire/upstream';
import type { UserRecord } from '../../../proxy/users/fileStore';
import { sessionUserName } from '../../../policy/naming';
import * as wb from '../../support/wireBytes';
import { parameterStatuses, RawClient, rows, type Message } from '../../support/rawClient';

const POLICIES = `
policy "pooled" {
  engine              = "postgres"
  plugin_config_entry = "pool-credentials"
  expiration          = "1h"
  instances           = ["testdb"]
  grant_privileges    = ["SELECT", "TEMPORARY"]
}

policy "pool-expiring" {
  engine              = "postgres"
  plugin_config_entry = "pool-credentials"
  expiration          = "4s"
  instances           = ["testdb"]
  grant_privileges    = ["SELECT", "TRIGGER"]
}

policy "pool-revoked" {
  engine              = "postgres"
  plugin_config_entry = "pool-credentials"
  expiration          = "1h"
  instances           = ["testdb"]
  grant_privileges    = ["SELECT", "DELETE"]
}
`;
const ROLE = sessionUserName(['testdb'], ['SELECT', 'TEMPORARY']);

const USERS: UserRecord[] = [
  { username: 'pia', role: 'database', secret: { type: 'text', password: 'pia-secret' }, policy: 'pooled' },
  { username: 'mia', role: 'database', secret: { type: 'md5', hash: md5Secret('mia', 'mia-secret') }, policy: 'pooled' },
];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function eventually(what: string, cond: () => Promise<boolean>, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(50);
  }
}

describe('session pooling of server connections (real PostgreSQL, real clients)', function () {
  this.timeout(60_000);
  let server: PgServer;
  let app: MayflyApp;
  let dir: string;
  const logLines: string[] = [];
  const log = createLogger((l) => logLines.push(l));
  const listeners: WireListener[] = [];

  /** A proxy listener of our own, with the app's sessions and the given pool limits. */
  async function proxyWith(limits: Partial<PoolLimits> = {}): Promise<{ wire: WireListener; port: number }> {
    const users = new Map(USERS.map((u) => [u.username, u]));
    const wire = new WireListener({
      log,
      users: () => users,
      roleLogin: (role) => app.sessions.roleLogin(role),
      sessionFor: (policy) => app.sessionForPolicy(policy),
      pool: limits,
    });
    listeners.push(wire);
    return { wire, port: (await wire.listen({ host: '127.0.0.1', port: 0 })).port };
  }

  /** Logs in as pia over the raw protocol; returns the client, its login messages, backend pid and cancel key. */
  async function login(port: number, params: Record<string, string> = {}, user = 'pia@pooled', password = 'pia-secret') {
    const c = new RawClient(port);
    c.socket.write(wb.startup({ user, database: 'testdb', ...params }));
    const messages = await c.login(password);
    const last = messages[messages.length - 1]!;
    assert.ok(last.kind === 'message' && last.type === 'Z', `login failed: ${last.kind === 'message' ? last.body.toString() : last.kind}`);
    const k = messages.find((m): m is Message => m.kind === 'message' && m.type === 'K')!;
    const pid = Number(rows(await c.query('select pg_backend_pid()'))[0]![0]);
    return { c, messages, pid, key: { pid: k.body.readInt32BE(0), secret: k.body.subarray(4) } };
  }

  const bye = (c: RawClient): Promise<void> => {
    c.socket.end(wb.msg('X'));
    return c.until(() => c.closed);
  };

  const activity = async (pid: number): Promise<{ state: string; query: string } | undefined> =>
    (await server.query<{ state: string; query: string }>('postgres', 'select state, query from pg_stat_activity where pid = $1', [pid]))[0];
  const gone = (pid: number) => async () => (await activity(pid)) === undefined;
  const idleInPool = (pid: number) => async () => {
    const a = await activity(pid);
    return a?.state === 'idle' && a.query === 'DISCARD ALL';
  };
  const roleBackends = async (role = ROLE): Promise<number[]> =>
    (await server.query<{ pid: number }>('postgres', 'select pid from pg_stat_activity where usename = $1', [role])).map((r) => r.pid);

  const cancel = (port: number, key: { pid: number; secret: Buffer }): Promise<void> =>
    new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.end(wb.cancel(key.pid, key.secret)));
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });

  before(async function () {
    server = await startEmbeddedPostgres();
    await createSampleData(server.superuser);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-pool-'));
    fs.writeFileSync(path.join(dir, 'config.hcl'), POLICIES);
    fs.writeFileSync(path.join(dir, 'users.json'), JSON.stringify([{ username: 'pia', password: 'pia-secret', type: 'text', role: 'database' }]));
    const s = server.superuser;
    process.env.MAYFLY_POOL_TEST_DSN = `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable`;
    app = new MayflyApp({ config: [`policy-config=path:${path.join(dir, 'config.hcl')}`, 'pool-credentials=env:MAYFLY_POOL_TEST_DSN'], log });
  });

  afterEach(async () => {
    for (const w of listeners.splice(0)) await w.close();
  });

  after(async () => {
    for (const s of app?.sessions.list() ?? []) await app.sessions.revoke(s.id).catch(() => undefined);
    await app?.close();
    const text = logLines.join('\n');
    for (const secret of ['pia-secret', 'mia-secret', server.superuser.password!]) assert.ok(!text.includes(secret), 'no password reaches the log');
  });

  it('the next client gets the same backend after DISCARD ALL, with nothing of the previous client left', async () => {
    const { port } = await proxyWith();
    const a = await login(port, { application_name: 'pool-test' });
    const timezone = parameterStatuses(a.messages).get('TimeZone');
    assert.ok(timezone, 'the server reported its TimeZone at login');
    const busy = await activity(a.pid);
    assert.ok(busy, 'the backend shows in pg_stat_activity');
    const changed = await a.c.query(
      "set work_mem = '1234kB'; set timezone = 'Asia/Tokyo'; create temp table scratch(x int); prepare p as select 1; listen pool_chan; select pg_advisory_lock(42)",
    );
    assert.ok(!changed.some((m) => m.type === 'E'), changed.map((m) => m.body.toString()).join(' '));
    assert.equal(parameterStatuses(changed).get('TimeZone'), 'Asia/Tokyo');
    await bye(a.c);
    await eventually('the backend waits in the pool after its reset', idleInPool(a.pid));

    const b = await login(port, { application_name: 'pool-test' });
    assert.equal(b.pid, a.pid, 'the same backend serves the next client');
    assert.notDeepEqual(b.key, a.key, 'each client gets its own cancel key');
    assert.ok(b.key.pid !== b.pid && a.key.pid !== a.pid, 'never the backend pid');
    // The client is told the values in force now (the reset restored them), not the last client's.
    assert.equal(parameterStatuses(b.messages).get('TimeZone'), timezone);
    assert.equal(parameterStatuses(b.messages).get('application_name'), 'pool-test');
    const [state] = rows(
      await b.c.query(
        "select current_setting('work_mem'), current_setting('TimeZone'), to_regclass('pg_temp.scratch') is null, " +
          "(select count(*) from pg_prepared_statements), (select count(*) from pg_listening_channels()), " +
          "(select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid())",
      ),
    );
    assert.deepEqual(state, ['4MB', timezone, 't', '0', '0', '0']);
    // Another startup parameter is another key: another backend.
    const other = await login(port, { application_name: 'pool-test-2' });
    assert.notEqual(other.pid, b.pid);
    await bye(b.c);
    await bye(other.c);
  });

  it('node-postgres and psql-style clients reuse one backend across connections', async () => {
    const { port } = await proxyWith();
    const pids = new Set<number>();
    for (let i = 0; i < 5; i++) {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'mia', password: 'mia-secret', database: 'testdb' });
      await c.connect();
      const r = await c.query('select pg_backend_pid() as pid, current_user as u, $1::int * 2 as v', [i]);
      assert.equal(r.rows[0].v, i * 2);
      assert.equal(r.rows[0].u, ROLE);
      pids.add(r.rows[0].pid);
      await c.end();
      // The reset runs after the client left; wait for it so the next login finds the connection idle.
      await eventually('back in the pool', idleInPool(r.rows[0].pid));
    }
    assert.equal(pids.size, 1, `one backend for five sequential clients, got ${[...pids].join(',')}`);
  });

  it('a client that leaves mid-transaction, mid-COPY or mid-query does not hand on its backend', async () => {
    const { port } = await proxyWith();
    // The proxy must not even try a reset on such a connection (the server would log the failed attempt).
    const attempts = /DISCARD ALL cannot run inside a transaction block|unexpected message type 0x51 during COPY/g;
    const attemptsBefore = (server.log().match(attempts) ?? []).length;
    const inTx = await login(port);
    await inTx.c.query('begin; select 1');
    inTx.c.socket.destroy();
    await eventually('the backend left in a transaction is closed', gone(inTx.pid));

    const inCopy = await login(port);
    const copying = await inCopy.c.query('create temp table t(x int)');
    assert.ok(!copying.some((m) => m.type === 'E'));
    inCopy.c.socket.write(wb.query('copy t from stdin'));
    const g = await inCopy.c.message();
    assert.ok(g?.kind === 'message' && g.type === 'G', 'CopyInResponse');
    inCopy.c.socket.write(wb.msg('d', '1\n'));
    inCopy.c.socket.destroy();
    await eventually('the backend left in COPY is closed', gone(inCopy.pid));

    const inQuery = await login(port);
    inQuery.c.socket.write(wb.query('select pg_sleep(30)'));
    await eventually('the query runs', async () => (await activity(inQuery.pid))?.state === 'active');
    inQuery.c.socket.destroy();
    // The running query is cancelled and the connection closed, well before the 30 s.
    await eventually('the backend left mid-query is closed', gone(inQuery.pid), 5000);

    const next = await login(port);
    assert.ok(![inTx.pid, inCopy.pid, inQuery.pid].includes(next.pid));
    assert.equal((server.log().match(attempts) ?? []).length, attemptsBefore, 'no reset was attempted');
    assert.deepEqual(rows(await next.c.query('select 1')), [['1']]);
    await bye(next.c);
  });

  it('a connection whose reset fails is closed, not pooled', async () => {
    const session = await app.sessionForPolicy('pooled');
    const login = app.sessions.roleLogin(session.role)!;
    const target: UpstreamTarget = {
      host: login.granter.host,
      port: login.granter.port,
      user: session.role,
      credential: { password: login.password },
      database: 'testdb',
      params: {},
      sslmode: 'disable',
    };
    const pool = new UpstreamPool({ ...DEFAULT_POOL_LIMITS });
    try {
      const lease = await pool.acquire(target, { origin: 'session', fingerprint: 'reset-test' });
      assert.ok(lease.ok, lease.ok ? '' : lease.message);
      const u = lease.conn.upstream;
      // A transaction the pool was not told about: DISCARD ALL refuses to run inside it.
      const reader = new FrameReader(u.input, new FrameDecoder('message', 1 << 20));
      u.socket.write(wb.query('begin'));
      let f;
      do f = await reader.next();
      while (!(f instanceof Error) && !(f.kind === 'message' && f.type === 'Z'));
      reader.detach();
      const pid = u.backendPid;
      assert.ok(await activity(pid));
      pool.release(lease.conn, 'reuse');
      await eventually('the backend whose reset failed is closed', gone(pid));
      assert.equal(pool.stats().open, 0);
    } finally {
      await pool.closeAll();
    }
  });

  it('evictRole: idle connections close at once, busy ones when their client leaves; new logins work', async () => {
    const { wire, port } = await proxyWith();
    const busy = await login(port);
    const idle = await login(port);
    await bye(idle.c);
    await eventually('idle in the pool', idleInPool(idle.pid));
    assert.equal(wire.evictRole(ROLE), 2);
    await eventually('the idle backend is closed', gone(idle.pid));
    assert.deepEqual(rows(await busy.c.query('select 2')), [['2']], 'the busy client keeps working');
    assert.ok(await activity(busy.pid));
    await bye(busy.c);
    await eventually('the busy backend closes when released', gone(busy.pid));
    const fresh = await login(port);
    assert.ok(![busy.pid, idle.pid].includes(fresh.pid));
    await bye(fresh.c);
    await eventually('pooled', idleInPool(fresh.pid));
    // Keeping the current credential's fingerprint (what a rotation does) spares its connections.
    const keep = wire.pooledRoles('session').includes(ROLE);
    assert.ok(keep);
    assert.equal(wire.evictCredential(ROLE, 'some-old-fingerprint'), 0);
    assert.ok(await activity(fresh.pid));
  });

  it('at a session expiry and at a revoke, pooled connections go (pg_stat_activity)', async function () {
    this.timeout(30_000);
    const { port } = await app.serveWire({ listen: '127.0.0.1:0', users: [path.join(dir, 'users.json')], tls: false });
    const expiringRole = sessionUserName(['testdb'], ['SELECT', 'TRIGGER']);
    const revokedRole = sessionUserName(['testdb'], ['SELECT', 'DELETE']);
    const e = await login(port, {}, 'pia@pool-expiring');
    const r = await login(port, {}, 'pia@pool-revoked');
    await bye(e.c);
    await bye(r.c);
    await eventually('both idle in the pool', async () => (await idleInPool(e.pid)()) && (await idleInPool(r.pid)()));
    await app.sessions.revoke('pool-revoked');
    await eventually('the revoked role has no backends left', async () => (await roleBackends(revokedRole)).length === 0);
    assert.ok(await activity(e.pid), 'the other role keeps its pooled connection');
    await eventually('the expired role has no backends left', async () => (await roleBackends(expiringRole)).length === 0, 15_000);
    // Logging in again opens a new session, with a fresh connection.
    const again = await login(port, {}, 'pia@pool-expiring');
    assert.notEqual(again.pid, e.pid);
    await bye(again.c);
  });

  it('the global cap: a login waits for a free connection, then gets a clear FATAL', async () => {
    const { port } = await proxyWith({ maxConnections: 2, waitTimeoutMs: 400 });
    const a = await login(port);
    const b = await login(port);
    const c = new RawClient(port);
    c.socket.write(wb.startup({ user: 'pia@pooled', database: 'testdb' }));
    const started = Date.now();
    const out = await c.login('pia-secret');
    const err = out[out.length - 1]!;
    assert.ok(err.kind === 'message' && err.type === 'E');
    assert.match(err.body.toString(), /C53300.*too many connections: all 2 server connections of the Mayfly proxy are in use/s);
    assert.ok(Date.now() - started >= 350, 'it waited first');
    assert.ok(!out.some((m) => m.kind === 'message' && m.type === 'R' && m.body.readInt32BE(0) === 0), 'no AuthenticationOk before the FATAL');
    assert.equal((await roleBackends()).filter((p) => [a.pid, b.pid].includes(p)).length, 2);
    assert.deepEqual(rows(await a.c.query('select 1')), [['1']]);
    await bye(a.c);
    await bye(b.c);
  });

  it('a queued login gets the connection the moment a client leaves', async () => {
    const { port } = await proxyWith({ maxConnections: 1, waitTimeoutMs: 10_000 });
    const a = await login(port);
    const waiting = login(port);
    await sleep(300);
    await bye(a.c);
    const b = await waiting;
    assert.equal(b.pid, a.pid, 'the queued client got the released backend');
    await bye(b.c);
  });

  it('at the cap, an idle connection of another key makes room', async () => {
    const { port } = await proxyWith({ maxConnections: 1, waitTimeoutMs: 300 });
    const a = await login(port, { application_name: 'key-a' });
    await bye(a.c);
    await eventually('pooled', idleInPool(a.pid));
    const b = await login(port, { application_name: 'key-b' });
    await eventually("the other key's idle backend was closed", gone(a.pid));
    await bye(b.c);
  });

  it('per-key idle cap, pooling off, and the idle timeout', async () => {
    const capped = await proxyWith({ idlePerKey: 1 });
    const a = await login(capped.port);
    const b = await login(capped.port);
    await bye(a.c);
    await bye(b.c);
    await eventually('one of the two stays pooled', async () => {
      const left = (await roleBackends()).filter((p) => p === a.pid || p === b.pid);
      return left.length === 1;
    });

    const off = await proxyWith({ idlePerKey: 0 });
    const c = await login(off.port);
    await bye(c.c);
    await eventually('without pooling the backend closes', gone(c.pid));

    const short = await proxyWith({ idleTimeoutMs: 300 });
    const d = await login(short.port);
    await bye(d.c);
    await eventually('pooled', idleInPool(d.pid));
    await eventually('closed after the idle timeout', gone(d.pid), 4000);
  });

  it("a cancel reaches a reused backend only for its own client's query", async () => {
    const { port } = await proxyWith();
    const a = await login(port);
    a.c.socket.write(wb.query('select pg_sleep(20)'));
    await eventually('sleeping', async () => (await activity(a.pid))?.state === 'active');
    await cancel(port, a.key);
    const cancelled = [];
    for (let m = await a.c.message(); m && !(m.kind === 'message' && m.type === 'Z'); m = await a.c.message()) cancelled.push(m);
    assert.match(cancelled.map((m) => (m.kind === 'message' ? m.body.toString() : '')).join(''), /C57014/);
    await bye(a.c);
    await eventually('pooled', idleInPool(a.pid));

    const b = await login(port);
    assert.equal(b.pid, a.pid);
    b.c.socket.write(wb.query('select pg_sleep(1.5), 7'));
    await eventually('sleeping', async () => (await activity(b.pid))?.state === 'active');
    await cancel(port, a.key); // the previous client's key: not this client's query
    const result = [];
    for (let m = await b.c.message(); m && !(m.kind === 'message' && m.type === 'Z'); m = await b.c.message()) if (m.kind === 'message') result.push(m);
    assert.ok(!result.some((m) => m.type === 'E'), 'the stale cancel key did nothing');
    assert.deepEqual(rows(result), [['', '7']]);
    await bye(b.c);
  });

  it('a pooled backend the server terminated is dropped; the next client gets a working one', async () => {
    const { port } = await proxyWith();
    const a = await login(port);
    await bye(a.c);
    await eventually('pooled', idleInPool(a.pid));
    await server.query('postgres', 'select pg_terminate_backend($1)', [a.pid]);
    await eventually('terminated', gone(a.pid));
    await sleep(100);
    const b = await login(port);
    assert.notEqual(b.pid, a.pid);
    assert.deepEqual(rows(await b.c.query('select 3')), [['3']]);
    await bye(b.c);
  });

  it('backpressure reaches the server: a client that stops reading stalls the backend (ClientWrite), then gets every byte', async () => {
    const { port } = await proxyWith();
    const a = await login(port);
    // 64 MB of rows (more than the sockets' buffers hold); the client reads nothing for a while.
    a.c.socket.pause();
    a.c.socket.write(wb.query("select repeat('x', 1048576) from generate_series(1, 64)"));
    await eventually('the backend waits for the client', async () => {
      const [w] = await server.query<{ w: string | null }>('postgres', 'select wait_event as w from pg_stat_activity where pid = $1', [a.pid]);
      return w?.w === 'ClientWrite';
    });
    a.c.socket.resume();
    let rowsSeen = 0;
    let bytes = 0;
    for (;;) {
      const m = await a.c.message();
      assert.ok(m && m.kind === 'message');
      if (m.type === 'D') {
        rowsSeen++;
        bytes += m.body.length - 6;
      }
      if (m.type === 'Z') break;
    }
    assert.equal(rowsSeen, 64);
    assert.equal(bytes, 64 * 1048576);
    await bye(a.c);
  });

  it('backpressure reaches the client: while the server reads nothing, the proxy stops reading a 64 MB message, then streams it', async () => {
    const { port } = await proxyWith();
    const a = await login(port);
    const SIZE = 64 * 1024 * 1024;
    // The server sleeps first, so it reads nothing while the large query arrives behind it.
    a.c.socket.write(wb.query('select pg_sleep(1.5)'));
    a.c.socket.write(wb.query(`select length('${'x'.repeat(SIZE)}')`));
    await eventually('the server to sleep', async () => (await activity(a.pid))?.query === 'select pg_sleep(1.5)');
    await sleep(500);
    // What left the client sits in kernel buffers (a few MB each way), not in the proxy.
    const held = a.c.socket.writableLength;
    assert.ok(held > SIZE - 24 * 1024 * 1024, `the client still holds ${held} of ${SIZE + 40} bytes`);
    const answers: string[] = [];
    for (;;) {
      const m = await a.c.message();
      assert.ok(m && m.kind === 'message');
      assert.notEqual(m.type, 'E', m.body.toString());
      if (m.type === 'D') answers.push(m.body.subarray(6).toString());
      if (m.type === 'Z' && answers.length === 2) break;
    }
    assert.deepEqual(answers, ['', String(SIZE)]);
    await bye(a.c);
  });

  it('1,000 concurrent clients through a cap of 8 server connections all get their answers', async function () {
    this.timeout(120_000);
    const CAP = 8;
    const { wire, port } = await proxyWith({ maxConnections: CAP, waitTimeoutMs: 60_000 });
    let peak = 0;
    let queued = 0;
    const sampler = setInterval(() => {
      const st = wire.pool.stats();
      peak = Math.max(peak, st.open + st.connecting);
      queued = Math.max(queued, st.waiting);
    }, 5);
    let peakServer = 0;
    let sampling = true;
    const serverSampler = (async () => {
      while (sampling) {
        peakServer = Math.max(peakServer, (await roleBackends()).length);
        await sleep(50);
      }
    })();
    const pids = new Set<number>();
    const results = await Promise.all(
      Array.from({ length: 1000 }, async (_, i) => {
        const c = new pg.Client({ host: '127.0.0.1', port, user: 'mia', password: 'mia-secret', database: 'testdb' });
        c.on('error', () => undefined);
        await c.connect();
        try {
          // Each holds its server connection a moment, so logins must queue for one.
          const r = await c.query('select $1::int * 2 as v, pg_backend_pid() as pid, pg_sleep(0.02)', [i]);
          pids.add(r.rows[0].pid);
          return r.rows[0].v === i * 2;
        } finally {
          await c.end();
        }
      }),
    );
    clearInterval(sampler);
    sampling = false;
    await serverSampler;
    assert.equal(results.filter(Boolean).length, 1000, 'every client got its own correct answer');
    assert.ok(peak <= CAP, `the proxy kept to its cap (peak ${peak})`);
    assert.ok(peakServer <= CAP, `the server never saw more than the cap (peak ${peakServer})`);
    assert.ok(pids.size <= CAP, `${pids.size} backends served 1,000 clients`);
    assert.ok(queued > 0, 'logins queued for a free connection');
    console.log(`      1,000 clients on ${pids.size} backends; peak ${peak} server connections, up to ${queued} logins queued`);
  });
});
