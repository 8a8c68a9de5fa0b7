/**
 * `mayfly proxy` flags for server connection pooling, checked before anything starts:
 * `--pool-size N` (idle server connections kept per role, database and settings; 0 turns
 * pooling off), `--max-upstream N` (server connections in all), `--pool-idle-timeout D`
 * and `--pool-wait D` (Go durations such as 30s or 5m).
 */
import { parseGoDuration } from '../../policy/duration';
import type { PoolLimits } from './pool';

export interface PoolFlags {
  poolSize?: string;
  maxUpstream?: string;
  poolIdleTimeout?: string;
  poolWait?: string;
}

function count(flag: string, text: string, min: number): number {
  if (!/^\d{1,7}$/.test(text.trim()) || Number(text) < min) throw new Error(`${flag} expects a whole number of at least ${min} (got "${text}")`);
  return Number(text);
}

function millis(flag: string, text: string, example: string): number {
  const d = parseGoDuration(text.trim());
  if (!d.ok || d.ns <= 0) throw new Error(`${flag} expects a duration greater than 0 such as ${example} (got "${text}")`);
  return Math.max(1, Math.round(d.ns / 1e6));
}

export function parsePoolFlags(f: PoolFlags): Partial<PoolLimits> {
  return {
    ...(f.poolSize !== undefined ? { idlePerKey: count('--pool-size', f.poolSize, 0) } : {}),
    ...(f.maxUpstream !== undefined ? { maxConnections: count('--max-upstream', f.maxUpstream, 1) } : {}),
    ...(f.poolIdleTimeout !== undefined ? { idleTimeoutMs: millis('--pool-idle-timeout', f.poolIdleTimeout, '5m') } : {}),
    ...(f.poolWait !== undefined ? { waitTimeoutMs: millis('--pool-wait', f.poolWait, '10s') } : {}),
  };
}
