/**
 * The wire benchmark (issue 5): pgbench against one embedded PostgreSQL directly, through
 * Mayfly (`dist/proxy.js proxy --listen`, a users-file identity choosing a policy with
 * `user@policy`, upstream as the session role), through PgBouncer (session pooling, the
 * same SCRAM verifier) and through a bare Node relay (the floor for Node, bench/nodeRelay.ts),
 * all in one run; then proxy memory with 1,000 idle clients.
 *
 * The targets take turns case by case (in a rotating order), so drift in the load of
 * a shared machine spreads over all of them instead of favouring whoever ran first.
 * MAYFLY_BENCH_SECONDS (default 20) sets each target's pgbench time per case, taken in
 * MAYFLY_BENCH_ROUNDS (4) turns; MAYFLY_BENCH_SCALE (10) the pgbench scale.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scramVerifier } from '../proxy/auth/scramVerifier';
import { quoteIdent, verifierLiteral } from '../policy/sql';
import { freePort } from '../proxy/demo/embeddedPostgres';
import { startDedicatedEmbeddedPostgres, type PgServer } from '../test/support/postgres';
import { startProxy, type RunningProxy } from '../test/support/proxyProcess';
import { initPgbench, runPgbench, type PgbenchResult, type PgbenchRun, type PgbenchTarget } from './wirePgbench';
import { pgbouncerVersion, startPgbouncer, type RunningPgbouncer } from './wirePgbouncer';
import { measureIdleClients, processCpuSeconds, type IdleResult } from './wireIdle';
import { startNodeRelay, type RunningNodeRelay } from './wireNodeRelay';

const DATABASE = 'mayfly_wire_bench';
const USER = 'wire_bench';
const POLICY = 'bench';
const MODES = ['simple', 'extended', 'prepared'] as const;
const CLIENTS = [1, 10, 50];
/**
 * -C with 10 clients, the concurrency of the -c 10 comparison. pgbench logs in with a
 * blocking connect, so each of its 2 threads has one login in flight at a time whatever -c
 * is: a larger -c only lengthens the queue (and the latency), not the logins per second.
 */
const CONNECT_CLIENTS = 10;
const IDLE_CLIENTS = 1000;
const POOL_SIZE = Math.max(...CLIENTS) + 10;
/**
 * Every target's pool at once, plus 1,000 idle clients each on its own upstream backend
 * (if the proxy does not share them), plus the superuser's own connections.
 */
const MAX_CONNECTIONS = IDLE_CLIENTS + 3 * POOL_SIZE + 50;

/**
 * `Node relay` is a reference, not a contender: a bare relay with Mayfly's socket I/O and
 * nothing else (bench/nodeRelay.ts), the floor for a proxy running on Node.
 */
const TARGETS = ['direct', 'Mayfly', 'PgBouncer', 'Node relay'] as const;
type TargetName = (typeof TARGETS)[number];

const POLICIES = `policy "${POLICY}" {
  engine              = "postgres"
  plugin_config_entry = "bench-credentials"
  expiration          = "12h"
  instances           = ["${DATABASE}"]
  grant_privileges    = ["SELECT"]
}
`;

export interface WireCase {
  label: string;
  run: Omit<PgbenchRun, 'seconds'>;
  results: Partial<Record<TargetName, PgbenchResult | Error>>;
  /** The pooler's own CPU per transaction (µs), all its threads, user and system. */
  cpuUsPerTx: Partial<Record<TargetName, number>>;
}

export interface WireCheck {
  label: string;
  value: number;
  /** Rendered target, e.g. "≥ 0.90". */
  target: string;
  pass: boolean;
  note?: string;
}

export interface WireBenchResult {
  seconds: number;
  scale: number;
  cases: WireCase[];
  idle: Partial<Record<'Mayfly' | 'PgBouncer', IdleResult | Error>>;
  checks: WireCheck[];
}

function envNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
  return n;
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function cell(r: PgbenchResult | Error | undefined): string {
  if (!r) return '-';
  if (r instanceof Error) return 'error';
  return `${fmt(r.tps)} tps ${fmt(r.latencyMs, r.latencyMs < 10 ? 3 : 1)} ms`;
}

function ratio(a: PgbenchResult | Error | undefined, b: PgbenchResult | Error | undefined): number {
  return a && b && !(a instanceof Error) && !(b instanceof Error) ? a.tps / b.tps : NaN;
}

