// The whole life of a session role — provision, log in, use, re-provision, expire, sweep —
// against real servers: PostgreSQL 18 (embedded) and 15 (Debian), each with a superuser
// granter and with a non-superuser CREATEROLE granter that owns or holds grant options on the
// demo schemas (as an RDS master user does).
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { ConnectionParams } from '../../../proxy/config/dsn';
import { createSampleData } from '../../../proxy/demo/sampleData';
import { expireRole, extendRole, provision, ProvisionError, roleStatus, sweepExpiredRoles } from '../../../proxy/provision';
import {
  connectAs,
  createGranter,
  dropRoleEverywhere,
  planFor,
  randomPassword,
  runAs,
  seedPlan,
  startDebianPostgres15,
  startEmbeddedPostgres,
  withClient,
  type PgServer,
} from '../../support/postgres';

const HOUR = 3600_000;

type Kind = 'superuser' | 'non-superuser';

async function granterFor(server: PgServer, kind: Kind): Promise<ConnectionParams> {
  if (kind === 'superuser') return server.superuser;
  // Make sure the marker exists (as if a superuser had run Mayfly before), so that on 16+ the
  // granter needs ADMIN OPTION on it; the test below checks the error without it.
  await server.query('postgres', `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mayfly_managed') THEN CREATE ROLE mayfly_managed NOLOGIN; END IF; END $$`);
  return createGranter(server, 'mayfly_granter', {
    owns: [{ database: 'dellstore', schema: 'store' }],
    grantOption: [
      { database: 'dellstore', schema: 'public' },
      { database: 'testdb', schema: 'public' },
    ],
    // dellstore: CONNECT WITH GRANT OPTION; testdb: the session role connects through PUBLIC's CONNECT.
    databaseGrantOption: ['dellstore'],
  });
}

async function expectDenied(p: Promise<unknown>, code = '42501'): Promise<void> {
  await assert.rejects(p, (e: { code?: string }) => e.code === code);
}

const servers: [string, () => Promise<PgServer>][] = [
  ['PostgreSQL 18 (embedded)', startEmbeddedPostgres],
  ['PostgreSQL 15 (Debian)', startDebianPostgres15],
];

