/**
 * Memory of a proxy process holding many idle client connections: N node-postgres clients
 * log in (SCRAM, through the proxy) and stay connected without a query, and the proxy's
 * resident memory is read from /proc/PID/status.
 */
import fs from 'node:fs';
import pg from 'pg';
import type { PgbenchTarget } from './wirePgbench';

export interface Memory {
  rssMb: number;
  /** Peak resident memory so far (VmHWM). */
  peakMb: number;
}

export function processMemory(pid: number): Memory {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(m[1]);
  };
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

/**
 * CPU seconds a process has used so far, user and system, all its threads (/proc/PID/stat
 * fields 14 and 15, in the kernel's clock ticks of 1/100 s).
 */
export function processCpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after it follow its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export interface IdleResult {
  connected: number;
  before: Memory;
  during: Memory;
  /** The first login error, if any client failed. */
  error?: string;
  /** Upstream backends seen on the server while the clients were connected. */
  upstreamBackends: number;
}

/**
 * Connects `count` clients, `parallel` logins at a time, measures, then closes them all.
 * `countBackends` asks the server how many backends the target opened.
 */
export async function measureIdleClients(
  pid: number,
  target: PgbenchTarget,
  count: number,
  countBackends: () => Promise<number>,
  parallel = 25,
): Promise<IdleResult> {
  const before = processMemory(pid);
  const clients: pg.Client[] = [];
  let error: string | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count && error === undefined) {
      next++;
      const c = new pg.Client({ ...target, ssl: false, application_name: 'mayfly-wire-bench-idle' });
      c.on('error', () => undefined); // a dropped idle connection must not crash the bench
      try {
        await c.connect();
        clients.push(c);
      } catch (e) {
        error ??= (e as Error).message;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: parallel }, worker));
    // Let the proxy finish whatever the last logins started before reading its memory.
    await new Promise((r) => setTimeout(r, 1000));
    const during = processMemory(pid);
    const upstreamBackends = await countBackends();
    return { connected: clients.length, before, during, error, upstreamBackends };
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}
