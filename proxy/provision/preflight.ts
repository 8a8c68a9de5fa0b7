/**
 * Pre-flight: everything that can be checked before changing anything, so that the common
 * failures (missing database or schema, a granter without CREATEROLE or without grant
 * rights, a same-named role Mayfly does not own) stop the run while nothing has changed,
 * with a message naming the database/schema and saying what to do.
 *
 * Grant rights matter because PostgreSQL does not fail a GRANT the granter may not make:
 * it warns "no privileges were granted" and carries on. We check grant options on every
 * table and sequence up front (and the provisioner also refuses any such warning).
 *
 * The facts come in few round trips, which the provisioner runs in parallel: one batch on
 * the maintenance database (granter, role, marker and databases; sent right after the role
 * lock in the same batch), and one or two per plan database (see below: schemas, grant
 * options, default-privilege creators, and whether an existing role is already current).
 * The checks below are then pure and run in the same order as ever, so the first problem
 * reported is the same one.
 */
import type pg from 'pg';
import type { DatabasePlan, DatabasePrivilege, ProvisionPlan } from '../../policy/plan';
import { MARKER_ROLE, quoteIdent } from '../../policy/sql';
import { ProvisionError, type ProvisionErrorInit } from './errors';
import { GRANTER_FACTS, MARKER_FACTS, parseGranterFacts, parseMarkerFacts, parseRoleFacts, ROLE_FACTS, type GranterFacts, type MarkerFacts, type RoleFacts } from './facts';
import type { BatchPart, PooledClient, PreparedQuery } from './pool';
import { sqlLiteral, textArrayLiteral } from './sqlText';

export interface DatabaseReadiness {
  database: string;
  /** Database privileges to GRANT (those PUBLIC has and the granter cannot grant are left out). */
  grantPrivileges: DatabasePrivilege[];
  /** Per schema: roles whose future tables/sequences get default privileges. */
  creators: Map<string, string[]>;
  /** The existing role already has exactly what this database's statements would give it (see databaseUnchanged). */
  unchanged: boolean;
}

export interface PreflightResult {
  granter: GranterFacts;
  role: RoleFacts;
  marker: MarkerFacts;
  databases: DatabaseReadiness[];
}

const MAX_IDENTIFIER_BYTES = 63;

type Fail = (init: Omit<ProvisionErrorInit, 'action'>) => ProvisionError;

/** Checks of the plan itself, before any SQL names the role. */
export function checkPlan(plan: ProvisionPlan, fail: Fail): void {
  const role = plan.role;
  if (!role || Buffer.byteLength(role) > MAX_IDENTIFIER_BYTES || role.includes('\0'))
    throw fail({ cause: `invalid role name (must be 1 to ${MAX_IDENTIFIER_BYTES} bytes)`, hint: 'Check the policy that produced this plan.' });
  if (role === MARKER_ROLE) throw fail({ cause: `"${MARKER_ROLE}" is Mayfly's marker role, not a session role`, hint: 'Use another role name.' });
  if (!plan.databases.length) throw fail({ cause: 'the plan names no database', hint: 'Give the policy at least one instance.' });
}

interface DbRow {
  datname: string;
  datallowconn: boolean;
  owner: string;
  priv: DatabasePrivilege | null;
  grantable: boolean | null;
  public_has: boolean | null;
}

export interface MainFacts {
  granter: GranterFacts;
  role: RoleFacts;
  marker: MarkerFacts;
  databaseRows: DbRow[];
}

/** $1: database names, $2: database privileges wanted. One row per (database, privilege). */
const DATABASE_FACTS: PreparedQuery = {
  name: 'mayfly_database_facts_v1',
  types: ['text[]', 'text[]'],
  sql: `SELECT d.datname, d.datallowconn, pg_get_userbyid(d.datdba) AS owner, p.priv,
            has_database_privilege(d.oid, p.priv || ' WITH GRANT OPTION') AS grantable,
            has_database_privilege('public', d.oid, p.priv) AS public_has
       FROM pg_database d LEFT JOIN unnest($2::text[]) AS p(priv) ON true
      WHERE d.datname = ANY($1::text[])`,
};

