/**
 * Pre-flight: everything that can be checked before changing anything, so that the common
 * failures (missing database or schema, a granter without CREATEROLE or without grant
 * rights, a same-named role Mayfly does not own) stop the run while nothing has changed,
 * with a message naming the database/schema and saying what to do.
 *
 * Grant rights matter because PostgreSQL does not fail a GRANT the granter may not make:
 * it warns "no privileges were granted" and carries on. We check grant options on every
 * table and sequence up front (and the provisioner also refuses any such warning).
 */
import type { DatabasePrivilege, ProvisionPlan } from '../../policy/plan';
import { MARKER_ROLE, quoteIdent } from '../../policy/sql';
import type { GranterClient } from './connection';
import { ProvisionError, type ProvisionErrorInit } from './errors';
import { canActFor, granterFacts, markerFacts, roleFacts, type GranterFacts, type MarkerFacts, type RoleFacts } from './facts';

export interface DatabaseReadiness {
  database: string;
  /** Database privileges to GRANT (those PUBLIC has and the granter cannot grant are left out). */
  grantPrivileges: DatabasePrivilege[];
  /** Per schema: roles whose future tables/sequences get default privileges. */
  creators: Map<string, string[]>;
}

export interface PreflightResult {
  granter: GranterFacts;
  role: RoleFacts;
  marker: MarkerFacts;
  databases: DatabaseReadiness[];
}

const MAX_IDENTIFIER_BYTES = 63;

type Fail = (init: Omit<ProvisionErrorInit, 'action'>) => ProvisionError;

/** Checks that need only the maintenance database. */
export async function checkRoleAndGranter(
  main: GranterClient,
  plan: ProvisionPlan,
  wantsNewPassword: boolean,
  fail: Fail,
): Promise<{ granter: GranterFacts; role: RoleFacts; marker: MarkerFacts }> {
  const role = plan.role;
  if (!role || Buffer.byteLength(role) > MAX_IDENTIFIER_BYTES || role.includes('\0'))
    throw fail({ cause: `invalid role name (must be 1 to ${MAX_IDENTIFIER_BYTES} bytes)`, hint: 'Check the policy that produced this plan.' });
  if (role === MARKER_ROLE) throw fail({ cause: `"${MARKER_ROLE}" is Mayfly's marker role, not a session role`, hint: 'Use another role name.' });
  if (!plan.databases.length) throw fail({ cause: 'the plan names no database', hint: 'Give the policy at least one instance.' });

  const granter = await granterFacts(main.client);
  const g = granter.user;
  if (!granter.superuser && !granter.createRole)
    throw fail({
      sqlstate: '42501',
      cause: `permission denied to create role: the granter "${g}" is neither a superuser nor has the CREATEROLE attribute`,
      hint: `As a superuser run ALTER ROLE ${quoteIdent(g)} CREATEROLE (on RDS/Cloud SQL the master user has it), or put a granter that has it in the plugin config entry.`,
    });

  const facts = await roleFacts(main.client, role, granter);
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

  const marker = await markerFacts(main.client, granter);
  if (!facts.exists && !marker.granterCanGrant)
    throw fail({
      sqlstate: '42501',
      cause: `the granter "${g}" may not add members to role "${MARKER_ROLE}": PostgreSQL 16+ requires ADMIN OPTION on it, and it was created by another role`,
      hint: `As a superuser run GRANT ${quoteIdent(MARKER_ROLE)} TO ${quoteIdent(g)} WITH ADMIN OPTION (or drop "${MARKER_ROLE}" while it has no members so that "${g}" creates it).`,
    });
  return { granter, role: facts, marker };
}

interface DbRow {
  datname: string;
  datallowconn: boolean;
  owner: string;
  priv: DatabasePrivilege | null;
  grantable: boolean | null;
  public_has: boolean | null;
}

