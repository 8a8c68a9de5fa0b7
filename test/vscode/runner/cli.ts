/**
 * `node scripts/vscode-test.mjs [--runner code-server|electron] [--no-build] [suite...]`
 * (the script picks the runner, then runs this file with tsx).
 * Builds the extension (npm run build) and the suites, runs every suite found under
 * test/vscode/suite (or the named ones) and ends with the plain line "N passed, N failed".
 * Exit code 1 when anything failed or no test ran.
 */
import { spawnSync } from 'node:child_process';
import { buildSuites } from './bundle';
import { discoverSuites } from './discover';
import { repoRoot } from './paths';
import type { SuiteResult, SuiteSpec } from './runSuites';

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let runner = 'code-server';
  let build = !process.env.MAYFLY_VSCODE_SKIP_BUILD;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--runner') runner = argv[++i] ?? '';
    else if (a.startsWith('--runner=')) runner = a.slice('--runner='.length);
    else if (a === '--no-build') build = false;
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else names.push(a);
  }
  const t0 = Date.now();

  if (build) {
    // The extension under test is dist/extension.js (package.json "main").
    console.log('== npm run build (dist/extension.js)');
    const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: repoRoot, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`npm run build failed (exit ${r.status})`);
  }
  console.log('== compiling test/vscode/suite into out/vscode-tests/suite');
  const built = await buildSuites();
  let suites: SuiteSpec[] = discoverSuites(built.indexJs);
  if (names.length) {
    const unknown = names.filter((n) => !suites.some((s) => s.name === n));
    if (unknown.length) throw new Error(`no such suite: ${unknown.join(', ')} (have: ${suites.map((s) => s.name).join(', ')})`);
    suites = suites.filter((s) => names.includes(s.name));
  }
  console.log(`== running ${suites.length} suite(s) with ${runner}: ${suites.map((s) => s.name).join(', ') || '(none)'}`);

  let results: SuiteResult[];
  if (runner === 'electron') {
    const { runSuitesElectron } = await import('./electron');
    results = await runSuitesElectron({ extensionDir: repoRoot, suites });
  } else if (runner === 'code-server') {
    const { runSuites } = await import('./runSuites');
    results = await runSuites({ extensionDir: repoRoot, suites });
  } else {
    throw new Error(`unknown runner "${runner}" (code-server or electron)`);
  }

  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  const failures = results.flatMap((r) => r.failures.map((f) => `  ${r.name}: ${f.title}`));
  if (failures.length) console.log(`\nFailed:\n${failures.join('\n')}`);
  console.log(`\nVS Code tests (${runner}) took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed > 0 || passed === 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    console.log('0 passed, 1 failed');
    process.exit(1);
  },
);
