// `npm test`: every tier, then ONE plain "N passed, N failed" line for CI.
//   node scripts/test.mjs [tier...]   tiers: unit lsp cli integration fuzz vscode (default: all)
// `fuzz` is the short pass of the fuzzers (test/fuzz); `npm run fuzz` runs them long.
// The mocha tiers run in one process (scripts/mocha-run.ts); the VS Code tier runs the
// extension-host suites inside code-server (scripts/vscode-test.mjs). Each prints its own
// counts; this script adds them up.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const requested = process.argv.slice(2);
const all = ['unit', 'lsp', 'cli', 'integration', 'fuzz', 'vscode'];
const tiers = requested.length ? requested : all;
const mochaTiers = tiers.filter((t) => t !== 'vscode');

/** Runs a command, streaming its output, and returns the counts from its last summary line. */
function run(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let tail = '';
    child.stdout.on('data', (d) => {
      process.stdout.write(d);
      tail = (tail + d.toString()).slice(-4000);
    });
    child.on('close', (code) => {
      const lines = tail.trim().split('\n');
      const last = lines.reverse().find((l) => /^\s*\d+ passed, \d+ failed\s*$/.test(l));
      const m = last ? /(\d+) passed, (\d+) failed/.exec(last) : null;
      // A tier that printed no summary, or exited non-zero with no failures counted, is one failure.
      const passed = m ? Number(m[1]) : 0;
      let failed = m ? Number(m[2]) : 1;
      if (code !== 0 && failed === 0) failed = 1;
      resolve({ passed, failed });
    });
  });
}

let passed = 0;
let failed = 0;
if (mochaTiers.length) {
  const r = await run(['--import', 'tsx', path.join(root, 'scripts', 'mocha-run.ts'), ...mochaTiers]);
  passed += r.passed;
  failed += r.failed;
}
if (tiers.includes('vscode')) {
  console.log('\n== VS Code tier (extension-host suites in a real VS Code)');
  const r = await run([path.join(root, 'scripts', 'vscode-test.mjs'), '--no-build']);
  passed += r.passed;
  failed += r.failed;
  console.log('\n== UI walkthrough (Playwright in the workbench; screenshots to docs/images)');
  const ui = await run(['--import', 'tsx', path.join(root, 'test', 'vscode', 'ui', 'sessionTerminal.ui.ts'), path.join(root, 'docs', 'images')]);
  passed += ui.passed;
  failed += ui.failed;
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
