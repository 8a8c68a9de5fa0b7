/**
 * Admission control for work on a PostgreSQL server that runs on this machine.
 *
 * Such a server shares this machine's cores with Mayfly (and with everything else). When
 * more provisions run at once than there are cores, they all slow down together: the CPU is
 * shared between them (PostgreSQL's SCRAM verifier check alone is milliseconds per new
 * password), so every one finishes late, near the end of the burst, and each extra one also
 * needs its own pooled connections (a handshake and a backend each). Letting as many run as
 * there are cores, the others waiting in arrival order, finishes the first ones early and the
 * last no later. A server elsewhere is limited by the network, not by these cores: no limit.
 *
 * MAYFLY_PROVISION_CONCURRENCY overrides the limit (a positive integer; 0: no limit).
 */
import os from 'node:os';
import type { ConnectionParams } from '../config/dsn';

interface Gate {
  active: number;
  waiting: (() => void)[];
}

const gates = new Map<string, Gate>();

/** Loopback addresses and Unix socket directories: the server runs on this machine. */
export function isLocalServer(host: string): boolean {
  const h = host.toLowerCase();
  return h.startsWith('/') || h === 'localhost' || h.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::1' || h === '0:0:0:0:0:0:0:1';
}

/** How many operations may run at once on this server (Infinity: no limit). */
export function concurrencyLimit(granter: ConnectionParams): number {
  const env = process.env.MAYFLY_PROVISION_CONCURRENCY;
  if (env !== undefined && /^\d+$/.test(env.trim())) {
    const n = Number(env.trim());
    return n === 0 ? Infinity : n;
  }
  if (!isLocalServer(granter.host)) return Infinity;
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/** Runs fn once fewer than the limit are running on this server; the others wait in arrival order. */
export async function admitted<T>(granter: ConnectionParams, fn: () => Promise<T>): Promise<T> {
  const limit = concurrencyLimit(granter);
  if (limit === Infinity) return fn();
  const key = `${granter.host}\0${granter.port}`;
  let gate = gates.get(key);
  if (!gate) {
    gate = { active: 0, waiting: [] };
    gates.set(key, gate);
  }
  const g = gate;
  if (g.active >= limit) await new Promise<void>((resolve) => g.waiting.push(resolve));
  else g.active++;
  try {
    return await fn();
  } finally {
    const next = g.waiting.shift();
    if (next) next(); // the slot passes on directly: `active` stays the same
    else {
      g.active--;
      if (g.active === 0 && gates.get(key) === g) gates.delete(key);
    }
  }
}
