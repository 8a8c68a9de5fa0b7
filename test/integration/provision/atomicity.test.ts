// All or nothing, and errors that say what is wrong without leaking secrets (PostgreSQL 18).
import assert from 'node:assert/strict';
import type { ConnectionParams } from '../../../proxy/config/dsn';
import { createSampleData } from '../../../proxy/demo/sampleData';
import { expireRole, extendRole, provision, ProvisionError, roleStatus, sweepExpiredRoles } from '../../../proxy/provision';
import {
  aclMentions,
  createGranter,
  dropRoleEverywhere,
  freePort,
  planFor,
  randomPassword,
  runAs,
  startEmbeddedPostgres,
  type PgServer,
} from '../../support/postgres';

const HOUR = 3600_000;
const soon = () => new Date(Date.now() + HOUR);

/** Awaits a ProvisionError, checks it carries no secret, and returns it. */
async function provisionError(p: Promise<unknown>, secrets: (string | undefined)[]): Promise<ProvisionError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ProvisionError, `expected a ProvisionError, got ${String(caught)}`);
  for (const s of secrets) {
    if (!s) continue;
    assert.ok(!caught.message.includes(s), 'a secret leaked into the message');
    assert.ok(!caught.message.includes(encodeURIComponent(s)), 'an encoded secret leaked into the message');
    assert.ok(!caught.hint.includes(s));
  }
  assert.doesNotMatch(caught.message, /SCRAM-SHA-256\$/);
  assert.doesNotMatch(caught.message, /postgres(ql)?:\/\//);
  return caught;
}

