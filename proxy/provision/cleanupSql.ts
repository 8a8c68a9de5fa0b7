/**
 * SQL for ending session roles: expiry and sweep. Built only from policy/sql.ts's quoting.
 */
import { quoteIdent } from '../../policy/sql';

/** Lets the granter act with the role's privileges (REASSIGN/DROP OWNED, terminating its backends). */
export function actAsRoleStatement(role: string, granter: string, serverVersionNum: number): string {
  // PG16+ gives a CREATEROLE creator ADMIN but not INHERIT on the roles it creates.
  const inherit = serverVersionNum >= 160000 ? ' WITH INHERIT TRUE' : '';
  return `GRANT ${quoteIdent(role)} TO ${quoteIdent(granter)}${inherit}`;
}

/** Gives the role's objects in the current database (and shared ones) to the granter. */
export function reassignOwnedStatement(role: string, granter: string): string {
  return `REASSIGN OWNED BY ${quoteIdent(role)} TO ${quoteIdent(granter)}`;
}

/** Drops what the role still owns and revokes its privileges (default privileges included) in the current database. */
export function dropOwnedStatement(role: string): string {
  return `DROP OWNED BY ${quoteIdent(role)}`;
}

/**
 * Lists grants to the role made by OTHER grantors in the current database (and, with
 * $2 = true, on databases): DROP OWNED run by one role only revokes what that role (or, for
 * a superuser, the owner) granted, so a role provisioned through another granter keeps them.
 * Names come out quoted by PostgreSQL (regclass, quote_ident). $1 = role name.
 */
export const FOREIGN_GRANTS_QUERY = `
  WITH r AS (SELECT oid FROM pg_roles WHERE rolname = $1)
  SELECT DISTINCT kind, name, pg_get_userbyid(grantor) AS grantor FROM (
    SELECT CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind, c.oid::regclass::text AS name, a.grantor
      FROM pg_class c, aclexplode(c.relacl) a, r WHERE a.grantee = r.oid
    UNION ALL
    SELECT 'SCHEMA', quote_ident(n.nspname), a.grantor FROM pg_namespace n, aclexplode(n.nspacl) a, r WHERE a.grantee = r.oid
    UNION ALL
    SELECT 'DATABASE', quote_ident(d.datname), a.grantor FROM pg_database d, aclexplode(d.datacl) a, r WHERE a.grantee = r.oid AND $2
  ) g WHERE grantor <> (SELECT oid FROM pg_roles WHERE rolname = current_user)
  ORDER BY 1, 2, 3`;

/** Revokes, as `grantor`, what it granted to the role on one object (kind/name as FOREIGN_GRANTS_QUERY returns them). */
export function revokeAsGrantorStatements(role: string, grant: { kind: string; name: string; grantor: string }): string[] {
  if (!['TABLE', 'SEQUENCE', 'SCHEMA', 'DATABASE'].includes(grant.kind)) throw new Error(`unexpected object kind ${grant.kind}`);
  return [`SET ROLE ${quoteIdent(grant.grantor)}`, `REVOKE ALL ON ${grant.kind} ${grant.name} FROM ${quoteIdent(role)} CASCADE`, 'RESET ROLE'];
}

export function dropRoleStatement(role: string): string {
  return `DROP ROLE ${quoteIdent(role)}`;
}