/** The maintenance database's facts as parts of one batch (prepared once per pooled connection). */
export function mainFactsStatements(plan: ProvisionPlan): BatchPart[] {
  const names = plan.databases.map((d) => d.database);
  const privs = [...new Set(plan.databases.flatMap((d) => d.databasePrivileges))];
  const marker = sqlLiteral(MARKER_ROLE);
  return [
    { query: GRANTER_FACTS, args: [] },
    { query: ROLE_FACTS, args: [sqlLiteral(plan.role), marker] },
    { query: MARKER_FACTS, args: [marker] },
    { query: DATABASE_FACTS, args: [textArrayLiteral(names), textArrayLiteral(privs)] },
  ];
}

/** Reads mainFactsStatements' results: the last four of the batch. */
export function parseMainFacts(results: pg.QueryResult[]): MainFacts {
  const [g, r, m, d] = results.slice(-4).map((x) => x.rows);
  const granter = parseGranterFacts(g!);
  return { granter, role: parseRoleFacts(r!, granter), marker: parseMarkerFacts(m!, granter), databaseRows: d as DbRow[] };
}

/** Checks that need only the maintenance database. */
export function checkRoleAndGranter(plan: ProvisionPlan, wantsNewPassword: boolean, main: MainFacts, fail: Fail): void {
  const role = plan.role;
  const { granter, role: facts, marker } = main;
  const g = granter.user;
  if (!granter.superuser && !granter.createRole)
    throw fail({
      sqlstate: '42501',
      cause: `permission denied to create role: the granter "${g}" is neither a superuser nor has the CREATEROLE attribute`,
      hint: `As a superuser run ALTER ROLE ${quoteIdent(g)} CREATEROLE (on RDS/Cloud SQL the master user has it), or put a granter that has it in the plugin config entry.`,
    });

  if (facts.exists && !facts.managed)
    throw fail({
      cause: `role "${role}" already exists but is not a member of "${MARKER_ROLE}", so Mayfly did not create it and refuses to take it over (it would change its password and privileges)`,
      hint: `Drop or rename that role if it is stale; if it really is a Mayfly session role, mark it with GRANT ${quoteIdent(MARKER_ROLE)} TO ${quoteIdent(role)}.`,
    });
  if (facts.exists && facts.dangerousAttributes.length)
    throw fail({
      cause: `role "${role}" has ${facts.dangerousAttributes.join(', ')}, which a session role never has`,
      hint: `Someone changed it by hand: inspect it, then ALTER ROLE ${quoteIdent(role)} NO${facts.dangerousAttributes.join(' NO')} or drop it.`,
    });
  if (facts.exists && !facts.granterAdmin)
    throw fail({
      sqlstate: '42501',
      cause: `the granter "${g}" may not alter role "${role}" (PostgreSQL 16+ requires ADMIN OPTION on it; another granter created it)`,
      hint: `As a superuser run GRANT ${quoteIdent(role)} TO ${quoteIdent(g)} WITH ADMIN OPTION, or provision with the granter that created it.`,
    });
  if (!facts.exists && !wantsNewPassword)
    throw fail({ cause: `role "${role}" does not exist and no password was given for it`, hint: 'Pass newPassword when the role is created.' });

  if (!facts.exists && !marker.granterCanGrant)
    throw fail({
      sqlstate: '42501',
      cause: `the granter "${g}" may not add members to role "${MARKER_ROLE}": PostgreSQL 16+ requires ADMIN OPTION on it, and it was created by another role`,
      hint: `As a superuser run GRANT ${quoteIdent(MARKER_ROLE)} TO ${quoteIdent(g)} WITH ADMIN OPTION (or drop "${MARKER_ROLE}" while it has no members so that "${g}" creates it).`,
    });
}

