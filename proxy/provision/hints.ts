/**
 * What earlier operations in this process saw, remembered for a minute so that the next
 * pre-flight sends each query in the round trip where it will likely be needed: whether a
 * granter is a superuser (a non-superuser's grant options are checked in the first round
 * trip) and whether a role exists (its database facts then all wait for the role lock, in
 * one round trip). Only ever a guess about when to send queries: a wrong or missing hint
 * costs a round trip or an unneeded query, never a wrong decision (the facts themselves are
 * always read, and what the role lock protects is always read under it).
 */
import type { ConnectionParams } from '../config/dsn';

const TTL_MS = 60_000;
const MAX_ENTRIES = 1000;

const granters = new Map<string, { superuser: boolean; at: number }>();
const roles = new Map<string, { exists: boolean; at: number }>();

const granterKey = (g: ConnectionParams) => `${g.host}\0${g.port}\0${g.user}`;
const roleKey = (g: ConnectionParams, role: string) => `${g.host}\0${g.port}\0${role}`;

function remember<V>(m: Map<string, V>, key: string, value: V): void {
  if (m.size >= MAX_ENTRIES && !m.has(key)) m.clear();
  m.set(key, value);
}

export function noteGranterSuperuser(granter: ConnectionParams, superuser: boolean): void {
  remember(granters, granterKey(granter), { superuser, at: Date.now() });
}

/** True only if the granter was recently seen not to be a superuser. */
export function granterLikelyNotSuperuser(granter: ConnectionParams): boolean {
  const h = granters.get(granterKey(granter));
  return h !== undefined && !h.superuser && Date.now() - h.at < TTL_MS;
}

export function noteRoleExists(granter: ConnectionParams, role: string, exists: boolean): void {
  remember(roles, roleKey(granter, role), { exists, at: Date.now() });
}

/** True only if the role was recently seen to exist. */
export function roleLikelyExists(granter: ConnectionParams, role: string): boolean {
  const h = roles.get(roleKey(granter, role));
  return h !== undefined && h.exists && Date.now() - h.at < TTL_MS;
}
