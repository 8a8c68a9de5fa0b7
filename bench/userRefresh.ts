/**
 * Microbenchmark: the proxy's cost of refreshing N users from Secrets Manager (real SDK,
 * the local service in a child process so only the client's CPU is counted). For each
 * scenario it reports the CPU time of one refresh pass (the whole process: GC and I/O
 * threads included) and the longest time the event loop was blocked during it — the most a
 * concurrent login could be delayed.
 *
 *   measureUserRefresh({ users: 1000, repetitions: 5 })  →  samples { scenario, cpuMs, wallMs, maxPauseMs, calls }
 *   formatRefreshBench(result)                          →  a Markdown table of medians
 */
import crypto from 'node:crypto';
import { awsTestEnv, forkSecretsManagerServer, withEnv } from '../test/support/secretsManagerServer';
import { SecretsReader, type SecretsOperation } from '../proxy/aws/secretsReader';
import { UserDirectory } from '../proxy/users/directory';
import { createUserSource } from '../proxy/users/userSources';
import { parseUserSourceSpec } from '../proxy/users/sourceSpec';
import { silentLogger } from '../proxy/log/logger';
import { scramVerifier } from '../proxy/auth/scramVerifier';

export interface RefreshSample {
  scenario: string;
  cpuMs: number;
  wallMs: number;
  /** The longest gap between 1 ms timer ticks during the pass, minus the 1 ms (includes time the OS ran other processes). */
  maxPauseMs: number;
  calls: Record<SecretsOperation, number>;
}

export interface RefreshBenchResult {
  users: number;
  repetitions: number;
  /** Every run of every scenario, in order. */
  samples: RefreshSample[];
}

/** Runs `fn` while a 1 ms ticker watches the event loop; CPU is this process's (the service runs in another). */
async function measure(scenario: string, reader: SecretsReader, fn: () => Promise<void>): Promise<RefreshSample> {
  const before = { ...reader.calls };
  let last = performance.now();
  let maxGap = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(ticker);
  maxGap = Math.max(maxGap, performance.now() - last);
  const calls = Object.fromEntries(Object.entries(reader.calls).map(([k, v]) => [k, v - before[k as SecretsOperation]])) as Record<SecretsOperation, number>;
  return { scenario, cpuMs: (cpu.user + cpu.system) / 1000, wallMs, maxPauseMs: Math.max(0, maxGap - 1), calls };
}

function rds(username: string): object {
  return { engine: 'postgres', host: 'db.internal', port: 5432, username, password: crypto.randomBytes(24).toString('base64url'), dbname: 'app' };
}

export async function measureUserRefresh(options: { users?: number; repetitions?: number } = {}): Promise<RefreshBenchResult> {
  const n = options.users ?? 1000;
  const reps = options.repetitions ?? 5;
  const sm = await forkSecretsManagerServer();
  const restore = withEnv(awsTestEnv(sm));
  const samples: RefreshSample[] = [];
  const directories: UserDirectory[] = [];
  const readers: SecretsReader[] = [];
  const open = async (spec: string) => {
    const reader = new SecretsReader({}, silentLogger);
    readers.push(reader);
    const dir = new UserDirectory({ sources: [createUserSource(parseUserSourceSpec(spec), { reader: () => reader })], log: silentLogger, refreshMs: 3600_000 });
    directories.push(dir);
    return { reader, dir };
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

    // Warm-up: loads the SDK and resolves credentials, so the samples measure refreshes only.
    const warm = await open('aws-prefix:bench/users/');
    await warm.dir.start();

    for (let rep = 0; rep < reps; rep++) {
      const prefix = await open('aws-prefix:bench/users/');
      samples.push(await measure(`aws-prefix, ${n} per-user secrets: first load`, prefix.reader, () => prefix.dir.refreshNow()));
      samples.push(await measure(`aws-prefix, ${n} per-user secrets: unchanged`, prefix.reader, () => prefix.dir.refreshNow()));
      await perUser();
      samples.push(await measure(`aws-prefix, ${n} per-user secrets: all rotated`, prefix.reader, () => prefix.dir.refreshNow()));
      const single = await open('aws:bench/all-users');
      samples.push(await measure(`aws:ID, one secret with ${n} users: first load`, single.reader, () => single.dir.refreshNow()));
      samples.push(await measure(`aws:ID, one secret with ${n} users: unchanged`, single.reader, () => single.dir.refreshNow()));
      await array();
      samples.push(await measure(`aws:ID, one secret with ${n} users: all rotated`, single.reader, () => single.dir.refreshNow()));
      prefix.dir.close();
      single.dir.close();
    }
    return { users: n, repetitions: reps, samples };
  } finally {
    for (const d of directories) d.close();
    for (const r of readers) r.close();
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
  const scenarios = [...new Set(r.samples.map((s) => s.scenario))];
  const rows = scenarios.map((name) => {
    const runs = r.samples.filter((s) => s.scenario === name);
    const c = runs[0]!.calls;
    return `| ${name} | ${median(runs.map((s) => s.cpuMs)).toFixed(1)} | ${median(runs.map((s) => s.wallMs)).toFixed(1)} | ${median(runs.map((s) => s.maxPauseMs)).toFixed(1)} | ${Math.max(...runs.map((s) => s.maxPauseMs)).toFixed(1)} | ${c.ListSecrets} / ${c.BatchGetSecretValue} / ${c.GetSecretValue} |`;
  });
  return [
    `${r.users} users, median of ${r.repetitions} runs; a pause is the longest the event loop went without running a 1 ms timer (it includes time the OS gave other processes).`,
    '',
    '| refresh | CPU ms | wall ms | longest pause ms (median) | longest pause ms (worst) | List / BatchGet / Get calls |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

if (require.main === module) {
  void measureUserRefresh({ users: Number(process.env.MAYFLY_BENCH_USERS ?? 1000) }).then((r) => console.log(formatRefreshBench(r)));
}