/** Existence, connectability and database-level grant rights, from the maintenance database's facts. */
export function checkDatabases(
  plan: ProvisionPlan,
  granter: GranterFacts,
  rows: DbRow[],
  fail: Fail,
): Map<string, { owner: string; grantPrivileges: DatabasePrivilege[] }> {
  const byName = new Map<string, DbRow[]>();
  for (const r of rows) byName.set(r.datname, [...(byName.get(r.datname) ?? []), r]);
  const out = new Map<string, { owner: string; grantPrivileges: DatabasePrivilege[] }>();
  for (const db of plan.databases) {
    const found = byName.get(db.database);
    if (!found)
      throw fail({
        database: db.database,
        sqlstate: '3D000',
        cause: `database "${db.database}" does not exist on this server`,
        hint: `Create it, or remove the instances that name it (${db.schemas.flatMap((s) => s.instances).join(', ') || db.database}) from the policy.`,
      });
    const first = found[0]!;
    if (!first.datallowconn)
      throw fail({
        database: db.database,
        cause: `database "${db.database}" does not allow connections (datallowconn is false)`,
        hint: `Run ALTER DATABASE ${quoteIdent(db.database)} ALLOW_CONNECTIONS true, or remove it from the policy.`,
      });
    const grant: DatabasePrivilege[] = [];
    for (const p of db.databasePrivileges) {
      const row = found.find((r) => r.priv === p);
      if (row?.grantable) grant.push(p);
      else if (!row?.public_has)
        throw fail({
          database: db.database,
          sqlstate: '42501',
          cause: `the granter "${granter.user}" cannot grant ${p} on database "${db.database}" (it neither owns the database nor holds ${p} WITH GRANT OPTION), and PUBLIC does not have ${p} there`,
          hint: `As the owner ("${first.owner}") or a superuser run GRANT ${p} ON DATABASE ${quoteIdent(db.database)} TO ${quoteIdent(granter.user)} WITH GRANT OPTION.`,
        });
      // else: PUBLIC already gives it to every role, the session role included.
    }
    out.set(db.database, { owner: first.owner, grantPrivileges: grant });
  }
  return out;
}

/** A relation the granter cannot grant on, with what is missing ("SELECT, UPDATE"). */
interface MissingGrant {
  relname: string;
  owner: string;
  missing: string;
}

/*
 * Facts from each plan database come in up to two round trips on the connection its grants
 * will use, so that no query is planned or run for nothing: catalog queries are prepared once
 * per pooled connection, but PostgreSQL drops every cached plan of a database whenever a
 * schema's ACL changes there (any GRANT ON SCHEMA), so their planning cost is paid again after
 * each new role's provisioning.
 * 1. SCHEMA_FACTS, in parallel with the role lock and the maintenance-database facts; with
 *    it GRANT_OPTION_FACTS when the granter was recently seen not to be a superuser.
 * 2. Once those tell whether the granter is a superuser and whether the role exists (and the
 *    role lock is held): GRANT_OPTION_FACTS (non-superuser granter, if not sent yet) and
 *    CURRENT_FACTS (existing role).
 */

export interface SchemaRow {
  schema: string;
  found: boolean;
  owner: string | null;
  /** The role whose future tables appear in the schema: its owner, or the database owner for pg_database_owner. */
  creator: string | null;
  usage_go: boolean | null;
  create_go: boolean | null;
  /** The granter may ALTER DEFAULT PRIVILEGES FOR ROLE creator (superuser; PG16+ SET on it; 15 membership). */
  can_act: boolean | null;
}

/** $1: the plan's schema names. One row per schema, in plan order. */
export const SCHEMA_FACTS: PreparedQuery = {
  name: 'mayfly_schema_facts_v2',
  types: ['text[]'],
  sql: `SELECT w.schema, n.oid IS NOT NULL AS found, pg_get_userbyid(n.nspowner) AS owner,
               pg_get_userbyid(x.creator) AS creator,
               has_schema_privilege(n.oid, 'USAGE WITH GRANT OPTION') AS usage_go,
               has_schema_privilege(n.oid, 'CREATE WITH GRANT OPTION') AS create_go,
               CASE WHEN n.oid IS NOT NULL
                    THEN pg_has_role(current_user, x.creator, CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET' ELSE 'MEMBER' END)
               END AS can_act
          FROM unnest($1::text[]) WITH ORDINALITY AS w(schema, ord)
          LEFT JOIN pg_namespace n ON n.nspname = w.schema
          LEFT JOIN LATERAL (
            SELECT CASE WHEN n.nspowner = 'pg_database_owner'::regrole
                        THEN (SELECT d.datdba FROM pg_database d WHERE d.datname = current_database())
                        ELSE n.nspowner END AS creator) x ON true
         ORDER BY w.ord`,
};

export function schemaFactsArgs(db: DatabasePlan): string[] {
  return [textArrayLiteral(db.schemas.map((s) => s.schema))];
}

interface GrantOptionRow {
  missing_tables: MissingGrant[] | null;
  missing_sequences: MissingGrant[] | null;
}

/**
 * Tables and sequences the (non-superuser) granter cannot grant the plan's privileges on.
 * $1: schema names; $2, $3: per schema, the table and sequence privileges joined by commas.
 * One row per schema, in order (nothing for a missing schema).
 */