describe('provisioning is all or nothing (PostgreSQL 18)', () => {
  let server: PgServer;
  let su: ConnectionParams;
  const role = 'mf_atomic';
  const password = randomPassword();

  async function roleExists(name: string): Promise<boolean> {
    return (await server.query('postgres', 'SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).length > 0;
  }

  async function nothingFor(name: string): Promise<void> {
    assert.equal(await roleExists(name), false, `role ${name} should not exist`);
    for (const db of ['dellstore', 'testdb', 'postgres']) assert.deepEqual(await aclMentions(server, db, name), [], `grants left in ${db}`);
  }

  before(async () => {
    server = await startEmbeddedPostgres();
    su = server.superuser;
    await createSampleData(su);
    await dropRoleEverywhere(server, role);
  });

  after(async () => {
    await dropRoleEverywhere(server, role);
    await server.query('testdb', 'DROP EVENT TRIGGER IF EXISTS mf_block_default_privileges');
  });

  it('missing database last in the plan: names it, changes nothing', async () => {
    const plan = planFor({ instances: ['dellstore', 'dellstore.store', 'zz_no_such_db'], privileges: ['SELECT'], role });
    const e = await provisionError(provision(su, plan, { validUntil: soon(), newPassword: password }), [password, su.password]);
    assert.equal(e.database, 'zz_no_such_db');
    assert.equal(e.sqlstate, '3D000');
    assert.match(e.message, /database "zz_no_such_db" does not exist/);
    assert.match(e.hint, /zz_no_such_db/);
    await nothingFor(role);
  });

  it('missing schema in the last database: names database and schema, lists what exists, changes nothing', async () => {
    const plan = planFor({ instances: ['dellstore', 'testdb', 'testdb.nope'], privileges: ['SELECT', 'UPDATE'], role });
    const e = await provisionError(provision(su, plan, { validUntil: soon(), newPassword: password }), [password, su.password]);
    assert.equal(e.database, 'testdb');
    assert.equal(e.schema, 'nope');
    assert.match(e.message, /schema "nope" does not exist in database "testdb"/);
    assert.match(e.hint, /"public"/);
    await nothingFor(role);
  });

  it('a failure while granting in the last database rolls back every database and drops the new role', async () => {
    // An event trigger makes testdb's ALTER DEFAULT PRIVILEGES fail after dellstore's grants ran (uncommitted).
    await server.query(
      'testdb',
      `CREATE OR REPLACE FUNCTION public.mf_block() RETURNS event_trigger LANGUAGE plpgsql AS
         $$ BEGIN RAISE EXCEPTION 'blocked by the test''s event trigger'; END $$`,
    );
    await server.query('testdb', `CREATE EVENT TRIGGER mf_block_default_privileges ON ddl_command_end WHEN TAG IN ('ALTER DEFAULT PRIVILEGES') EXECUTE FUNCTION public.mf_block()`);
    try {
      const plan = planFor({ instances: ['dellstore', 'dellstore.store', 'testdb'], privileges: ['SELECT'], role });
      const e = await provisionError(provision(su, plan, { validUntil: soon(), newPassword: password }), [password, su.password]);
      assert.equal(e.database, 'testdb');
      assert.equal(e.schema, 'public');
      assert.match(e.message, /blocked by the test's event trigger/);
      assert.match(e.message, /Nothing was changed/);
      await nothingFor(role);

      // Same for an existing role: its grants elsewhere, password and VALID UNTIL stay as they were.
      const first = planFor({ instances: ['dellstore'], privileges: ['SELECT'], role });
      const until = soon();
      await provision(su, first, { validUntil: until, newPassword: password });
      const beforeAcls = [await aclMentions(server, 'dellstore', role), await aclMentions(server, 'testdb', role)];
      const wider = planFor({ instances: ['dellstore', 'testdb'], privileges: ['SELECT', 'INSERT'], role });
      const e2 = await provisionError(provision(su, wider, { validUntil: new Date(Date.now() + 5 * HOUR), newPassword: 'another-password' }), [
        password,
        'another-password',
      ]);
      assert.equal(e2.database, 'testdb');
      const [p] = await server.query<{ ins: boolean; sel: boolean; conn: boolean }>(
        'dellstore',
        `SELECT has_table_privilege($1, 'public.customers', 'INSERT') AS ins, has_table_privilege($1, 'public.customers', 'SELECT') AS sel,
                has_database_privilege($1, 'testdb', 'CONNECT') AS conn`,
        [role],
      );
      assert.deepEqual(p, { ins: false, sel: true, conn: true /* PUBLIC */ });
      assert.deepEqual([await aclMentions(server, 'dellstore', role), await aclMentions(server, 'testdb', role)], beforeAcls);
      assert.equal((await roleStatus(su, role)).validUntil?.getTime(), until.getTime());
      await runAs(server, role, password, 'dellstore', 'SELECT 1'); // the old password still works
    } finally {
      await server.query('testdb', 'DROP EVENT TRIGGER IF EXISTS mf_block_default_privileges');
      await dropRoleEverywhere(server, role);
    }
  });

  beforeEach(async () => {
    await dropRoleEverywhere(server, role);
  });

  it('missing database with an existing role: privileges, password and VALID UNTIL unchanged', async () => {
    const until = soon();
    await provision(su, planFor({ instances: ['dellstore'], privileges: ['SELECT'], role }), { validUntil: until, newPassword: password });
    const before = await aclMentions(server, 'dellstore', role);
    const plan = planFor({ instances: ['dellstore', 'zzz_missing'], privileges: ['SELECT', 'DELETE'], role });
    const e = await provisionError(provision(su, plan, { validUntil: new Date(Date.now() + 9 * HOUR), newPassword: 'changed-password' }), [
      'changed-password',
    ]);
    assert.equal(e.database, 'zzz_missing');
    assert.deepEqual(await aclMentions(server, 'dellstore', role), before);
    assert.equal((await roleStatus(su, role)).validUntil?.getTime(), until.getTime());
    await runAs(server, role, password, 'dellstore', 'SELECT count(*) FROM public.customers');
    await dropRoleEverywhere(server, role);
  });

  it('a granter without CREATEROLE gets the real cause and the fix', async () => {
    const g = await createGranter(server, 'mf_weak_granter', { createRole: false, grantOption: [{ database: 'testdb', schema: 'public' }] });
    try {
      const e = await provisionError(provision(g, planFor({ instances: ['testdb'], privileges: ['SELECT'], role }), { validUntil: soon(), newPassword: password }), [
        password,
        g.password,
      ]);
      assert.equal(e.sqlstate, '42501');
      assert.match(e.message, /permission denied to create role/);
      assert.match(e.message, /CREATEROLE/);
      assert.match(e.hint, /ALTER ROLE "mf_weak_granter" CREATEROLE/);
      await nothingFor(role);
    } finally {
      await dropRoleEverywhere(server, 'mf_weak_granter');
    }
  });

  it('a granter without grant option on some tables is stopped before anything changes, naming them', async () => {
    await server.query('postgres', `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mayfly_managed') THEN CREATE ROLE mayfly_managed NOLOGIN; END IF; END $$`);
    const g = await createGranter(server, 'mf_partial_granter', { markerAdmin: true, grantOption: [{ database: 'dellstore', schema: 'public' }] });
    try {
      await server.query('dellstore', 'GRANT USAGE ON SCHEMA store TO mf_partial_granter WITH GRANT OPTION');
      await server.query('dellstore', 'GRANT SELECT ON store.products TO mf_partial_granter WITH GRANT OPTION');
      const plan = planFor({ instances: ['dellstore', 'dellstore.store'], privileges: ['SELECT'], role });
      const e = await provisionError(provision(g, plan, { validUntil: soon(), newPassword: password }), [password, g.password]);
      assert.equal(e.database, 'dellstore');
      assert.equal(e.schema, 'store');
      assert.match(e.message, /"inventory" \(SELECT\)/);
      assert.doesNotMatch(e.message, /"products"/);
      assert.match(e.hint, /GRANT SELECT ON ALL TABLES IN SCHEMA "store" TO "mf_partial_granter" WITH GRANT OPTION/);
      await nothingFor(role);
    } finally {
      await dropRoleEverywhere(server, 'mf_partial_granter');
    }
  });

  it('refuses to take over a same-named role that is not a mayfly_managed member', async () => {
    const victim = 'mf_not_ours';
    const theirs = randomPassword();
    await dropRoleEverywhere(server, victim);
    await server.query('postgres', `CREATE ROLE ${victim} LOGIN PASSWORD '${theirs.replace(/'/g, "''")}' VALID UNTIL 'infinity'`);
    try {
      const plan = planFor({ instances: ['testdb'], privileges: ['SELECT'], role: victim });
      const e = await provisionError(provision(su, plan, { validUntil: soon(), newPassword: password }), [password, theirs]);
      assert.match(e.message, /not a member of "mayfly_managed"/);
      assert.match(e.hint, /GRANT "mayfly_managed" TO "mf_not_ours"/);
      await assert.rejects(extendRole(su, victim, soon()), /not a member of "mayfly_managed"/);
      await assert.rejects(expireRole(su, victim, { terminate: true }), /not a member of "mayfly_managed"/);
      assert.deepEqual(await roleStatus(su, victim), { exists: true, managed: false, canLogin: true });
      await runAs(server, victim, theirs, 'testdb', 'SELECT 1'); // untouched
      assert.deepEqual(await aclMentions(server, 'testdb', victim), []);
      const report = await sweepExpiredRoles(su, { graceMs: 0, now: new Date(Date.now() + 1000 * 24 * HOUR) });
      assert.equal(report.roles.find((r) => r.role === victim), undefined);
    } finally {
      await dropRoleEverywhere(server, victim);
    }
  });

  it('a new role needs a password; an invalid date is refused before connecting', async () => {
    const plan = planFor({ instances: ['testdb'], privileges: ['SELECT'], role });
    const e = await provisionError(provision(su, plan, { validUntil: soon() }), []);
    assert.match(e.message, /does not exist and no password was given/);
    await provisionError(provision(su, plan, { validUntil: new Date(NaN), newPassword: password }), [password]);
    await nothingFor(role);
  });
});

describe('errors never contain a password or a DSN (PostgreSQL 18)', () => {
  let server: PgServer;
  const role = 'mf_secret_test';
  const newPassword = 'n3w-S3cret/with?odd#chars%';

  before(async () => {
    server = await startEmbeddedPostgres();
    await createSampleData(server.superuser);
  });

  it('wrong granter password: says the password was rejected, shows user@host:port/db only', async () => {
    const wrong = { ...server.superuser, password: 'Wr0ng/P@ss?#%-secret' };
    const plan = planFor({ instances: ['testdb'], privileges: ['SELECT'], role });
    for (const call of [
      () => provision(wrong, plan, { validUntil: soon(), newPassword }),
      () => roleStatus(wrong, role),
      () => extendRole(wrong, role, soon()),
      () => expireRole(wrong, role, { terminate: true }),
      () => sweepExpiredRoles(wrong, { graceMs: 0 }),
    ]) {
      const e = await provisionError(call(), [wrong.password, newPassword, server.superuser.password]);
      assert.equal(e.sqlstate, '28P01');
      assert.match(e.message, new RegExp(`postgres@127\\.0\\.0\\.1:${server.port}/postgres`));
      assert.match(e.hint, /password/);
    }
  });

  it('unreachable server: says nothing listens there, no secret', async () => {
    const port = await freePort();
    const gone = { ...server.superuser, port, password: 'unreachable-secret-pw' };
    const e = await provisionError(provision(gone, planFor({ instances: ['testdb'], privileges: ['SELECT'], role }), { validUntil: soon(), newPassword }), [
      gone.password,
      newPassword,
    ]);
    assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.match(e.hint, /Nothing accepts connections/);
  });

  it('a statement failure (bad plan) reports PostgreSQL\'s cause without the new password or its verifier', async () => {
    const plan = planFor({ instances: ['testdb'], privileges: ['SELECT'], role: 'pg_reserved_name' });
    const e = await provisionError(provision(server.superuser, plan, { validUntil: soon(), newPassword }), [newPassword, server.superuser.password]);
    assert.match(e.message, /reserved/);
    assert.equal((await roleStatus(server.superuser, 'pg_reserved_name')).exists, false);
  });
});
