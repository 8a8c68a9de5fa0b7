/**
 * Microbenchmark: the proxy's cost of refreshing N users from Secrets Manager (real SDK,
 * the local service in a child process so only the client's CPU is counted), with the AWS
 * sources loaded as the proxy loads them — in the user-loading worker thread — and, for
 * reference in the same run, on the main thread as before. For each scenario it reports
 * the CPU time of one refresh pass (the whole process: worker, GC and I/O threads
 * included), the main thread's busy time, and how long the main event loop was blocked
 * during it (the longest and the 99th-percentile gap between 1 ms timer ticks) — what a
 * concurrent login could be delayed by.
 *
 *   measureUserRefresh({ users: 1000, repetitions: 5 })  →  samples { thread, scenario, cpuMs, mainMs, wallMs, maxPauseMs, p99PauseMs, calls }
 *   formatRefreshBench(result)                          →  a Markdown table of medians
 */
import crypto from 'node:crypto';
import { awsTestEnv, forkSecretsManagerServer, withEnv } from '../test/support/secretsManagerServer';
import { SecretsReader, type SecretsOperation } from '../proxy/aws/secretsReader';
import { UserDirectory } from '../proxy/users/directory';
import { createUserSource } from '../proxy/users/userSources';
import { parseUserSourceSpec } from '../proxy/users/sourceSpec';
import type { UserSource } from '../proxy/users/source';
import { UserLoader } from '../proxy/users/worker/userLoader';
import { WorkerUserSource } from '../proxy/users/worker/workerSource';
import type { AwsUserSourceSpec } from '../proxy/users/worker/protocol';
import { silentLogger } from '../proxy/log/logger';
import { scramVerifier } from '../proxy/auth/scramVerifier';
import { percentile } from './stats';

/** Where the AWS sources ran: the loader thread (what the proxy does) or the main thread (before). */
export type LoadThread = 'worker' | 'main';

export interface RefreshSample {
  thread: LoadThread;
  scenario: string;
  /** The whole process (the loader thread included). */
  cpuMs: number;
  /** The main thread's event loop busy (not idle) during the pass. */
  mainMs: number;
  wallMs: number;
  /** The longest gap between 1 ms timer ticks during the pass, minus the 1 ms (includes time the OS ran other processes). */
  maxPauseMs: number;
  /** The 99th percentile of those gaps, minus the 1 ms. */
  p99PauseMs: number;
  calls: Record<SecretsOperation, number>;
}

export interface RefreshBenchResult {
  users: number;
  repetitions: number;
  /** Every run of every scenario, in order. */
  samples: RefreshSample[];
}

type Calls = () => Record<SecretsOperation, number>;

/** Runs `fn` while a 1 ms ticker watches the event loop; CPU is this process's (the service runs in another). */
async function measure(thread: LoadThread, scenario: string, calls: Calls, fn: () => Promise<void>): Promise<RefreshSample> {
  const before = calls();
  let last = performance.now();
  const gaps: number[] = [];
  const ticker = setInterval(() => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }, 1);
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  clearInterval(ticker);
  gaps.push(performance.now() - last);
  gaps.sort((a, b) => a - b);
  const after = calls();
  const delta = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as SecretsOperation]])) as Record<SecretsOperation, number>;
  return {
    thread,
    scenario,
    cpuMs: (cpu.user + cpu.system) / 1000,
    mainMs: elu.active,
    wallMs,
    maxPauseMs: Math.max(0, gaps[gaps.length - 1]! - 1),
    p99PauseMs: Math.max(0, percentile(gaps, 99) - 1),
    calls: delta,
  };
}

function rds(username: string): object {
  return { engine: 'postgres', host: 'db.internal', port: 5432, username, password: crypto.randomBytes(24).toString('base64url'), dbname: 'app' };
}

