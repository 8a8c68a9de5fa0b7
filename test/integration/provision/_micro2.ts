import pg from 'pg';
import { startEmbeddedPostgres, stopAllPostgres, seedPlan } from '../../support/postgres';
import { toClientConfig } from '../../../proxy/config/pgClient';
import { createSampleData } from '../../../proxy/demo/sampleData';
import { mainFactsStatements, SCHEMA_FACTS_SQL, schemaFactsParams } from '../../../proxy/provision/preflight';
async function main() {
  const s = await startEmbeddedPostgres();
  await createSampleData(s.superuser);
  const plan = seedPlan();
  const c = new pg.Client(toClientConfig(s.superuser)); await c.connect();
  const d = new pg.Client(toClientConfig(s.superuser, { database: 'dellstore' })); await d.connect();
  for (let k = 0; k < 3; k++) {
    for (const st of mainFactsStatements(plan)) {
      const r = await c.query('EXPLAIN (ANALYZE, SUMMARY, TIMING OFF) ' + st);
      console.log(st.slice(0, 40).replace(/\s+/g, ' '), r.rows.filter((x) => /Planning Time|Execution Time/.test(x['QUERY PLAN'])).map((x) => x['QUERY PLAN']).join(' '));
    }
    const r = await d.query('EXPLAIN (ANALYZE, SUMMARY, TIMING OFF) ' + SCHEMA_FACTS_SQL, schemaFactsParams(plan.databases[0]!));
    console.log('schema facts', r.rows.filter((x) => /Planning Time|Execution Time/.test(x['QUERY PLAN'])).map((x) => x['QUERY PLAN']).join(' '));
  }
  await c.end(); await d.end();
  await stopAllPostgres();
}
void main();
