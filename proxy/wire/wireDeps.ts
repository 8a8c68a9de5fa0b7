/** What a client session needs from the rest of Mayfly (the listener builds it once). */
import type tls from 'node:tls';
import type { Logger } from '../log/logger';
import type { SessionInfo } from '../sessions/types';
import type { ConnectionParams } from '../config/dsn';
import type { UserRecord } from '../users/fileStore';
import type { FailureRateLimiter } from './auth/rateLimiter';
import type { CancelRegistry } from './cancel';
import type { IdentitySources } from './identity';
import type { UpstreamPool } from './pool';

/** What a client session needs from the rest of Mayfly. */
export interface WireDeps extends IdentitySources {
  log: Logger;
  limiter: FailureRateLimiter;
  cancels: CancelRegistry;
  /** Server connections, reused across clients of the same role, database and settings. */
  pool: UpstreamPool;
  /**
   * Where identities without a policy are passed through to (the primary), if anywhere:
   * Mayfly then logs in as the identity itself, with its own credential.
   */
  primary?(): Promise<ConnectionParams | undefined>;
  /** Opens (or reuses) a session for a policy; throws SessionError. */
  sessionFor(policy: string): Promise<SessionInfo>;
  /** May this identity CONNECT to this database on the primary (undefined: not known)? */
  allowed?(user: string, database: string): boolean | undefined;
  /** Replicas for read-only pass-through sessions, and the shared credential for them. */
  replicas?(): Promise<ConnectionParams[]>;
  fdw?(): UserRecord | undefined;
  authTimeoutMs: number;
  /** Offered on SSLRequest when set; otherwise the answer is `N`. */
  tls?: tls.SecureContext;
  /** Refuse plaintext logins from non-loopback sources (a non-loopback --listen). */
  requireTlsForRemote?: boolean;
}
