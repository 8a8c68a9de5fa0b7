/**
 * Session pooling of server connections. A client holds one server connection from login
 * until it leaves; then, if it left the connection clean (no query running, idle outside
 * a transaction, nothing half-sent), the connection is reset (reset.ts) and kept for the
 * next client with the same key: server, role, database, startup parameters and the
 * fingerprint of the credential it logged in with. A changed password therefore never
 * reuses a connection of the old one, and eviction (expiry, revoke, rotation, a removed
 * or changed user) closes idle connections at once and busy ones when their client leaves.
 *
 * Limits: idle connections per key, server connections in all (busy, idle, resetting and
 * logging in), an idle timeout; a login that finds every connection busy waits briefly in
 * a queue (first come, first served), then gets a clear error. When the limit is reached
 * and another key has idle connections, the least recently used of them is closed instead.
 */
import type { Logger } from '../log/logger';
import { terminate } from './protocol/frontend';
import { resetConnection } from './reset';
import { connectUpstream, keepUnread, type Upstream, type UpstreamResult, type UpstreamTarget } from './upstream';

export interface PoolLimits {
  /** Idle server connections kept per key; 0 turns pooling off (every client logs in anew). */
  idlePerKey: number;
  /** Server connections open at once, busy or not. */
  maxConnections: number;
  /** An idle connection unused this long is closed. */
  idleTimeoutMs: number;
  /** How long a login waits for a connection when maxConnections are all busy. */
  waitTimeoutMs: number;
}

export const DEFAULT_POOL_LIMITS: PoolLimits = {
  idlePerKey: 20,
  // Below PostgreSQL's default max_connections (100, 3 of them reserved for superusers).
  maxConnections: 90,
  idleTimeoutMs: 5 * 60_000,
  waitTimeoutMs: 10_000,
};

/** A policy's session role, or an identity passed through as itself. */
export type PoolOrigin = 'session' | 'identity';

export interface PoolTag {
  origin: PoolOrigin;
  fingerprint: string;
}

const RESET_TIMEOUT_MS = 5_000;

export class PooledConnection {
  state: 'busy' | 'resetting' | 'idle' | 'closed' = 'busy';
  /** Closed when its client leaves instead of going back to the pool. */
  evicted = false;
  lastUsed = Date.now();
  idleTimer?: NodeJS.Timeout;

  constructor(
    readonly upstream: Upstream,
    readonly key: string,
    readonly role: string,
    readonly tag: PoolTag,
  ) {}
}

export type Lease =
  | { ok: true; conn: PooledConnection; reused: boolean }
  /** `error`: the server's own ErrorResponse; `full`: every connection busy past the wait. */
  | { ok: false; error?: Buffer; full?: boolean; message: string };

interface Waiter {
  key: string;
  target: UpstreamTarget;
  tag: PoolTag;
  resolve(lease: Lease): void;
  timer: NodeJS.Timeout;
}

/** Everything that makes two logins interchangeable; holds no secret (only the fingerprint). */
export function poolKey(t: UpstreamTarget, fingerprint: string): string {
  const params = Object.keys(t.params)
    .sort()
    .map((k) => [k, t.params[k]]);
  return JSON.stringify([t.host, t.port, t.sslmode, t.sslrootcert ?? '', t.user, t.database, params, fingerprint]);
}

export class UpstreamPool {
  private readonly idle = new Map<string, PooledConnection[]>();
  private readonly open = new Set<PooledConnection>();
  private connecting = 0;
  private readonly waiters: Waiter[] = [];
  private closed = false;

  constructor(
    readonly limits: PoolLimits,
    private readonly log?: Logger,
    private readonly connect: (t: UpstreamTarget) => Promise<UpstreamResult> = connectUpstream,
  ) {}

  /** Server connections open or being opened. */
  get size(): number {
    return this.open.size + this.connecting;
  }

  stats(): { open: number; idle: number; busy: number; connecting: number; waiting: number } {
    let idle = 0;
    for (const list of this.idle.values()) idle += list.length;
    let busy = 0;
    for (const c of this.open) if (c.state === 'busy') busy++;
    return { open: this.open.size, idle, busy, connecting: this.connecting, waiting: this.waiters.length };
  }

  /** An idle connection for this login, a new one, or (all busy) one after a wait. */
  acquire(target: UpstreamTarget, tag: PoolTag): Promise<Lease> {
    if (this.closed) return Promise.resolve({ ok: false, message: 'the Mayfly proxy is shutting down' });
    const key = poolKey(target, tag.fingerprint);
    const conn = this.takeIdle(key);
    if (conn) return Promise.resolve({ ok: true, conn, reused: true });
    if (this.hasRoom()) return this.login(key, target, tag);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        key,
        target,
        tag,
        resolve,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          resolve({
            ok: false,
            full: true,
            message: `too many connections: all ${this.limits.maxConnections} server connections of the Mayfly proxy are in use`,
          });
        }, this.limits.waitTimeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /**
   * Gives a connection back when its client leaves: `reuse` resets and keeps it (if it may
   * be kept), `terminate` says goodbye to the server, `destroy` just closes (the stream is
   * mid-message).
   */
  release(conn: PooledConnection, how: 'reuse' | 'terminate' | 'destroy'): void {
    if (conn.state !== 'busy') return;
    if (how !== 'reuse' || conn.evicted || this.closed || this.limits.idlePerKey === 0) return this.close(conn, how === 'destroy' ? 'destroy' : 'terminate');
    conn.state = 'resetting';
    resetConnection(conn.upstream, RESET_TIMEOUT_MS).then(
      (ok) => this.afterReset(conn, ok),
      () => this.afterReset(conn, false),
    );
  }

