/**
 * One node-postgres Client per database, opened as the granter. Connection failures become
 * ProvisionErrors that name the database and connection (never the DSN or password).
 * Notices are kept per client: PostgreSQL reports a GRANT that granted nothing as a WARNING
 * (SQLSTATE 01007), not an error, and a silent partial grant is exactly what we must refuse.
 *
 * provision(), roleStatus(), extendRole() and expireRole() use pooled connections
 * (./pool.ts). The sweep keeps opening its own: it runs every few minutes, not on a user's
 * path, and a fresh connection is also its check that each database still accepts one.
 */
import pg from 'pg';
import type { ConnectionParams } from '../config/dsn';
import { toClientConfig } from '../config/pgClient';
import { connectionError } from './errors';

export interface GranterClient {
  database: string;
  client: pg.Client;
  /** Warnings received since the last take(). */
  takeWarnings(): { code: string; message: string }[];
}

export async function openClient(
  granter: ConnectionParams,
  database: string,
  action: string,
  secrets: readonly (string | undefined)[],
): Promise<GranterClient> {
  const client = new pg.Client(toClientConfig(granter, { database }));
  // An idle client whose backend dies emits 'error'; without a listener that kills the process.
  client.on('error', () => undefined);
  let warnings: { code: string; message: string }[] = [];
  client.on('notice', (n) => {
    if (n.severity === 'WARNING' || n.code?.startsWith('01')) warnings.push({ code: n.code ?? '', message: n.message ?? '' });
  });
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    throw connectionError(action, granter, database, e, secrets);
  }
  return {
    database,
    client,
    takeWarnings() {
      const out = warnings;
      warnings = [];
      return out;
    },
  };
}

export async function closeQuietly(c: GranterClient | undefined): Promise<void> {
  if (c) await c.client.end().catch(() => undefined);
}

/** Opens the granter's maintenance database (the DSN's database), runs fn, always closes. */
export async function withMaintenanceClient<T>(
  granter: ConnectionParams,
  action: string,
  secrets: readonly (string | undefined)[],
  fn: (c: GranterClient) => Promise<T>,
): Promise<T> {
  const c = await openClient(granter, granter.database, action, secrets);
  try {
    return await fn(c);
  } finally {
    await closeQuietly(c);
  }
}
