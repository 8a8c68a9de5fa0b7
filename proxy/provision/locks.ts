/**
 * Serialization of work on one role. Two layers, both needed:
 * - across processes: a session-level advisory lock on the granter's maintenance database,
 *   keyed on the role name (hoop raced here: "tuple concurrently updated");
 * - within this process: a promise queue per (server, role), so 50 concurrent calls wait in
 *   memory instead of each holding a connection while blocked on the advisory lock.
 * A second, server-wide "grants" lock (two-int key space, so it can never collide with a
 * role key) serializes the grant phase across roles: concurrent GRANTs on the same table,
 * schema or database from different roles' provisioning also fail with "tuple concurrently
 * updated". Order is always role lock, then grants lock, so they cannot deadlock.
 */
import type pg from 'pg';
import type { ConnectionParams } from '../config/dsn';
import { sqlLiteral } from './sqlText';

/** Advisory-lock wait limit; a holder is another Mayfly doing seconds of work at most. */
export const LOCK_TIMEOUT_MS = 120_000;

/** The text hashed into the role's advisory lock key: other Mayfly components use the same. */
export function roleLockName(role: string): string {
  return `mayfly:${role}`;
}

/** Two-int advisory key for the grants lock ('mayf', 1). */
export const GRANTS_LOCK: readonly [number, number] = [0x6d617966, 1];

/*
 * The same locks as statements for multi-statement batches (pooled connections). The wait
 * runs in its own transaction so that SET LOCAL bounds it and no setting outlives it; the
 * statements after COMMIT start a new transaction, so whatever they read was read after the
 * lock was granted, whatever the granter's default isolation level. Session-level advisory
 * locks survive the COMMIT. A pooled lease that took either lock ends with UNLOCK_ALL_STATEMENT
 * (or closes its connection, which releases them).
 */
const lockWait = (call: string) => [`BEGIN`, `SET LOCAL lock_timeout = ${LOCK_TIMEOUT_MS}`, `SELECT ${call}`, `COMMIT`];

/** Waits for the role's advisory lock (the key withRoleLock uses). */
export function roleLockStatements(role: string): string[] {
  return lockWait(`pg_advisory_lock(hashtextextended(${sqlLiteral(roleLockName(role))}, 0))`);
}

/** Waits for the grants lock. */
export const GRANTS_LOCK_STATEMENTS: readonly string[] = lockWait(`pg_advisory_lock(${GRANTS_LOCK[0]}, ${GRANTS_LOCK[1]})`);
export const GRANTS_UNLOCK_STATEMENT = `SELECT pg_advisory_unlock(${GRANTS_LOCK[0]}, ${GRANTS_LOCK[1]})`;
/** Releases every session-level advisory lock of the session (the role lock and the grants lock). */
export const UNLOCK_ALL_STATEMENT = 'SELECT pg_advisory_unlock_all()';

const queues = new Map<string, Promise<void>>();

/** Runs fn after every earlier call with the same key has settled (fulfilled or rejected). */
export function serializeLocal<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const run = previous.then(fn);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return run;
}

/** Key of the in-process queue: the server (not the granter user: two granters share roles) and the role. */
export function localKey(granter: ConnectionParams, role: string): string {
  return `${granter.host}\0${granter.port}\0${role}`;
}

async function withLockTimeout<T>(client: pg.Client, fn: () => Promise<T>): Promise<T> {
  await client.query(`SET lock_timeout = ${LOCK_TIMEOUT_MS}`);
  try {
    return await fn();
  } finally {
    await client.query('RESET lock_timeout').catch(() => undefined);
  }
}

/**
 * Holds the role's session-level advisory lock while fn runs. Always released: explicitly in
 * finally, and by PostgreSQL when the session ends if the unlock itself cannot be sent.
 */
export async function withRoleLock<T>(client: pg.Client, role: string, fn: () => Promise<T>): Promise<T> {
  const key = roleLockName(role);
  await withLockTimeout(client, () => client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [key]));
  try {
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]).catch(() => undefined);
  }
}

/** Holds the server-wide grants lock (see above) while fn runs. */
export async function withGrantsLock<T>(client: pg.Client, fn: () => Promise<T>): Promise<T> {
  await withLockTimeout(client, () => client.query('SELECT pg_advisory_lock($1, $2)', [...GRANTS_LOCK]));
  try {
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock($1, $2)', [...GRANTS_LOCK]).catch(() => undefined);
  }
}
