/** Runs Debian's pgbench against one target and reads TPS and latency from its report. */
import { spawn } from 'node:child_process';

/** Where pgbench connects; the password travels in PGPASSWORD, never on the command line. */
export interface PgbenchTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface PgbenchRun {
  mode: 'simple' | 'extended' | 'prepared';
  clients: number;
  threads: number;
  seconds: number;
  /** -C: a new connection per transaction. */
  connectPerTransaction?: boolean;
}

export interface PgbenchResult {
  tps: number;
  /** pgbench's "latency average", ms. */
  latencyMs: number;
  /** With -C: pgbench's "average connection time", ms. */
  connectMs?: number;
  transactions: number;
}

export function pgbenchArgs(t: PgbenchTarget, r: PgbenchRun): string[] {
  return [
    '-n', // no VACUUM first: the session role may not vacuum tables it does not own
    '-S',
    '-M', r.mode,
    '-c', String(r.clients),
    '-j', String(r.threads),
    '-T', String(r.seconds),
    ...(r.connectPerTransaction ? ['-C'] : []),
    '-h', t.host,
    '-p', String(t.port),
    '-U', t.user,
    t.database,
  ];
}

/** Parses pgbench's summary; throws with the reason when the run did not complete cleanly. */
export function parsePgbenchReport(out: string): PgbenchResult {
  const num = (re: RegExp): number | undefined => {
    const m = re.exec(out);
    return m ? Number(m[1]) : undefined;
  };
  const failed = num(/number of failed transactions: (\d+)/);
  if (failed) throw new Error(`pgbench reported ${failed} failed transactions`);
  const transactions = num(/number of transactions actually processed: (\d+)/);
  // -T counts from before the clients connect: on a busy machine a short run can end first.
  if (transactions === 0) throw new Error('pgbench processed no transaction (its clients were still connecting when -T ran out)');
  const tps = num(/^tps = ([\d.]+)/m);
  const latencyMs = num(/^latency average = ([\d.]+) ms/m);
  if (tps === undefined || latencyMs === undefined || transactions === undefined) throw new Error('pgbench printed no tps / latency summary');
  return { tps, latencyMs, transactions, connectMs: num(/^average connection time = ([\d.]+) ms/m) };
}

/** Runs pgbench to completion; rejects with pgbench's own error text (it never prints the password). */
export function runPgbench(t: PgbenchTarget, r: PgbenchRun): Promise<PgbenchResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('pgbench', pgbenchArgs(t, r), {
      // Plaintext to every target, so no run pays for TLS (Mayfly and libpq would negotiate it).
      env: { PATH: process.env.PATH, PGPASSWORD: t.password, PGSSLMODE: 'disable', PGAPPNAME: 'mayfly-wire-bench' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    // Start-up and the final report take seconds at most; a hung run must not hang the bench.
    const timer = setTimeout(() => child.kill('SIGKILL'), (r.seconds + 60) * 1000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run pgbench (install postgresql-client): ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const tail = err.trim().split('\n').slice(-3).join(' | ');
      if (code !== 0) return reject(new Error(`pgbench exited ${code}: ${tail}`));
      try {
        resolve(parsePgbenchReport(out));
      } catch (e) {
        const report = out.trim().split('\n').slice(-4).join(' | ');
        reject(new Error(`${(e as Error).message}: ${[tail, report].filter(Boolean).join(' | ')}`));
      }
    });
  });
}

/** `pgbench -i` as the superuser: the standard tables at `scale` (100,000 accounts per unit). */
export function initPgbench(t: PgbenchTarget, scale: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('pgbench', ['-i', '-q', '-s', String(scale), '-h', t.host, '-p', String(t.port), '-U', t.user, t.database], {
      env: { PATH: process.env.PATH, PGPASSWORD: t.password, PGSSLMODE: 'disable' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('error', (e) => reject(new Error(`cannot run pgbench (install postgresql-client): ${e.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`pgbench -i exited ${code}: ${err.trim()}`))));
  });
}
