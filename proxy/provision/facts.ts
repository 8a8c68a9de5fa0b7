/**
 * Read-only catalog questions about the granter, the marker role and a session role.
 * Permission rules differ by server version, so the answers here already apply them:
 * PostgreSQL 16 made role administration need ADMIN OPTION on the role (CREATEROLE alone no
 * longer lets you alter, grant or drop arbitrary roles), while 15 only needs CREATEROLE.
 */
import type pg from 'pg';
import { MARKER_ROLE } from '../../policy/sql';
import type { PreparedQuery } from './pool';

export interface GranterFacts {
  /** current_user: the role DDL runs as (may differ from the DSN's user name on some clouds). */
  user: string;
  superuser: boolean;
  createRole: boolean;
  /** server_version_num, e.g. 150018, 180001. */
  versionNum: number;
  /** Can terminate other roles' backends without being a member of them. */
  signalBackend: boolean;
}

/** current_user's facts; no parameters. */
export const GRANTER_FACTS_SQL = `SELECT current_user AS "user", r.rolsuper AS superuser, r.rolcreaterole AS create_role,
            current_setting('server_version_num')::int AS version_num,
            pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS signal_backend
       FROM pg_roles r WHERE r.rolname = current_user`;

export const GRANTER_FACTS: PreparedQuery = { name: 'mayfly_granter_facts_v1', types: [], sql: GRANTER_FACTS_SQL };

export function parseGranterFacts(rows: unknown[]): GranterFacts {
  const r = rows[0] as { user: string; superuser: boolean; create_role: boolean; version_num: number; signal_backend: boolean };
  return { user: r.user, superuser: r.superuser, createRole: r.create_role, versionNum: r.version_num, signalBackend: r.signal_backend };
}

export async function granterFacts(client: pg.Client): Promise<GranterFacts> {
  return parseGranterFacts((await client.query(GRANTER_FACTS_SQL)).rows);
}

export interface RoleFacts {
  exists: boolean;
  /** A direct member of mayfly_managed: a role Mayfly created and may change or drop. */
  managed: boolean;
  /** rolcanlogin (whether VALID UNTIL has passed is separate). */
  login: boolean;
  /** Absent: no limit (NULL or 'infinity'). '-infinity' is the earliest Date. */
  validUntil?: Date;
  /** VALID UNTIL has not passed (server clock). */
  inValidity: boolean;
  /** Attributes a session role must never have (SUPERUSER, CREATEROLE, ...), if any. */
  dangerousAttributes: string[];
  /** The granter may ALTER / DROP this role and grant membership in it. */
  granterAdmin: boolean;
  /** The granter has the role's privileges (needed for REASSIGN/DROP OWNED and to signal its backends). */
  granterHasPrivileges: boolean;
}

const MIN_DATE = new Date(-8.64e15);

/** The role's facts; `role` and `marker` are SQL expressions: bind parameters or literals. */
export function roleFactsSql(role: string, marker: string): string {
  return `SELECT r.rolcanlogin AS login, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
            CASE WHEN isfinite(r.rolvaliduntil) THEN r.rolvaliduntil END AS valid_until,
            r.rolvaliduntil = '-infinity' AS never_valid,
            (r.rolvaliduntil IS NULL OR r.rolvaliduntil > now()) AS in_validity,
            EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles k ON k.oid = m.roleid
                     WHERE m.member = r.oid AND k.rolname = ${marker}) AS managed,
            pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION') AS admin,
            pg_has_role(current_user, r.oid, 'USAGE') AS has_privs
       FROM pg_roles r WHERE r.rolname = ${role}`;
}

/** $1: the role, $2: the marker role. */
export const ROLE_FACTS: PreparedQuery = { name: 'mayfly_role_facts_v1', types: ['name', 'name'], sql: roleFactsSql('$1', '$2') };

export function parseRoleFacts(rows: unknown[], granter: GranterFacts): RoleFacts {
  if (!rows.length)
    return { exists: false, managed: false, login: false, inValidity: false, dangerousAttributes: [], granterAdmin: false, granterHasPrivileges: false };
  const r = rows[0] as Record<string, unknown>;
  const dangerous = (
    [
      ['rolsuper', 'SUPERUSER'],
      ['rolcreaterole', 'CREATEROLE'],
      ['rolcreatedb', 'CREATEDB'],
      ['rolreplication', 'REPLICATION'],
      ['rolbypassrls', 'BYPASSRLS'],
    ] as const
  )
    .filter(([col]) => r[col] === true)
    .map(([, name]) => name);
  // PG15: CREATEROLE may alter any non-superuser role. PG16+: ADMIN OPTION on the role is needed.
  const admin = granter.superuser || (granter.versionNum < 160000 ? granter.createRole && r.rolsuper !== true : r.admin === true);
  const out: RoleFacts = {
    exists: true,
    managed: r.managed === true,
    login: r.login === true,
    inValidity: r.in_validity === true,
    dangerousAttributes: dangerous,
    granterAdmin: admin,
    granterHasPrivileges: granter.superuser || r.has_privs === true,
  };
  if (r.valid_until instanceof Date) out.validUntil = r.valid_until;
  else if (r.never_valid === true) out.validUntil = MIN_DATE;
  return out;
}

export async function roleFacts(client: pg.Client, role: string, granter: GranterFacts): Promise<RoleFacts> {
  return parseRoleFacts((await client.query(roleFactsSql('$1', '$2'), [role, MARKER_ROLE])).rows, granter);
}

export interface MarkerFacts {
  exists: boolean;
  /** The granter may add members to the marker role (or create it). */
  granterCanGrant: boolean;
}

/** The marker role's facts; `marker` is a SQL expression (bind parameter or literal). */
export function markerFactsSql(marker: string): string {
  return `SELECT pg_has_role(current_user, oid, 'MEMBER WITH ADMIN OPTION') AS admin FROM pg_roles WHERE rolname = ${marker}`;
}

/** $1: the marker role. */
export const MARKER_FACTS: PreparedQuery = { name: 'mayfly_marker_facts_v1', types: ['name'], sql: markerFactsSql('$1') };

export function parseMarkerFacts(rows: unknown[], granter: GranterFacts): MarkerFacts {
  if (!rows.length) return { exists: false, granterCanGrant: granter.superuser || granter.createRole };
  const admin = (rows[0] as { admin: boolean }).admin;
  return { exists: true, granterCanGrant: granter.superuser || (granter.versionNum < 160000 ? granter.createRole : admin) };
}

export async function markerFacts(client: pg.Client, granter: GranterFacts): Promise<MarkerFacts> {
  return parseMarkerFacts((await client.query(markerFactsSql('$1'), [MARKER_ROLE])).rows, granter);
}

/** Whether the granter may use ALTER DEFAULT PRIVILEGES FOR ROLE `owner` (PG16+: SET on it; 15: membership). */
export async function canActFor(client: pg.Client, granter: GranterFacts, owner: string): Promise<boolean> {
  if (granter.superuser || owner === granter.user) return true;
  const { rows } = await client.query('SELECT pg_has_role(current_user, $1::name, $2) AS ok', [
    owner,
    granter.versionNum >= 160000 ? 'SET' : 'MEMBER',
  ]);
  return (rows[0] as { ok: boolean }).ok;
}
