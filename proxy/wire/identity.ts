/**
 * Who is connecting and where they want to go, from the startup packet alone.
 *
 * - A session role this proxy issued (`_hoop_session_user_…` with a live password) logs
 *   in with its issued password and lands on that role.
 * - A user from `--users FILE` picks a policy per connection: `user@policy` as the user
 *   name, or `options=-c mayfly.policy=NAME` (psql: PGOPTIONS), or the user's default
 *   `policy`. The exact user name wins over the `@` split, so names containing `@` work.
 * - Anyone else is unknown and gets the mock SCRAM exchange.
 */
import type { ConnectionParams } from '../config/dsn';
import type { ScramKeys } from '../auth/scramVerifier';
import type { UserRecord } from '../users/fileStore';
import type { VerifierCache } from './auth/verifierCache';
import { formatOptions, parseOptions } from './protocol/startup';

export const POLICY_SETTING = 'mayfly.policy';
/** `-c mayfly.target=replica` asks for a read-only session on a replica (pass-through identities). */
export const TARGET_SETTING = 'mayfly.target';

/** What the client must prove: SCRAM keys, an MD5 secret, or nothing we know (mock). */
export type Credential = { method: 'scram'; keys: ScramKeys } | { method: 'md5'; secret: string } | { method: 'mock' };

export type Identity =
  | { kind: 'session'; name: string; credential: Credential; login: { granter: ConnectionParams; password: string; databases: string[] } }
  | { kind: 'user'; name: string; credential: Credential; record: UserRecord; policy?: string }
  | { kind: 'unknown'; name: string; credential: Credential };

export interface IdentitySources {
  roleLogin(role: string): { granter: ConnectionParams; password: string; databases: string[] } | undefined;
  users(): ReadonlyMap<string, UserRecord>;
  verifiers: VerifierCache;
}

function credentialOf(name: string, r: UserRecord, verifiers: VerifierCache): Credential {
  switch (r.secret.type) {
    case 'scram-sha-256':
      return { method: 'scram', keys: r.secret.keys };
    case 'md5':
      return { method: 'md5', secret: r.secret.hash };
    case 'text':
      // Plaintext-stored users authenticate by SCRAM with a cached verifier, never cleartext.
      return { method: 'scram', keys: verifiers.get(name, r.secret.password) };
  }
}

/** The `options` startup parameter without Mayfly's own settings, and the policy they named. */
export function splitOptions(options: string | undefined): { policy?: string; target?: string; upstreamOptions?: string } {
  if (!options) return {};
  const { settings, words } = parseOptions(options);
  const policy = settings.get(POLICY_SETTING);
  const target = settings.get(TARGET_SETTING);
  for (const k of [...settings.keys()]) if (k.startsWith('mayfly.')) settings.delete(k);
  const rest = [formatOptions(settings), ...words].filter(Boolean).join(' ');
  return { ...(policy ? { policy } : {}), ...(target ? { target } : {}), ...(rest ? { upstreamOptions: rest } : {}) };
}

export function resolveIdentity(user: string, optionPolicy: string | undefined, src: IdentitySources): Identity {
  const login = src.roleLogin(user);
  if (login) return { kind: 'session', name: user, login, credential: { method: 'scram', keys: src.verifiers.get(user, login.password) } };
  const users = src.users();
  let record = users.get(user);
  let name = user;
  let namedPolicy: string | undefined;
  if (!record) {
    const at = user.lastIndexOf('@');
    if (at > 0 && at < user.length - 1) {
      name = user.slice(0, at);
      namedPolicy = user.slice(at + 1);
      record = users.get(name);
    }
  }
  // Only `database` entries are client identities; the others are server-side credentials.
  if (!record || record.role !== 'database') return { kind: 'unknown', name: user, credential: { method: 'mock' } };
  const policy = namedPolicy ?? optionPolicy ?? record.policy;
  return { kind: 'user', name, record, credential: credentialOf(name, record, src.verifiers), ...(policy ? { policy } : {}) };
}
