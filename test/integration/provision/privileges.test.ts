// Privileges hoop got wrong or never granted: TEMPORARY on the database and CREATE on the
// schema (hoop failed at GRANT time), default privileges for tables created later by a schema
// owner other than the granter (also for public, owned by pg_database_owner on 15+), and a
// non-superuser granter on PostgreSQL 16+ that creates the marker role itself.
import assert from 'node:assert/strict';
import { createSampleData } from '../../../proxy/demo/sampleData';
import { provision, ProvisionError, sweepExpiredRoles } from '../../../proxy/provision';
import {
  createGranter,
  dropRoleEverywhere,
  planFor,
  randomPassword,
  runAs,
  startDebianPostgres15,
  startEmbeddedPostgres,
  type PgServer,
} from '../../support/postgres';

const HOUR = 3600_000;
const soon = () => new Date(Date.now() + HOUR);

for (const [label, start] of [
  ['PostgreSQL 18 (embedded)', startEmbeddedPostgres],
  ['PostgreSQL 15 (Debian)', startDebianPostgres15],
] as const) {
  describe(`database and schema privileges on ${label}`, () => {
    let server: PgServer;
    const db = 'mf_privs_db';
    const dbOwner = 'mf_privs_db_owner';
    const schemaOwner = 'mf_privs_schema_owner';
    const temp = 'mf_privs_temp';
    const readerRole = 'mf_privs_reader';
    const noTemp = 'mf_privs_no_temp';
    const roles = [temp, readerRole, noTemp, 'mf_privs_granter', schemaOwner, dbOwner];
    const pw = randomPassword();

    before(async () => {
      server = await start();
      await createSampleData(server.superuser);
      await server.dropDatabase(db);
      for (const r of roles) await dropRoleEverywhere(server, r);
      await server.query('postgres', `CREATE ROLE ${dbOwner} NOLOGIN`);
      await server.query('postgres', `CREATE ROLE ${schemaOwner} NOLOGIN`);
      await server.query('postgres', `CREATE DATABASE ${db} OWNER ${dbOwner}`);
      await server.query(db, `REVOKE TEMPORARY ON DATABASE ${db} FROM PUBLIC`);
      await server.query(db, `CREATE SCHEMA reports AUTHORIZATION ${schemaOwner}`);
      if (server.major < 15) await server.query(db, `ALTER SCHEMA public OWNER TO ${dbOwner}`);
    });

    after(async () => {
      await server.dropDatabase(db);
      for (const r of roles) await dropRoleEverywhere(server, r);
    });

    it('TEMPORARY goes to the database and CREATE to the schema; without TEMPORARY, no temp tables', async () => {
      await provision(server.superuser, planFor({ instances: [db], privileges: ['SELECT', 'CREATE', 'TEMPORARY'], role: temp }), {
        validUntil: soon(),
        newPassword: pw,
      });
      await runAs(server, temp, pw, db, 'CREATE TEMP TABLE scratch (x int)');
      await runAs(server, temp, pw, db, 'CREATE TABLE public.made_by_session (x int)');
      await runAs(server, temp, pw, db, 'DROP TABLE public.made_by_session');
      await provision(server.superuser, planFor({ instances: [db], privileges: ['SELECT'], role: noTemp }), { validUntil: soon(), newPassword: pw });
      await assert.rejects(runAs(server, noTemp, pw, db, 'CREATE TEMP TABLE scratch (x int)'), /permission denied/);
      await assert.rejects(runAs(server, noTemp, pw, db, 'CREATE TABLE public.nope (x int)'), /permission denied/);
    });

    it('tables created later by a third-party schema owner and by the database owner (public) are readable', async () => {
      await provision(server.superuser, planFor({ instances: [db, `${db}.reports`], privileges: ['SELECT'], role: readerRole }), {
        validUntil: soon(),
        newPassword: pw,
      });
      await server.query(db, `SET ROLE ${schemaOwner}; CREATE TABLE reports.monthly (id serial PRIMARY KEY, total int); INSERT INTO reports.monthly (total) VALUES (42); RESET ROLE`);
      await server.query(db, `SET ROLE ${dbOwner}; CREATE TABLE public.by_db_owner (v text); INSERT INTO public.by_db_owner VALUES ('db owner'); RESET ROLE`);
      assert.deepEqual(await runAs(server, readerRole, pw, db, 'SELECT total FROM reports.monthly'), [{ total: 42 }]);
      assert.deepEqual(await runAs(server, readerRole, pw, db, 'SELECT v FROM public.by_db_owner'), [{ v: 'db owner' }]);
      await assert.rejects(runAs(server, readerRole, pw, db, 'INSERT INTO reports.monthly (total) VALUES (1)'), /permission denied/);
    });

    it('a non-superuser granter that cannot grant TEMPORARY (and PUBLIC lacks it) is stopped, told the fix', async () => {
      const g = await createGranter(server, 'mf_privs_granter', { markerAdmin: true, grantOption: [{ database: db, schema: 'public' }] });
      const plan = planFor({ instances: [db], privileges: ['SELECT', 'TEMPORARY'], role: 'mf_privs_never' });
      await assert.rejects(provision(g, plan, { validUntil: soon(), newPassword: pw }), (e: ProvisionError) => {
        assert.ok(e instanceof ProvisionError);
        assert.equal(e.database, db);
        assert.match(e.message, /cannot grant TEMPORARY on database "mf_privs_db"/);
        assert.match(e.hint, /GRANT TEMPORARY ON DATABASE "mf_privs_db" TO "mf_privs_granter" WITH GRANT OPTION/);
        return true;
      });
      // CONNECT alone is fine: PUBLIC has it, so nothing needs granting at the database level.
      await provision(g, planFor({ instances: [db], privileges: ['SELECT'], role: 'mf_privs_never' }), { validUntil: soon(), newPassword: pw });
      await runAs(server, 'mf_privs_never', pw, db, 'SELECT 1');
      // A superuser's sweep also removes what this other granter granted (DROP OWNED alone would not).
      await server.query('postgres', "ALTER ROLE mf_privs_never VALID UNTIL '2001-01-01Z'");
      const report = await sweepExpiredRoles(server.superuser, { graceMs: 0 });
      assert.equal(report.roles.find((r) => r.role === 'mf_privs_never')?.status, 'dropped', JSON.stringify(report));
    });

    it('a database that does not allow connections is refused up front', async () => {
      await server.query('postgres', `ALTER DATABASE ${db} ALLOW_CONNECTIONS false`);
      try {
        await assert.rejects(
          provision(server.superuser, planFor({ instances: ['testdb', db], privileges: ['SELECT'], role: 'mf_privs_never' }), { validUntil: soon(), newPassword: pw }),
          (e: ProvisionError) => e.database === db && /does not allow connections/.test(e.message) && /ALLOW_CONNECTIONS true/.test(e.hint),
        );
        assert.deepEqual(await server.query('postgres', "SELECT 1 FROM pg_roles WHERE rolname = 'mf_privs_never'"), []);
      } finally {
        await server.query('postgres', `ALTER DATABASE ${db} ALLOW_CONNECTIONS true`);
      }
    });
  });
}

