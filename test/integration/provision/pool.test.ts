// Pooled granter connections and the other latency work (PostgreSQL 18): connections are
// reused, a dead one is replaced transparently, nothing (transaction, advisory lock) leaks
// after a failure, a rotated password never reuses old connections, idle connections never
// keep a process alive; an unchanged existing role is re-provisioned without grants, and any
// drift from the plan is still put back.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { ConnectionParams } from '../../../proxy/config/dsn';
import { scramVerifier } from '../../../proxy/auth/scramVerifier';
import { createSampleData } from '../../../proxy/demo/sampleData';
import { closeProvisionPools, extendRole, provision, provisionPoolStats, roleStatus } from '../../../proxy/provision';
import { admitted, concurrencyLimit, isLocalServer } from '../../../proxy/provision/limiter';
import { idleClientsForTests } from '../../../proxy/provision/pool';
import { sqlLiteral } from '../../../proxy/provision/sqlText';
import { scramVerifierAsync } from '../../../proxy/provision/verifier';
import { createGranter, dropRoleEverywhere, planFor, randomPassword, runAs, startEmbeddedPostgres, type PgServer } from '../../support/postgres';

const HOUR = 3600_000;
const soon = (h = 1) => new Date(Date.now() + h * HOUR);

interface Backend {
  pid: number;
  datname: string;
  usename: string;
  backend_start: Date;
  state: string;
  xact_start: Date | null;
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('pooled granter connections (PostgreSQL 18)', () => {
  let server: PgServer;
  let g: ConnectionParams;
  const APP = 'mf_pool_test';
  const role = 'mf_pool_role';
  const plan = planFor({ instances: ['dellstore', 'dellstore.store', 'testdb'], privileges: ['SELECT', 'UPDATE'], role });

  /** The backends of this suite's pooled connections (its own application_name). */
  const backends = (app = APP) =>
    server.query<Backend>(
      'postgres',
      'SELECT pid, datname, usename, backend_start, state, xact_start FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid',
      [app],
    );
  const advisoryLocks = async () =>
    (await server.query<{ n: number }>('postgres', "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'"))[0]!.n;

  before(async () => {
    server = await startEmbeddedPostgres();
    await createSampleData(server.superuser);
    await dropRoleEverywhere(server, role);
    await closeProvisionPools();
    g = { ...server.superuser, params: { application_name: APP } };
  });

  after(async () => {
    await closeProvisionPools();
    await server.query('testdb', 'DROP EVENT TRIGGER IF EXISTS mf_pool_block');
    await dropRoleEverywhere(server, role);
  });

  it('reuses one connection per database across provisions, roleStatus and extendRole', async () => {
    const pw = randomPassword();
    await provision(g, plan, { validUntil: soon(), newPassword: pw });
    const first = await backends();
    assert.deepEqual([...new Set(first.map((b) => b.datname))].sort(), ['dellstore', 'postgres', 'testdb']);
    assert.equal(first.length, 3, 'one connection per database for one provision at a time');
    assert.ok(provisionPoolStats().idle >= 3);

    await roleStatus(g, role);
    const pw2 = randomPassword();
    await provision(g, plan, { validUntil: soon(2), newPassword: pw2 });
    await extendRole(g, role, soon(3));
    const second = await backends();
    for (const b of first)
      assert.ok(
        second.some((x) => x.pid === b.pid && x.backend_start.getTime() === b.backend_start.getTime()),
        `the connection to ${b.datname} was kept`,
      );
    // At most one more per database: the spare a pool in steady use keeps ready.
    for (const db of ['postgres', 'dellstore', 'testdb']) assert.ok(second.filter((b) => b.datname === db).length <= 2, db);
    await waitFor('the spare connections to be open', async () => provisionPoolStats().opening === 0);
    const third = await backends();
    await provision(g, plan, { validUntil: soon(2), newPassword: pw2 });
    assert.deepEqual(
      (await backends()).map((b) => [b.pid, b.backend_start.getTime()]),
      third.map((b) => [b.pid, b.backend_start.getTime()]),
      'once warm, the same backends serve every call',
    );
    for (const b of second) {
      assert.equal(b.state, 'idle');
      assert.equal(b.xact_start, null);
    }
    await runAs(server, role, pw2, 'dellstore', 'SELECT count(*) FROM store.products');
  });

  it('replaces a pooled connection whose backend was terminated while idle', async () => {
    const before = await backends();
    assert.ok(before.length > 0);
    await server.query('postgres', 'SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1', [APP]);
    const pw = randomPassword();
    const out = await provision(g, plan, { validUntil: soon(), newPassword: pw });
    assert.equal(out.created, false);
    const after = await backends();
    assert.equal(after.filter((b) => before.some((x) => x.pid === b.pid)).length, 0, 'no terminated backend is in use');
    assert.ok(after.length >= 3);
    await runAs(server, role, pw, 'testdb', 'SELECT 1');
  });

  it('re-sends the first query on a fresh connection when the death was not noticed yet', async () => {
    await roleStatus(g, role);
    // Hide the death from the pool: the clients' own events are how it would learn of it.
    for (const c of idleClientsForTests()) {
      c.removeAllListeners('end');
      c.removeAllListeners('error');
      c.on('error', () => undefined);
    }
    await server.query('postgres', 'SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1', [APP]);
    assert.equal((await roleStatus(g, role)).exists, true);
    const pw = randomPassword();
    await provision(g, plan, { validUntil: soon(), newPassword: pw });
    await runAs(server, role, pw, 'dellstore', 'SELECT 1');
  });

  it('leaves no open transaction and no advisory lock after a failed provision; the next one reuses the pool', async () => {
    // Fails in the pre-flight, with the role lock held.
    const broken = planFor({ instances: ['testdb.nope'], privileges: ['SELECT'], role });
    await assert.rejects(provision(g, broken, { validUntil: soon() }), /schema "nope"/);
    assert.equal(await advisoryLocks(), 0);
    for (const b of await backends()) assert.equal(b.xact_start, null, `backend ${b.pid} (${b.datname}) is ${b.state}`);

    // Fails while granting, with transactions open in several databases and both locks held.
    await server.query(
      'testdb',
      `CREATE OR REPLACE FUNCTION public.mf_pool_block() RETURNS event_trigger LANGUAGE plpgsql AS
         $$ BEGIN RAISE EXCEPTION 'blocked by the pool test'; END $$`,
    );
    await server.query('testdb', `CREATE EVENT TRIGGER mf_pool_block ON ddl_command_end WHEN TAG IN ('ALTER DEFAULT PRIVILEGES') EXECUTE FUNCTION public.mf_pool_block()`);
    const fresh = planFor({ instances: ['dellstore', 'testdb'], privileges: ['SELECT'], role: 'mf_pool_fails' });
    try {
      await assert.rejects(provision(g, fresh, { validUntil: soon(), newPassword: randomPassword() }), /blocked by the pool test[\s\S]*Nothing was changed/);
    } finally {
      await server.query('testdb', 'DROP EVENT TRIGGER IF EXISTS mf_pool_block');
    }
    assert.equal(await advisoryLocks(), 0);
    for (const b of await backends()) assert.equal(b.xact_start, null, `backend ${b.pid} (${b.datname}) is ${b.state}`);
    assert.deepEqual(await server.query('postgres', "SELECT 1 FROM pg_roles WHERE rolname = 'mf_pool_fails'"), []);

    const pw = randomPassword();
    await provision(g, plan, { validUntil: soon(), newPassword: pw });
    await runAs(server, role, pw, 'dellstore', 'SELECT 1');
    assert.equal(await advisoryLocks(), 0);
  });

  it('a rotated granter password never reuses connections made with the old one', async () => {
    const APP2 = 'mf_pool_rotation';
    await server.query('postgres', `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mayfly_managed') THEN CREATE ROLE mayfly_managed NOLOGIN; END IF; END $$`);
    const created = await createGranter(server, 'mf_pool_granter', { markerAdmin: true, grantOption: [{ database: 'testdb', schema: 'public' }] });
    const g1: ConnectionParams = { ...created, params: { application_name: APP2 } };
    const rotPlan = planFor({ instances: ['testdb'], privileges: ['SELECT'], role: 'mf_pool_rotated' });
    try {
      await provision(g1, rotPlan, { validUntil: soon(), newPassword: randomPassword() });
      const old = await backends(APP2);
      assert.ok(old.length >= 2);

      const newPassword = randomPassword();
      await server.query('postgres', `ALTER ROLE mf_pool_granter PASSWORD ${sqlLiteral(newPassword)}`);
      const g2: ConnectionParams = { ...g1, password: newPassword };
      const pw = randomPassword();
      await provision(g2, rotPlan, { validUntil: soon(), newPassword: pw });
      await runAs(server, 'mf_pool_rotated', pw, 'testdb', 'SELECT 1');
      // The connections made with the old password are closed, not kept for later.
      await waitFor('the old connections to close', async () => (await backends(APP2)).every((b) => !old.some((o) => o.pid === b.pid)));

      // The old credentials get no pooled session: the server rejects them.
      await assert.rejects(roleStatus(g1, 'mf_pool_rotated'), (e: { sqlstate?: string }) => e.sqlstate === '28P01');
      await assert.rejects(provision(g1, rotPlan, { validUntil: soon() }), (e: { sqlstate?: string }) => e.sqlstate === '28P01');
    } finally {
      await closeProvisionPools();
      await dropRoleEverywhere(server, 'mf_pool_rotated');
      await dropRoleEverywhere(server, 'mf_pool_granter');
    }
  });

  it('closeProvisionPools closes idle connections, and idle ones never keep a process alive', async () => {
    await roleStatus(g, role);
    assert.ok((await backends()).length > 0);
    await closeProvisionPools();
    assert.equal(provisionPoolStats().idle, 0);
    await waitFor('the pooled backends to exit', async () => (await backends()).length === 0);

    const childApp = 'mf_pool_child';
    const childPlan = planFor({ instances: ['testdb'], privileges: ['SELECT'], role: 'mf_pool_child' });
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', 'poolExitChild.ts')], {
      env: { ...process.env, MF_POOL_CHILD: JSON.stringify({ granter: { ...g, params: { application_name: childApp } }, plan: childPlan, password: randomPassword() }) },
      encoding: 'utf8',
      timeout: 25_000,
    });
    try {
      assert.equal(r.status, 0, `child failed: ${r.stderr}${r.error ? String(r.error) : ''}`);
      assert.match(r.stdout, /provisioned/);
      assert.ok(Date.now() - t0 < 20_000, 'the child exited without waiting for the idle timeout');
    } finally {
      await dropRoleEverywhere(server, 'mf_pool_child');
    }
  });
});

