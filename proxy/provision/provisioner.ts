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
 *
 * Latency (a provision is on the path of every session open that is not cached):
 * - Connections come from ./pool.ts (no handshake per provision).
 * - Round trips are batched (several statements in one simple query): the role lock and all
 *   maintenance-database facts are one; each database's facts are one query, run in parallel
 *   with it; each database's grants are one batch (errors and warnings are still traced to
 *   their statement, so to their schema), the databases in parallel, their transactions still
 *   all kept open until every one succeeded; their COMMITs run in parallel too. Fact queries
 *   are prepared once per pooled connection (no re-planning of catalog queries).
 * - The grants lock is released as soon as every database committed: the last step, ALTER
 *   ROLE ... LOGIN, changes only the session role's own pg_authid row, which the role lock
 *   protects; an undo after that point takes the grants lock again.
 * - The new password's SCRAM verifier (PBKDF2) is computed on the thread pool while the
 *   pre-flight waits on the network.
 */
import type { ProvisionPlan } from '../../policy/plan';
import { MARKER_ROLE, provisionSteps, type Step } from '../../policy/sql';
import type { ConnectionParams } from '../config/dsn';
import { dropOwnedStatement, dropRoleStatement } from './cleanupSql';
import { errorFacts, ProvisionError, statementError, withNote, type ProvisionErrorInit } from './errors';
import { MARKER_FACTS, parseMarkerFacts } from './facts';
import { GRANTS_LOCK_STATEMENTS, GRANTS_UNLOCK_STATEMENT, localKey, roleLockStatements, serializeLocal, UNLOCK_ALL_STATEMENT } from './locks';
import { PooledClient, type Warning } from './pool';
import {
  checkDatabases,
  checkPlan,
  checkRoleAndGranter,
  checkSchemas,
  mainFactsStatements,
  parseMainFacts,
  SCHEMA_FACTS_NAME,
  SCHEMA_FACTS_SQL,
  schemaFactsParams,
  type DatabaseReadiness,
  type PreflightResult,
  type SchemaRow,
} from './preflight';
import { sqlLiteral } from './sqlText';
import { startTrace, type Trace } from './trace';
import { scramVerifierAsync } from './verifier';

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

type Fail = (init: Omit<ProvisionErrorInit, 'action'>) => ProvisionError;
type Where = { database?: string; schema?: string };

export async function provision(granter: ConnectionParams, plan: ProvisionPlan, opts: ProvisionOptions): Promise<ProvisionOutcome> {
  const action = `cannot provision role "${plan.role}"`;
  const t = opts.validUntil instanceof Date ? opts.validUntil.getTime() : NaN;
  if (!(t >= 0 && t <= MAX_VALID_UNTIL))
    throw new ProvisionError({ action, cause: 'validUntil is not a valid date between 1970 and 9999', hint: 'Pass a Date.' });
  if (opts.newPassword === '') throw new ProvisionError({ action, cause: 'the new password is empty', hint: 'Pass a generated password.' });
  return serializeLocal(localKey(granter, plan.role), () => provisionNow(granter, plan, opts, action));
}

async function provisionNow(granter: ConnectionParams, plan: ProvisionPlan, opts: ProvisionOptions, action: string): Promise<ProvisionOutcome> {
  const trace = startTrace('provision', plan.role);
  const secrets = [granter.password, opts.newPassword];
  const fail: Fail = (init) => new ProvisionError({ action, ...init });
  // Started now, awaited just before the grants lock: PBKDF2 runs while the pre-flight waits.
  const verifier = opts.newPassword !== undefined ? scramVerifierAsync(opts.newPassword) : undefined;
  verifier?.catch(() => undefined);
  // Databases are changed in name order (and errors reported in it), whatever order the caller built.
  const ordered: ProvisionPlan = { ...plan, databases: [...plan.databases].sort((a, b) => (a.database < b.database ? -1 : a.database > b.database ? 1 : 0)) };
  let main: PooledClient;
  try {
    main = await PooledClient.acquire(granter, granter.database, action, secrets);
  } catch (e) {
    trace.done('connect-failed');
    throw e;
  }
  trace.mark('connect');
  const dbs = new Map<string, PooledClient>();
  let ok = false;
  try {
    checkPlan(ordered, fail);
    const pre = await preflight(granter, main, ordered, opts.newPassword !== undefined, dbs, action, secrets, fail);
    trace.mark('preflight');
    const out = await execute(main, dbs, ordered, opts, pre, verifier, action, secrets, trace);
    ok = true;
    return out;
  } catch (e) {
    throw statementError(action, e, { granter: granter.user }, secrets);
  } finally {
    if (!ok) await releaseLocks(main);
    await Promise.all([main.release(), ...[...dbs.values()].map((c) => c.release())]);
    trace.done(ok ? 'ok' : 'failed');
  }
}

