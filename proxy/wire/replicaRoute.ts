/**
 * Read-only sessions on replicas, as the seed describes: a pass-through identity that asks
 * for one (`options=-c mayfly.target=replica`) is first logged in to the primary with its
 * own credential — "always authenticate against the primary first", so a user the primary
 * refuses never reaches a replica — and then to a replica as itself with the shared
 * `proxy_to_fdw` password.
 */
import type { ConnectionParams } from '../config/dsn';
import type { UserRecord } from '../users/fileStore';
import { fatal } from './protocol/backend';
import { terminate } from './protocol/frontend';
import { SQLSTATE } from './protocol/codes';
import { connectUpstream, type UpstreamCredential } from './upstream';

export interface ReplicaSources {
  /** The replicas' servers (their host, port and TLS settings; user and password unused). */
  replicas?(): Promise<ConnectionParams[]>;
  /** The shared `proxy_to_fdw` credential from the user store. */
  fdw?(): UserRecord | undefined;
}

let next = 0;

/** The replica for a new read-only session (round robin), or the FATAL that says why none. */
export async function chooseReplica(deps: ReplicaSources): Promise<{ replica: ConnectionParams; password: string } | { error: Buffer }> {
  const replicas = (await deps.replicas?.().catch(() => undefined)) ?? [];
  if (!replicas.length)
    return { error: fatal(SQLSTATE.featureNotSupported, 'no replica is configured for read-only sessions', 'start Mayfly with --replica ENTRY') };
  const fdw = deps.fdw?.();
  if (!fdw || fdw.secret.type !== 'text')
    return {
      error: fatal(SQLSTATE.invalidAuthorization, 'no proxy_to_fdw credential is available for replica logins', 'add a user with role "proxy_to_fdw" and a text password to the user store'),
    };
  const replica = replicas[next++ % replicas.length]!;
  return { replica, password: fdw.secret.password };
}

/** Logs in to the primary as the identity and leaves again; the server's refusal, if any. */
export async function verifyOnPrimary(primary: ConnectionParams, user: string, credential: UpstreamCredential, database: string): Promise<{ error: Buffer } | undefined> {
  const r = await connectUpstream({
    host: primary.host,
    port: primary.port,
    user,
    credential,
    database,
    params: { application_name: 'mayfly-verify' },
    sslmode: primary.sslmode,
    ...(primary.sslrootcert ? { sslrootcert: primary.sslrootcert } : {}),
  });
  if (!r.ok) return { error: r.error ?? fatal(SQLSTATE.connectionFailure, `Mayfly could not reach the primary to verify "${user}": ${r.message}`) };
  r.upstream.socket.end(terminate());
  return undefined;
}
