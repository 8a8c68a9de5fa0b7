/**
 * One user entry in Springtail's secret shape: {username, password, type, role}. `type`
 * says what `password` holds: `text` (plaintext), `md5` (`md5` + 32 hex) or
 * `scram-sha-256` (a PostgreSQL SCRAM verifier). Only the approved roles enter:
 * `database` (client identities), `replication` (the primary login for privileged queries)
 * and `proxy_to_fdw` (the shared replica credential). Mayfly additions, both optional:
 * `policies` (the policies this identity may choose; absent = any) and `policy` (its
 * default). A malformed entry yields a reason — which never quotes the password.
 */
import { parseVerifier, type ScramKeys } from '../auth/scramVerifier';
import { breathe, SLICE } from './breathe';

export type UserRole = 'database' | 'replication' | 'proxy_to_fdw';
export const USER_ROLES: readonly UserRole[] = ['database', 'replication', 'proxy_to_fdw'];

export type UserSecret = { type: 'text'; password: string } | { type: 'md5'; hash: string } | { type: 'scram-sha-256'; keys: ScramKeys };

export interface UserRecord {
  username: string;
  role: UserRole;
  secret: UserSecret;
  policies?: string[];
  policy?: string;
}

/** Values filled in when an entry omits the key (per-user RDS-style secrets have no type or role). */
export interface EntryDefaults {
  type?: UserSecret['type'];
  role?: UserRole;
}

export function parseUserEntry(entry: unknown, defaults: EntryDefaults = {}): UserRecord | string {
  if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return 'not an object';
  const e = entry as Record<string, unknown>;
  if (typeof e.username !== 'string' || !e.username) return 'username must be a non-empty string';
  if (typeof e.password !== 'string' || !e.password) return `user "${e.username}": password must be a non-empty string`;
  const roleValue = e.role ?? defaults.role;
  if (typeof roleValue !== 'string' || !USER_ROLES.includes(roleValue as UserRole))
    return `user "${e.username}": role must be one of ${USER_ROLES.join(', ')}`;
  let secret: UserSecret;
  switch (e.type ?? defaults.type) {
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
  const out: UserRecord = { username: e.username, role: roleValue as UserRole, secret };
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

export interface ParsedUsers {
  users: Map<string, UserRecord>;
  skipped: { index: number; reason: string }[];
}

/** An array of entries; each malformed or repeated one is skipped with a reason, the rest load. */
export function parseUserArray(data: readonly unknown[], defaults: EntryDefaults = {}): ParsedUsers {
  const out: ParsedUsers = { users: new Map(), skipped: [] };
  data.forEach((entry, index) => addEntry(out, entry, index, defaults));
  return out;
}

/** parseUserArray in slices, yielding to the event loop between them (large secrets and files). */
export async function parseUserArrayAsync(data: readonly unknown[], defaults: EntryDefaults = {}): Promise<ParsedUsers> {
  const out: ParsedUsers = { users: new Map(), skipped: [] };
  for (let index = 0; index < data.length; index++) {
    if (index > 0 && index % SLICE === 0) await breathe();
    addEntry(out, data[index], index, defaults);
  }
  return out;
}

function addEntry(out: ParsedUsers, entry: unknown, index: number, defaults: EntryDefaults): void {
  const r = parseUserEntry(entry, defaults);
  if (typeof r === 'string') out.skipped.push({ index, reason: r });
  else if (out.users.has(r.username)) out.skipped.push({ index, reason: `duplicate username "${r.username}"` });
  else out.users.set(r.username, r);
}

/** JSON.parse without its message, which quotes the (secret) input: only the position. */
export function parseJsonQuietly(text: string): { ok: true; data: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, data: JSON.parse(text) };
  } catch (e) {
    const at = /position (\d+)/.exec((e as Error).message);
    return { ok: false, reason: `not valid JSON${at ? ` (at character ${at[1]})` : ''}` };
  }
}
