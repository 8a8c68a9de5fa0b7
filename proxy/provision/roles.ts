/**
 * Life of an existing session role: status, extension (VALID UNTIL only, same password) and
 * expiry (VALID UNTIL now, then ending its live connections — VALID UNTIL alone only stops
 * new logins). All of them refuse roles that are not mayfly_managed members, and the
 * changing ones run under the same per-role locks as provisioning.
 *
 * They use pooled connections (./pool.ts): the lock and the facts travel in one batch, and a
 * lease that took the role lock ends with pg_advisory_unlock_all() (or closes its connection).
 */
import type { ConnectionParams } from '../config/dsn';
import { MARKER_ROLE, quoteIdent } from '../../policy/sql';
import type { GranterClient } from './connection';
import { ProvisionError, statementError } from './errors';
import { GRANTER_FACTS, parseGranterFacts, parseRoleFacts, ROLE_FACTS, type GranterFacts, type RoleFacts } from './facts';
import { localKey, roleLockStatements, serializeLocal, UNLOCK_ALL_STATEMENT } from './locks';
import { noteGranterSuperuser, noteRoleExists } from './hints';
import { admitted } from './limiter';
import { PooledClient, type BatchPart } from './pool';
import { sqlLiteral } from './sqlText';
import { startTrace } from './trace';
import { validUntilStatement } from '../../policy/sql';
import { actAsRoleStatement } from './cleanupSql';

export interface RoleStatus {
  exists: boolean;
  /** A member of mayfly_managed (Mayfly created it). */
  managed: boolean;
  /** Absent when the role does not exist or has no limit. */
  validUntil?: Date;
  /** Has LOGIN and VALID UNTIL has not passed (server clock). */
  canLogin: boolean;
}

/** Granter and role facts as the last two results of a batch. */
function factsStatements(role: string): BatchPart[] {
  return [
    { query: GRANTER_FACTS, args: [] },
    { query: ROLE_FACTS, args: [sqlLiteral(role), sqlLiteral(MARKER_ROLE)] },
  ];
}

function parseFacts(results: { rows: unknown[] }[]): { g: GranterFacts; r: RoleFacts } {
  const [gRows, rRows] = results.slice(-2).map((x) => x.rows);
  const g = parseGranterFacts(gRows!);
  return { g, r: parseRoleFacts(rRows!, g) };
}

export async function roleStatus(granter: ConnectionParams, role: string): Promise<RoleStatus> {
  const action = `cannot read the status of role "${role}"`;
  const secrets = [granter.password];
  return admitted(granter, async () => {
    const trace = startTrace('roleStatus', role);
    const main = await PooledClient.acquire(granter, granter.database, action, secrets);
    try {
      const { g, r } = parseFacts(await main.batch(factsStatements(role)));
      noteGranterSuperuser(granter, g.superuser);
      noteRoleExists(granter, role, r.exists);
      const out: RoleStatus = { exists: r.exists, managed: r.managed, canLogin: r.exists && r.login && r.inValidity };
      if (r.validUntil) out.validUntil = r.validUntil;
      return out;
    } catch (e) {
      throw statementError(action, e, { granter: granter.user }, secrets);
    } finally {
      await main.release();
      trace.done();
    }
  });
}

/** Runs fn with the maintenance connection, the role locked, and facts about granter and role. */
function underRoleLock<T>(
  granter: ConnectionParams,
  role: string,
  action: string,
  fn: (main: GranterClient, g: GranterFacts, r: RoleFacts) => Promise<T>,
): Promise<T> {
  const secrets = [granter.password];
  return serializeLocal(localKey(granter, role), () =>
    admitted(granter, async () => {
      const main = await PooledClient.acquire(granter, granter.database, action, secrets);
      try {
        main.mayHoldLocks = true;
        const { g, r } = parseFacts(await main.batch([...roleLockStatements(role), ...factsStatements(role)]));
        noteGranterSuperuser(granter, g.superuser);
        try {
          return await fn(main, g, r);
        } finally {
          // Always released: here, or by PostgreSQL when release() closes a connection that still
          // holds it. fn's statements run outside any transaction, so there is nothing to roll back.
          await main
            .query(UNLOCK_ALL_STATEMENT)
            .then(() => (main.mayHoldLocks = false))
            .catch(() => undefined);
        }
      } catch (e) {
        // fn talks to main.client directly: after a failed statement, do not reuse the connection.
        if (!(e instanceof ProvisionError)) main.discard();
        throw statementError(action, e, { granter: granter.user }, secrets);
      } finally {
        await main.release();
      }
    }),
  );
}