describe('re-provisioning an existing role leaves unchanged grants alone, and puts drift back (PostgreSQL 18)', () => {
  let server: PgServer;
  const role = 'mf_pool_drift';
  const plan = planFor({ instances: ['dellstore', 'dellstore.store', 'testdb'], privileges: ['SELECT', 'UPDATE'], role });
  const su = () => server.superuser;

  const xmins = async () => ({
    customers: (await server.query<{ x: string }>('dellstore', "SELECT xmin::text AS x FROM pg_class WHERE oid = 'public.customers'::regclass"))[0]!.x,
    store: (await server.query<{ x: string }>('dellstore', "SELECT xmin::text AS x FROM pg_namespace WHERE nspname = 'store'"))[0]!.x,
    items: (await server.query<{ x: string }>('testdb', "SELECT xmin::text AS x FROM pg_class WHERE oid = 'public.items'::regclass"))[0]!.x,
  });
  const privs = async (db: string, sql: string) => (await server.query<Record<string, unknown>>(db, sql, [role]))[0];

  before(async () => {
    server = await startEmbeddedPostgres();
    await createSampleData(server.superuser);
    await dropRoleEverywhere(server, role);
  });

  after(async () => {
    await dropRoleEverywhere(server, role);
  });

  it('an unchanged role gets a new password and VALID UNTIL without a single GRANT', async () => {
    await provision(su(), plan, { validUntil: soon(), newPassword: randomPassword() });
    const before = await xmins();
    const pw = randomPassword();
    const until = soon(5);
    const out = await provision(su(), plan, { validUntil: until, newPassword: pw });
    assert.deepEqual(out, { role, created: false, passwordChanged: true, validUntil: until });
    assert.deepEqual(await xmins(), before, 'no catalog row was rewritten');
    await runAs(server, role, pw, 'dellstore', 'UPDATE store.products SET price = price WHERE false');
    assert.equal((await roleStatus(su(), role)).validUntil?.getTime(), until.getTime());
  });

  const drifts: { what: string; db: string; change: string; check: string; expect: Record<string, unknown> }[] = [
    {
      what: 'a revoked table privilege',
      db: 'dellstore',
      change: `REVOKE SELECT ON public.customers FROM ${role}`,
      check: "SELECT has_table_privilege($1, 'public.customers', 'SELECT') AS ok",
      expect: { ok: true },
    },
    {
      what: 'an extra table privilege',
      db: 'dellstore',
      change: `GRANT INSERT ON store.products TO ${role}`,
      check: "SELECT has_table_privilege($1, 'store.products', 'INSERT') AS ok",
      expect: { ok: false },
    },
    {
      what: 'a grant option',
      db: 'testdb',
      change: `GRANT SELECT ON public.items TO ${role} WITH GRANT OPTION`,
      check: "SELECT has_table_privilege($1, 'public.items', 'SELECT WITH GRANT OPTION') AS ok",
      expect: { ok: false },
    },
    {
      what: 'a column privilege',
      db: 'dellstore',
      change: `GRANT INSERT (firstname) ON public.customers TO ${role}`,
      check: "SELECT has_column_privilege($1, 'public.customers', 'firstname', 'INSERT') AS ok",
      expect: { ok: false },
    },
    {
      what: 'a revoked sequence privilege',
      db: 'dellstore',
      change: `REVOKE USAGE ON ALL SEQUENCES IN SCHEMA public FROM ${role}`,
      check: "SELECT bool_and(has_sequence_privilege($1, c.oid, 'USAGE')) AS ok FROM pg_class c WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace",
      expect: { ok: true },
    },
    {
      what: 'a revoked schema USAGE',
      db: 'dellstore',
      change: `REVOKE USAGE ON SCHEMA store FROM ${role}`,
      check: "SELECT has_schema_privilege($1, 'store', 'USAGE') AS ok",
      expect: { ok: true },
    },
    {
      what: 'revoked default privileges',
      db: 'testdb',
      change: `ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public REVOKE SELECT ON TABLES FROM ${role}`,
      check: `SELECT EXISTS (SELECT 1 FROM pg_default_acl d, aclexplode(d.defaclacl) a
                 WHERE d.defaclnamespace = 'public'::regnamespace AND d.defaclobjtype = 'r'
                   AND a.grantee = $1::regrole AND a.privilege_type = 'SELECT') AS ok`,
      expect: { ok: true },
    },
    {
      what: 'a revoked CONNECT on the database',
      db: 'testdb',
      change: `REVOKE CONNECT ON DATABASE testdb FROM ${role}`,
      check: `SELECT EXISTS (SELECT 1 FROM pg_database d, aclexplode(d.datacl) a
                 WHERE d.datname = 'testdb' AND a.grantee = $1::regrole AND a.privilege_type = 'CONNECT') AS ok`,
      expect: { ok: true },
    },
  ];

  for (const d of drifts)
    it(`puts back ${d.what}`, async () => {
      await provision(su(), plan, { validUntil: soon(), newPassword: randomPassword() });
      await server.query(d.db, d.change);
      const pw = randomPassword();
      await provision(su(), plan, { validUntil: soon(), newPassword: pw });
      assert.deepEqual(await privs(d.db, d.check), d.expect);
      await runAs(server, role, pw, 'dellstore', 'SELECT count(*) FROM public.customers');
    });

  it('a wider plan for the existing role is granted (the policy changed)', async () => {
    const wider = planFor({ instances: ['dellstore', 'dellstore.store', 'testdb'], privileges: ['SELECT', 'UPDATE', 'INSERT'], role });
    const pw = randomPassword();
    await provision(su(), wider, { validUntil: soon(), newPassword: pw });
    await runAs(server, role, pw, 'testdb', "INSERT INTO public.items (name) VALUES ('from the wider plan')");
    await provision(su(), plan, { validUntil: soon(), newPassword: pw });
    assert.deepEqual(await privs('testdb', "SELECT has_table_privilege($1, 'public.items', 'INSERT') AS ok"), { ok: false });
  });
});