export async function measureUserRefresh(options: { users?: number; repetitions?: number; threads?: LoadThread[] } = {}): Promise<RefreshBenchResult> {
  const n = options.users ?? 1000;
  const reps = options.repetitions ?? 5;
  const threads = options.threads ?? ['worker', 'main'];
  const sm = await forkSecretsManagerServer();
  const restore = withEnv(awsTestEnv(sm));
  const samples: RefreshSample[] = [];
  const directories: UserDirectory[] = [];
  const closers: (() => void)[] = [];
  const directory = (source: UserSource) => {
    const dir = new UserDirectory({ sources: [source], log: silentLogger, refreshMs: 3600_000 });
    directories.push(dir);
    return dir;
  };
  /**
   * Sources as `thread` runs them. Worker: one loader thread per repetition (as one per
   * proxy), warmed by a first load so that the samples, like the main thread's, measure
   * refreshes and not the SDK loading; each source's version cache lives in that thread.
   */
  const opener = async (thread: LoadThread): Promise<{ open: (spec: string) => UserDirectory; calls: Calls }> => {
    if (thread === 'main') {
      const reader = new SecretsReader({}, silentLogger);
      closers.push(() => reader.close());
      return { open: (spec) => directory(createUserSource(parseUserSourceSpec(spec), { reader: () => reader })), calls: () => ({ ...reader.calls }) };
    }
    const loader = new UserLoader({ log: silentLogger });
    closers.push(() => loader.close());
    await loader.load({ kind: 'aws-secret', secretId: 'bench/all-users' });
    return { open: (spec) => directory(new WorkerUserSource(loader, parseUserSourceSpec(spec) as AwsUserSourceSpec)), calls: () => loader.calls };
  };
  try {
    const names = Array.from({ length: n }, (_, i) => `bench/users/u${String(i).padStart(5, '0')}`);
    const perUser = () => sm.put(names.map((name, i) => [name, rds(`u${i}`)]));
    // Springtail's shape: one secret, half SCRAM verifiers and half plaintext.
    const array = () =>
      sm.put([
        [
          'bench/all-users',
          Array.from({ length: n }, (_, i) =>
            i % 2
              ? { username: `u${i}`, password: scramVerifier(`pw-${i}`, crypto.randomBytes(16), 4096), type: 'scram-sha-256', role: 'database' }
              : { username: `u${i}`, password: crypto.randomBytes(24).toString('base64url'), type: 'text', role: 'database' },
          ),
        ],
      ]);
    await perUser();
    await array();

    // Warm-up: loads the SDK on this thread and resolves credentials, so the samples measure refreshes only.
    const warm = await opener('main');
    await warm.open('aws-prefix:bench/users/').start();

    for (let rep = 0; rep < reps; rep++) {
      for (const thread of threads) {
        const { open, calls } = await opener(thread);
        const prefix = open('aws-prefix:bench/users/');
        samples.push(await measure(thread, `aws-prefix, ${n} per-user secrets: first load`, calls, () => prefix.refreshNow()));
        samples.push(await measure(thread, `aws-prefix, ${n} per-user secrets: unchanged`, calls, () => prefix.refreshNow()));
        await perUser();
        samples.push(await measure(thread, `aws-prefix, ${n} per-user secrets: all rotated`, calls, () => prefix.refreshNow()));
        const single = open('aws:bench/all-users');
        samples.push(await measure(thread, `aws:ID, one secret with ${n} users: first load`, calls, () => single.refreshNow()));
        samples.push(await measure(thread, `aws:ID, one secret with ${n} users: unchanged`, calls, () => single.refreshNow()));
        await array();
        samples.push(await measure(thread, `aws:ID, one secret with ${n} users: all rotated`, calls, () => single.refreshNow()));
        prefix.close();
        single.close();
      }
    }
    return { users: n, repetitions: reps, samples };
  } finally {
    for (const d of directories) d.close();
    for (const close of closers) close();
    restore();
    await sm.stop();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** A table for BENCHMARKS.md: medians over the repetitions, and the worst pause. */
export function formatRefreshBench(r: RefreshBenchResult): string {
  const keys = [...new Set(r.samples.map((s) => `${s.thread}\0${s.scenario}`))];
  const rows = keys.map((key) => {
    const [thread, name] = key.split('\0') as [LoadThread, string];
    const runs = r.samples.filter((s) => s.thread === thread && s.scenario === name);
    const c = runs[0]!.calls;
    const cell = (xs: number[]) => median(xs).toFixed(1);
    return `| ${thread === 'worker' ? 'worker thread' : 'main thread (before)'} | ${name} | ${cell(runs.map((s) => s.cpuMs))} | ${cell(runs.map((s) => s.mainMs))} | ${cell(runs.map((s) => s.wallMs))} | ${cell(runs.map((s) => s.maxPauseMs))} | ${Math.max(...runs.map((s) => s.maxPauseMs)).toFixed(1)} | ${cell(runs.map((s) => s.p99PauseMs))} | ${c.ListSecrets} / ${c.BatchGetSecretValue} / ${c.GetSecretValue} |`;
  });
  return [
    `${r.users} users, median of ${r.repetitions} runs. CPU: the whole process, the loader thread included; main busy: the main thread's event loop not idle; a pause is the longest (p99: the 99th-percentile) time the main event loop went without running a 1 ms timer (it includes time the OS gave other processes).`,
    '',
    '| loaded in | refresh | CPU ms | main busy ms | wall ms | longest pause ms (median) | longest pause ms (worst) | p99 pause ms | List / BatchGet / Get calls |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

if (require.main === module) {
  void measureUserRefresh({ users: Number(process.env.MAYFLY_BENCH_USERS ?? 1000) }).then((r) => console.log(formatRefreshBench(r)));
}
