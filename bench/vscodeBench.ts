/**
 * Extension benchmarks in a real VS Code (code-server): activation time, choosing a policy
 * to a usable terminal (new and existing role), and the .vsix size.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSuites } from '../test/vscode/runner/bundle';
import { runSuites } from '../test/vscode/runner/runSuites';
import { discoverSuites } from '../test/vscode/runner/discover';
import { summarize, ms } from './stats';

const root = path.resolve(__dirname, '..');

export interface VscodeBenchResult {
  activationMs: number;
  newRole: ReturnType<typeof summarize>;
  existingRole: ReturnType<typeof summarize>;
  vsixBytes: number;
}

export async function runVscodeBench(log: (line: string) => void): Promise<VscodeBenchResult> {
  const outDir = path.join(root, 'out', 'vscode-bench');
  await buildSuites(path.join(root, 'test', 'vscode', 'bench'), outDir);
  const resultFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-vbench-')), 'result.json');
  const suites = discoverSuites(path.join(outDir, 'index.js'), path.join(root, 'test', 'vscode', 'bench')).map((s) => ({
    ...s,
    env: { ...s.env, MAYFLY_BENCH_OUT: resultFile },
  }));
  const [r] = await runSuites({ extensionDir: root, suites });
  if (!r || r.failed || !fs.existsSync(resultFile)) throw new Error(`the VS Code benchmark suite failed (logs: ${r?.logDir})`);
  const data = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as {
    activationMs: number;
    'new role': { usableMs: number[] };
    'existing role': { usableMs: number[] };
  };
  execFileSync('npm', ['run', '--silent', 'package'], { cwd: root, stdio: 'ignore' });
  const vsixBytes = fs.statSync(path.join(root, 'mayfly.vsix')).size;
  const newRole = summarize(data['new role'].usableMs);
  const existingRole = summarize(data['existing role'].usableMs);
  log(`  activation: ${data.activationMs} ms`);
  log(`  policy chosen -> psql answered in the terminal, new role:      p50 ${ms(newRole.p50)} ms, max ${ms(newRole.max)} ms (n=${newRole.n})`);
  log(`  policy chosen -> psql answered in the terminal, existing role: p50 ${ms(existingRole.p50)} ms, max ${ms(existingRole.max)} ms (n=${existingRole.n})`);
  log(`  .vsix size: ${(vsixBytes / 1024).toFixed(0)} KiB`);
  return { activationMs: data.activationMs, newRole, existingRole, vsixBytes };
}
