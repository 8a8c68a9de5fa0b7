/**
 * Users from Secrets Manager, as the proxy lives with them (issue 6's benchmark):
 *
 * 1. The cost of one refresh pass of 1,000 users (bench/userRefresh.ts, in-process): CPU,
 *    the main thread's share and how long its event loop was blocked, with the AWS sources
 *    in the loader thread as the proxy runs them and, for reference, on the main thread.
 * 2. Login latency through the real proxy process while 1,000 users refresh every second
 *    and 100 of them rotate every half second, against the same proxy with refreshes off
 *    — what a refresh adds to a concurrent login.
 * 3. How long a rotated password takes to take effect (old refused, new accepted), with a
 *    1 s and the default 15 s refresh interval.
 *
 * Secrets Manager is the local server in a child process, so its CPU is not the proxy's.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { awsTestEnv, forkSecretsManagerServer } from '../test/support/secretsManagerServer';
import { freePort, startEmbeddedPostgres } from '../test/support/postgres';
import { startProxy, type RunningProxy } from '../test/support/proxyProcess';
import { formatRefreshBench, measureUserRefresh } from './userRefresh';
import { ms, summarize } from './stats';

const PREFIX = 'bench/users/';
const USERS = 1000;
/** Turns each of the two proxies gets in the login comparison. */
const ROUNDS = 4;
/** Rotations measured with the 1 s refresh. */
const FAST_ROTATIONS = 5;

export interface UsersBenchResult {
  refreshTable: string;
  loginQuiet: ReturnType<typeof summarize>;
  loginRefreshing: ReturnType<typeof summarize>;
  /** Each interval's rotations, in ms from the new value in Secrets Manager to the proxy applying it. */
  rotation: { refresh: string; intervalMs: number; ms: number[] }[];
}

const rds = (username: string, password: string, extra: object = {}) => ({ engine: 'postgres', host: 'db.internal', port: 5432, username, password, dbname: 'app', ...extra });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function login(port: number, password: string): Promise<number> {
  const t0 = performance.now();
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'bencher', password, database: 'usersbench' });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT 1');
    return performance.now() - t0;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function canLogin(port: number, password: string): Promise<boolean> {
  return login(port, password).then(
    () => true,
    () => false,
  );
}

