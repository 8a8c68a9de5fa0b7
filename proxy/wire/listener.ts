/**
 * `mayfly proxy --listen HOST:PORT`: the TCP listener of the local Postgres proxy. It owns
 * what all connections share (cancel keys, the failure rate limiter, cached verifiers)
 * and gives each connection a ClientSession. Only loopback addresses are accepted: the
 * proxy authenticates clients, but without TLS their traffic would cross the network in
 * the clear.
 */
import net from 'node:net';
import type tls from 'node:tls';
import type { Logger } from '../log/logger';
import type { SessionInfo } from '../sessions/types';
import type { ConnectionParams } from '../config/dsn';
import type { UserRecord } from '../users/fileStore';
import { FailureRateLimiter } from './auth/rateLimiter';
import { VerifierCache } from './auth/verifierCache';
import { CancelRegistry } from './cancel';
import { ClientSession, type WireDeps } from './clientSession';
import { SQLSTATE } from './protocol/codes';
import { DEFAULT_POOL_LIMITS, UpstreamPool, type PoolLimits, type PoolOrigin } from './pool';

export const DEFAULT_PORT = 6432;

export interface ListenAddress {
  host: string;
  port: number;
}

/** "HOST:PORT", "HOST", ":PORT" or "[v6]:PORT" -> address; port defaults to 6432. */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) throw new Error(`--listen expects HOST:PORT (e.g. 127.0.0.1:${DEFAULT_PORT})`);
  const host = m[1] ?? (m[2] || '127.0.0.1');
  const port = m[3] === undefined ? DEFAULT_PORT : Number(m[3]);
  if (port > 65535) throw new Error('--listen: the port must be a number from 0 to 65535');
  return { host, port };
}

export { isLoopbackAddress as isLoopback } from './address';
import { isLoopbackAddress as isLoopback } from './address';

export interface WireListenerDeps {
  log: Logger;
  users(): ReadonlyMap<string, UserRecord>;
  roleLogin(role: string): { granter: ConnectionParams; password: string; databases: string[] } | undefined;
  sessionFor(policy: string): Promise<SessionInfo>;
  /** The primary for pass-through logins of identities without a policy (none = refuse them). */
  primary?(): Promise<ConnectionParams | undefined>;
  authTimeoutMs?: number;
  /** Offer TLS on SSLRequest with this context. */
  tls?: tls.SecureContext;
  /** Allow a non-loopback listen address (only with TLS, which remote clients must then use). */
  allowRemote?: boolean;
  /** Server connection pooling (defaults: DEFAULT_POOL_LIMITS). */
  pool?: Partial<PoolLimits>;
  /** The user store's CONNECT map, replicas for read-only sessions and their shared credential. */
  allowed?(user: string, database: string): boolean | undefined;
  replicas?(): Promise<ConnectionParams[]>;
  fdw?(): UserRecord | undefined;
}

export class WireListener {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly clients = new Set<ClientSession>();
  readonly cancels = new CancelRegistry();
  private readonly limiter = new FailureRateLimiter();
  private readonly verifiers = new VerifierCache();
  readonly pool: UpstreamPool;
  /** What every connection shares. */
  private readonly shared: WireDeps;

  constructor(private readonly deps: WireListenerDeps) {
    this.server = net.createServer((socket) => this.accept(socket));
    this.pool = new UpstreamPool({ ...DEFAULT_POOL_LIMITS, ...deps.pool }, deps.log);
    this.shared = {
      log: deps.log,
      users: deps.users,
      roleLogin: deps.roleLogin,
      verifiers: this.verifiers,
      limiter: this.limiter,
      cancels: this.cancels,
      pool: this.pool,
      sessionFor: deps.sessionFor,
      ...(deps.primary ? { primary: deps.primary } : {}),
      ...(deps.allowed ? { allowed: deps.allowed } : {}),
      ...(deps.replicas ? { replicas: deps.replicas } : {}),
      ...(deps.fdw ? { fdw: deps.fdw } : {}),
      authTimeoutMs: deps.authTimeoutMs ?? 60_000,
      ...(deps.tls ? { tls: deps.tls } : {}),
      requireTlsForRemote: true,
    };
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const session = new ClientSession(socket, this.shared);
    this.clients.add(session);
    socket.once('close', () => this.clients.delete(session));
    void session.run();
  }

  /** Closes every client logged in as `role` with a FATAL saying why; returns how many. */
  closeRole(role: string, message: string): number {
    let n = 0;
    for (const c of this.clients)
      if (c.role === role) {
        c.terminate(SQLSTATE.adminShutdown, message);
        n++;
      }
    return n;
  }

  /**
   * Closes every client of a user-store identity (all of them, or those on one database)
   * with a FATAL saying why; returns how many. Used when the identity is removed or loses
   * CONNECT on a database.
   */
  closeIdentity(identity: string, message: string, database?: string): number {
    let n = 0;
    for (const c of this.clients)
      if (c.identity === identity && (database === undefined || c.database === database)) {
        c.terminate(SQLSTATE.adminShutdown, message);
        n++;
      }
    return n;
  }

  /**
   * Closes the pooled server connections of a role (a session role, or an identity passed
   * through as itself) — idle ones now, busy ones when their client leaves — except those
   * logged in with the credential of fingerprint `keep`. Returns how many were marked.
   */
  evictRole(role: string, keep?: string): number {
    return this.pool.evictRole(role, keep);
  }

  /** Closes the pooled server connections of `role` that logged in with the credential of this fingerprint. */
  evictCredential(role: string, fingerprint: string): number {
    return this.pool.evictCredential(role, fingerprint);
  }

  /** Roles that have server connections open, of one origin. */
  pooledRoles(origin?: PoolOrigin): string[] {
    return this.pool.roles(origin);
  }

  async listen(addr: ListenAddress): Promise<ListenAddress> {
    if (!isLoopback(addr.host) && !(this.deps.allowRemote && this.deps.tls))
      throw new Error(
        `--listen ${addr.host}: only loopback addresses (127.0.0.1, ::1, localhost) are allowed unless --allow-remote is given and TLS is available (remote clients must then use TLS)`,
      );
    await new Promise<void>((resolve, reject) => {
      const failed = (e: NodeJS.ErrnoException): void => {
        const where = `${addr.host}:${addr.port}`;
        if (e.code === 'EADDRINUSE')
          reject(new Error(`${where} is already in use (another Mayfly, PgBouncer or PostgreSQL?): pass --listen ${addr.host}:PORT with a free port`));
        else if (e.code === 'EACCES') reject(new Error(`not allowed to listen on ${where}: ports below 1024 need privileges; pick a higher one`));
        else if (e.code === 'EADDRNOTAVAIL') reject(new Error(`${addr.host} is not an address of this machine: use 127.0.0.1`));
        else reject(e);
      };
      this.server.once('error', failed);
      this.server.listen(addr.port, addr.host, () => {
        this.server.off('error', failed);
        resolve();
      });
    });
    const a = this.server.address() as net.AddressInfo;
    return { host: addr.host, port: a.port };
  }

  get connections(): number {
    return this.sockets.size;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await this.pool.closeAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
