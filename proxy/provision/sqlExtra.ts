/**
 * SQL text for provisioning, built only from policy/sql.ts's quoting and literal functions.
 * policy/sql.ts renders the preview; this file renders what the provisioner runs, which
 * needs what the preview cannot know: whether the role exists, which roles' future tables
 * to cover per schema (the schema owner differs per schema), and database privileges the
 * granter cannot grant but PUBLIC already has. With the same inputs, the per-database
 * statements are identical to policy/sql.ts's databaseStatements (a test checks that).
 *
 * Order matches the seed: role first, then per instance REVOKE ALL ON ALL TABLES, GRANT
 * USAGE ON SCHEMA, GRANT <privs> ON ALL TABLES — plus sequences and default privileges.
 * A new role is created NOLOGIN without a password and only gets LOGIN, its password (as a
 * SCRAM verifier) and VALID UNTIL once every database committed its grants.
 */
import type { DatabasePlan, DatabasePrivilege, ProvisionPlan } from '../../policy/plan';
import { MARKER_ROLE, quoteIdent, timestampLiteral, verifierLiteral } from '../../policy/sql';

/** One statement, with the schema it concerns (for error messages). */
export interface Step {
  sql: string;
  schema?: string;
}

export function createMarkerStatement(): string {
  return `CREATE ROLE ${quoteIdent(MARKER_ROLE)} WITH NOLOGIN`;
}

/**
 * A new session role, before any grant: cannot log in, has no password. VALID UNTIL is
 * already the target, so if this process dies before finishing, the orphan is an expired
 * marker member that the sweep removes.
 */
export function createRoleStatements(role: string, validUntil: Date): string[] {
  const r = quoteIdent(role);
  return [
    `CREATE ROLE ${r} WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION VALID UNTIL ${timestampLiteral(validUntil)}`,
    `GRANT ${quoteIdent(MARKER_ROLE)} TO ${r}`,
  ];
}

/** The last step: LOGIN, the password (only ever a SCRAM verifier) when it changes, VALID UNTIL in UTC. */
export function enableLoginStatement(role: string, validUntil: Date, verifier?: string): string {
  const password = verifier ? ` ENCRYPTED PASSWORD ${verifierLiteral(verifier)}` : '';
  return `ALTER ROLE ${quoteIdent(role)} WITH LOGIN${password} VALID UNTIL ${timestampLiteral(validUntil)}`;
}

/** Changes VALID UNTIL only (extend, expire): the password stays. */
export function validUntilStatement(role: string, validUntil: Date): string {
  return `ALTER ROLE ${quoteIdent(role)} VALID UNTIL ${timestampLiteral(validUntil)}`;
}

export interface DatabaseStepOptions {
  /** Database privileges to grant; default the plan's. Empty: no GRANT ... ON DATABASE. */
  databasePrivileges?: readonly DatabasePrivilege[];
  /** Roles whose future tables and sequences in `schema` the session role should see. */
  creatorsFor?: (schema: string) => readonly string[];
}

/** Statements run in ONE transaction on a connection to `db.database`. */
export function databaseSteps(role: string, db: DatabasePlan, o: DatabaseStepOptions = {}): Step[] {
  const r = quoteIdent(role);
  const out: Step[] = [];
  const dbPrivs = o.databasePrivileges ?? db.databasePrivileges;
  if (dbPrivs.length) out.push({ sql: `GRANT ${dbPrivs.join(', ')} ON DATABASE ${quoteIdent(db.database)} TO ${r}` });
  for (const s of db.schemas) {
    const q = quoteIdent(s.schema);
    const add = (sql: string) => out.push({ sql, schema: s.schema });
    add(`REVOKE ALL ON ALL TABLES IN SCHEMA ${q} FROM ${r}`);
    add(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${q} FROM ${r}`);
    add(`GRANT ${s.schemaPrivileges.join(', ')} ON SCHEMA ${q} TO ${r}`);
    if (s.tablePrivileges.length) add(`GRANT ${s.tablePrivileges.join(', ')} ON ALL TABLES IN SCHEMA ${q} TO ${r}`);
    if (s.sequencePrivileges.length) add(`GRANT ${s.sequencePrivileges.join(', ')} ON ALL SEQUENCES IN SCHEMA ${q} TO ${r}`);
    const creators = [...new Set(o.creatorsFor?.(s.schema) ?? [])];
    const forRoles = creators.length ? ` FOR ROLE ${creators.map(quoteIdent).join(', ')}` : '';
    if (s.tablePrivileges.length)
      add(`ALTER DEFAULT PRIVILEGES${forRoles} IN SCHEMA ${q} GRANT ${s.tablePrivileges.join(', ')} ON TABLES TO ${r}`);
    if (s.sequencePrivileges.length)
      add(`ALTER DEFAULT PRIVILEGES${forRoles} IN SCHEMA ${q} GRANT ${s.sequencePrivileges.join(', ')} ON SEQUENCES TO ${r}`);
  }
  return out;
}

export interface ProvisionStatementOptions {
  /** The role exists already (and is a mayfly_managed member): no CREATE. */
  roleExists: boolean;
  /** The marker role does not exist yet and must be created first. */
  createMarker?: boolean;
  validUntil: Date;
  /** SCRAM verifier of the new password; omitted to keep the current password. */
  verifier?: string;
  /** Per database and schema: roles whose future tables are covered by default privileges. */
  creatorsFor?: (database: string, schema: string) => readonly string[];
  /** Per database: the database privileges to grant (default: the plan's). */
  databasePrivilegesFor?: (database: string) => readonly DatabasePrivilege[];
}

export interface ProvisionSteps {
  /** On the maintenance database, committed before the grants (new role only). */
  prepare: string[];
  /** Per database, in the plan's (sorted) order; each list is one transaction. */
  databases: { database: string; steps: Step[] }[];
  /** On the maintenance database once every database committed. */
  finalize: string[];
}

export function provisionSteps(plan: ProvisionPlan, o: ProvisionStatementOptions): ProvisionSteps {
  const prepare: string[] = [];
  if (!o.roleExists) {
    if (o.createMarker) prepare.push(createMarkerStatement());
    prepare.push(...createRoleStatements(plan.role, o.validUntil));
  }
  const databases = plan.databases.map((db) => {
    const opts: DatabaseStepOptions = {};
    if (o.databasePrivilegesFor) opts.databasePrivileges = o.databasePrivilegesFor(db.database);
    if (o.creatorsFor) opts.creatorsFor = (schema) => o.creatorsFor!(db.database, schema);
    return { database: db.database, steps: databaseSteps(plan.role, db, opts) };
  });
  return { prepare, databases, finalize: [enableLoginStatement(plan.role, o.validUntil, o.verifier)] };
}

/** The same as provisionSteps, as plain SQL text per phase (what tests and previews compare). */
export function provisionStatements(
  plan: ProvisionPlan,
  o: ProvisionStatementOptions,
): { prepare: string[]; databases: { database: string; statements: string[] }[]; finalize: string[] } {
  const s = provisionSteps(plan, o);
  return {
    prepare: s.prepare,
    databases: s.databases.map((d) => ({ database: d.database, statements: d.steps.map((x) => x.sql) })),
    finalize: s.finalize,
  };
}

// --- expiry and sweep -----------------------------------------------------------------

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
