// Hostile, mixed-case and reserved-word schema names work and inject nothing (PostgreSQL 18
// and 15). hoop left schema names unquoted: "Order Items" broke, and a crafted name ran SQL.
import assert from 'node:assert/strict';
import { quoteIdent } from '../../../policy/sql';
import { createSampleData } from '../../../proxy/demo/sampleData';
import { provision, sweepExpiredRoles } from '../../../proxy/provision';
import { dropRoleEverywhere, planFor, randomPassword, runAs, startDebianPostgres15, startEmbeddedPostgres, type PgServer } from '../../support/postgres';

const SCHEMAS = ['Mixed Case', 'select', 'Order Items', 'x"; DROP TABLE public.canary; --', "it's; GRANT ALL ON public.canary TO PUBLIC"];
const HOUR = 3600_000;

for (const [label, start] of [
  ['PostgreSQL 18 (embedded)', startEmbeddedPostgres],
  ['PostgreSQL 15 (Debian)', startDebianPostgres15],
] as const) {
  describe(`quoted identifiers on ${label}`, () => {
    let server: PgServer;
    const role = 'Mf Hostile "Role"; --';
    const db = 'Hostile DB "x"';

    before(async () => {
      server = await start();
      await createSampleData(server.superuser);
      await dropRoleEverywhere(server, role);
      await server.dropDatabase(db);
      await server.createDatabase(db);
      await server.query(db, 'CREATE TABLE public.canary (x int)');
      for (const [i, s] of SCHEMAS.entries()) {
        await server.query(db, `CREATE SCHEMA ${quoteIdent(s)}`);
        await server.query(db, `CREATE TABLE ${quoteIdent(s)}."Weird Table" (id serial PRIMARY KEY, v int)`);
        await server.query(db, `INSERT INTO ${quoteIdent(s)}."Weird Table" (v) VALUES (${i})`);
      }
    });

    after(async () => {
      await dropRoleEverywhere(server, role);
      await server.dropDatabase(db);
    });

    it('provisions every schema, the session role reads each, and nothing else happened', async () => {
      const plan = planFor({ instances: ['placeholder'], privileges: ['SELECT', 'INSERT'], role });
      const template = plan.databases[0]!.schemas[0]!;
      plan.databases = [{ database: db, databasePrivileges: ['CONNECT'], schemas: SCHEMAS.map((schema) => ({ ...template, schema, instances: [schema] })) }];
      const rolesBefore = await server.query('postgres', 'SELECT rolname FROM pg_roles ORDER BY 1');
      const password = randomPassword();
      await provision(server.superuser, plan, { validUntil: new Date(Date.now() + HOUR), newPassword: password });

      for (const [i, s] of SCHEMAS.entries()) {
        const rows = await runAs(server, role, password, db, `SELECT v FROM ${quoteIdent(s)}."Weird Table" ORDER BY id LIMIT 1`);
        assert.deepEqual(rows, [{ v: i }]);
        await runAs(server, role, password, db, `INSERT INTO ${quoteIdent(s)}."Weird Table" (v) VALUES (100)`);
      }
      // The canary is intact and still private; exactly one role was added (besides the marker on a fresh server).
      assert.deepEqual(await server.query(db, 'SELECT count(*)::int AS n FROM public.canary'), [{ n: 0 }]);
      await assert.rejects(runAs(server, role, password, db, 'SELECT * FROM public.canary'), /permission denied/);
      const rolesAfter = await server.query<{ rolname: string }>('postgres', 'SELECT rolname FROM pg_roles ORDER BY 1');
      assert.deepEqual(
        rolesAfter.filter((r) => r.rolname !== 'mayfly_managed' && !rolesBefore.some((b) => (b as { rolname: string }).rolname === r.rolname)).map((r) => r.rolname),
        [role],
      );
    });

    it('the sweep drops the oddly named role too', async () => {
      await server.query('postgres', `ALTER ROLE ${quoteIdent(role)} VALID UNTIL '2000-01-01Z'`);
      const report = await sweepExpiredRoles(server.superuser, { graceMs: 0 });
      assert.equal(report.roles.find((r) => r.role === role)?.status, 'dropped', JSON.stringify(report));
      assert.deepEqual(await server.query('postgres', 'SELECT 1 FROM pg_roles WHERE rolname = $1', [role]), []);
    });
  });
}
