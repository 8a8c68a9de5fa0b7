/**
 * `--users FILE`: identities that may log in to the local proxy, in Springtail's secret
 * shape — a JSON array of {username, password, type, role}. `type` says what `password`
 * holds: `text` (plaintext), `md5` (`md5` + 32 hex) or `scram-sha-256` (a PostgreSQL
 * SCRAM verifier). Mayfly additions, both optional: `policies` (the policies this
 * identity may choose; absent = any) and `policy` (its default when the client names none).
 * A malformed entry is skipped with a logged reason and never breaks the others.
 */
import fs from 'node:fs';
import { parseVerifier, type ScramKeys } from '../auth/scramVerifier';
import type { Logger } from '../log/logger';

export type UserRole = 'database' | 'replication' | 'proxy_to_fdw';
const ROLES: readonly UserRole[] = ['database', 'replication', 'proxy_to_fdw'];

export type UserSecret = { type: 'text'; password: string } | { type: 'md5'; hash: string } | { type: 'scram-sha-256'; keys: ScramKeys };

export interface UserRecord {
  username: string;
  role: UserRole;
  secret: UserSecret;
  policies?: string[];
  policy?: string;
}

export class UsersFileError extends Error {}

/** Parses the file's text; returns the valid users and a reason per skipped entry. */
export function parseUsers(text: string): { users: Map<string, UserRecord>; skipped: { index: number; reason: string }[] } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UsersFileError(`the users file is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(data)) throw new UsersFileError('the users file must hold a JSON array of {username, password, type, role}');
  const users = new Map<string, UserRecord>();
  const skipped: { index: number; reason: string }[] = [];
  data.forEach((entry: unknown, index) => {
    const r = parseEntry(entry);
    if (typeof r === 'string') skipped.push({ index, reason: r });
    else if (users.has(r.username)) skipped.push({ index, reason: `duplicate username "${r.username}"` });
    else users.set(r.username, r);
  });
  return { users, skipped };
}

function parseEntry(entry: unknown): UserRecord | string {
  if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return 'not an object';
  const e = entry as Record<string, unknown>;
  if (typeof e.username !== 'string' || !e.username) return 'username must be a non-empty string';
  if (typeof e.password !== 'string' || !e.password) return `user "${e.username}": password must be a non-empty string`;
  if (typeof e.role !== 'string' || !ROLES.includes(e.role as UserRole))
    return `user "${e.username}": role must be one of ${ROLES.join(', ')}`;
  let secret: UserSecret;
  switch (e.type) {
    case 'text':
      secret = { type: 'text', password: e.password };
      break;
    case 'md5':
      // Never echo the value: it is a secret even when malformed.
      if (!/^md5[0-9a-f]{32}$/.test(e.password)) return `user "${e.username}": an md5 password must be "md5" followed by 32 lowercase hex digits`;
      secret = { type: 'md5', hash: e.password };
      break;
    case 'scram-sha-256': {
      const keys = parseVerifier(e.password);
      if (!keys || keys.storedKey.length !== 32 || keys.serverKey.length !== 32 || keys.iterations < 1)
        return `user "${e.username}": a scram-sha-256 password must be SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`;
      secret = { type: 'scram-sha-256', keys };
      break;
    }
    default:
      return `user "${e.username}": type must be text, md5 or scram-sha-256`;
  }
  const out: UserRecord = { username: e.username, role: e.role as UserRole, secret };
  if (e.policies !== undefined) {
    if (!Array.isArray(e.policies) || !e.policies.every((p) => typeof p === 'string'))
      return `user "${e.username}": policies must be an array of policy names`;
    out.policies = e.policies as string[];
  }
  if (e.policy !== undefined) {
    if (typeof e.policy !== 'string' || !e.policy) return `user "${e.username}": policy must be a policy name`;
    out.policy = e.policy;
  }
  return out;
}

/** Reads FILE, logging each skipped entry (by index and reason, never a password). */
export function loadUsersFile(file: string, log: Logger): Map<string, UserRecord> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsersFileError(`cannot read the users file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const { users, skipped } = parseUsers(text);
  for (const s of skipped) log.log('warn', 'users.skipped', { file, index: s.index, reason: s.reason });
  log.log('info', 'users.loaded', { file, users: users.size, skipped: skipped.length });
  return users;
}

/**
 * Re-reads FILE when it changes (polling, which survives editors that replace the file).
 * A file that fails to load leaves the last good user set in force. Returns a stop function.
 */
export function watchUsersFile(file: string, log: Logger, onChange: (users: Map<string, UserRecord>) => void, intervalMs = 1000): () => void {
  const listener = (cur: fs.Stats, prev: fs.Stats): void => {
    if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size) return;
    try {
      onChange(loadUsersFile(file, log));
    } catch (e) {
      log.log('error', 'users.reload-failed', { file, error: (e as Error).message });
    }
  };
  fs.watchFile(file, { interval: intervalMs, persistent: false }, listener);
  return () => fs.unwatchFile(file, listener);
}
