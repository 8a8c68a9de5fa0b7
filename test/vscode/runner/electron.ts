/**
 * The @vscode/test-electron path: the same compiled suites in a downloaded desktop VS Code.
 * For machines that can reach VS Code's update server. UNTESTED on the project's machines,
 * which cannot download VS Code (docs/testing-vscode.md). Results come back through a file
 * (MAYFLY_VSCODE_RESULTS_FILE) that test/vscode/suite/index.ts appends to.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { codeServerInstall } from './paths';
import { mapStack } from './stack';
import { newTally, parseResultLine, record, verdict } from './protocol';
import type { RunOptions, SuiteResult } from './runSuites';

export async function runSuitesElectron(opts: RunOptions): Promise<SuiteResult[]> {
  const say = opts.onLine ?? ((l: string) => console.log(l));
  const results: SuiteResult[] = [];
  for (const spec of opts.suites) {
    const started = Date.now();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `mayfly-electron-${spec.name}-`));
    const workspace = path.join(tmp, 'workspace');
    fs.cpSync(spec.workspace, workspace, { recursive: true });
    const resultsFile = path.join(tmp, 'results.jsonl');
    let exitCode = -1;
    let problem = '';
    try {
      exitCode = await runTests({
        version: process.env.MAYFLY_VSCODE_VERSION || 'stable',
        // Downloads go next to code-server's install, not into the repository.
        cachePath: path.join(codeServerInstall().cacheDir, 'electron'),
        extensionDevelopmentPath: opts.extensionDir,
        extensionTestsPath: spec.suiteIndex,
        extensionTestsEnv: { ...spec.env, MAYFLY_VSCODE_RESULTS_FILE: resultsFile },
        launchArgs: [
          workspace,
          '--disable-extensions',
          '--user-data-dir', path.join(tmp, 'user-data'),
          ...(spec.trusted === false ? [] : ['--disable-workspace-trust']),
        ],
      });
    } catch (err) {
      problem = `@vscode/test-electron failed: ${(err as Error).message ?? err}`;
      say(`[${spec.name}] ${problem}`);
    }
    const tally = newTally();
    const lines = fs.existsSync(resultsFile) ? fs.readFileSync(resultsFile, 'utf8').split('\n') : [];
    for (const line of lines) {
      const ev = parseResultLine(line);
      if (ev?.event === 'fail') ev.error = mapStack(ev.error);
      const out = ev && record(tally, ev, spec.name);
      if (out) say(out);
    }
    const why = problem || verdict(tally, exitCode);
    if (why) {
      tally.failed++;
      tally.failures.push({ title: `suite ${spec.name}`, error: why });
      say(`[${spec.name}]   ✗ ${why}`);
    }
    fs.rmSync(tmp, { recursive: true, force: true });
    results.push({
      name: spec.name,
      passed: tally.passed,
      failed: tally.failed,
      exitCode,
      durationMs: Date.now() - started,
      failures: tally.failures,
      logDir: '',
    });
  }
  return results;
}