export async function runUsersBench(out: (line: string) => void, opts: { logins?: number } = {}): Promise<UsersBenchResult> {
  const logins = opts.logins ?? 800;
  out(`Refresh cost, ${USERS} users (one pass: CPU of the process, the main thread's busy time, its event-loop pauses; sources in the loader thread vs on the main thread):`);
  const refreshTable = formatRefreshBench(await measureUserRefresh({ users: USERS, repetitions: 3 }));
  out(refreshTable);

  const server = await startEmbeddedPostgres();
  await server.createDatabase('usersbench');
  const sm = await forkSecretsManagerServer();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-users-bench-'));
  fs.writeFileSync(
    path.join(dir, 'config.hcl'),
    `policy "bench" {\n  engine = "postgres"\n  plugin_config_entry = "granter"\n  expiration = "1h"\n  instances = ["usersbench"]\n  grant_privileges = ["SELECT"]\n}\n`,
  );
  const names = Array.from({ length: USERS }, (_, i) => `${PREFIX}u${String(i).padStart(5, '0')}`);
  const userSecrets = (): [string, object][] => names.map((n, i) => [n, rds(`u${i}`, crypto.randomBytes(18).toString('base64url'))]);
  let benchPassword = crypto.randomBytes(18).toString('base64url');
  const bencher = (): [string, object] => [`${PREFIX}bencher`, rds('bencher', benchPassword, { policy: 'bench' })];
  await sm.put([...userSecrets(), bencher()]);
  const s = server.superuser;
  const env = {
    MAYFLY_BENCH_DSN: `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable`,
    ...awsTestEnv(sm),
  };
  // One home for the three proxies, as for one user: each takes up the session the first opened.
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-users-bench-home-'));
  const started: RunningProxy[] = [];
  const start = async (refresh: string, control?: string): Promise<{ proxy: RunningProxy; port: number }> => {
    const port = await freePort();
    const proxy = await startProxy(
      [...(control ? ['--control', path.join(home, 'run', `${control}.sock`)] : []), '--config', `policy-config=path:${path.join(dir, 'config.hcl')}`, '--config', 'granter=env:MAYFLY_BENCH_DSN', '--listen', `127.0.0.1:${port}`, '--no-tls', '--users', `aws-prefix:${PREFIX}`, '--users-refresh', refresh],
      { ...env, MAYFLY_HOME: home },
    );
    started.push(proxy);
    for (let i = 0; i < 100 && !(await canLogin(port, benchPassword)); i++) await sleep(100);
    return { proxy, port };
  };
  const warm = async (port: number): Promise<void> => {
    for (let i = 0; i < 20; i++) await login(port, benchPassword); // session, pool, verifier cache
  };
  const measureLogins = async (port: number, n: number): Promise<number[]> => {
    const samples: number[] = [];
    for (let i = 0; i < n; i++) samples.push(await login(port, benchPassword));
    return samples;
  };
  const rotation: UsersBenchResult['rotation'] = [];
  try {
    // Two proxies, one without refreshes and one refreshing every second, take turns in
    // ROUNDS rounds, the other one frozen (SIGSTOP) meanwhile: both see the same stretch of
    // a shared machine, and neither the idle one's nor the busy one's CPU leaks into the
    // other's turn. Each has its own control socket; they share the session state.
    const quiet = await start('1h');
    const busy = await start('1s', 'busy');
    const freeze = (p: RunningProxy): boolean => p.process.kill('SIGSTOP');
    const thaw = (p: RunningProxy): boolean => p.process.kill('SIGCONT');
    const quietSamples: number[] = [];
    const busySamples: number[] = [];
    const perRound = Math.ceil(logins / ROUNDS);
    freeze(busy.proxy);
    await warm(quiet.port);
    for (let r = 0; r < ROUNDS; r++) {
      quietSamples.push(...(await measureLogins(quiet.port, perRound)));
      freeze(quiet.proxy);
      thaw(busy.proxy);
      if (r === 0) await warm(busy.port);
      let rotating = true;
      const rotator = (async () => {
        while (rotating) {
          const some = userSecrets().filter(() => Math.random() < 0.1);
          await sm.put(some);
          await sleep(500);
        }
      })();
      // A pass is under way or due at any moment of the turn (they start a second apart).
      await sleep(1000);
      busySamples.push(...(await measureLogins(busy.port, perRound)));
      rotating = false;
      await rotator;
      freeze(busy.proxy);
      thaw(quiet.proxy);
    }
    thaw(busy.proxy);
    await quiet.proxy.stop();
    const loginQuiet = summarize(quietSamples);
    const loginRefreshing = summarize(busySamples);
    const passes = (busy.proxy.output().match(/users\.reconciled/g) ?? []).length;
    out(`\nLogin through the proxy (connect + SELECT 1 + close, bencher@bench from Secrets Manager; the two proxies take turns, ${ROUNDS} rounds of ${Math.ceil(logins / ROUNDS)} logins each):`);
    out('| refresh | logins | p50 ms | p99 ms | max ms |');
    out('|---|---:|---:|---:|---:|');
    out(`| off (1h) | ${loginQuiet.n} | ${ms(loginQuiet.p50)} | ${ms(loginQuiet.p99)} | ${ms(loginQuiet.max)} |`);
    out(`| every 1 s, ${USERS} users, ~10% rotating every 0.5 s (${passes} passes with changes) | ${loginRefreshing.n} | ${ms(loginRefreshing.p50)} | ${ms(loginRefreshing.p99)} | ${ms(loginRefreshing.max)} |`);

    // Rotation: time from the new value in Secrets Manager to the proxy applying it (its
    // users.changed event). Not by retrying logins with the new password: those would be
    // failed logins, and the failure rate limiter would soon (rightly) hold them back.
    const rotate = async (proxy: RunningProxy, port: number): Promise<number> => {
      const old = benchPassword;
      const seen = (proxy.output().match(/users\.changed[^\n]*bencher/g) ?? []).length;
      benchPassword = crypto.randomBytes(18).toString('base64url');
      await sm.put([bencher()]);
      const t0 = performance.now();
      while ((proxy.output().match(/users\.changed[^\n]*bencher/g) ?? []).length === seen) await sleep(10);
      const took = performance.now() - t0;
      if (!(await canLogin(port, benchPassword))) throw new Error('the new password does not work after the rotation');
      if (await canLogin(port, old)) throw new Error('the old password still works after the rotation');
      return took;
    };
    // Let a pass take up the rotator's last changes first, so the next one names bencher's.
    await sleep(2500);
    // Where a write lands relative to the next pass is chance: several rotations at random
    // moments show the spread (about the pass's own time up to one interval plus it).
    const fast: number[] = [];
    for (let i = 0; i < FAST_ROTATIONS; i++) {
      await sleep(Math.random() * 1000);
      fast.push(await rotate(busy.proxy, busy.port));
    }
    rotation.push({ refresh: '1 s', intervalMs: 1000, ms: fast });
    await busy.proxy.stop();
    const dflt = await start('15s');
    rotation.push({ refresh: '15 s (default)', intervalMs: 15_000, ms: [await rotate(dflt.proxy, dflt.port)] });
    await dflt.proxy.stop();
    out('\nRotation takes effect (new password accepted, old refused), after the new value is in Secrets Manager:');
    out('| refresh interval | rotations | median | max |');
    out('|---|---:|---:|---:|');
    for (const r of rotation) {
      const sorted = [...r.ms].sort((a, b) => a - b);
      const sec = (x: number): string => `${(x / 1000).toFixed(2)} s`;
      out(`| ${r.refresh} | ${r.ms.length} | ${sec(sorted[Math.floor((sorted.length - 1) / 2)]!)} | ${sec(sorted[sorted.length - 1]!)} |`);
    }
    return { refreshTable, loginQuiet, loginRefreshing, rotation };
  } finally {
    // A run that failed half-way may leave a proxy frozen: wake it so it can stop.
    for (const p of started) {
      p.process.kill('SIGCONT');
      await p.stop();
    }
    await sm.stop();
  }
}