const GRANT_OPTION_FACTS: PreparedQuery = {
  name: 'mayfly_grant_option_facts_v2',
  types: ['text[]', 'text[]', 'text[]'],
  sql: `SELECT
          CASE WHEN w.nsp IS NULL OR w.tables = '' THEN NULL ELSE (
            SELECT json_agg(json_build_object('relname', m.relname, 'owner', m.owner, 'missing', m.missing) ORDER BY m.relname)
              FROM (SELECT c.relname, pg_get_userbyid(c.relowner) AS owner, string_agg(p.priv, ', ' ORDER BY p.priv) AS missing
                      FROM pg_class c CROSS JOIN unnest(string_to_array(w.tables, ',')) AS p(priv)
                     WHERE c.relnamespace = w.nsp AND c.relkind IN ('r','p','v','m','f')
                       AND NOT has_table_privilege(c.oid, p.priv || ' WITH GRANT OPTION')
                     GROUP BY c.relname, c.relowner) m) END AS missing_tables,
          CASE WHEN w.nsp IS NULL OR w.sequences = '' THEN NULL ELSE (
            SELECT json_agg(json_build_object('relname', m.relname, 'owner', m.owner, 'missing', m.missing) ORDER BY m.relname)
              FROM (SELECT c.relname, pg_get_userbyid(c.relowner) AS owner, string_agg(p.priv, ', ' ORDER BY p.priv) AS missing
                      FROM pg_class c CROSS JOIN unnest(string_to_array(w.sequences, ',')) AS p(priv)
                     WHERE c.relnamespace = w.nsp AND c.relkind = 'S'
                       AND NOT has_sequence_privilege(c.oid, p.priv || ' WITH GRANT OPTION')
                     GROUP BY c.relname, c.relowner) m) END AS missing_sequences
          FROM (SELECT u.*, n.oid AS nsp
                  FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(schema, tables, sequences, ord)
                  LEFT JOIN pg_namespace n ON n.nspname = u.schema) w
         ORDER BY w.ord`,
};

interface CurrentRow {
  current: boolean;
  /** Privileges the role holds on this database from its owner (same on every row). */
  db_privs_held: string[] | null;
  /** A GRANT ON DATABASE by the granter is recorded with the owner as grantor (superuser or owner). */
  db_grantor_is_owner: boolean;
}

/**
 * Whether an existing role's privileges in each schema already are exactly what the
 * provisioning statements would leave: they REVOKE ALL then GRANT on every table and
 * sequence (so the role's privileges from their owner, the grantor a superuser or owner
 * granter acts as, become exactly the plan's, without grant option or column privileges;
 * pg_shdepend lists the columns the role has privileges on, whoever granted them), and only
 * add to the schema's and the default privileges (so those must already include the plan's).
 * Only ever true where the granter is a superuser or the object's owner (the grantor is then
 * certain); anything else counts as changed. Default privileges are checked for the roles
 * checkSchemas puts in FOR ROLE: the granter, and the schema's creator when it may act for it.
 * $1: schema names; per schema, joined by commas: $2 table, $3 sequence, $4 schema
 * privileges; $5: the role.
 */
