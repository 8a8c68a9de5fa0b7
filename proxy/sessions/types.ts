/** Sessions as the control API, the CLI and the extension see them. */

export interface SessionInfo {
  id: string;
  policy: string;
  role: string;
  /** Where the database is: the granter DSN's host and port (hoop's HOST/PORT). */
  host: string;
  port: number;
  user: string;
  password: string;
  /** Databases the policy covers, in policy order; the first is the default PGDATABASE. */
  databases: string[];
  createdAt: string;
  expiresAt: string;
}

/**
 * The hoop/libpq environment a session terminal or `mayfly exec` gets: the server's address,
 * or with `via` the local Mayfly proxy's, which accepts the session role with the same
 * password. Through the proxy PGSSLMODE is set as well, so a PGSSLMODE the user keeps for
 * their servers (say verify-full) cannot break the loopback hop: `prefer` takes the proxy's
 * TLS (its self-signed certificate cannot be verified), `disable` when it offers none.
 */
export function sessionEnv(s: SessionInfo, via?: { host: string; port: number; tls: boolean }): Record<string, string> {
  const host = via?.host ?? s.host;
  const port = String(via?.port ?? s.port);
  return {
    HOST: host,
    PORT: port,
    USER: s.user,
    PGPASSWORD: s.password,
    PASS: s.password,
    PGHOST: host,
    PGPORT: port,
    PGUSER: s.user,
    PGDATABASE: s.databases[0] ?? 'postgres',
    ...(via ? { PGSSLMODE: via.tls ? 'prefer' : 'disable' } : {}),
  };
}

export class SessionError extends Error {
  constructor(
    message: string,
    /** Stable reason for programs (the extension picks its buttons from it). */
    readonly reason:
      | 'unknown-policy'
      | 'invalid-policy'
      | 'config'
      | 'provision'
      | 'role-in-use'
      | 'unknown-session'
      | 'unreachable',
  ) {
    super(message);
    this.name = 'SessionError';
  }
}
