/**
 * provision(): create or refresh a session role so that it has exactly the plan's
 * privileges, all or nothing.
 *
 * 1. Lock the role (in-process queue, then an advisory lock on the maintenance database).
 * 2. Pre-flight (./preflight.ts): nothing is changed if it fails.
 * 3. Under the server-wide grants lock: a new role is created NOLOGIN and committed (other
 *    databases' sessions must see it to grant to it); then every database's grants run in
 *    ONE transaction each, all kept open until every database succeeded, then committed;
 *    only then does the role get LOGIN, its password (as a SCRAM verifier) and VALID UNTIL.
 * 4. On failure: roll back every open transaction, undo committed ones for a role we
 *    created (DROP OWNED there) and drop that role, then report the real cause.
 *
 * Without two-phase commit a COMMIT can still fail after an earlier database committed; that
 * window is a few milliseconds, and the undo step covers it for new roles.
 */
import type { ProvisionPlan } from '../../policy/plan';
import { scramVerifier } from '../auth/scramVerifier';
import type { ConnectionParams } from '../config/dsn';
import { closeQuietly, openClient, type GranterClient } from './connection';
import { errorFacts, ProvisionError, statementError, withNote, type ProvisionErrorInit } from './errors';
import { markerFacts } from './facts';
import { localKey, serializeLocal, withGrantsLock, withRoleLock } from './locks';
import { preflight, type PreflightResult } from './preflight';
import { provisionSteps } from '../../policy/sql';
import { dropOwnedStatement, dropRoleStatement } from './cleanupSql';

export interface ProvisionOptions {
  validUntil: Date;
  /** Set this password (sent as a SCRAM verifier computed here); omit to keep the role's current password. */
  newPassword?: string;
}

export interface ProvisionOutcome {
  role: string;
  created: boolean;
  passwordChanged: boolean;
  validUntil: Date;
}

const MAX_VALID_UNTIL = Date.UTC(9999, 11, 31);

export async function provision(granter: ConnectionParams, plan: ProvisionPlan, opts: ProvisionOptions): Promise<ProvisionOutcome> {
  const action = `cannot provision role "${plan.role}"`;
  const t = opts.validUntil instanceof Date ? opts.validUntil.getTime() : NaN;
  if (!(t >= 0 && t <= MAX_VALID_UNTIL))
    throw new ProvisionError({ action, cause: 'validUntil is not a valid date between 1970 and 9999', hint: 'Pass a Date.' });
  if (opts.newPassword === '') throw new ProvisionError({ action, cause: 'the new password is empty', hint: 'Pass a generated password.' });
  return serializeLocal(localKey(granter, plan.role), () => provisionNow(granter, plan, opts, action));
}

async function provisionNow(granter: ConnectionParams, plan: ProvisionPlan, opts: ProvisionOptions, action: string): Promise<ProvisionOutcome> {
  const secrets = [granter.password, opts.newPassword];
  const fail = (init: Omit<ProvisionErrorInit, 'action'>) => new ProvisionError({ action, ...init });
  const clients = new Map<string, GranterClient>();
  const open = async (database: string) => {
    let c = clients.get(database);
    if (!c) {
      c = await openClient(granter, database, action, secrets);
      clients.set(database, c);
    }
    return c;
  };
  const main = await openClient(granter, granter.database, action, secrets);
  // Databases are changed (and so locked) in name order, whatever order the caller built.
  const ordered: ProvisionPlan = { ...plan, databases: [...plan.databases].sort((a, b) => (a.database < b.database ? -1 : a.database > b.database ? 1 : 0)) };
  try {
    return await withRoleLock(main.client, plan.role, async () => {
      const pre = await preflight(main, ordered, opts.newPassword !== undefined, open, fail);
      return withGrantsLock(main.client, () => execute(main, clients, ordered, opts, pre, action, secrets));
    });
  } catch (e) {
    throw statementError(action, e, { granter: granter.user }, secrets);
  } finally {
    await closeQuietly(main);
    await Promise.all([...clients.values()].map(closeQuietly));
  }
}

