// Serialization: 50 concurrent provisions of one role; the cross-process advisory lock; and
// concurrent provisioning of different roles over the same schemas (PostgreSQL 18).
import assert from 'node:assert/strict';
import pg from 'pg';
import { toClientConfig } from '../../../proxy/config/pgClient';
import { createSampleData } from '../../../proxy/demo/sampleData';
import { expireRole, extendRole, provision, roleLockName, roleStatus } from '../../../proxy/provision';
import { dropRoleEverywhere, planFor, randomPassword, runAs, seedPlan, startEmbeddedPostgres, type PgServer } from '../../support/postgres';

const HOUR = 3600_000;

describe('concurrent provisioning (PostgreSQL 18)', () => {
  let server: PgServer;
  const plan = seedPlan();
  const others = Array.from({ length: 8 }, (_, i) => planFor({ instances: ['dellstore', 'dellstore.store', 'testdb'], privileges: ['SELECT'], role: `mf_parallel_${i}` }));

  before(async () => {
    server = await startEmbeddedPostgres();
    await createSampleData(server.superuser);
    for (const p of [plan, ...others]) await dropRoleEverywhere(server, p.role);
  });

  after(async () => {
    for (const p of [plan, ...others]) await dropRoleEverywhere(server, p.role);
  });

  it('50 concurrent provision() calls for the same plan all succeed and leave one role', async () => {
    const password = randomPassword();
    const validUntil = new Date(Date.now() + HOUR);
    const t0 = Date.now();
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => provision(server.superuser, plan, { validUntil, newPassword: password })));
    const failures = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    assert.deepEqual(failures.map((f) => String(f.reason)), []);
    const outcomes = results.map((r) => (r as PromiseFulfilledResult<{ created: boolean }>).value);
    assert.equal(outcomes.filter((o) => o.created).length, 1);
    const roles = await server.query('postgres', 'SELECT rolname FROM pg_roles WHERE rolname = $1', [plan.role]);
    assert.equal(roles.length, 1);
    await runAs(server, plan.role, password, 'dellstore', 'SELECT count(*) FROM store.products');
    assert.ok(Date.now() - t0 < 60_000);
  });

  it('waits for another process holding the role\'s advisory lock (same key as pg_advisory_lock(hashtextextended(\'mayfly:\' || role, 0)))', async () => {
    const holder = new pg.Client(toClientConfig(server.superuser));
    holder.on('error', () => undefined);
    await holder.connect();
    try {
      await holder.query("SELECT pg_advisory_lock(hashtextextended('mayfly:' || $1, 0))", [plan.role]);
      assert.equal(roleLockName(plan.role), `mayfly:${plan.role}`);
      const validUntil = new Date(Date.now() + 2 * HOUR);
      let done = false;
      const p = provision(server.superuser, plan, { validUntil }).then((o) => {
        done = true;
        return o;
      });
      const e = extendRole(server.superuser, plan.role, new Date(Date.now() + 3 * HOUR)); // queued behind it, in process
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(done, false, 'provision must wait for the lock');
      assert.notEqual((await roleStatus(server.superuser, plan.role)).validUntil?.getTime(), validUntil.getTime());
      await holder.query("SELECT pg_advisory_unlock(hashtextextended('mayfly:' || $1, 0))", [plan.role]);
      assert.equal((await p).validUntil.getTime(), validUntil.getTime());
      await e;
      assert.ok((await roleStatus(server.superuser, plan.role)).validUntil!.getTime() > validUntil.getTime());
    } finally {
      await holder.end();
    }
  });

  it('the lock is released after a failure (the next call is not blocked)', async () => {
    const broken = planFor({ instances: ['testdb.nope'], privileges: ['SELECT'], role: plan.role });
    await assert.rejects(provision(server.superuser, broken, { validUntil: new Date(Date.now() + HOUR) }), /schema "nope"/);
    const [{ n }] = await server.query<{ n: number }>('postgres', "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'");
    assert.equal(n, 0);
    await expireRole(server.superuser, plan.role, { terminate: false });
  });

  it('different roles provisioned concurrently over the same schemas all succeed (no "tuple concurrently updated")', async () => {
    const password = randomPassword();
    const validUntil = new Date(Date.now() + HOUR);
    const results = await Promise.allSettled(
      [...others, ...others].map((p) => provision(server.superuser, p, { validUntil, newPassword: password })),
    );
    assert.deepEqual(
      results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)),
      [],
    );
    for (const p of others) await runAs(server, p.role, password, 'testdb', 'SELECT count(*) FROM public.items');
  });
});
