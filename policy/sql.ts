/**
 * SQL text for a provisioning plan. DDL cannot take bind parameters, so every identifier
 * is quoted here and every literal is checked against a strict shape before it is embedded.
 */
import type { DatabasePlan, ProvisionPlan } from './plan';

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

export const ELIDED_PASSWORD = "'<SCRAM-SHA-256 verifier>'";

export interface RoleSqlOptions {
  /** The role exists already (ALTER instead of CREATE). */
  exists: boolean;
  validUntil: Date;
  /** SCRAM verifier of a new password; omitted when an existing live password is kept. */
  verifier?: string;
  /** Preview mode: show a placeholder instead of the verifier. */
  elidePassword?: boolean;
}

/** Statements run on the granter's maintenance database to create or extend the role. */
export function roleStatements(role: string, o: RoleSqlOptions): string[] {
  const password = o.elidePassword ? ` PASSWORD ${ELIDED_PASSWORD}` : o.verifier ? ` PASSWORD ${verifierLiteral(o.verifier)}` : '';
  const r = quoteIdent(role);
  const until = `VALID UNTIL ${timestampLiteral(o.validUntil)}`;
  if (o.exists) return [`ALTER ROLE ${r} WITH LOGIN${password} ${until}`];
  return [
    `CREATE ROLE ${r} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION${password} ${until}`,
    `GRANT ${quoteIdent(MARKER_ROLE)} TO ${r}`,
  ];
}

export interface GrantSqlOptions {
  /** Roles whose future tables the session role should see (default privileges are per creator). */
  defaultPrivilegesFor?: string[];
}

/** Statements run in one transaction on a connection to `db.database`. */
export function databaseStatements(role: string, db: DatabasePlan, o: GrantSqlOptions = {}): string[] {
  const r = quoteIdent(role);
  const d = quoteIdent(db.database);
  const out = [`GRANT ${db.databasePrivileges.join(', ')} ON DATABASE ${d} TO ${r}`];
  for (const s of db.schemas) {
    const q = quoteIdent(s.schema);
    out.push(`REVOKE ALL ON ALL TABLES IN SCHEMA ${q} FROM ${r}`);
    out.push(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${q} FROM ${r}`);
    out.push(`GRANT ${s.schemaPrivileges.join(', ')} ON SCHEMA ${q} TO ${r}`);
    if (s.tablePrivileges.length) out.push(`GRANT ${s.tablePrivileges.join(', ')} ON ALL TABLES IN SCHEMA ${q} TO ${r}`);
    if (s.sequencePrivileges.length)
      out.push(`GRANT ${s.sequencePrivileges.join(', ')} ON ALL SEQUENCES IN SCHEMA ${q} TO ${r}`);
    const creators = o.defaultPrivilegesFor ?? [];
    const forRoles = creators.length ? ` FOR ROLE ${creators.map(quoteIdent).join(', ')}` : '';
    if (s.tablePrivileges.length)
      out.push(`ALTER DEFAULT PRIVILEGES${forRoles} IN SCHEMA ${q} GRANT ${s.tablePrivileges.join(', ')} ON TABLES TO ${r}`);
    if (s.sequencePrivileges.length)
      out.push(`ALTER DEFAULT PRIVILEGES${forRoles} IN SCHEMA ${q} GRANT ${s.sequencePrivileges.join(', ')} ON SEQUENCES TO ${r}`);
  }
  return out;
}

/** The whole plan as SQL per database, password elided: what hovers and `policy show` display. */
export function previewSql(plan: ProvisionPlan, now: Date = new Date()): { database: string; statements: string[] }[] {
  const validUntil = new Date(now.getTime() + plan.expirationNs / 1e6);
  return [
    { database: '(maintenance database)', statements: roleStatements(plan.role, { exists: false, validUntil, elidePassword: true }) },
    ...plan.databases.map((db) => ({ database: db.database, statements: databaseStatements(plan.role, db) })),
  ];
}