/** A statement whose WARNING means PostgreSQL skipped part of it (no privileges granted/revoked). */
async function runStep(c: GranterClient, sql: string): Promise<void> {
  c.takeWarnings();
  await c.client.query(sql);
  const skipped = c.takeWarnings().find((w) => w.code === '01007' || w.code === '01006');
  if (skipped) throw Object.assign(new Error(skipped.message), { code: skipped.code });
}

async function execute(
  main: GranterClient,
  clients: Map<string, GranterClient>,
  plan: ProvisionPlan,
  opts: ProvisionOptions,
  pre: PreflightResult,
  action: string,
  secrets: (string | undefined)[],
): Promise<ProvisionOutcome> {
  const granter = pre.granter.user;
  // Another role's provisioning may have created the marker since the pre-flight.
  const markerExists = pre.marker.exists || (await markerFacts(main.client, pre.granter)).exists;
  const ready = new Map(pre.databases.map((d) => [d.database, d]));
  const steps = provisionSteps(plan, {
    roleExists: pre.role.exists,
    createMarker: !markerExists,
    validUntil: opts.validUntil,
    ...(opts.newPassword !== undefined ? { verifier: scramVerifier(opts.newPassword) } : {}),
    creatorsFor: (db, schema) => ready.get(db)?.creators.get(schema) ?? [granter],
    databasePrivilegesFor: (db) => ready.get(db)?.grantPrivileges ?? [],
  });

  let created = false;
  let mainInTransaction = false;
  const pending: GranterClient[] = []; // transactions begun and not yet committed
  const committed: GranterClient[] = [];
  let where: { database?: string; schema?: string } = {};
  try {
    if (steps.prepare.length) {
      where = { database: main.database };
      await main.client.query('BEGIN');
      mainInTransaction = true;
      for (const sql of steps.prepare) await runStep(main, sql);
      await main.client.query('COMMIT');
      mainInTransaction = false;
      created = true;
    }
    for (const d of steps.databases) {
      const c = clients.get(d.database)!;
      where = { database: d.database };
      await c.client.query('BEGIN');
      pending.push(c);
      for (const step of d.steps) {
        where = step.schema !== undefined ? { database: d.database, schema: step.schema } : { database: d.database };
        await runStep(c, step.sql);
      }
    }
    while (pending.length) {
      const c = pending[0]!;
      where = { database: c.database };
      await c.client.query('COMMIT');
      pending.shift();
      committed.push(c);
    }
    where = {};
    for (const sql of steps.finalize) await runStep(main, sql);
  } catch (e) {
    const err = statementError(action, e, { ...where, granter }, secrets);
    const note = await undo(main, pending, committed, mainInTransaction, created ? plan.role : undefined, secrets);
    throw withNote(err, note);
  }
  return { role: plan.role, created: !pre.role.exists, passwordChanged: opts.newPassword !== undefined, validUntil: opts.validUntil };
}

/** Puts things back after a failure; returns a sentence saying what state was left. */
async function undo(
  main: GranterClient,
  pending: GranterClient[],
  committed: GranterClient[],
  mainInTransaction: boolean,
  createdRole: string | undefined,
  secrets: (string | undefined)[],
): Promise<string> {
  const problems: string[] = [];
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (e) {
      problems.push(`${what}: ${errorFacts(e, secrets).message}`);
    }
  };
  if (mainInTransaction) await attempt(`rolling back on "${main.database}"`, () => main.client.query('ROLLBACK'));
  for (const c of pending) await attempt(`rolling back on "${c.database}"`, () => c.client.query('ROLLBACK'));
  if (createdRole) {
    for (const c of committed)
      await attempt(`removing the grants committed on "${c.database}"`, () => c.client.query(dropOwnedStatement(createdRole)));
    await attempt(`dropping the new role "${createdRole}"`, () => main.client.query(dropRoleStatement(createdRole)));
  }
  if (problems.length) return `Cleaning up also failed (${problems.join('; ')}): check the role and its grants by hand.`;
  if (!createdRole && committed.length)
    return `The databases ${committed.map((c) => `"${c.database}"`).join(', ')} had already committed their grants for the existing role; its login, password and VALID UNTIL are unchanged.`;
  return createdRole
    ? 'Nothing was changed: every open transaction was rolled back and the role created for this attempt was dropped.'
    : 'Nothing was changed: every open transaction was rolled back.';
}