function errorOf(c: WireCase, ...who: TargetName[]): string | undefined {
  const errs = who.flatMap((t) => (c.results[t] instanceof Error ? [`${t}: ${(c.results[t] as Error).message}`] : []));
  return errs.length ? errs.join('; ') : undefined;
}

function ratioCheck(c: WireCase, num: TargetName, den: TargetName, min: number): WireCheck {
  const value = ratio(c.results[num], c.results[den]);
  return { label: `${c.label}: ${num}/${den}`, value, target: `≥ ${min.toFixed(2)}`, pass: value >= min, note: errorOf(c, num, den) };
}

export function wireChecks(cases: WireCase[], idle: WireBenchResult['idle']): WireCheck[] {
  const checks: WireCheck[] = [];
  const selects = cases.filter((c) => !c.run.connectPerTransaction);
  for (const c of selects) checks.push(ratioCheck(c, 'Mayfly', 'PgBouncer', 0.9));
  for (const c of selects.filter((x) => x.run.clients === 10)) checks.push(ratioCheck(c, 'Mayfly', 'direct', 0.7));
  for (const c of cases.filter((x) => x.run.connectPerTransaction)) {
    checks.push(ratioCheck(c, 'Mayfly', 'direct', 1.2));
    checks.push(ratioCheck(c, 'Mayfly', 'PgBouncer', 1.0));
  }
  const m = idle.Mayfly;
  const ok = m && !(m instanceof Error) && m.connected === IDLE_CLIENTS;
  checks.push({
    label: `Mayfly RSS with ${fmt(IDLE_CLIENTS)} idle clients (MB)`,
    value: m && !(m instanceof Error) ? m.during.rssMb : NaN,
    target: '≤ 200',
    pass: !!ok && (m as IdleResult).during.rssMb <= 200,
    note: !m ? 'not measured' : m instanceof Error ? m.message : ok ? undefined : `only ${m.connected} of ${IDLE_CLIENTS} connected: ${m.error}`,
  });
  return checks;
}

/**
 * pgbench results of several runs as one: transactions added up over the time they took
 * (each run's own tps excludes its connection set-up), latencies weighted by transactions.
 */
export function combinePgbench(runs: PgbenchResult[]): PgbenchResult {
  const transactions = runs.reduce((n, r) => n + r.transactions, 0);
  const seconds = runs.reduce((t, r) => t + r.transactions / r.tps, 0);
  const weighted = (f: (r: PgbenchResult) => number | undefined): number | undefined =>
    runs.every((r) => f(r) !== undefined) ? runs.reduce((a, r) => a + f(r)! * r.transactions, 0) / transactions : undefined;
  const connectMs = weighted((r) => r.connectMs);
  return { transactions, tps: transactions / seconds, latencyMs: weighted((r) => r.latencyMs)!, ...(connectMs !== undefined ? { connectMs } : {}) };
}

/**
 * Each case with every target's results; errors are kept per target so one bad run does
 * not lose the rest. The targets take turns in `rounds` short runs per case (in a rotating
 * order): on a shared machine whose speed drifts over seconds (other tenants, CPU steal),
 * one long run each would hand one target the fast stretch and another the slow one.
 */
async function runCases(
  targets: Record<TargetName, PgbenchTarget>,
  pids: Partial<Record<TargetName, number>>,
  seconds: number,
  rounds: number,
  log: (l: string) => void,
): Promise<WireCase[]> {
  const cases: WireCase[] = [];
  for (const mode of MODES)
    for (const clients of CLIENTS) cases.push({ label: `-S -M ${mode} -c ${clients}`, run: { mode, clients, threads: 2 }, results: {}, cpuUsPerTx: {} });
  cases.push({
    label: `-S -C -c ${CONNECT_CLIENTS}`,
    run: { mode: 'simple', clients: CONNECT_CLIENTS, threads: 2, connectPerTransaction: true },
    results: {},
    cpuUsPerTx: {},
  });
  const slice = Math.max(1, Math.round(seconds / rounds));
  for (const [i, c] of cases.entries()) {
    const runs = Object.fromEntries(TARGETS.map((t) => [t, [] as PgbenchResult[]])) as Record<TargetName, PgbenchResult[]>;
    const failed: Partial<Record<TargetName, Error>> = {};
    const cpu = Object.fromEntries(TARGETS.map((t) => [t, 0])) as Record<TargetName, number>;
    for (let r = 0; r < rounds; r++)
      for (let k = 0; k < TARGETS.length; k++) {
        const t = TARGETS[(i + r + k) % TARGETS.length]!;
        if (failed[t]) continue;
        const pid = pids[t];
        const before = pid ? processCpuSeconds(pid) : 0;
        try {
          runs[t].push(await runPgbench(targets[t], { ...c.run, seconds: slice }));
          if (pid) cpu[t] += processCpuSeconds(pid) - before;
        } catch (e) {
          failed[t] = e as Error;
        }
      }
    for (const t of TARGETS) {
      c.results[t] = failed[t] ?? combinePgbench(runs[t]);
      const tx = runs[t].reduce((n, x) => n + x.transactions, 0);
      if (pids[t] && !failed[t] && tx > 0) c.cpuUsPerTx[t] = (cpu[t] / tx) * 1e6;
    }
    log(`  ${c.label.padEnd(22)} ${TARGETS.map((t) => cell(c.results[t]).padEnd(22)).join('')}`);
  }
  return cases;
}

