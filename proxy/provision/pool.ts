/**
 * Pooled granter connections, reused across provisions (and roleStatus / extendRole /
 * expireRole). Opening a connection costs a SCRAM-SHA-256 handshake (PBKDF2 on both sides)
 * plus a backend fork: several milliseconds each, and a provision needs one per database.
 *
 * - One pool per (granter connection identity, database). The key is an HMAC-SHA-256 of
 *   every connection parameter, password included, so a rotated DSN never reuses a connection made
 *   with the old credentials (and the first use of new credentials for the same user closes
 *   the idle ones made with the old). The key is never logged and the password is not kept in it.
 * - The limit is soft: at most POOL_MAX_IDLE idle connections are kept per pool, for
 *   POOL_IDLE_MS; a burst opens what it needs and closes the surplus when done. Nothing ever
 *   waits for a free connection, so pooling cannot deadlock or time out a provision. A pool in
 *   steady use keeps one spare connection ready for a concurrent request.
 * - A connection goes back to the pool only if it is known to be clean: its backend is alive,
 *   no query of the lease failed, it is outside any transaction (the server's ReadyForQuery
 *   status says 'I'), and it holds no advisory lock (every lease that takes one ends with
 *   pg_advisory_unlock_all(); until then `mayHoldLocks` is set and a release closes it).
 *   Pooled work only uses SET LOCAL, so no session setting outlives a transaction; notices
 *   collected are dropped. Anything else is closed, not reused.
 * - A backend that died while idle (pg_terminate_backend, idle_session_timeout, restart) is
 *   noticed through the client's 'error'/'end' events; if the death is only discovered by
 *   the first query of a lease, that query is re-sent once on a fresh connection. A first
 *   query that met a dead session had no effect (the session's transaction and locks are gone).
 * - Idle sockets and timers are unref'd: pooled connections never keep the process alive.
 *   closeProvisionPools() closes everything idle and makes in-flight leases close on release.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import type { ConnectionParams } from '../config/dsn';
import { toClientConfig } from '../config/pgClient';
import type { GranterClient } from './connection';
import { connectionError } from './errors';
import { traceEvent } from './trace';

/** How long an idle pooled connection is kept. */
export const POOL_IDLE_MS = 30_000;
/** Idle connections kept per (granter, database); more may be open during a burst. */
export const POOL_MAX_IDLE = 10;

interface Pool {
  key: string;
  /** The same without the password: who and where, whatever the credentials. */
  account: string;
  granter: ConnectionParams;
  config: pg.ClientConfig;
  database: string;
  idle: PooledClient[];
  leased: number;
  /** A spare connection is being opened (see acquire()). */
  growing: boolean;
  closed: boolean;
}

const pools = new Map<string, Pool>();

/** Keys are HMACs under a key that lives and dies with this process: no use to anyone outside it. */
const keySecret = crypto.randomBytes(32);

