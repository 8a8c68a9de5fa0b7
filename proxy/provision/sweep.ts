/**
 * sweepExpiredRoles(): drop mayfly_managed members whose VALID UNTIL passed more than the
 * grace period ago. Vault's revocation dies on roles that own objects or hold grants, leaving
 * orphans; here, in every database the role has anything in (pg_shdepend says which), its
 * objects go to the granter (REASSIGN OWNED) and its privileges are dropped (DROP OWNED),
 * then the role is dropped. One role failing does not stop the others; each gets a line in
 * the report saying what was done.
 */
import type { ConnectionParams } from '../config/dsn';
import { MARKER_ROLE } from '../../policy/sql';
import { closeQuietly, openClient, withMaintenanceClient, type GranterClient } from './connection';
import { ProvisionError, statementError } from './errors';
import { canActFor, granterFacts, roleFacts, type GranterFacts } from './facts';
import { localKey, serializeLocal, withGrantsLock, withRoleLock } from './locks';
import { refuseUnless, actAsRole, terminateBackends } from './roles';
import { dropOwnedStatement, dropRoleStatement, FOREIGN_GRANTS_QUERY, reassignOwnedStatement, revokeAsGrantorStatements } from './cleanupSql';

export interface SweepOptions {
  /** How long after VALID UNTIL a role is kept (so a late renewal can still find it). */
  graceMs: number;
  /** Default: this machine's clock. */
  now?: Date;
  /** Where to clean (plus the maintenance database); default: every database where the role owns or holds something. */
  databases?: string[];
}

export interface SweptRole {
  role: string;
  validUntil: Date;
  status: 'dropped' | 'failed' | 'skipped';
  /** Why it failed or was skipped. */
  reason?: string;
  /** Databases where REASSIGN OWNED + DROP OWNED committed. */
  cleanedDatabases: string[];
  /** Connections of the role that were still open and got terminated. */
  terminated: number;
}

export interface SweepReport {
  /** Roles whose VALID UNTIL is before this were swept. */
  cutoff: Date;
  roles: SweptRole[];
  dropped: string[];
  failed: { role: string; reason: string }[];
}

export async function sweepExpiredRoles(granter: ConnectionParams, opts: SweepOptions): Promise<SweepReport> {
  const action = 'cannot sweep expired roles';
  const secrets = [granter.password];
  const cutoff = new Date((opts.now ?? new Date()).getTime() - opts.graceMs);
  return withMaintenanceClient(granter, action, secrets, async (main) => {
    let g: GranterFacts;
    let candidates: { rolname: string; valid_until: Date }[];
    try {
      g = await granterFacts(main.client);
      const { rows } = await main.client.query(
        `SELECT r.rolname, r.rolvaliduntil AS valid_until
           FROM pg_roles r
           JOIN pg_auth_members m ON m.member = r.oid
           JOIN pg_roles k ON k.oid = m.roleid AND k.rolname = $1
          WHERE r.rolvaliduntil < $2
          ORDER BY r.rolname`,
        [MARKER_ROLE, cutoff],
      );
      candidates = rows;
    } catch (e) {
      throw statementError(action, e, { granter: granter.user }, secrets);
    }
    const roles: SweptRole[] = [];
    for (const c of candidates) {
      const result: SweptRole = { role: c.rolname, validUntil: c.valid_until, status: 'failed', cleanedDatabases: [], terminated: 0 };
      try {
        await serializeLocal(localKey(granter, c.rolname), () => sweepOne(granter, main, g, result, cutoff, opts.databases, secrets));
      } catch (e) {
        result.status = 'failed';
        result.reason = statementError(`cannot drop role "${c.rolname}"`, e, { granter: g.user }, secrets).message;
      }
      roles.push(result);
    }
    return {
      cutoff,
      roles,
      dropped: roles.filter((r) => r.status === 'dropped').map((r) => r.role),
      failed: roles.filter((r) => r.status === 'failed').map((r) => ({ role: r.role, reason: r.reason ?? 'unknown' })),
    };
  });
}

async function sweepOne(
  granter: ConnectionParams,
  main: GranterClient,
  g: GranterFacts,
  out: SweptRole,
  cutoff: Date,
  only: string[] | undefined,
  secrets: (string | undefined)[],
): Promise<void> {
  const role = out.role;
  const action = `cannot drop role "${role}"`;
  await withRoleLock(main.client, role, async () => {
    // Re-read under the lock: the role may have been renewed or dropped since the listing.
    const r = await roleFacts(main.client, role, g);
    if (!r.exists || !r.managed || !r.validUntil || r.validUntil.getTime() >= cutoff.getTime()) {
      out.status = 'skipped';
      out.reason = !r.exists ? 'already dropped' : !r.managed ? `no longer a member of "${MARKER_ROLE}"` : 'renewed meanwhile';
      return;
    }
    refuseUnless(action, role, g, r);
    await actAsRole(main, g, r, role);
    out.terminated = await terminateBackends(main, g, { ...r, granterHasPrivileges: true }, role);
    const databases = [...new Set([main.database, ...(only ?? (await dependentDatabases(main, role)))])].sort();
    await withGrantsLock(main.client, async () => {
      for (const database of databases) {
        let c: GranterClient | undefined;
        try {
          c = database === main.database ? main : await openClient(granter, database, action, secrets);
          await c.client.query('BEGIN');
          await c.client.query(reassignOwnedStatement(role, g.user));
          await c.client.query(dropOwnedStatement(role));
          await revokeForeignGrants(c, g, role, database === main.database);
          await c.client.query('COMMIT');
          out.cleanedDatabases.push(database);
        } catch (e) {
          if (c) await c.client.query('ROLLBACK').catch(() => undefined);
          throw statementError(action, e, { database, granter: g.user }, secrets);
        } finally {
          if (c && c !== main) await closeQuietly(c);
        }
      }
      await main.client.query(dropRoleStatement(role));
    });
    out.status = 'dropped';
  });
}

/**
 * Grants to the role made by another granter survive DROP OWNED (see FOREIGN_GRANTS_QUERY);
 * revoke them as that grantor when we may act as it (superuser, or SET on it). Otherwise
 * DROP ROLE fails and the report names the grantor.
 */
async function revokeForeignGrants(c: GranterClient, g: GranterFacts, role: string, withDatabases: boolean): Promise<void> {
  const { rows } = await c.client.query(FOREIGN_GRANTS_QUERY, [role, withDatabases]);
  const blocked = new Set<string>();
  for (const grant of rows as { kind: string; name: string; grantor: string }[]) {
    if (!(await canActFor(c.client, g, grant.grantor))) {
      blocked.add(grant.grantor);
      continue;
    }
    for (const sql of revokeAsGrantorStatements(role, grant)) await c.client.query(sql);
  }
  if (blocked.size)
    throw new ProvisionError({
      action: `cannot drop role "${role}"`,
      database: c.database,
      cause: `privileges granted to it by ${[...blocked].map((b) => `"${b}"`).join(', ')} remain, and the granter "${g.user}" may not act as ${blocked.size > 1 ? 'them' : 'it'}`,
      hint: 'Run the sweep with that granter (its plugin config entry) or with a superuser.',
    });
}

/** Databases where the role owns objects or holds privileges (shared objects have dbid 0 and are cleaned from any database). */
async function dependentDatabases(main: GranterClient, role: string): Promise<string[]> {
  const { rows } = await main.client.query(
    `SELECT DISTINCT d.datname
       FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid
      WHERE s.refclassid = 'pg_authid'::regclass
        AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1)`,
    [role],
  );
  return rows.map((r: { datname: string }) => r.datname);
}