function printSummary(r: WireBenchResult, log: (l: string) => void): void {
  log('');
  const us = (x: number | undefined): string => (x === undefined ? '-' : fmt(x, 1));
  const r2 = (a: TargetName, b: TargetName, c: WireCase): string => ratio(c.results[a], c.results[b]).toFixed(2);
  log(
    `  ${'case'.padEnd(22)} ${'Mayfly/PgBouncer'.padEnd(18)}${'Mayfly/direct'.padEnd(15)}${'PgBouncer/direct'.padEnd(18)}${'Mayfly/Node relay'.padEnd(19)}` +
      'CPU µs/transaction: Mayfly, PgBouncer, Node relay',
  );
  for (const c of r.cases)
    log(
      `  ${c.label.padEnd(22)} ${r2('Mayfly', 'PgBouncer', c).padEnd(18)}${r2('Mayfly', 'direct', c).padEnd(15)}${r2('PgBouncer', 'direct', c).padEnd(18)}` +
        `${r2('Mayfly', 'Node relay', c).padEnd(19)}${us(c.cpuUsPerTx.Mayfly)}, ${us(c.cpuUsPerTx.PgBouncer)}, ${us(c.cpuUsPerTx['Node relay'])}`,
    );
  for (const c of r.cases) for (const t of TARGETS) if (c.results[t] instanceof Error) log(`  ${c.label} ${t}: ${(c.results[t] as Error).message}`);
  const withC = r.cases.find((c) => c.run.connectPerTransaction);
  if (withC) {
    const conn = TARGETS.map((t) => {
      const x = withC.results[t];
      return `${t} ${x && !(x instanceof Error) && x.connectMs !== undefined ? `${fmt(x.connectMs, 2)} ms` : '-'}`;
    });
    log(`  -C average connection time: ${conn.join(', ')}`);
  }
  log('');
  for (const [who, x] of Object.entries(r.idle)) {
    if (x instanceof Error) log(`  ${who} with ${fmt(IDLE_CLIENTS)} idle clients: ${x.message}`);
    else
      log(
        `  ${who} with ${fmt(x.connected)} idle clients: RSS ${fmt(x.during.rssMb, 1)} MB (before ${fmt(x.before.rssMb, 1)} MB, peak ${fmt(x.during.peakMb, 1)} MB), ` +
          `${fmt(x.upstreamBackends)} upstream backends${x.error ? `; first login error: ${x.error}` : ''}`,
      );
  }
  log('');
  for (const c of r.checks)
    log(`  ${c.pass ? 'PASS' : 'FAIL'}  ${c.label} = ${Number.isNaN(c.value) ? 'n/a' : c.value.toFixed(2)} (target ${c.target})${c.note ? ` — ${c.note}` : ''}`);
}