/** Existence, connectability and database-level grant rights, from the maintenance database. */
export async function checkDatabases(
  main: GranterClient,
  plan: ProvisionPlan,
  granter: GranterFacts,
  fail: Fail,
): Promise<Map<string, { owner: string; grantPrivileges: DatabasePrivilege[] }>> {
  const names = plan.databases.map((d) => d.database);
  const privs = [...new Set(plan.databases.flatMap((d) => d.databasePrivileges))];
  const { rows } = await main.client.query(
    `SELECT d.datname, d.datallowconn, pg_get_userbyid(d.datdba) AS owner, p.priv,
            has_database_privilege(d.oid, p.priv || ' WITH GRANT OPTION') AS grantable,
            has_database_privilege('public', d.oid, p.priv) AS public_has
       FROM pg_database d LEFT JOIN unnest($2::text[]) AS p(priv) ON true
      WHERE d.datname = ANY($1)`,
    [names, privs],
  );
  const byName = new Map<string, DbRow[]>();
  for (const r of rows as DbRow[]) byName.set(r.datname, [...(byName.get(r.datname) ?? []), r]);
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

interface SchemaRow {
  nspname: string;
  oid: number;
  owner: string;
  usage_go: boolean;
  create_go: boolean;
}

/** Schemas, grant options on schemas/tables/sequences and default-privilege creators, on one database. */
export async function checkSchemas(
  c: GranterClient,
  plan: ProvisionPlan,
  database: string,
  databaseOwner: string,
  granter: GranterFacts,
  fail: Fail,
): Promise<Map<string, string[]>> {
  const db = plan.databases.find((d) => d.database === database)!;
  const { rows } = await c.client.query(
    `SELECT n.nspname, n.oid::int AS oid, pg_get_userbyid(n.nspowner) AS owner,
            has_schema_privilege(n.oid, 'USAGE WITH GRANT OPTION') AS usage_go,
            has_schema_privilege(n.oid, 'CREATE WITH GRANT OPTION') AS create_go
       FROM pg_namespace n WHERE n.nspname = ANY($1)`,
    [db.schemas.map((s) => s.schema)],
  );
  const found = new Map((rows as SchemaRow[]).map((r) => [r.nspname, r]));
  const creators = new Map<string, string[]>();
  for (const s of db.schemas) {
    const row = found.get(s.schema);
    const at = { database, schema: s.schema };
    if (!row) {
      const { rows: existing } = await c.client.query(
        `SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1 LIMIT 20`,
      );
      const list = existing.map((r: { nspname: string }) => `"${r.nspname}"`).join(', ');
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
    await checkRelations(c, row.oid, s.tablePrivileges, "('r','p','v','m','f')", 'has_table_privilege', 'TABLES', 'table', at, granter, fail);
    await checkRelations(c, row.oid, s.sequencePrivileges, "('S')", 'has_sequence_privilege', 'SEQUENCES', 'sequence', at, granter, fail);

    // Default privileges apply per creating role: cover the granter's future tables, and the
    // schema owner's when the granter may act for it. A schema owned by pg_database_owner
    // (public on 15+) gets its tables from the database owner, so that is the creator.
    const owner = row.owner === 'pg_database_owner' ? databaseOwner : row.owner;
    const list = [granter.user];
    if (owner !== granter.user && (await canActFor(c.client, granter, owner))) list.push(owner);
    creators.set(s.schema, list);
  }
  return creators;
}

async function checkRelations(
  c: GranterClient,
  schemaOid: number,
  privileges: readonly string[],
  relkinds: string,
  fn: 'has_table_privilege' | 'has_sequence_privilege',
  allKind: 'TABLES' | 'SEQUENCES',
  noun: string,
  at: { database: string; schema: string },
  granter: GranterFacts,
  fail: Fail,
): Promise<void> {
  if (!privileges.length || granter.superuser) return;
  const { rows } = await c.client.query(
    `SELECT c.relname, pg_get_userbyid(c.relowner) AS owner, string_agg(p.priv, ', ' ORDER BY p.priv) AS missing
       FROM pg_class c CROSS JOIN unnest($2::text[]) AS p(priv)
      WHERE c.relnamespace = $1 AND c.relkind IN ${relkinds}
        AND NOT ${fn}(c.oid, p.priv || ' WITH GRANT OPTION')
      GROUP BY c.relname, c.relowner ORDER BY c.relname`,
    [schemaOid, privileges],
  );
  if (!rows.length) return;
  const shown = rows.slice(0, 5).map((r: { relname: string; missing: string }) => `"${r.relname}" (${r.missing})`);
  const more = rows.length > 5 ? ` and ${rows.length - 5} more` : '';
  const owner = (rows[0] as { owner: string }).owner;
  throw fail({
    ...at,
    sqlstate: '42501',
    cause: `the granter "${granter.user}" cannot grant on ${rows.length} ${noun}(s) in schema "${at.schema}" of database "${at.database}", neither owning them nor holding the privilege WITH GRANT OPTION: ${shown.join(', ')}${more}`,
    hint: `As the owner (e.g. "${owner}") or a superuser run GRANT ${privileges.join(', ')} ON ALL ${allKind} IN SCHEMA ${quoteIdent(at.schema)} TO ${quoteIdent(granter.user)} WITH GRANT OPTION, or make "${granter.user}" their owner.`,
  });
}

/** The whole pre-flight. `open` connects to a plan database (the caller closes what it opened). */
export async function preflight(
  main: GranterClient,
  plan: ProvisionPlan,
  wantsNewPassword: boolean,
  open: (database: string) => Promise<GranterClient>,
  fail: Fail,
): Promise<PreflightResult> {
  const { granter, role, marker } = await checkRoleAndGranter(main, plan, wantsNewPassword, fail);
  const dbs = await checkDatabases(main, plan, granter, fail);
  const databases: DatabaseReadiness[] = [];
  for (const db of plan.databases) {
    const info = dbs.get(db.database)!;
    const c = await open(db.database);
    const creators = await checkSchemas(c, plan, db.database, info.owner, granter, fail);
    databases.push({ database: db.database, grantPrivileges: info.grantPrivileges, creators });
  }
  return { granter, role, marker, databases };
}