/** The errors every change to an existing role checks first. */
export function refuseUnless(action: string, role: string, g: GranterFacts, r: RoleFacts): void {
  if (!r.managed)
    throw new ProvisionError({
      action,
      cause: `role "${role}" is not a member of "${MARKER_ROLE}": Mayfly did not create it and will not change it`,
      hint: `If it really is a Mayfly session role, mark it with GRANT ${quoteIdent(MARKER_ROLE)} TO ${quoteIdent(role)}.`,
    });
  if (!r.granterAdmin)
    throw new ProvisionError({
      action,
      sqlstate: '42501',
      cause: `the granter "${g.user}" may not alter role "${role}" (PostgreSQL 16+ requires ADMIN OPTION on it; another granter created it)`,
      hint: `As a superuser run GRANT ${quoteIdent(role)} TO ${quoteIdent(g.user)} WITH ADMIN OPTION, or use the granter that created it.`,
    });
}

/** Sets VALID UNTIL only; the password stays the same. */
export async function extendRole(granter: ConnectionParams, role: string, validUntil: Date): Promise<void> {
  const action = `cannot extend role "${role}"`;
  if (!(validUntil instanceof Date) || Number.isNaN(validUntil.getTime()))
    throw new ProvisionError({ action, cause: 'validUntil is not a valid date', hint: 'Pass a Date.' });
  await underRoleLock(granter, role, action, async (main, g, r) => {
    if (!r.exists)
      throw new ProvisionError({ action, cause: `role "${role}" does not exist (expired and swept, or never provisioned)`, hint: 'Provision it again.' });
    refuseUnless(action, role, g, r);
    await main.client.query(validUntilStatement(role, validUntil));
  });
}

export interface ExpireOptions {
  /** Also end the role's open connections, in every database. */
  terminate: boolean;
  /** Only expire if VALID UNTIL is not later than this (i.e. nobody extended the role meanwhile). */
  ifValidUntilNotAfter?: Date;
}

export async function expireRole(granter: ConnectionParams, role: string, opts: ExpireOptions): Promise<{ expired: boolean; terminated: number }> {
  const action = `cannot expire role "${role}"`;
  return underRoleLock(granter, role, action, async (main, g, r) => {
    if (!r.exists) return { expired: false, terminated: 0 };
    refuseUnless(action, role, g, r);
    // Checked under the lock: an extension that happened meanwhile wins over this expiry.
    if (opts.ifValidUntilNotAfter && (!r.validUntil || r.validUntil.getTime() > opts.ifValidUntilNotAfter.getTime()))
      return { expired: false, terminated: 0 };
    // The server's clock decides VALID UNTIL; never move an already-passed VALID UNTIL forward.
    const { rows } = await main.client.query('SELECT statement_timestamp() AS now');
    const now = (rows[0] as { now: Date }).now;
    if (!r.validUntil || r.validUntil.getTime() > now.getTime()) await main.client.query(validUntilStatement(role, now));
    const terminated = opts.terminate ? await terminateBackends(main, g, r, role) : 0;
    return { expired: true, terminated };
  });
}

/** Makes sure the granter holds the role's privileges (PG16+ creators get ADMIN without INHERIT). */
export async function actAsRole(main: GranterClient, g: GranterFacts, r: RoleFacts, role: string): Promise<void> {
  if (g.superuser || r.granterHasPrivileges) return;
  await main.client.query(actAsRoleStatement(role, g.user, g.versionNum));
}

/**
 * Ends every backend of the role, in every database (pg_stat_activity is cluster-wide), and
 * waits for them to exit (PG14+) so a caller can rely on the connections being gone.
 */
export async function terminateBackends(main: GranterClient, g: GranterFacts, r: RoleFacts, role: string): Promise<number> {
  if (!g.signalBackend) await actAsRole(main, g, r, role);
  const call = g.versionNum >= 140000 ? 'pg_terminate_backend(pid, 5000)' : 'pg_terminate_backend(pid)';
  const { rows } = await main.client.query(
    `SELECT count(*) FILTER (WHERE ${call})::int AS n FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`,
    [role],
  );
  return (rows[0] as { n: number }).n;
}