export async function runWireBench(log: (line: string) => void): Promise<WireBenchResult> {
  const seconds = envNumber('MAYFLY_BENCH_SECONDS', 20, 1, 3600);
  const scale = envNumber('MAYFLY_BENCH_SCALE', 10, 1, 1000);
  const rounds = envNumber('MAYFLY_BENCH_ROUNDS', 4, 1, 100);
  const server = await startDedicatedEmbeddedPostgres(['-c', `max_connections=${MAX_CONNECTIONS}`]);
  const su = server.superuser;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-wire-bench-'));
  let proxy: RunningProxy | undefined;
  let bouncer: RunningPgbouncer | undefined;
  let relay: RunningNodeRelay | undefined;
  try {
    await server.createDatabase(DATABASE);
    await initPgbench({ host: su.host, port: su.port, user: su.user, password: su.password!, database: DATABASE }, scale);

    // One identity for every target: the same password and the same SCRAM verifier on
    // the server (direct), in PgBouncer's auth_file and in Mayfly's users file.
    const password = crypto.randomBytes(24).toString('base64url');
    const verifier = scramVerifier(password);
    await prepareRole(server, verifier);
    const usersFile = path.join(dir, 'users.json');
    fs.writeFileSync(usersFile, JSON.stringify([{ username: USER, password: verifier, type: 'scram-sha-256', role: 'database', policies: [POLICY] }]), { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'config.hcl'), POLICIES);

    const mayflyPort = await freePort();
    proxy = await startProxy(
      [
        '--config', `policy-config=path:${path.join(dir, 'config.hcl')}`,
        '--config', 'bench-credentials=env:MAYFLY_WIRE_BENCH_DSN',
        '--listen', `127.0.0.1:${mayflyPort}`,
        '--users', usersFile,
        '--no-tls',
        // Session pooling gives each connected client its own server connection: room for
        // the 1,000 idle clients, like PgBouncer's max_client_conn below.
        '--max-upstream', String(IDLE_CLIENTS + POOL_SIZE + 50),
      ],
      { MAYFLY_WIRE_BENCH_DSN: `postgres://${su.user}:${encodeURIComponent(su.password!)}@${su.host}:${su.port}/postgres?sslmode=disable` },
    );
    bouncer = await startPgbouncer({ upstreamPort: su.port, database: DATABASE, user: USER, verifier, poolSize: POOL_SIZE, maxClients: IDLE_CLIENTS + POOL_SIZE + 50 });

    relay = await startNodeRelay(su.port);

    const base = { host: '127.0.0.1', password, database: DATABASE };
    const targets: Record<TargetName, PgbenchTarget> = {
      direct: { ...base, port: su.port, user: USER },
      Mayfly: { ...base, port: mayflyPort, user: `${USER}@${POLICY}` },
      PgBouncer: { ...base, port: bouncer.port, user: USER },
      'Node relay': { ...base, port: relay.port, user: USER },
    };

    log(`  pgbench -S -j 2, ${rounds} turns of -T ${Math.max(1, Math.round(seconds / rounds))} per target and case (${seconds} s in all), scale ${scale}, ${server.label}, ${pgbouncerVersion()} (session pooling), Mayfly (dist/proxy.js)`);
    // Warm-up at the highest concurrency: Mayfly provisions its session role, both poolers
    // fill their pools, the server's caches warm up. Not measured.
    for (const t of TARGETS)
      await runPgbench(targets[t], { mode: 'simple', clients: Math.max(...CLIENTS), threads: 2, seconds: Math.min(seconds, 3) }).catch((e: Error) =>
        log(`  warm-up through ${t} failed: ${e.message}`),
      );
    log(`  ${'case'.padEnd(22)} ${TARGETS.map((t) => t.padEnd(22)).join('')}`);
    const pids = { Mayfly: proxy.process.pid!, PgBouncer: bouncer.pid, 'Node relay': relay.pid };
    const cases = await runCases(targets, pids, seconds, rounds, log);

    const idle: WireBenchResult['idle'] = {};
    const backends = (where: string, value: string) => async () =>
      Number(
        (await server.query<{ n: string }>('postgres', `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND ${where}`, [DATABASE, value]))[0]!.n,
      );
    idle.Mayfly = await measureIdleClients(proxy.process.pid!, targets.Mayfly, IDLE_CLIENTS, backends('starts_with(usename::text, $2)', '_hoop_session_user_')).catch(
      (e: Error) => e,
    );
    idle.PgBouncer = await measureIdleClients(bouncer.pid, targets.PgBouncer, IDLE_CLIENTS, backends('usename = $2', USER)).catch((e: Error) => e);

    const result: WireBenchResult = { seconds, scale, cases, idle, checks: wireChecks(cases, idle) };
    printSummary(result, log);
    return result;
  } finally {
    await relay?.stop();
    await bouncer?.stop();
    if (proxy) {
      await proxy.stop();
      fs.rmSync(proxy.home, { recursive: true, force: true });
    }
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The benchmark's login role: SELECT on pgbench's tables, its password given as a verifier. */
async function prepareRole(server: PgServer, verifier: string): Promise<void> {
  const role = quoteIdent(USER);
  await server.query('postgres', `CREATE ROLE ${role} LOGIN PASSWORD ${verifierLiteral(verifier)}`);
  await server.query('postgres', `GRANT CONNECT ON DATABASE ${quoteIdent(DATABASE)} TO ${role}`);
  await server.query(DATABASE, `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
}