describe('a non-superuser granter on PostgreSQL 18 creates mayfly_managed when it is missing', () => {
  let server: PgServer;
  const saved = 'mayfly_managed_saved_by_test';
  const role = 'mf_marker_by_granter';

  before(async () => {
    server = await startEmbeddedPostgres();
    await createSampleData(server.superuser);
    await dropRoleEverywhere(server, role);
    // Park the existing marker (other tests' roles are members) so this granter starts from scratch.
    const exists = await server.query('postgres', "SELECT 1 FROM pg_roles WHERE rolname = 'mayfly_managed'");
    if (exists.length) await server.query('postgres', `ALTER ROLE mayfly_managed RENAME TO ${saved}`);
  });

  after(async () => {
    await dropRoleEverywhere(server, role);
    await dropRoleEverywhere(server, 'mf_marker_granter');
    await server.query('postgres', 'DROP ROLE IF EXISTS mayfly_managed');
    const parked = await server.query('postgres', 'SELECT 1 FROM pg_roles WHERE rolname = $1', [saved]);
    if (parked.length) await server.query('postgres', `ALTER ROLE ${saved} RENAME TO mayfly_managed`);
  });

  it('creates the marker, gets ADMIN on it automatically, provisions, and can sweep its roles', async () => {
    const g = await createGranter(server, 'mf_marker_granter', { grantOption: [{ database: 'testdb', schema: 'public' }] });
    const pw = randomPassword();
    await provision(g, planFor({ instances: ['testdb'], privileges: ['SELECT'], role }), { validUntil: soon(), newPassword: pw });
    const [m] = await server.query<{ admin: boolean; member: boolean }>(
      'postgres',
      `SELECT pg_has_role('mf_marker_granter', 'mayfly_managed', 'MEMBER WITH ADMIN OPTION') AS admin,
              pg_has_role($1, 'mayfly_managed', 'MEMBER') AS member`,
      [role],
    );
    assert.deepEqual(m, { admin: true, member: true });
    await runAs(server, role, pw, 'testdb', 'SELECT count(*) FROM public.items');
    await server.query('postgres', `ALTER ROLE ${role} VALID UNTIL '2001-01-01Z'`);
    const report = await sweepExpiredRoles(g, { graceMs: 0 });
    assert.equal(report.roles.find((r) => r.role === role)?.status, 'dropped', JSON.stringify(report));
  });
});