  private afterReset(conn: PooledConnection, ok: boolean): void {
    if (conn.state !== 'resetting') return;
    if (!ok) this.log?.log('debug', 'wire.pool-reset-failed', { role: conn.role });
    if (!ok || conn.evicted || this.closed) return this.close(conn, ok ? 'terminate' : 'destroy');
    conn.state = 'idle';
    conn.lastUsed = Date.now();
    // Anything the server says while nobody holds the connection makes it unfit to hand out.
    conn.upstream.input.handler = () => this.close(conn, 'destroy');
    conn.idleTimer = setTimeout(() => this.close(conn, 'terminate'), this.limits.idleTimeoutMs);
    conn.idleTimer.unref();
    let list = this.idle.get(conn.key);
    if (!list) this.idle.set(conn.key, (list = []));
    list.push(conn);
    this.dispatch();
    // Over the cap: the oldest idle ones go.
    while (list.length > this.limits.idlePerKey) this.close(list[0]!, 'terminate');
  }

  /**
   * Closes the pooled connections of `role`, except those whose credential fingerprint is
   * `keep`: idle ones now, busy ones when their client leaves. Returns how many.
   */
  evictRole(role: string, keep?: string): number {
    return this.evict((c) => c.role === role && c.tag.fingerprint !== keep);
  }

  /** Closes the connections of `role` that logged in with the credential of this fingerprint. */
  evictCredential(role: string, fingerprint: string): number {
    return this.evict((c) => c.role === role && c.tag.fingerprint === fingerprint);
  }

  /** Roles with open connections (of one origin). */
  roles(origin?: PoolOrigin): string[] {
    const out = new Set<string>();
    for (const c of this.open) if (!origin || c.tag.origin === origin) out.add(c.role);
    return [...out];
  }

  private evict(match: (c: PooledConnection) => boolean): number {
    let n = 0;
    for (const c of [...this.open]) {
      if (!match(c) || c.evicted) continue;
      c.evicted = true;
      n++;
      if (c.state === 'idle') this.close(c, 'terminate');
    }
    return n;
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.resolve({ ok: false, message: 'the Mayfly proxy is shutting down' });
    }
    for (const c of [...this.open]) this.close(c, c.state === 'busy' ? 'destroy' : 'terminate');
  }

  private hasRoom(): boolean {
    if (this.size < this.limits.maxConnections) return true;
    // Make room by closing the connection idle the longest, of any key.
    let oldest: PooledConnection | undefined;
    for (const list of this.idle.values()) if (list[0] && (!oldest || list[0].lastUsed < oldest.lastUsed)) oldest = list[0];
    if (!oldest) return false;
    this.close(oldest, 'terminate');
    return true;
  }

  private takeIdle(key: string): PooledConnection | undefined {
    const list = this.idle.get(key);
    // Most recently used first: the others age out under the idle timeout.
    const conn = list?.pop();
    if (!conn) return undefined;
    if (list!.length === 0) this.idle.delete(key);
    clearTimeout(conn.idleTimer);
    conn.state = 'busy';
    conn.lastUsed = Date.now();
    conn.upstream.input.handler = keepUnread(conn.upstream);
    return conn;
  }

  private async login(key: string, target: UpstreamTarget, tag: PoolTag): Promise<Lease> {
    this.connecting++;
    let result: UpstreamResult;
    try {
      result = await this.connect(target);
    } catch (e) {
      result = { ok: false, message: (e as Error).message };
    } finally {
      this.connecting--;
    }
    if (!result.ok) {
      this.dispatch();
      return { ok: false, ...(result.error ? { error: result.error } : {}), message: result.message };
    }
    const conn = new PooledConnection(result.upstream, key, target.user, tag);
    const socket = conn.upstream.socket;
    socket.on('error', () => undefined); // 'close' follows
    socket.once('close', () => this.forget(conn));
    this.open.add(conn);
    if (this.closed) {
      this.close(conn, 'terminate');
      return { ok: false, message: 'the Mayfly proxy is shutting down' };
    }
    return { ok: true, conn, reused: false };
  }

  private close(conn: PooledConnection, how: 'terminate' | 'destroy'): void {
    const socket = conn.upstream.socket;
    this.forget(conn);
    if (how === 'terminate' && socket.writable) socket.end(terminate());
    else socket.destroy();
  }

  /** The connection is gone (closed by us or by the server): free its place. */
  private forget(conn: PooledConnection): void {
    if (conn.state === 'closed') return;
    const wasIdle = conn.state === 'idle';
    conn.state = 'closed';
    clearTimeout(conn.idleTimer);
    this.open.delete(conn);
    if (wasIdle) {
      const list = this.idle.get(conn.key);
      const at = list ? list.indexOf(conn) : -1;
      if (at >= 0) list!.splice(at, 1);
      if (list && list.length === 0) this.idle.delete(conn.key);
    }
    this.dispatch();
  }

  /** Serves waiting logins, in order, from idle connections or free places. */
  private dispatch(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let i = 0; i < this.waiters.length; ) {
        const w = this.waiters[i]!;
        const conn = this.takeIdle(w.key);
        if (!conn && !this.hasRoom()) {
          i++;
          continue;
        }
        this.waiters.splice(i, 1);
        clearTimeout(w.timer);
        if (conn) w.resolve({ ok: true, conn, reused: true });
        else void this.login(w.key, w.target, w.tag).then(w.resolve);
      }
    } finally {
      this.dispatching = false;
    }
  }

  private dispatching = false;
}