describe('latency helpers (pure)', () => {
  it('the asynchronous SCRAM verifier is the synchronous one', async () => {
    const salt = Buffer.alloc(16, 7);
    for (const pw of ['correct horse battery staple', randomPassword(), 'päss wörd'])
      assert.equal(await scramVerifierAsync(pw, salt, 4096), scramVerifier(pw, salt, 4096));
    assert.match(await scramVerifierAsync('x'), /^SCRAM-SHA-256\$4096:/);
  });

  it('sqlLiteral round-trips quotes and backslashes, and refuses NUL', () => {
    assert.equal(sqlLiteral(`it's a \\ test`), `E'it''s a \\\\ test'`);
    assert.throws(() => sqlLiteral('a\0b'), /NUL/);
  });

  it('only servers on this machine are limited, to its core count unless overridden', () => {
    for (const h of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '/var/run/postgresql']) assert.equal(isLocalServer(h), true, h);
    for (const h of ['db.example.com', '10.0.0.5', '::ffff:10.0.0.5']) assert.equal(isLocalServer(h), false, h);
    const saved = process.env.MAYFLY_PROVISION_CONCURRENCY;
    try {
      delete process.env.MAYFLY_PROVISION_CONCURRENCY;
      const local = { host: '127.0.0.1', port: 5432, user: 'u', database: 'postgres', sslmode: 'disable' as const, params: {} };
      assert.ok(concurrencyLimit(local) >= 1 && Number.isFinite(concurrencyLimit(local)));
      assert.equal(concurrencyLimit({ ...local, host: 'db.example.com' }), Infinity);
      process.env.MAYFLY_PROVISION_CONCURRENCY = '0';
      assert.equal(concurrencyLimit(local), Infinity);
      process.env.MAYFLY_PROVISION_CONCURRENCY = '3';
      assert.equal(concurrencyLimit({ ...local, host: 'db.example.com' }), 3);
    } finally {
      if (saved === undefined) delete process.env.MAYFLY_PROVISION_CONCURRENCY;
      else process.env.MAYFLY_PROVISION_CONCURRENCY = saved;
    }
  });

  it('admission runs at most the limit at once, in arrival order, and survives failures', async () => {
    const saved = process.env.MAYFLY_PROVISION_CONCURRENCY;
    process.env.MAYFLY_PROVISION_CONCURRENCY = '2';
    try {
      const g = { host: '127.0.0.1', port: 1, user: 'u', database: 'postgres', sslmode: 'disable' as const, params: {} };
      let running = 0;
      let peak = 0;
      const started: number[] = [];
      const results = await Promise.allSettled(
        Array.from({ length: 7 }, (_, i) =>
          admitted(g, async () => {
            started.push(i);
            running++;
            peak = Math.max(peak, running);
            await new Promise((r) => setTimeout(r, 5));
            running--;
            if (i === 2) throw new Error('boom');
            return i;
          }),
        ),
      );
      assert.equal(peak, 2);
      assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6]);
      assert.equal(results.filter((r) => r.status === 'rejected').length, 1);
      // The slots were all given back.
      assert.equal(await admitted(g, async () => 'free'), 'free');
    } finally {
      if (saved === undefined) delete process.env.MAYFLY_PROVISION_CONCURRENCY;
      else process.env.MAYFLY_PROVISION_CONCURRENCY = saved;
    }
  });
});
