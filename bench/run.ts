/** `npm run bench`: runs every benchmark and prints the tables BENCHMARKS.md records. */
import { runPolicyBench } from './policyBench';

async function main(): Promise<void> {
  const only = process.argv.slice(2);
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
  console.log(failures.length ? `\nTargets missed:\n  ${failures.join('\n  ')}` : '\nAll targets met.');
  process.exitCode = failures.length ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
