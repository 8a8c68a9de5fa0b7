/**
 * SQL text for provisioning a plan: the one place both the language server (previews) and
 * the proxy (what runs) build it from. DDL cannot take bind parameters, so every
 * identifier is quoted here and every literal is checked against a strict shape first.
 *
 * Order matches the seed: role first, then per instance REVOKE ALL ON ALL TABLES, GRANT
 * USAGE ON SCHEMA, GRANT <privs> ON ALL TABLES — plus sequences and default privileges.
 * A new role is created NOLOGIN without a password and only gets LOGIN, its password (as a
 * SCRAM verifier) and VALID UNTIL once every database committed its grants.
 */
import type { DatabasePlan, DatabasePrivilege, ProvisionPlan } from './plan';

export const MARKER_ROLE = 'mayfly_managed';

/** Double-quotes an identifier (doubling embedded quotes); NUL cannot appear in one. */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new Error('identifier contains a NUL byte');
  return `"${name.replace(/"/g, '""')}"`;
}

const VERIFIER = /^SCRAM-SHA-256\$\d{1,7}:[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*:[A-Za-z0-9+/]+=*$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

/** A SCRAM verifier literal; refuses anything else so a plaintext password can never slip in. */
export function verifierLiteral(verifier: string): string {
  if (!VERIFIER.test(verifier)) throw new Error('refusing to embed a password that is not a SCRAM-SHA-256 verifier');
  return `'${verifier}'`;
}

/** VALID UNTIL literal, always UTC. */
export function timestampLiteral(at: Date): string {
  const iso = at.toISOString();
  if (!TIMESTAMP.test(iso)) throw new Error('invalid timestamp');
  return `'${iso}'`;
}

/** What previews show instead of a verifier. */
export const ELIDED_PASSWORD = "'<SCRAM-SHA-256 verifier>'";

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
  const password = verifier === ELIDED_PASSWORD ? ` ENCRYPTED PASSWORD ${ELIDED_PASSWORD}` : verifier ? ` ENCRYPTED PASSWORD ${verifierLiteral(verifier)}` : '';
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
  /** SCRAM verifier of the new password (or ELIDED_PASSWORD in previews); omitted to keep the current password. */
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

/** The whole plan for a new role, password elided: what hovers display. */
export function previewSql(plan: ProvisionPlan, now: Date = new Date()): { database: string; statements: string[] }[] {
  const validUntil = new Date(now.getTime() + plan.expirationNs / 1e6);
  const s = provisionStatements(plan, { roleExists: false, validUntil, verifier: ELIDED_PASSWORD });
  return [
    { database: '(maintenance database, first)', statements: s.prepare },
    ...s.databases,
    { database: '(maintenance database, after every database committed)', statements: s.finalize },
  ];
}
