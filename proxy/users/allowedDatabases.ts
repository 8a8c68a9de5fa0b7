/**
 * Which databases each `database` user may CONNECT to, asked of the primary as the
 * `replication` user in one query (the user names travel as one bound array). A role that
 * cannot log in, or whose VALID UNTIL has passed, may connect nowhere; template and
 * non-connectable databases never count.
 */
import pg from 'pg';
import type { ConnectionParams } from '../config/dsn';
import { toClientConfig } from '../config/pgClient';

export const CONNECT_QUERY = `SELECT r.rolname, d.datname
  FROM pg_roles r CROSS JOIN pg_database d
 WHERE r.rolname = ANY($1::text[])
   AND r.rolcanlogin AND (r.rolvaliduntil IS NULL OR r.rolvaliduntil > now())
   AND d.datallowconn AND NOT d.datistemplate
   AND has_database_privilege(r.oid, d.oid, 'CONNECT')`;

export type AllowedMap = Map<string, ReadonlySet<string>>;

/** Every user in `users` gets an entry (empty when it may connect nowhere or is no role). */
export async function queryAllowedDatabases(server: ConnectionParams, users: readonly string[], timeoutMs = 10_000): Promise<AllowedMap> {
  const client = new pg.Client({ ...toClientConfig(server), statement_timeout: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => undefined); // a backend killed between queries must not crash the proxy
  await client.connect();
  try {
    const { rows } = await client.query<{ rolname: string; datname: string }>(CONNECT_QUERY, [users]);
    const out: AllowedMap = new Map();
    const sets = new Map<string, Set<string>>();
    for (const u of users) {
      const s = new Set<string>();
      sets.set(u, s);
      out.set(u, s);
    }
    for (const r of rows) sets.get(r.rolname)?.add(r.datname);
    return out;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface AllowedChange {
  username: string;
  lost: string[];
  gained: string[];
}

/** Per user, the databases lost and gained; users new to the map are not reported. */
export function diffAllowed(before: AllowedMap, after: AllowedMap): AllowedChange[] {
  const out: AllowedChange[] = [];
  for (const [user, next] of after) {
    const prev = before.get(user);
    if (!prev) continue;
    const lost = [...prev].filter((d) => !next.has(d)).sort();
    const gained = [...next].filter((d) => !prev.has(d)).sort();
    if (lost.length || gained.length) out.push({ username: user, lost, gained });
  }
  return out;
}