const CURRENT_FACTS: PreparedQuery = {
  name: 'mayfly_current_facts_v2',
  types: ['text[]', 'text[]', 'text[]', 'text[]', 'name'],
  sql: `WITH me AS (SELECT r.oid, r.rolsuper AS superuser, current_setting('server_version_num')::int AS version_num
                      FROM pg_roles r WHERE r.rolname = current_user),
             t AS (SELECT r.oid FROM pg_roles r WHERE r.rolname = $5),
             db AS (SELECT d.oid, d.datdba, d.datacl FROM pg_database d WHERE d.datname = current_database()),
             w AS (
               SELECT u.*, n.oid AS nsp, n.nspowner, n.nspacl,
                      CASE WHEN n.nspowner = 'pg_database_owner'::regrole THEN db.datdba ELSE n.nspowner END AS creator
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS u(schema, tables, sequences, schema_privs, ord)
                 LEFT JOIN pg_namespace n ON n.nspname = u.schema
                CROSS JOIN db)
        SELECT COALESCE(w.nsp IS NOT NULL
                 AND (me.superuser OR w.nspowner = me.oid)
                 AND string_to_array(w.schema_privs, ',')
                     <@ ARRAY(SELECT a.privilege_type FROM aclexplode(w.nspacl) a WHERE a.grantee = t.oid AND a.grantor = w.nspowner)
                 AND NOT EXISTS (
                   SELECT 1 FROM pg_class c
                    CROSS JOIN LATERAL (SELECT string_to_array(CASE WHEN c.relkind = 'S' THEN w.sequences ELSE w.tables END, ',') AS privs) want
                    WHERE c.relnamespace = w.nsp AND c.relkind IN ('r','p','v','m','f','S')
                      AND NOT ((me.superuser OR c.relowner = me.oid)
                               AND (SELECT count(*) = cardinality(want.privs)
                                           AND bool_and(a.privilege_type = ANY (want.privs) AND NOT a.is_grantable) IS NOT FALSE
                                      FROM aclexplode(c.relacl) a WHERE a.grantee = t.oid AND a.grantor = c.relowner)))
                 AND NOT EXISTS (
                   SELECT 1 FROM pg_shdepend sd JOIN pg_class c ON c.oid = sd.objid
                    WHERE sd.refclassid = 'pg_authid'::regclass AND sd.refobjid = t.oid AND sd.dbid = db.oid
                      AND sd.classid = 'pg_class'::regclass AND sd.objsubid <> 0 AND c.relnamespace = w.nsp)
                 AND NOT EXISTS (
                   SELECT 1
                     FROM (VALUES ('r', w.tables), ('S', w.sequences)) AS k(objtype, privs)
                     CROSS JOIN unnest(CASE WHEN w.creator <> me.oid
                                             AND (me.superuser OR pg_has_role(current_user, w.creator, CASE WHEN me.version_num >= 160000 THEN 'SET' ELSE 'MEMBER' END))
                                            THEN ARRAY[me.oid, w.creator] ELSE ARRAY[me.oid] END) AS cr(oid)
                     CROSS JOIN unnest(string_to_array(k.privs, ',')) AS x(priv)
                    WHERE x.priv NOT IN (
                      SELECT a.privilege_type FROM pg_default_acl d, aclexplode(d.defaclacl) a
                       WHERE d.defaclrole = cr.oid AND d.defaclnamespace = w.nsp AND d.defaclobjtype = k.objtype::"char"
                         AND a.grantee = t.oid AND a.grantor = cr.oid)), false) AS current,
               ARRAY(SELECT a.privilege_type FROM aclexplode(db.datacl) a WHERE a.grantee = t.oid AND a.grantor = db.datdba) AS db_privs_held,
               (me.superuser OR db.datdba = me.oid) AS db_grantor_is_owner
          FROM w CROSS JOIN me CROSS JOIN t CROSS JOIN db
         ORDER BY w.ord`,
};

/**
 * The statements of the second kind for one database: grant options (for a non-superuser
 * granter) and/or whether the existing role is current. They need only the plan, so they can
 * go in the first round trip when it is already likely that they will be needed.
 */
export function moreSchemaFacts(db: DatabasePlan, want: { grantOptions: boolean; current: boolean }, roleName: string): BatchPart[] {
  const parts: BatchPart[] = [];
  const schemas = textArrayLiteral(db.schemas.map((s) => s.schema));
  const tables = textArrayLiteral(db.schemas.map((s) => s.tablePrivileges.join(',')));
  const sequences = textArrayLiteral(db.schemas.map((s) => s.sequencePrivileges.join(',')));
  if (want.grantOptions) parts.push({ query: GRANT_OPTION_FACTS, args: [schemas, tables, sequences] });
  if (want.current)
    parts.push({
      query: CURRENT_FACTS,
      args: [schemas, tables, sequences, textArrayLiteral(db.schemas.map((s) => s.schemaPrivileges.join(','))), sqlLiteral(roleName)],
    });
  return parts;
}

/** Reads moreSchemaFacts' results (in the same order). */
export function parseMoreSchemaFacts(
  parts: BatchPart[],
  results: pg.QueryResult[],
): { grantOptions?: GrantOptionRow[]; current?: CurrentRow[] } {
  const out: { grantOptions?: GrantOptionRow[]; current?: CurrentRow[] } = {};
  parts.forEach((part, i) => {
    if (typeof part === 'string') return;
    if (part.query === GRANT_OPTION_FACTS) out.grantOptions = results[i]!.rows as GrantOptionRow[];
    if (part.query === CURRENT_FACTS) out.current = results[i]!.rows as CurrentRow[];
  });
  return out;
}

