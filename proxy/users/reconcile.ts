/**
 * Incremental reconcile of a user set: what was added, changed and removed between two
 * loads. A change carries the old credential's fingerprint, so the wire pool can evict the
 * server connections that logged in with it; unchanged users keep their record object.
 */
import { credentialFingerprint } from './fingerprint';
import type { UserRecord, UserSecret } from './userEntry';
import { breathe, SLICE } from './breathe';

export type ChangedField = 'credential' | 'role' | 'policies';

export type UserChange =
  | { kind: 'added'; username: string; record: UserRecord; fingerprint: string }
  | {
      kind: 'changed';
      username: string;
      before: UserRecord;
      after: UserRecord;
      fields: ChangedField[];
      oldFingerprint: string;
      newFingerprint: string;
    }
  | { kind: 'removed'; username: string; record: UserRecord; fingerprint: string };

function sameSecret(a: UserSecret, b: UserSecret): boolean {
  if (a.type === 'text' && b.type === 'text') return a.password === b.password;
  if (a.type === 'md5' && b.type === 'md5') return a.hash === b.hash;
  if (a.type === 'scram-sha-256' && b.type === 'scram-sha-256')
    return (
      a.keys.iterations === b.keys.iterations &&
      a.keys.salt.equals(b.keys.salt) &&
      a.keys.storedKey.equals(b.keys.storedKey) &&
      a.keys.serverKey.equals(b.keys.serverKey)
    );
  return false;
}

function samePolicies(a: UserRecord, b: UserRecord): boolean {
  if (a.policy !== b.policy) return false;
  if (a.policies === undefined || b.policies === undefined) return a.policies === b.policies;
  return a.policies.length === b.policies.length && a.policies.every((p, i) => p === b.policies![i]);
}

/** The same user with the same credential, role and policies (a fresh parse of an unchanged entry). */
export function sameUserRecord(a: UserRecord, b: UserRecord): boolean {
  return a === b || (a.username === b.username && a.role === b.role && sameSecret(a.secret, b.secret) && samePolicies(a, b));
}

/** Compares in slices that let the event loop run, so a thousand rotations do not stall logins. */
export async function reconcile(
  before: ReadonlyMap<string, UserRecord>,
  loaded: ReadonlyMap<string, UserRecord>,
): Promise<{ users: Map<string, UserRecord>; changes: UserChange[] }> {
  const users = new Map<string, UserRecord>();
  const changes: UserChange[] = [];
  let n = 0;
  for (const [name, next] of loaded) {
    if (++n % SLICE === 0) await breathe();
    const prev = before.get(name);
    if (!prev) {
      users.set(name, next);
      changes.push({ kind: 'added', username: name, record: next, fingerprint: credentialFingerprint(next) });
      continue;
    }
    if (prev === next) {
      users.set(name, prev);
      continue;
    }
    const fields: ChangedField[] = [];
    if (!sameSecret(prev.secret, next.secret)) fields.push('credential');
    if (prev.role !== next.role) fields.push('role');
    if (!samePolicies(prev, next)) fields.push('policies');
    if (fields.length === 0) {
      users.set(name, prev);
      continue;
    }
    users.set(name, next);
    changes.push({
      kind: 'changed',
      username: name,
      before: prev,
      after: next,
      fields,
      oldFingerprint: credentialFingerprint(prev),
      newFingerprint: credentialFingerprint(next),
    });
  }
  for (const [name, prev] of before) {
    if (++n % SLICE === 0) await breathe();
    if (!loaded.has(name)) changes.push({ kind: 'removed', username: name, record: prev, fingerprint: credentialFingerprint(prev) });
  }
  return { users, changes };
}
