/**
 * `npm run soak`: the fault scenarios of test/soak run long (MAYFLY_SOAK_SECONDS, default
 * 120 per scenario) on a fresh PostgreSQL and proxy, with a report of what held.
 * `npm test` runs the same scenarios briefly (test/integration/soak).
 */
import { startWorld } from '../test/soak/world';
import { expiryUnderLoad, manyClients, policyBrokenAndFixed, postgresRestart, secretsManagerOutage, type Report } from '../test/soak/scenarios';
import { stopAllPostgres } from '../test/support/postgres';

async function main(): Promise<void> {
  const seconds = Number(process.env.MAYFLY_SOAK_SECONDS ?? 120);
  const workers = Number(process.env.MAYFLY_SOAK_WORKERS ?? 20);
  const world = await startWorld();
  const reports: Report[] = [];
  try {
    reports.push(await postgresRestart(world, { seconds, workers }));
    reports.push(await policyBrokenAndFixed(world, { seconds, workers }));
    reports.push(await expiryUnderLoad(world, { workers }));
  } finally {
    await world.close();
  }
  // 1,000 clients connected for the whole duration.
  const crowd = await startWorld({ maxConnections: 1100 });
  try {
    reports.push(await manyClients(crowd, { clients: Number(process.env.MAYFLY_SOAK_CLIENTS ?? 1000), seconds }));
  } finally {
    await crowd.close();
  }
  // Secrets Manager down for minutes (MAYFLY_SOAK_SECONDS), users served from the last known set.
  const aws = await startWorld({ aws: true });
  try {
    reports.push(await secretsManagerOutage(aws, { seconds, workers }));
  } finally {
    await aws.close();
    await stopAllPostgres();
  }
  let failed = 0;
  for (const r of reports) {
    console.log(`\n## ${r.name}: ${r.problems.length ? 'FAIL' : 'ok'}`);
    for (const [k, v] of Object.entries(r.figures)) console.log(`  ${k}: ${v}`);
    for (const p of r.problems) console.log(`  problem: ${p}`);
    if (r.problems.length) failed++;
  }
  console.log(`\n${reports.length - failed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  console.log('\n0 passed, 1 failed');
  process.exitCode = 1;
});