for (const [label, start] of servers) {
  for (const kind of ['superuser', 'non-superuser'] as Kind[]) {
    describe(`provisioning lifecycle on ${label}, ${kind} granter`, () => {
      let server: PgServer;
      let granter: ConnectionParams;
      const plan = seedPlan();
      const role = plan.role;
      const password = randomPassword();
      const writerPlan = planFor({ instances: ['dellstore', 'dellstore.store', 'testdb'], privileges: ['SELECT', 'INSERT'] });
      const ownerPlan = planFor({ instances: ['testdb'], privileges: ['SELECT', 'CREATE'], role: `mf_owner_${kind === 'superuser' ? 's' : 'n'}` });

      before(async () => {
        server = await start();
        await createSampleData(server.superuser);
        for (const r of [role, writerPlan.role, ownerPlan.role]) await dropRoleEverywhere(server, r);
        granter = await granterFor(server, kind);
      });

      after(async () => {
        for (const r of [role, writerPlan.role, ownerPlan.role]) await dropRoleEverywhere(server, r);
        if (kind === 'non-superuser') await dropRoleEverywhere(server, 'mayfly_granter'); // gives store back to postgres
        for (const t of ['public.later_by_granter', 'store.later_by_owner']) await server.query('dellstore', `DROP TABLE IF EXISTS ${t}`);
        await server.query('testdb', 'DROP TABLE IF EXISTS public.owned_by_session');
      });

      if (kind === 'non-superuser' && label.includes('18'))
        it('PG16+: without ADMIN OPTION on an existing mayfly_managed, says exactly what to grant', async () => {
          await assert.rejects(provision(granter, plan, { validUntil: new Date(Date.now() + HOUR), newPassword: password }), (e: ProvisionError) => {
            assert.ok(e instanceof ProvisionError);
            assert.match(e.message, /ADMIN OPTION/);
            assert.match(e.message, /GRANT "mayfly_managed" TO "mayfly_granter" WITH ADMIN OPTION/);
            return true;
          });
          assert.equal((await roleStatus(granter, role)).exists, false);
          await server.query('postgres', 'GRANT mayfly_managed TO mayfly_granter WITH ADMIN OPTION');
        });

      it('provisions the seed policy: login with the password, SELECT/UPDATE where granted, INSERT denied', async () => {
        const validUntil = new Date(Math.floor(Date.now() / 1000) * 1000 + 12 * HOUR + 123);
        const out = await provision(granter, plan, { validUntil, newPassword: password });
        assert.deepEqual(out, { role, created: true, passwordChanged: true, validUntil });

        const [row] = await server.query<{ rolvaliduntil: Date; rolcanlogin: boolean; utc: string; member: boolean }>(
          'postgres',
          `SELECT rolvaliduntil, rolcanlogin, to_char(rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS utc,
                  pg_has_role(oid, 'mayfly_managed', 'MEMBER') AS member
             FROM pg_roles WHERE rolname = $1`,
          [role],
        );
        assert.equal(row!.rolvaliduntil.getTime(), validUntil.getTime());
        assert.equal(row!.utc, validUntil.toISOString().slice(0, 23));
        assert.equal(row!.rolcanlogin, true);
        assert.equal(row!.member, true);
        const [pw] = await server.query<{ rolpassword: string }>('postgres', 'SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role]);
        assert.match(pw!.rolpassword, /^SCRAM-SHA-256\$4096:/);

        assert.ok((await runAs(server, role, password, 'dellstore', 'SELECT count(*)::int AS n FROM public.customers'))[0].n >= 4);
        assert.ok((await runAs(server, role, password, 'dellstore', 'SELECT count(*)::int AS n FROM store.products'))[0].n >= 5);
        assert.ok((await runAs(server, role, password, 'dellstore', 'SELECT count(*)::int AS n FROM store.inventory'))[0].n >= 5);
        assert.ok((await runAs(server, role, password, 'testdb', 'SELECT count(*)::int AS n FROM public.items'))[0].n >= 3);
        await runAs(server, role, password, 'testdb', "UPDATE public.items SET name = name WHERE name = 'alpha'");
        await expectDenied(runAs(server, role, password, 'testdb', "INSERT INTO public.items (name) VALUES ('nope')"));
        await expectDenied(runAs(server, role, password, 'dellstore', "INSERT INTO store.products (category, title, price) VALUES (1, 'x', 1)"));
        await expectDenied(runAs(server, role, password, 'dellstore', 'DELETE FROM public.orders'));
        await expectDenied(runAs(server, role, password, 'testdb', 'CREATE TABLE public.not_allowed (x int)'));

        const st = await roleStatus(granter, role);
        assert.deepEqual(st, { exists: true, managed: true, validUntil, canLogin: true });
      });

      it('tables created after provisioning (by the granter, and by the schema owner) are readable', async () => {
        const g = granter;
        await withClient(g, 'dellstore', async (c) => {
          await c.query('CREATE TABLE public.later_by_granter (id serial PRIMARY KEY, v text)');
          await c.query("INSERT INTO public.later_by_granter (v) VALUES ('later')");
        });
        // store's owner: postgres (superuser case) or the granter itself (non-superuser case).
        await withClient(server.superuser, 'dellstore', async (c) => {
          const [{ owner }] = (await c.query("SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = 'store'")).rows;
          await c.query(`SET ROLE "${owner}"`);
          await c.query('CREATE TABLE store.later_by_owner (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text)');
          await c.query("INSERT INTO store.later_by_owner (v) VALUES ('owner')");
          await c.query('RESET ROLE');
        });
        assert.deepEqual(await runAs(server, role, password, 'dellstore', 'SELECT v FROM public.later_by_granter'), [{ v: 'later' }]);
        assert.deepEqual(await runAs(server, role, password, 'dellstore', 'SELECT v FROM store.later_by_owner'), [{ v: 'owner' }]);
        await runAs(server, role, password, 'dellstore', "UPDATE store.later_by_owner SET v = 'updated'");
        await expectDenied(runAs(server, role, password, 'dellstore', "INSERT INTO public.later_by_granter (v) VALUES ('x')"));
      });

      it('re-provisioning without newPassword keeps the password working and moves VALID UNTIL', async () => {
        const validUntil = new Date(Date.now() + 20 * HOUR);
        const out = await provision(granter, plan, { validUntil });
        assert.deepEqual(out, { role, created: false, passwordChanged: false, validUntil });
        assert.deepEqual(await runAs(server, role, password, 'testdb', 'SELECT current_user AS u'), [{ u: role }]);
        assert.equal((await roleStatus(granter, role)).validUntil?.getTime(), validUntil.getTime());
        // extendRole changes VALID UNTIL only.
        const extended = new Date(validUntil.getTime() + HOUR);
        await extendRole(granter, role, extended);
        assert.equal((await roleStatus(granter, role)).validUntil?.getTime(), extended.getTime());
        await runAs(server, role, password, 'testdb', 'SELECT 1');
      });

      it('a policy with INSERT can insert into serial and identity tables', async () => {
        const pw = randomPassword();
        await provision(granter, writerPlan, { validUntil: new Date(Date.now() + HOUR), newPassword: pw });
        const [item] = await runAs(server, writerPlan.role, pw, 'testdb', "INSERT INTO public.items (name) VALUES ('from session') RETURNING id");
        assert.ok(item.id > 0);
        await runAs(server, writerPlan.role, pw, 'dellstore', "INSERT INTO public.customers (firstname, lastname, country) VALUES ('New', 'Customer', 'FR')");
        await runAs(server, writerPlan.role, pw, 'dellstore', "INSERT INTO store.products (category, title, price) VALUES (9, 'NEW', 1.5)");
        await runAs(server, writerPlan.role, pw, 'dellstore', 'INSERT INTO public.orders (customerid, totalamount) VALUES (1, 5)');
        await expectDenied(runAs(server, writerPlan.role, pw, 'testdb', 'UPDATE public.items SET name = name'));
      });

      it('expireRole: VALID UNTIL now, open connections terminated, logins refused; an extension meanwhile wins', async () => {
        const current = (await roleStatus(granter, role)).validUntil!;
        // The session deadline the caller knew is earlier than the extension: nothing happens.
        const skipped = await expireRole(granter, role, { terminate: true, ifValidUntilNotAfter: new Date(current.getTime() - HOUR) });
        assert.deepEqual(skipped, { expired: false, terminated: 0 });
        await runAs(server, role, password, 'testdb', 'SELECT 1');

        const open: pg.Client[] = [await connectAs(server, role, password, 'dellstore'), await connectAs(server, role, password, 'testdb')];
        try {
          const r = await expireRole(granter, role, { terminate: true, ifValidUntilNotAfter: current });
          // At least our two (a just-closed runAs backend may still be exiting and count too).
          assert.equal(r.expired, true);
          assert.ok(r.terminated >= 2, `terminated ${r.terminated}`);
          for (const c of open) await assert.rejects(c.query('SELECT 1'));
        } finally {
          for (const c of open) await c.end().catch(() => undefined);
        }
        await assert.rejects(runAs(server, role, password, 'testdb', 'SELECT 1'), /password authentication failed/);
        const st = await roleStatus(granter, role);
        assert.equal(st.canLogin, false);
        assert.ok(st.validUntil!.getTime() <= Date.now() + 1000);
      });

      it('sweep drops expired marker roles, reassigning what they own to the granter', async () => {
        const pw = randomPassword();
        await provision(granter, ownerPlan, { validUntil: new Date(Date.now() + HOUR), newPassword: pw });
        await runAs(server, ownerPlan.role, pw, 'testdb', 'CREATE TABLE public.owned_by_session (x int)');
        await extendRole(granter, ownerPlan.role, new Date(Date.now() - 2 * HOUR));
        await extendRole(granter, writerPlan.role, new Date(Date.now() - 2 * HOUR));

        const report = await sweepExpiredRoles(granter, { graceMs: HOUR });
        for (const r of [role, ownerPlan.role, writerPlan.role]) {
          const line = report.roles.find((x) => x.role === r);
          if (r === role) {
            assert.equal(line, undefined, 'expired less than the grace period ago: kept');
            continue;
          }
          assert.equal(line?.status, 'dropped', JSON.stringify(report));
          assert.ok(report.dropped.includes(r));
        }
        assert.ok(report.roles.find((x) => x.role === ownerPlan.role)!.cleanedDatabases.includes('testdb'));
        const left = await server.query('postgres', 'SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [[ownerPlan.role, writerPlan.role]]);
        assert.deepEqual(left, []);
        const [t] = await server.query<{ owner: string }>('testdb', "SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'owned_by_session'");
        assert.equal(t!.owner, granter.user);

        // With no grace, the seed role (expired above) goes too.
        const again = await sweepExpiredRoles(granter, { graceMs: 0, now: new Date(Date.now() + 1000) });
        assert.equal(again.roles.find((x) => x.role === role)?.status, 'dropped', JSON.stringify(again));
        assert.equal((await roleStatus(granter, role)).exists, false);
      });
    });
  }
}
