/**
 * Extension-host entry of the "tests inside a real VS Code" tier (docs/testing-vscode.md).
 *
 * VS Code loads the compiled bundle (out/vscode-tests/suite/index.js) in the extension host
 * and calls run(). It runs every compiled `*.test.js` found under its own folder with
 * mocha, so a new `test/vscode/suite/**\/*.test.ts` is picked up without touching this file.
 * A top-level folder holding a `suite.json` is a separate suite (own workspace, trust and
 * environment, own code-server): the runner selects it with MAYFLY_VSCODE_SUITE=<folder>;
 * without that variable (or with "default") those folders are left out.
 *
 * Each test result is logged as one machine-readable line, `MAYFLY_VSCODE_TEST {json}`, which
 * reaches the runner through the workbench's codeAutomationLog (code-server) or the file
 * named by MAYFLY_VSCODE_RESULTS_FILE (@vscode/test-electron); the runner prints and counts
 * them. Console output during the run is tagged `MAYFLY_VSCODE_OUT ` so the runner shows it.
 */
import Mocha from 'mocha';
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { OUTPUT_PREFIX, RESULT_PREFIX, type ResultEvent } from '../runner/protocol';

const originalConsole = { log: console.log, info: console.info, warn: console.warn, error: console.error };

function emit(e: ResultEvent): void {
  const line = RESULT_PREFIX + JSON.stringify(e);
  originalConsole.log.call(console, line);
  // Also to a file when asked: the @vscode/test-electron runner reads results from there.
  const file = process.env.MAYFLY_VSCODE_RESULTS_FILE;
  if (file) fs.appendFileSync(file, line + '\n');
}

function findTests(dir: string, skipSuiteFolders: boolean, top = true): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (top && skipSuiteFolders && fs.existsSync(path.join(p, 'suite.json'))) continue;
      out.push(...findTests(p, skipSuiteFolders, false));
    } else if (entry.name.endsWith('.test.js')) {
      out.push(p);
    }
  }
  return out.sort();
}

/** Reports every test as it finishes (one result line each) and the totals at the end. */
class LineReporter {
  constructor(runner: Mocha.Runner) {
    const stats = { passes: 0, failures: 0, pending: 0 };
    runner.on(Mocha.Runner.constants.EVENT_TEST_PASS, (test: Mocha.Test) => {
      stats.passes++;
      emit({ event: 'pass', title: test.fullTitle(), ms: test.duration ?? 0 });
    });
    runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, (test: Mocha.Runnable, err: Error) => {
      stats.failures++;
      const error = (err && (err.stack || err.message)) || String(err);
      emit({ event: 'fail', title: test.fullTitle(), ms: test.duration ?? 0, error });
    });
    runner.on(Mocha.Runner.constants.EVENT_TEST_PENDING, (test: Mocha.Test) => {
      stats.pending++;
      emit({ event: 'pending', title: test.fullTitle() });
    });
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => emit({ event: 'end', ...stats }));
  }
}

export function run(): Promise<void> {
  const suite = process.env.MAYFLY_VSCODE_SUITE || 'default';
  const root = suite === 'default' ? __dirname : path.join(__dirname, suite);
  const files = fs.existsSync(root) ? findTests(root, suite === 'default') : [];
  emit({ event: 'start', suite, files: files.map((f) => path.relative(__dirname, f)) });

  const mocha = new Mocha({
    ui: 'bdd',
    color: false,
    timeout: Number(process.env.MAYFLY_VSCODE_TEST_TIMEOUT_MS) || 60_000,
    forbidOnly: true,
    forbidPending: true,
    reporter: LineReporter as unknown as Mocha.ReporterConstructor,
  });
  for (const f of files) mocha.addFile(f);

  // Tag what the tests and the extension print meanwhile, so the runner can tell it from
  // the workbench's own log lines and show it. VS Code's extension host installs console
  // methods as accessors whose setter ignores writes, hence defineProperty.
  const saved = new Map<string, PropertyDescriptor | undefined>();
  for (const k of ['log', 'info', 'warn', 'error'] as const) {
    const forward = originalConsole[k];
    saved.set(k, Object.getOwnPropertyDescriptor(console, k));
    try {
      Object.defineProperty(console, k, {
        configurable: true,
        enumerable: true,
        writable: true,
        value: (...args: unknown[]) => forward.call(console, OUTPUT_PREFIX + util.format(...args)),
      });
    } catch {
      /* not redefinable here: output stays untagged (only in the workbench log) */
    }
  }
  const restoreConsole = (): void => {
    for (const [k, desc] of saved) {
      try {
        if (desc) Object.defineProperty(console, k, desc);
      } catch {
        /* keep ours */
      }
    }
  };

  return new Promise<void>((resolve, reject) => {
    try {
      mocha.run((failures) => {
        restoreConsole();
        if (failures > 0) reject(new Error(`${failures} test(s) failed`));
        else if (files.length === 0) reject(new Error(`no test files found for suite ${suite} under ${root}`));
        else resolve();
      });
    } catch (err) {
      restoreConsole();
      // A test file that throws while loading lands here.
      emit({ event: 'fail', title: `loading the test files of suite ${suite}`, ms: 0, error: String((err as Error)?.stack ?? err) });
      emit({ event: 'end', passes: 0, failures: 1, pending: 0 });
      reject(err);
    }
  });
}
