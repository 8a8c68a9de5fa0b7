// sweepExpiredRoles: drops expired marker roles (also ones owning objects), respects the
// grace period, leaves unmanaged roles alone, ends live sessions, and keeps going when one
// role cannot be dropped (PostgreSQL 18).
import assert from 'node:assert/strict';
import type pg from 'pg';
import { createSampleData } from '../../../proxy/demo/sampleData';
import { extendRole, provision, sweepExpiredRoles } from '../../../proxy/provision';
import { connectAs, dropRoleEverywhere, planFor, randomPassword, runAs, startEmbeddedPostgres, type PgServer } from '../../support/postgres';

const HOUR = 3600_000;

describe('sweeping expired roles (PostgreSQL 18)', () => {
  let server: PgServer;
  const closedDb = 'mf_sweep_closed';
  // Names sort so that the failing role comes first: the sweep must carry on after it.
  const failing = 'mf_sweep_a_fails';
  const owner = 'mf_sweep_b_owner';
  const plain = 'mf_sweep_c_plain';
  const live = 'mf_sweep_d_live';
  const recent = 'mf_sweep_e_recent';
  const current = 'mf_sweep_f_current';
  const unmanaged = 'mf_sweep_g_unmanaged';
  const all = [failing, owner, plain, live, recent, current, unmanaged];
  const pw = randomPassword();

  async function exists(role: string): Promise<boolean> {
    return (await server.query('postgres', 'SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).length > 0;
  }

  before(async () => {
    server = await startEmbeddedPostgres();
    await createSampleData(server.superuser);
    for (const r of all) await dropRoleEverywhere(server, r);
    await server.dropDatabase(closedDb);
    await server.createDatabase(closedDb);
  });

  after(async () => {
    await server.query('postgres', `ALTER DATABASE ${closedDb} ALLOW_CONNECTIONS true`).catch(() => undefined);
    for (const r of all) await dropRoleEverywhere(server, r);
    await server.dropDatabase(closedDb);
  });

  it('drops what expired before now - grace, reports per role, and continues past a failure', async () => {
    const su = server.superuser;
    const soon = new Date(Date.now() + HOUR);
    await provision(su, planFor({ instances: [closedDb, 'testdb'], privileges: ['SELECT', 'CREATE'], role: failing }), { validUntil: soon, newPassword: pw });
    await runAs(server, failing, pw, closedDb, 'CREATE TABLE public.blocks_the_drop (x int)');
    await provision(su, planFor({ instances: ['dellstore', 'testdb'], privileges: ['SELECT', 'CREATE'], role: owner }), { validUntil: soon, newPassword: pw });
    await runAs(server, owner, pw, 'dellstore', 'CREATE TABLE public.sweep_owned (x int)');
    await runAs(server, owner, pw, 'testdb', 'CREATE TABLE public.sweep_owned (x int)');
    for (const r of [plain, live, recent, current])
      await provision(su, planFor({ instances: ['dellstore.store'], privileges: ['SELECT'], role: r }), { validUntil: soon, newPassword: pw });
    await server.query('postgres', `CREATE ROLE ${unmanaged} LOGIN VALID UNTIL '2001-01-01Z'`);

    const liveClient: pg.Client = await connectAs(server, live, pw, 'dellstore');
    const past = new Date(Date.now() - 3 * HOUR);
    for (const r of [failing, owner, plain, live]) await extendRole(su, r, past);
    await extendRole(su, recent, new Date(Date.now() - 10 * 60_000)); // within the grace period
    await server.query('postgres', `ALTER DATABASE ${closedDb} ALLOW_CONNECTIONS false`);

    const report = await sweepExpiredRoles(su, { graceMs: HOUR });
    const line = (r: string) => report.roles.find((x) => x.role === r);

    assert.equal(line(failing)?.status, 'failed');
    assert.match(line(failing)!.reason!, new RegExp(closedDb));
    assert.ok(report.failed.some((f) => f.role === failing));
    assert.ok(await exists(failing));

    for (const r of [owner, plain, live]) {
      assert.equal(line(r)?.status, 'dropped', JSON.stringify(line(r)));
      assert.equal(await exists(r), false);
    }
    assert.deepEqual([...line(owner)!.cleanedDatabases].sort(), ['dellstore', 'postgres', 'testdb']);
    for (const db of ['dellstore', 'testdb']) {
      const [t] = await server.query<{ o: string }>(db, "SELECT tableowner AS o FROM pg_tables WHERE tablename = 'sweep_owned'");
      assert.equal(t?.o, 'postgres', `${db}: the table goes to the granter`);
      await server.query(db, 'DROP TABLE public.sweep_owned');
    }
    assert.equal(line(live)?.terminated, 1);
    await assert.rejects(liveClient.query('SELECT 1'));
    await liveClient.end().catch(() => undefined);

    assert.equal(line(recent), undefined);
    assert.equal(line(current), undefined);
    assert.equal(line(unmanaged), undefined);
    for (const r of [recent, current, unmanaged]) assert.ok(await exists(r));
    assert.ok(report.cutoff.getTime() <= Date.now() - HOUR + 1000);
  });

  it('once the blocking database accepts connections again, the next sweep finishes the job', async () => {
    await server.query('postgres', `ALTER DATABASE ${closedDb} ALLOW_CONNECTIONS true`);
    const report = await sweepExpiredRoles(server.superuser, { graceMs: HOUR });
    const l = report.roles.find((x) => x.role === failing);
    assert.equal(l?.status, 'dropped', JSON.stringify(l));
    assert.ok(l!.cleanedDatabases.includes(closedDb));
    assert.equal(await exists(failing), false);
  });

  it('`now` and `databases` options: limiting the databases leaves dependencies, reported with PostgreSQL\'s detail', async () => {
    const validUntil = new Date(Date.now() + HOUR);
    await provision(server.superuser, planFor({ instances: ['testdb'], privileges: ['SELECT', 'CREATE'], role: plain }), { validUntil, newPassword: pw });
    await runAs(server, plain, pw, 'testdb', 'CREATE TABLE public.sweep_limited (x int)');
    // With a clock two hours ahead, a role valid for one more hour is an hour past expiry.
    const later = new Date(Date.now() + 2 * HOUR + 60_000);
    const limited = await sweepExpiredRoles(server.superuser, { graceMs: HOUR / 2, now: later, databases: ['dellstore'] });
    const l = limited.roles.find((x) => x.role === plain);
    assert.equal(l?.status, 'failed');
    assert.match(l!.reason!, /testdb/);
    const full = await sweepExpiredRoles(server.superuser, { graceMs: HOUR / 2, now: later });
    assert.equal(full.roles.find((x) => x.role === plain)?.status, 'dropped');
    await server.query('testdb', 'DROP TABLE public.sweep_limited');
  });
});
