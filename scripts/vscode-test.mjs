// Runs the "tests inside a real VS Code" tier (docs/testing-vscode.md) and picks its runner:
//   MAYFLY_VSCODE_RUNNER=electron     @vscode/test-electron (downloads VS Code; untested here)
//   MAYFLY_VSCODE_RUNNER=code-server  code-server + Debian chromium via playwright-core
//   unset: code-server when .ci/install-vscode-test-deps.sh installed it, else electron.
// Usage: node scripts/vscode-test.mjs [--no-build] [suite...]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

function codeServerInstalled() {
  const v = JSON.parse(fs.readFileSync(path.join(root, 'test/vscode/runner/versions.json'), 'utf8'));
  const cache = process.env.MAYFLY_VSCODE_TEST_CACHE || path.join(os.homedir(), '.cache', 'mayfly-vscode-test');
  const chromium = process.env.MAYFLY_CHROMIUM || '/usr/bin/chromium';
  return fs.existsSync(path.join(cache, `code-server-${v.codeServer}-node-${v.node}`, '.complete')) && fs.existsSync(chromium);
}

let runner = process.env.MAYFLY_VSCODE_RUNNER;
if (!runner) {
  runner = codeServerInstalled() ? 'code-server' : 'electron';
  if (runner === 'electron') {
    console.log('code-server is not installed (bash .ci/install-vscode-test-deps.sh); trying @vscode/test-electron, which downloads VS Code');
  }
}
const child = spawn(
  process.execPath,
  ['--import', 'tsx', path.join(root, 'test/vscode/runner/cli.ts'), '--runner', runner, ...process.argv.slice(2)],
  { stdio: 'inherit', cwd: root },
);
// Pass a SIGTERM/SIGINT on, so the runner can stop its code-server and chromium.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