/** After a failure: leave no transaction or advisory lock behind (release() then closes the connection anyway). */
async function releaseLocks(main: PooledClient): Promise<void> {
  if (main.isDead || !main.mayHoldLocks) return;
  try {
    await main.batch(['ROLLBACK', UNLOCK_ALL_STATEMENT]);
    main.mayHoldLocks = false;
  } catch {
    // release() closes the connection, and the server releases its locks with the session.
  }
}

/**
 * Role lock + maintenance-database facts (one batch) in parallel with each database's facts
 * (one query each, on the connection its grants will use), then the checks in their usual order.
 */
async function preflight(
  granter: ConnectionParams,
  main: PooledClient,
  plan: ProvisionPlan,
  wantsNewPassword: boolean,
  dbs: Map<string, PooledClient>,
  action: string,
  secrets: (string | undefined)[],
  fail: Fail,
): Promise<PreflightResult> {
  main.mayHoldLocks = true;
  const mainWork = main.batch([...roleLockStatements(plan.role), ...mainFactsStatements(plan)]);
  const dbWork = plan.databases.map(async (d) => {
    const c = await PooledClient.acquire(granter, d.database, action, secrets);
    dbs.set(d.database, c);
    return (await c.query<SchemaRow & Record<string, unknown>>(SCHEMA_FACTS_SQL, schemaFactsParams(d), SCHEMA_FACTS_NAME)).rows as SchemaRow[];
  });
  const [mainResult, ...dbResults] = await Promise.allSettled([mainWork, ...dbWork]);
  if (mainResult!.status === 'rejected') throw mainResult!.reason;
  const facts = parseMainFacts(mainResult!.value as Awaited<typeof mainWork>);
  checkRoleAndGranter(plan, wantsNewPassword, facts, fail);
  const info = checkDatabases(plan, facts.granter, facts.databaseRows, fail);
  const databases: DatabaseReadiness[] = [];
  for (const [i, db] of plan.databases.entries()) {
    const r = dbResults[i]!;
    if (r.status === 'rejected') throw r.reason;
    const creators = await checkSchemas(dbs.get(db.database)!, db, r.value as SchemaRow[], facts.granter, fail);
    databases.push({ database: db.database, grantPrivileges: info.get(db.database)!.grantPrivileges, creators });
  }
  return { granter: facts.granter, role: facts.role, marker: facts.marker, databases };
}

/** The first warning saying PostgreSQL skipped part of a GRANT/REVOKE (no privileges granted/revoked). */
function skippedWarning(warnings: Warning[]): Warning | undefined {
  return warnings.find((w) => w.code === '01007' || w.code === '01006');
}

/** Such a warning is refused like an error. */
function refuseSkipped(warnings: Warning[]): void {
  const skipped = skippedWarning(warnings);
  if (skipped) throw skippedError(skipped);
}

function skippedError(w: Warning): Error {
  return Object.assign(new Error(w.message), { code: w.code });
}

/** Where step `i` of a database's batch is (its schema, if any), for errors. */
function whereOf(database: string, steps: Step[], i: number): Where {
  const schema = steps[i]?.schema;
  return schema !== undefined ? { database, schema } : { database };
}

const isLockTimeout = (e: unknown) => (e as { code?: unknown })?.code === '55P03';

