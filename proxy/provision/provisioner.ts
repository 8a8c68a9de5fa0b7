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
 * - On a server running on this machine, at most as many provisions run at once as there are
 *   cores (./limiter.ts); the others wait their turn in memory, in arrival order.
 */
import type { ProvisionPlan } from '../../policy/plan';
import { MARKER_ROLE, provisionSteps, type Step } from '../../policy/sql';
import type { ConnectionParams } from '../config/dsn';
import { dropOwnedStatement, dropRoleStatement } from './cleanupSql';
import { errorFacts, ProvisionError, statementError, withNote, type ProvisionErrorInit } from './errors';
import { MARKER_FACTS, parseMarkerFacts } from './facts';
import { GRANTS_LOCK_STATEMENTS, GRANTS_UNLOCK_STATEMENT, localKey, roleLockStatements, serializeLocal, UNLOCK_ALL_STATEMENT } from './locks';
import { granterLikelyNotSuperuser, noteGranterSuperuser, noteRoleExists, roleLikelyExists } from './hints';
import { admitted } from './limiter';
import { PooledClient, type BatchPart, type Warning } from './pool';
import {
  checkDatabases,
  checkPlan,
  checkRoleAndGranter,
  checkSchemas,
  databaseUnchanged,
  mainFactsStatements,
  parseMainFacts,
  moreSchemaFacts,
  parseMoreSchemaFacts,
  SCHEMA_FACTS,
  schemaFactsArgs,
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
  return serializeLocal(localKey(granter, plan.role), () => admitted(granter, () => provisionNow(granter, plan, opts, action)));
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
    noteRoleExists(granter, plan.role, true);
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
  // Each database's facts: SCHEMA_FACTS (and, for a granter likely not a superuser, its grant
  // options) need no lock and go in parallel with the role lock; whether the role's privileges
  // are current is only read once the role lock is held, since Mayfly changes a role's grants
  // under that lock only. When the role likely exists (./hints.ts), everything waits for the
  // lock instead and travels in that one round trip.
  const waitForLock = roleLikelyExists(granter, plan.role);
  const early = { schema: !waitForLock, grantOptions: !waitForLock && granterLikelyNotSuperuser(granter), current: false };
  const dbWork = plan.databases.map(async (d) => {
    const c = await PooledClient.acquire(granter, d.database, action, secrets);
    dbs.set(d.database, c);
    if (!early.schema) return undefined;
    const more = moreSchemaFacts(d, early, plan.role);
    const results = await c.batch([{ query: SCHEMA_FACTS, args: schemaFactsArgs(d) }, ...more]);
    return { rows: results[0]!.rows as SchemaRow[], more: parseMoreSchemaFacts(more, results.slice(1)) };
  });
  const [mainResult, ...firstResults] = await Promise.allSettled([mainWork, ...dbWork]);
  if (mainResult!.status === 'rejected') throw mainResult!.reason;
  const facts = parseMainFacts(mainResult!.value as Awaited<typeof mainWork>);
  noteGranterSuperuser(granter, facts.granter.superuser);
  noteRoleExists(granter, plan.role, facts.role.exists);
  checkRoleAndGranter(plan, wantsNewPassword, facts, fail);
  const info = checkDatabases(plan, facts.granter, facts.databaseRows, fail);
  // What the first round trip did not ask but is needed, now under the role lock.
  const late = { grantOptions: !facts.granter.superuser && !early.grantOptions, current: facts.role.exists };
  const dbResults = await Promise.allSettled(
    plan.databases.map(async (db, i) => {
      const first = firstResults[i]!;
      if (first.status === 'rejected') throw first.reason;
      const c = dbs.get(db.database)!;
      const more = moreSchemaFacts(db, late, plan.role);
      const parts: BatchPart[] = first.value ? more : [{ query: SCHEMA_FACTS, args: schemaFactsArgs(db) }, ...more];
      if (!parts.length) return first.value!;
      const results = await c.batch(parts);
      if (first.value) return { rows: first.value.rows, more: { ...first.value.more, ...parseMoreSchemaFacts(more, results) } };
      return { rows: results[0]!.rows as SchemaRow[], more: parseMoreSchemaFacts(more, results.slice(1)) };
    }),
  );
  const databases: DatabaseReadiness[] = [];
  for (const [i, db] of plan.databases.entries()) {
    const r = dbResults[i]!;
    // A database whose first query failed (connection, or statement) is reported in its turn;
    // one whose second query failed after the first succeeded, after the checks the first allows.
    const first = firstResults[i]!;
    if (r.status === 'rejected' && (first.status === 'rejected' || !first.value)) throw r.reason;
    const got = r.status === 'fulfilled' ? r.value : first.status === 'fulfilled' ? first.value! : undefined;
    const creators = await checkSchemas(dbs.get(db.database)!, db, got!.rows, r.status === 'fulfilled' ? got!.more.grantOptions : undefined, facts.granter, fail);
    if (r.status === 'rejected') throw r.reason;
    const grantPrivileges = info.get(db.database)!.grantPrivileges;
    databases.push({ database: db.database, grantPrivileges, creators, unchanged: facts.role.exists && databaseUnchanged(db, got!.more.current, grantPrivileges) });
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

/** The REVOKEs databaseSteps (policy/sql.ts) starts each schema with; a role created in this provision has nothing to revoke. */
const REVOKE_ALL = /^REVOKE ALL ON ALL (TABLES|SEQUENCES) IN SCHEMA /;

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
    let steps = stepsFor(false);
    // What must run, per database: nothing where the existing role already has exactly what
    // the statements would give it; for a role created here, no REVOKE (it holds nothing yet).
    const work = () =>
      steps.databases
        .filter((d) => !ready.get(d.database)?.unchanged)
        .map((d) => ({ database: d.database, steps: pre.role.exists ? d.steps : d.steps.filter((x) => !REVOKE_ALL.test(x.sql)) }))
        .filter((d) => d.steps.length > 0);

    if (pre.role.exists) {
      if (work().length) {
        await main.batch(GRANTS_LOCK_STATEMENTS);
        grantsLocked = true;
      }
    } else if (pre.marker.exists) {
      // Create the role (NOLOGIN, committed: other databases' sessions must see it), then
      // wait for the grants lock, in one round trip. Creating a role updates no row another
      // provisioning also updates (it only inserts), so this needs no grants lock.
      const create = ['BEGIN', ...steps.prepare, 'COMMIT'];
      const lock = work().length ? GRANTS_LOCK_STATEMENTS : [];
      main.takeWarnings();
      mainInTransaction = true;
      where = { database: main.database };
      try {
        await main.batch([...create, ...lock]);
      } catch (e) {
        created = main.completedStatements >= create.length;
        if (created) where = {};
        throw e;
      }
      mainInTransaction = false;
      created = true;
      grantsLocked = lock.length > 0;
      refuseSkipped(main.takeWarnings());
    } else {
      // The marker was missing: create it under the grants lock (two creators would collide),
      // looking again first: another role's provisioning may have created it meanwhile.
      const r = await main.batch([...GRANTS_LOCK_STATEMENTS, { query: MARKER_FACTS, args: [sqlLiteral(MARKER_ROLE)] }]);
      grantsLocked = true;
      steps = stepsFor(!parseMarkerFacts(r[r.length - 1]!.rows, pre.granter).exists);
      main.takeWarnings();
      mainInTransaction = true;
      where = { database: main.database };
      await main.batch(['BEGIN', ...steps.prepare, 'COMMIT']);
      mainInTransaction = false;
      created = true;
      refuseSkipped(main.takeWarnings());
    }
    where = {};
    trace.mark(grantsLocked ? (created ? 'create+grants-lock' : 'grants-lock') : created ? 'create' : 'unchanged');

    // Every database's grants: one transaction each, sent as one batch, the databases in
    // parallel; all kept open until every one succeeded. The statement that failed (or warned)
    // is known from how many completed, so errors still name its schema.
    const todo = work();
    const begun = new Set<PooledClient>();
    const results = await Promise.all(
      todo.map(async (d): Promise<{ error: unknown; where: Where } | undefined> => {
        const c = dbs.get(d.database)!;
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
    pending = todo.map((d) => dbs.get(d.database)!).filter((c) => begun.has(c));
    const failure = results.find((r) => r !== undefined);
    if (failure) {
      where = failure.where;
      throw failure.error;
    }
    if (todo.length) trace.mark('grants');

    const commits = await Promise.allSettled(pending.map((c) => c.query('COMMIT')));
    const toCommit = pending;
    committed = toCommit.filter((_, i) => commits[i]!.status === 'fulfilled');
    pending = toCommit.filter((_, i) => commits[i]!.status === 'rejected');
    const commitFailure = commits.findIndex((r) => r.status === 'rejected');
    if (commitFailure >= 0) {
      where = { database: toCommit[commitFailure]!.database };
      throw (commits[commitFailure] as PromiseRejectedResult).reason;
    }
    if (pending.length) trace.mark('commit');

    // Release the grants lock, then LOGIN + password + VALID UNTIL (ALTER ROLE grants nothing,
    // so there is no skipped-privilege warning to look for), then the role lock once that committed.
    where = {};
    const unlockGrants = grantsLocked ? [GRANTS_UNLOCK_STATEMENT] : [];
    grantsLocked = false;
    mainInTransaction = true;
    await main.batch([...unlockGrants, 'BEGIN', ...steps.finalize, 'COMMIT', UNLOCK_ALL_STATEMENT]);
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
