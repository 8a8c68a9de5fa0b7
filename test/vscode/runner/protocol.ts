/**
 * The result lines test/vscode/suite/index.ts logs (`MAYFLY_VSCODE_TEST {json}`), and the
 * tally the runners keep of them.
 */
export const RESULT_PREFIX = 'MAYFLY_VSCODE_TEST ';
/** Prefix index.ts puts before console output of the tests (and the extension) during a run. */
export const OUTPUT_PREFIX = 'MAYFLY_VSCODE_OUT ';

export type ResultEvent =
  | { event: 'start'; suite: string; files: string[] }
  | { event: 'pass'; title: string; ms: number }
  | { event: 'fail'; title: string; ms: number; error: string }
  | { event: 'pending'; title: string }
  | { event: 'end'; passes: number; failures: number; pending: number };

/** Finds a result event inside one log line (the workbench may prefix or quote it). */
export function parseResultLine(line: string): ResultEvent | undefined {
  const i = line.indexOf(RESULT_PREFIX);
  if (i < 0) return undefined;
  const json = line.slice(i + RESULT_PREFIX.length).trim();
  try {
    return JSON.parse(json) as ResultEvent;
  } catch {
    // The JSON may be followed by decoration (e.g. a source location): cut at the last brace.
    const end = json.lastIndexOf('}');
    try {
      return end > 0 ? (JSON.parse(json.slice(0, end + 1)) as ResultEvent) : undefined;
    } catch {
      return undefined;
    }
  }
}

export interface Tally {
  passed: number;
  failed: number;
  failures: { title: string; error: string }[];
  started: boolean;
  ended: boolean;
  /** mocha's own totals from the "end" line. */
  endStats?: { passes: number; failures: number };
}

export function newTally(): Tally {
  return { passed: 0, failed: 0, failures: [], started: false, ended: false };
}

/** Counts one event and returns the line to print for it (undefined: print nothing). */
export function record(t: Tally, e: ResultEvent, suite: string): string | undefined {
  switch (e.event) {
    case 'start':
      t.started = true;
      return `[${suite}] running ${e.files.length} test file(s): ${e.files.join(', ') || '(none)'}`;
    case 'pass':
      t.passed++;
      return `[${suite}]   ✓ ${e.title} (${e.ms} ms)`;
    case 'fail':
      t.failed++;
      t.failures.push({ title: e.title, error: e.error });
      return `[${suite}]   ✗ ${e.title} (${e.ms} ms)\n${indent(e.error, `[${suite}]       `)}`;
    case 'pending':
      // index.ts runs mocha with forbidPending, so a skipped test also fails the run.
      t.failed++;
      t.failures.push({ title: e.title, error: 'pending (skipped) tests are not allowed' });
      return `[${suite}]   - ${e.title} (pending: counts as failed)`;
    case 'end':
      t.ended = true;
      t.endStats = { passes: e.passes, failures: e.failures + e.pending };
      return undefined;
  }
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

/**
 * Why a suite must count as failed although no test line said so, or undefined. An
 * extension host killed mid-run still gets exit code 0 from the workbench: only the missing
 * "end" line tells.
 */
export function verdict(t: Tally, exitCode: number): string | undefined {
  if (!t.started) return 'the test host never started the suite (see workbench.log / code-server.log)';
  if (!t.ended) return 'the test host stopped before the suite finished (extension host crashed or killed?)';
  if (t.endStats && t.endStats.passes + t.endStats.failures !== t.passed + t.failed) {
    return `result lines were lost: mocha counted ${t.endStats.passes} passed, ${t.endStats.failures} failed`;
  }
  if (exitCode !== 0 && t.failed === 0) return `run() failed with exit code ${exitCode}`;
  if (t.passed === 0 && t.failed === 0) return 'no test ran';
  return undefined;
}