/**
 * Whether provisioning would change nothing on this database for the (existing) role: every
 * schema is current and the role already holds the database privileges to grant, from the
 * grantor the GRANT would record. Such a database is left alone (no transaction, no lock).
 */
export function databaseUnchanged(db: DatabasePlan, current: CurrentRow[] | undefined, grantPrivileges: readonly DatabasePrivilege[]): boolean {
  if (!current || !db.schemas.length || current.length !== db.schemas.length || !current.every((r) => r.current === true)) return false;
  const first = current[0]!;
  if (!grantPrivileges.length) return true;
  return first.db_grantor_is_owner && grantPrivileges.every((p) => (first.db_privs_held ?? []).includes(p));
}

/** Schemas, grant options on schemas/tables/sequences and default-privilege creators, on one database. */
export async function checkSchemas(
  c: PooledClient,
  db: DatabasePlan,
  rows: SchemaRow[],
  grantOptions: GrantOptionRow[] | undefined,
  granter: GranterFacts,
  fail: Fail,
): Promise<Map<string, string[]>> {
  const database = db.database;
  const creators = new Map<string, string[]>();
  for (const [i, s] of db.schemas.entries()) {
    const row = rows[i];
    const at = { database, schema: s.schema };
    if (!row?.found) {
      const { rows: existing } = await c.query<{ nspname: string }>(
        `SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1 LIMIT 20`,
      );
      const list = existing.map((r) => `"${r.nspname}"`).join(', ');
      throw fail({
        ...at,
        sqlstate: '3F000',
        cause: `schema "${s.schema}" does not exist in database "${database}" (named by ${s.instances.join(', ') || 'the plan'})`,
        hint: `Create the schema, or fix the policy's instances; schemas in "${database}": ${list || 'none'}.`,
      });
    }
    for (const p of s.schemaPrivileges) {
      const ok = p === 'USAGE' ? row.usage_go : row.create_go;
      if (!ok)
        throw fail({
          ...at,
          sqlstate: '42501',
          cause: `the granter "${granter.user}" cannot grant ${p} on schema "${s.schema}" (it neither owns it nor holds ${p} WITH GRANT OPTION)`,
          hint: `As the schema owner ("${row.owner}") or a superuser run GRANT ${p} ON SCHEMA ${quoteIdent(s.schema)} TO ${quoteIdent(granter.user)} WITH GRANT OPTION, or ALTER SCHEMA ${quoteIdent(s.schema)} OWNER TO ${quoteIdent(granter.user)}.`,
        });
    }
    if (!granter.superuser) {
      refuseMissing(grantOptions?.[i]?.missing_tables ?? null, s.tablePrivileges, 'TABLES', 'table', at, granter, fail);
      refuseMissing(grantOptions?.[i]?.missing_sequences ?? null, s.sequencePrivileges, 'SEQUENCES', 'sequence', at, granter, fail);
    }

    // Default privileges apply per creating role: cover the granter's future tables, and the
    // schema owner's when the granter may act for it. A schema owned by pg_database_owner
    // (public on 15+) gets its tables from the database owner, so that is the creator.
    const owner = row.creator!;
    const list = [granter.user];
    if (owner !== granter.user && row.can_act) list.push(owner);
    creators.set(s.schema, list);
  }
  return creators;
}

function refuseMissing(
  rows: MissingGrant[] | null,
  privileges: readonly string[],
  allKind: 'TABLES' | 'SEQUENCES',
  noun: string,
  at: { database: string; schema: string },
  granter: GranterFacts,
  fail: Fail,
): void {
  if (!privileges.length || !rows?.length) return;
  const shown = rows.slice(0, 5).map((r) => `"${r.relname}" (${r.missing})`);
  const more = rows.length > 5 ? ` and ${rows.length - 5} more` : '';
  const owner = rows[0]!.owner;
  throw fail({
    ...at,
    sqlstate: '42501',
    cause: `the granter "${granter.user}" cannot grant on ${rows.length} ${noun}(s) in schema "${at.schema}" of database "${at.database}", neither owning them nor holding the privilege WITH GRANT OPTION: ${shown.join(', ')}${more}`,
    hint: `As the owner (e.g. "${owner}") or a superuser run GRANT ${privileges.join(', ')} ON ALL ${allKind} IN SCHEMA ${quoteIdent(at.schema)} TO ${quoteIdent(granter.user)} WITH GRANT OPTION, or make "${granter.user}" their owner.`,
  });
}