/** Identity of a granter connection to one database, as an HMAC: the password is not kept in a key. */
function poolKeys(granter: ConnectionParams, database: string): { key: string; account: string } {
  const hash = (parts: unknown[]) => crypto.createHmac('sha256', keySecret).update(JSON.stringify(parts)).digest('hex');
  const account = [granter.host, granter.port, granter.user, database];
  const rest = [
    granter.sslmode,
    granter.sslrootcert ?? null,
    granter.sslcert ?? null,
    granter.sslkey ?? null,
    Object.entries(granter.params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ];
  return { key: hash([...account, granter.password ?? null, ...rest]), account: hash(account) };
}

/** Latest pool key per account: when the credentials change (a rotated DSN), the old pool is drained. */
const current = new Map<string, string>();

function poolFor(granter: ConnectionParams, database: string): Pool {
  const { key, account } = poolKeys(granter, database);
  let pool = pools.get(key);
  if (!pool) {
    pool = { key, account, granter, config: toClientConfig(granter, { database }), database, idle: [], leased: 0, growing: false, closed: false };
    pools.set(key, pool);
  }
  const previous = current.get(account);
  if (previous !== key) {
    current.set(account, key);
    // Connections made with other credentials for the same user are not kept: the DSN changed.
    const old = previous !== undefined ? pools.get(previous) : undefined;
    if (old) {
      traceEvent('pool.credentials-changed', database);
      for (const c of old.idle.splice(0)) c.close();
      forgetIfUnused(old);
    }
  }
  return pool;
}

function forgetIfUnused(pool: Pool): void {
  if (pool.idle.length === 0 && pool.leased === 0 && !pool.growing && pools.get(pool.key) === pool) {
    pools.delete(pool.key);
    if (current.get(pool.account) === pool.key) current.delete(pool.account);
  }
}

/** Errors meaning the session is gone (not a failed statement on a live session). */
function isConnectionLoss(e: unknown): boolean {
  const err = (e ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof err.code === 'string' ? err.code : '';
  if (code === '57P01' || code === '57P02' || code === '57P03' || code.startsWith('08')) return true;
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT') return true;
  return typeof err.message === 'string' && /Connection terminated|not queryable|connection error/i.test(err.message);
}

/** pg.Client has ref()/unref() (its socket's), missing from @types/pg. */
function socketRef(client: pg.Client, ref: boolean): void {
  const c = client as unknown as { ref?: () => void; unref?: () => void };
  if (ref) c.ref?.();
  else c.unref?.();
}

export type Warning = { code: string; message: string; statement: number };

/** A statement prepared once per pooled connection (SQL-level PREPARE), then EXECUTEd in batches. */
export interface PreparedQuery {
  /** Versioned (e.g. mayfly_role_facts_v1): a changed text needs a new name. */
  name: string;
  /** Parameter types, e.g. ['name', 'text[]']. */
  types: string[];
  sql: string;
}

/** A batch statement: SQL text, or a prepared query with its arguments as SQL literals. */
export type BatchPart = string | { query: PreparedQuery; args: string[] };

/** A leased pooled connection. `client` may be swapped for a fresh one by the first query (see above). */
export class PooledClient implements GranterClient {
  readonly database: string;
  client: pg.Client;
  /** Set while the session may hold an advisory lock: a release then closes the connection. */
  mayHoldLocks = false;
  private dead = false;
  /** A query of this lease failed: the connection is closed at release, whatever state it seems to be in. */
  private failed = false;
  private reused = false;
  private queries = 0;
  private warnings: Warning[] = [];
  private completed = 0;
  /** Names PREPAREd on this connection's session. */
  private readonly prepared = new Set<string>();
  private idleTimer: NodeJS.Timeout | undefined;
  private lease: { granter: ConnectionParams; action: string; secrets: readonly (string | undefined)[] } | undefined;

  private constructor(
    private readonly pool: Pool,
    client: pg.Client,
  ) {
    this.database = pool.database;
    this.client = client;
    this.attach(client);
  }

  private attach(client: pg.Client): void {
    // An idle client whose backend dies emits 'error'; without a listener that kills the process.
    client.on('error', () => this.markDead(client));
    client.on('end', () => this.markDead(client));
    client.on('notice', (n) => {
      if (client !== this.client) return;
      if (n.severity === 'WARNING' || n.code?.startsWith('01'))
        this.warnings.push({ code: n.code ?? '', message: n.message ?? '', statement: this.completed });
    });
    // Counts the statements of the current query that completed: the index of the one that
    // failed, or that raised a warning, in a multi-statement batch.
    (client as unknown as { connection: { on(event: string, f: () => void): void } }).connection.on('commandComplete', () => {
      if (client === this.client) this.completed++;
    });
  }

  private markDead(client: pg.Client): void {
    if (client !== this.client) return;
    this.dead = true;
    const i = this.pool.idle.indexOf(this);
    if (i >= 0) {
      this.pool.idle.splice(i, 1);
      clearTimeout(this.idleTimer);
      forgetIfUnused(this.pool);
    }
  }

  get isDead(): boolean {
    return this.dead;
  }

  /** Statements of the last query or batch that completed (before it failed, the failed one's index). */
  get completedStatements(): number {
    return this.completed;
  }

  /** Makes release() close the connection (work on it failed outside query()/batch()). */
  discard(): void {
    this.failed = true;
  }

  /** Closes an idle connection (taken out of the idle list by the caller). */
  close(): Promise<void> {
    clearTimeout(this.idleTimer);
    // Ref the socket while it ends: an awaited close on an unref'd socket would let the
    // process exit mid-await (a CLI command then ended with code 0 and no output).
    socketRef(this.client, true);
    return this.client.end().catch(() => undefined);
  }

  /** Warnings received since the last take(), each with the index of the batch statement that raised it. */
  takeWarnings(): Warning[] {
    const out = this.warnings;
    this.warnings = [];
    return out;
  }

  /**
   * One statement (bind parameters allowed). With `name`, a prepared statement: parsed and
   * planned once per connection (the pooled connection keeps it).
   */
  async query<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[], name?: string): Promise<pg.QueryResult<R>> {
    return (await this.send(() => (name ? { name, text, values: values ?? [] } : values ? { text, values } : { text }))) as pg.QueryResult<R>;
  }

  /**
   * Several statements in one round trip (simple query protocol: no bind parameters, so
   * values are literals), one result per part. A Prepared part runs as EXECUTE, after a
   * PREPARE the first time on this connection.
   */
  async batch(parts: readonly BatchPart[]): Promise<pg.QueryResult[]> {
    let preparing: string[] = [];
    const r = await this.send(() => {
      preparing = [];
      const statements: string[] = [];
      for (const part of parts) {
        if (typeof part === 'string') {
          statements.push(part);
          continue;
        }
        const { query: q, args } = part;
        if (!this.prepared.has(q.name) && !preparing.includes(q.name)) {
          statements.push(`PREPARE ${q.name}${q.types.length ? `(${q.types.join(', ')})` : ''} AS ${q.sql}`);
          preparing.push(q.name);
        }
        statements.push(`EXECUTE ${q.name}${args.length ? `(${args.join(', ')})` : ''}`);
      }
      return { text: statements.join(';\n') };
    });
    for (const name of preparing) this.prepared.add(name);
    const all = Array.isArray(r) ? (r as pg.QueryResult[]) : [r as pg.QueryResult];
    // Drop the PREPAREs' results: one result per part.
    return all.filter((x) => x.command !== 'PREPARE');
  }

  private async send(build: () => pg.QueryConfig): Promise<unknown> {
    const retryable = this.reused && this.queries === 0;
    this.queries++;
    try {
      try {
        this.completed = 0;
        return await this.client.query(build());
      } catch (e) {
        if (!retryable || !(this.dead || isConnectionLoss(e))) throw e;
        traceEvent('pool.replace-dead-connection', this.database);
        await this.reconnect();
        this.completed = 0;
        return await this.client.query(build());
      }
    } catch (e) {
      this.failed = true;
      throw e;
    }
  }

  private async reconnect(): Promise<void> {
    const old = this.client;
    void old.end().catch(() => undefined);
    const lease = this.lease!;
    const client = await PooledClient.connect(this.pool, lease.granter, lease.action, lease.secrets);
    this.client = client;
    this.dead = false;
    this.reused = false;
    this.warnings = [];
    this.prepared.clear();
    this.attach(client);
  }

  private static async connect(
    pool: Pool,
    granter: ConnectionParams,
    action: string,
    secrets: readonly (string | undefined)[],
  ): Promise<pg.Client> {
    const client = new pg.Client(pool.config);
    client.on('error', () => undefined); // until attach(): a failed connect must not crash the process
    try {
      await client.connect();
    } catch (e) {
      await client.end().catch(() => undefined);
      throw connectionError(action, granter, pool.database, e, secrets);
    }
    try {
      // The catalog queries are prepared once per connection; by default PostgreSQL would
      // still plan them anew on most executions (their custom plans look cheaper than the
      // generic one), which costs more than running them. Set once, for this connection's
      // whole life, before it is ever used: not state a lease leaves behind.
      await client.query(
        `SELECT set_config('plan_cache_mode', 'force_generic_plan', false) WHERE current_setting('server_version_num')::int >= 120000`,
      );
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    return client;
  }

  /** A connection to `database` as the granter: an idle pooled one, or a new one. */
  static async acquire(granter: ConnectionParams, database: string, action: string, secrets: readonly (string | undefined)[]): Promise<PooledClient> {
    const pool = poolFor(granter, database);
    pool.leased++;
    try {
      let c: PooledClient | undefined;
      while ((c = pool.idle.pop())) {
        clearTimeout(c.idleTimer);
        if (c.dead) {
          void c.client.end().catch(() => undefined);
          continue;
        }
        socketRef(c.client, true);
        c.reused = true;
        break;
      }
      // The pool is in steady use and now has nothing left in reserve: open one spare in the
      // background, so that a second request at the same moment finds a connection ready
      // instead of paying for a handshake (a first use opens only what it needs).
      if (c && pool.idle.length === 0 && !pool.growing && pool.leased < POOL_MAX_IDLE) void PooledClient.grow(pool);
      if (!c) {
        traceEvent('pool.open', database);
        c = new PooledClient(pool, await PooledClient.connect(pool, granter, action, secrets));
      }
      c.lease = { granter, action, secrets };
      c.queries = 0;
      c.warnings = [];
      c.mayHoldLocks = false;
      c.failed = false;
      return c;
    } catch (e) {
      pool.leased--;
      forgetIfUnused(pool);
      throw e;
    }
  }

  /** Puts an unused connection in the idle list, closed after POOL_IDLE_MS unless used again. */
  private park(): void {
    const pool = this.pool;
    this.warnings = [];
    socketRef(this.client, false);
    this.idleTimer = setTimeout(() => {
      const i = pool.idle.indexOf(this);
      if (i >= 0) pool.idle.splice(i, 1);
      forgetIfUnused(pool);
      void this.client.end().catch(() => undefined);
    }, POOL_IDLE_MS);
    this.idleTimer.unref();
    pool.idle.push(this);
  }

  /** Opens a spare connection into the idle list; a failure is only traced (the next acquire reports it). */
  private static async grow(pool: Pool): Promise<void> {
    pool.growing = true;
    try {
      const client = await PooledClient.connect(pool, pool.granter, 'cannot open a spare pooled connection', [pool.granter.password]);
      const c = new PooledClient(pool, client);
      if (pool.closed || current.get(pool.account) !== pool.key || pool.idle.length >= POOL_MAX_IDLE) await c.close();
      else c.park();
    } catch {
      traceEvent('pool.spare-failed', pool.database);
    } finally {
      pool.growing = false;
      forgetIfUnused(pool);
    }
  }

  /**
   * Ends the lease: back to the pool if clean (see the header), else closed. The returned
   * promise settles once a closed connection's backend is gone (its locks with it).
   */
  release(): Promise<void> {
    const pool = this.pool;
    pool.leased--;
    this.lease = undefined;
    const clean = !this.dead && !this.failed && !this.mayHoldLocks && this.client.getTransactionStatus() === 'I';
    const superseded = current.get(pool.account) !== pool.key; // credentials changed meanwhile
    if (clean && !pool.closed && !superseded && pool.idle.length < POOL_MAX_IDLE) {
      this.park();
      return Promise.resolve();
    }
    if (!clean) traceEvent('pool.discard', this.database);
    forgetIfUnused(pool);
    return this.client.end().catch(() => undefined);
  }
}

/** Closes every idle pooled connection; connections in use close when released. */
export async function closeProvisionPools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  const ending: Promise<unknown>[] = [];
  for (const pool of all) {
    pool.closed = true;
    for (const c of pool.idle.splice(0)) ending.push(c.close());
  }
  current.clear();
  await Promise.all(ending);
}

/** For tests and diagnostics: pools, and their idle, leased and being-opened spare connections (no keys, no credentials). */
export function provisionPoolStats(): { pools: number; idle: number; leased: number; opening: number } {
  let idle = 0;
  let leased = 0;
  let opening = 0;
  for (const p of pools.values()) {
    idle += p.idle.length;
    leased += p.leased;
    if (p.growing) opening++;
  }
  return { pools: pools.size, idle, leased, opening };
}

/**
 * Tests only: the node-postgres clients idle in the pools, to simulate a backend whose death
 * the pool has not noticed yet.
 */
export function idleClientsForTests(): pg.Client[] {
  return [...pools.values()].flatMap((p) => p.idle.map((c) => c.client));
}
