// `npm run fuzz`: the fuzzers in test/fuzz, long. Property runs scale from a base of 10,000
// (the proxy process gets 10,000 malformed or mutated connections; the cheap properties
// 40,000 inputs each; the hcl2-parser comparisons 2,000), a few minutes in all.
//   MAYFLY_FUZZ_RUNS=N   base number of runs (npm test's short pass uses 500)
//   MAYFLY_FUZZ_SEED=S   replay a run: every run prints its seed first
// Prints each property's runs, passes and failures, then "N passed, N failed".
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'mocha-run.ts'), 'fuzz'], {
  cwd: root,
  env: { ...process.env, MAYFLY_FUZZ: 'long' },
  stdio: 'inherit',
});
child.on('close', (code) => process.exit(code ?? 1));