async function execute(
  main: PooledClient,
  dbs: Map<string, PooledClient>,
  plan: ProvisionPlan,
  opts: ProvisionOptions,
  pre: PreflightResult,
  verifierPromise: Promise<string> | undefined,
  action: string,
  secrets: (string | undefined)[],
  trace: Trace,
): Promise<ProvisionOutcome> {
  const granter = pre.granter.user;
  const ready = new Map(pre.databases.map((d) => [d.database, d]));
  const verifier = verifierPromise ? await verifierPromise : undefined;
  trace.mark('verifier');
  const stepsFor = (createMarker: boolean) =>
    provisionSteps(plan, {
      roleExists: pre.role.exists,
      createMarker,
      validUntil: opts.validUntil,
      ...(verifier !== undefined ? { verifier } : {}),
      creatorsFor: (db, schema) => ready.get(db)?.creators.get(schema) ?? [granter],
      databasePrivilegesFor: (db) => ready.get(db)?.grantPrivileges ?? [],
    });

  let created = false;
  let grantsLocked = false;
  let mainInTransaction = false;
  let pending: PooledClient[] = []; // transactions begun and not yet committed
  let committed: PooledClient[] = [];
  let where: Where = {};
  try {
    // The grants lock; for a new role, in the same round trip, its creation (committed
    // before any grant: other databases' sessions must see it). Another role's provisioning
    // may have created the marker since the pre-flight: if it was missing, look again first.
    let steps = stepsFor(false);
    if (pre.role.exists) {
      await main.batch(GRANTS_LOCK_STATEMENTS);
      grantsLocked = true;
    } else {
      let lockAndCreate = [...GRANTS_LOCK_STATEMENTS];
      if (!pre.marker.exists) {
        const r = await main.batch([...GRANTS_LOCK_STATEMENTS, { query: MARKER_FACTS, args: [sqlLiteral(MARKER_ROLE)] }]);
        grantsLocked = true;
        steps = stepsFor(!parseMarkerFacts(r[r.length - 1]!.rows, pre.granter).exists);
        lockAndCreate = [];
      }
      main.takeWarnings();
      mainInTransaction = true;
      try {
        await main.batch([...lockAndCreate, 'BEGIN', ...steps.prepare, 'COMMIT']);
      } catch (e) {
        where = isLockTimeout(e) ? {} : { database: main.database };
        throw e;
      }
      mainInTransaction = false;
      grantsLocked = true;
      created = true;
      where = { database: main.database };
      refuseSkipped(main.takeWarnings());
    }
    trace.mark(pre.role.exists ? 'grants-lock' : 'grants-lock+create');

    // Every database's grants: one transaction each, sent as one batch, the databases in
    // parallel; all kept open until every one succeeded. The statement that failed (or warned)
    // is known from how many completed, so errors still name its schema.
    const begun = new Set<PooledClient>();
    const results = await Promise.all(
      steps.databases.map(async (d): Promise<{ error: unknown; where: Where } | undefined> => {
        const c = dbs.get(d.database)!;
        if (!d.steps.length) return undefined;
        c.takeWarnings();
        begun.add(c);
        try {
          await c.batch(['BEGIN', ...d.steps.map((x) => x.sql)]);
        } catch (error) {
          // Statement k of the batch is step k - 1 (BEGIN is first).
          return { error, where: whereOf(d.database, d.steps, c.completedStatements - 1) };
        }
        const skipped = skippedWarning(c.takeWarnings());
        return skipped ? { error: skippedError(skipped), where: whereOf(d.database, d.steps, skipped.statement - 1) } : undefined;
      }),
    );
    pending = steps.databases.map((d) => dbs.get(d.database)!).filter((c) => begun.has(c));
    const failure = results.find((r) => r !== undefined);
    if (failure) {
      where = failure.where;
      throw failure.error;
    }
    trace.mark('grants');

    const commits = await Promise.allSettled(pending.map((c) => c.query('COMMIT')));
    const toCommit = pending;
    committed = toCommit.filter((_, i) => commits[i]!.status === 'fulfilled');
    pending = toCommit.filter((_, i) => commits[i]!.status === 'rejected');
    const commitFailure = commits.findIndex((r) => r.status === 'rejected');
    if (commitFailure >= 0) {
      where = { database: toCommit[commitFailure]!.database };
      throw (commits[commitFailure] as PromiseRejectedResult).reason;
    }
    trace.mark('commit');

    // Release the grants lock, then LOGIN + password + VALID UNTIL (ALTER ROLE grants nothing,
    // so there is no skipped-privilege warning to look for), then the role lock once that committed.
    where = {};
    grantsLocked = false;
    mainInTransaction = true;
    await main.batch([GRANTS_UNLOCK_STATEMENT, 'BEGIN', ...steps.finalize, 'COMMIT', UNLOCK_ALL_STATEMENT]);
    mainInTransaction = false;
    main.mayHoldLocks = false;
    trace.mark('finalize');
  } catch (e) {
    const err = statementError(action, e, { ...where, granter }, secrets);
    const note = await undo(main, pending, committed, mainInTransaction, grantsLocked, created ? plan.role : undefined, secrets);
    throw withNote(err, note);
  }
  return { role: plan.role, created: !pre.role.exists, passwordChanged: opts.newPassword !== undefined, validUntil: opts.validUntil };
}

/** Puts things back after a failure (the role lock still held); returns a sentence saying what state was left. */
async function undo(
  main: PooledClient,
  pending: PooledClient[],
  committed: PooledClient[],
  mainInTransaction: boolean,
  grantsLocked: boolean,
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
  if (mainInTransaction) await attempt(`rolling back on "${main.database}"`, () => main.query('ROLLBACK'));
  await Promise.all(pending.map((c) => attempt(`rolling back on "${c.database}"`, () => c.query('ROLLBACK'))));
  if (createdRole) {
    // Revoking is granting too: take the grants lock back if it was released already.
    if (committed.length && !grantsLocked) await attempt('taking the grants lock again', () => main.batch(GRANTS_LOCK_STATEMENTS));
    for (const c of committed)
      await attempt(`removing the grants committed on "${c.database}"`, () => c.query(dropOwnedStatement(createdRole)));
    await attempt(`dropping the new role "${createdRole}"`, () => main.query(dropRoleStatement(createdRole)));
  }
  if (problems.length) return `Cleaning up also failed (${problems.join('; ')}): check the role and its grants by hand.`;
  if (!createdRole && committed.length)
    return `The databases ${committed.map((c) => `"${c.database}"`).join(', ')} had already committed their grants for the existing role; its login, password and VALID UNTIL are unchanged.`;
  return createdRole
    ? 'Nothing was changed: every open transaction was rolled back and the role created for this attempt was dropped.'
    : 'Nothing was changed: every open transaction was rolled back.';
}
