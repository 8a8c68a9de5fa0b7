/**
 * Where an authenticated client lands: the role, credential, server and database Mayfly
 * logs in to upstream — the policy's session role (opened or reused), the session role
 * itself, or (pass-through) the identity on the primary — or the FATAL that says why not.
 */
import type { ConnectionParams } from '../config/dsn';
import { SessionError, type SessionInfo } from '../sessions/types';
import type { WireDeps } from './wireDeps';
import type { Identity } from './identity';
import { fatal } from './protocol/backend';
import { SQLSTATE } from './protocol/codes';
import type { Startup } from './protocol/startup';
import type { UpstreamCredential } from './upstream';
import type { PoolOrigin } from './pool';
import { credentialFingerprint } from '../users/fingerprint';
import { chooseReplica, verifyOnPrimary } from './replicaRoute';

export interface Landing {
  role: string;
  credential: UpstreamCredential;
  granter: ConnectionParams;
  database: string;
  policy?: string;
  /** A policy's session role, or (pass-through) the identity itself. */
  origin: PoolOrigin;
  /** Identifies the credential without revealing it: pooled server connections are keyed by it. */
  fingerprint: string;
}

const sessionFingerprints = new Map<string, { password: string; fingerprint: string }>();

/** A session role's password, fingerprinted like a users-file entry's secret (once per password, not per login). */
export function sessionFingerprint(role: string, password: string): string {
  const known = sessionFingerprints.get(role);
  if (known?.password === password) return known.fingerprint;
  const fingerprint = credentialFingerprint({ username: role, secret: { type: 'text', password } });
  sessionFingerprints.set(role, { password, fingerprint });
  return fingerprint;
}

/** The role, password, server and database this connection logs in to upstream. */
export async function land(
  identity: Identity,
  startup: Startup,
  clientKey: Buffer | undefined,
  deps: Pick<WireDeps, 'primary' | 'sessionFor' | 'roleLogin' | 'allowed' | 'replicas' | 'fdw'>,
  /** `mayfly.target` from the startup options (clientSession has split them already). */
  target?: string,
): Promise<Landing | { error: Buffer }> {
  // libpq sends database=user when none was chosen; then the first database applies.
  const pick = (databases: string[]): string => (startup.database === startup.user ? databases[0]! : startup.database);
  if (identity.kind === 'session') {
    const database = pick(identity.login.databases);
    if (!identity.login.databases.includes(database))
      return { error: fatal(SQLSTATE.invalidCatalogName, `database "${database}" is not among the session's databases (${identity.login.databases.join(', ')})`) };
    const password = identity.login.password;
    return { role: identity.name, credential: { password }, granter: identity.login.granter, database, origin: 'session', fingerprint: sessionFingerprint(identity.name, password) };
  }
  if (identity.kind !== 'user') return { error: fatal(SQLSTATE.internalError, 'unreachable') };
  const policy = identity.policy;
  const primary = policy ? undefined : await deps.primary?.().catch(() => undefined);
  if (!policy && primary) {
    // Pass-through (the seed's flow): log in to the primary as the identity itself.
    const secret = identity.record.secret;
    const credential: UpstreamCredential | undefined =
      secret.type === 'text'
        ? { password: secret.password }
        : secret.type === 'md5'
          ? { md5: secret.hash }
          : clientKey
            ? { scram: { clientKey, keys: secret.keys } }
            : undefined;
    if (!credential) return { error: fatal(SQLSTATE.invalidAuthorization, `no credential to pass through for user "${identity.name}"`) };
    // The primary's CONNECT map (refreshed by the user store) decides before any login.
    if (deps.allowed?.(identity.name, startup.database) === false)
      return { error: fatal(SQLSTATE.insufficientPrivilege, `permission denied for database "${startup.database}"`, `the user store says "${identity.name}" lacks CONNECT on it; ask for GRANT CONNECT`) };
    if (target === 'replica') {
      const refused = await verifyOnPrimary(primary, identity.name, credential, startup.database);
      if (refused) return refused;
      const chosen = await chooseReplica(deps);
      if ('error' in chosen) return chosen;
      const fdw: UpstreamCredential = { password: chosen.password };
      return {
        role: identity.name,
        credential: fdw,
        granter: chosen.replica,
        database: startup.database,
        origin: 'identity',
        // The shared password, per user: a rotated proxy_to_fdw secret evicts these.
        fingerprint: sessionFingerprint(`replica:${identity.name}`, chosen.password),
      };
    }
    return {
      role: identity.name,
      credential,
      granter: primary,
      database: startup.database,
      origin: 'identity',
      fingerprint: credentialFingerprint(identity.record),
    };
  }
  if (!policy)
    return {
      error: fatal(
        SQLSTATE.invalidAuthorization,
        `no policy chosen for user "${identity.name}"`,
        `connect as user "${identity.name}@POLICY", or set options to "-c mayfly.policy=POLICY" (psql: PGOPTIONS='-c mayfly.policy=POLICY')`,
      ),
    };
  if (identity.record.policies && !identity.record.policies.includes(policy))
    return { error: fatal(SQLSTATE.invalidAuthorization, `user "${identity.name}" may not use policy "${policy}"`) };
  let session: SessionInfo;
  try {
    session = await deps.sessionFor(policy);
  } catch (e) {
    const unknown = e instanceof SessionError && (e.reason === 'unknown-policy' || e.reason === 'invalid-policy');
    return { error: fatal(unknown ? SQLSTATE.invalidAuthorization : SQLSTATE.cannotConnectNow, (e as Error).message) };
  }
  const login = deps.roleLogin(session.role);
  if (!login) return { error: fatal(SQLSTATE.cannotConnectNow, `the session for policy "${policy}" is not live`) };
  const database = pick(session.databases);
  if (!session.databases.includes(database))
    return {
      error: fatal(SQLSTATE.invalidCatalogName, `database "${database}" is not covered by policy "${policy}" (its databases: ${session.databases.join(', ')})`),
    };
  return {
    role: session.role,
    credential: { password: login.password },
    granter: login.granter,
    database,
    policy,
    origin: 'session',
    fingerprint: sessionFingerprint(session.role, login.password),
  };
}
