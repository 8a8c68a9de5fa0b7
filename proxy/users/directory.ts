/**
 * The user directory: every `--users` source merged into one set, refreshed periodically
 * and reconciled incrementally, plus the map of databases each user may CONNECT to.
 *
 * - Fail-static: a source that fails (unreachable, throttled, a broken edit) keeps its last
 *   good users; a failed CONNECT query keeps the last map. After a failed pass the next one
 *   backs off exponentially with jitter; the state is in status() and the logs.
 * - Each pass re-reads everything, the `replication` credential included (rotating it needs
 *   no restart), and waits a full interval afterwards even when the set is empty.
 * - Changes are emitted as one 'changes' event per pass (added / changed with the old
 *   credential fingerprint / removed), CONNECT losses and gains as 'allowed'.
 */
import { EventEmitter } from 'node:events';
import type { ConnectionParams } from '../config/dsn';
import type { Logger } from '../log/logger';
import { diffAllowed, queryAllowedDatabases, type AllowedChange, type AllowedMap } from './allowedDatabases';
import { mergeSources } from './merge';
import { reconcile, type UserChange } from './reconcile';
import { DEFAULT_REFRESH_MS } from './sourceSpec';
import type { UserRecord } from './userEntry';
import type { SourceLoad, UserSource } from './source';

/** Changes logged by name per pass; the rest are counted in users.reconciled. */
const NAMED_CHANGES = 50;

export interface UserDirectoryOptions {
  sources: UserSource[];
  log: Logger;
  refreshMs?: number;
  /** Cap of the backoff after failed passes (default: 5 minutes, at least refreshMs). */
  maxBackoffMs?: number;
  /**
   * The primary server to ask about CONNECT (its host, port, database and TLS settings;
   * the user and password are replaced by the `replication` user's). Without it, allowed()
   * is always undefined.
   */
  primary?: () => Promise<ConnectionParams>;
  /** For tests: the jitter source, 0 ≤ x < 1. */
  random?: () => number;
}

export interface SourceStatus {
  source: string;
  users: number;
  skipped: number;
  lastSuccessAt?: string;
  error?: string;
}

export interface DirectoryStatus {
  users: number;
  refreshMs: number;
  lastRefreshAt?: string;
  lastSuccessAt?: string;
  /** True while any source's latest load failed (its last good users are in force) or never succeeded. */
  stale: boolean;
  error?: string;
  consecutiveFailures: number;
  /** The delay before the next pass: refreshMs, or more while backing off. */
  nextRefreshInMs?: number;
  nextRefreshAt?: string;
  sources: SourceStatus[];
  allowed?: { users: number; stale: boolean; lastSuccessAt?: string; error?: string };
}

interface SourceState {
  source: UserSource;
  last?: SourceLoad;
  lastSuccessAt?: Date;
  error?: string;
  /** Skip reasons logged at the last pass, so a standing problem is logged once, not every pass. */
  loggedSkips: Set<string>;
}

export class UserDirectory extends EventEmitter {
  private current: Map<string, UserRecord> = new Map();
  private readonly states: SourceState[];
  private readonly refreshMs: number;
  private readonly maxBackoffMs: number;
  private readonly random: () => number;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private closed = false;
  private stopWatches: (() => void)[] = [];
  private conflictsLogged = new Set<string>();
  private registered = new Set<string>();
  private lastRefreshAt?: Date;
  private lastSuccessAt?: Date;
  private failures = 0;
  private nextDelay?: number;
  private nextAt?: Date;
  private allowedMap?: AllowedMap;
  private allowedAt?: Date;
  private allowedError?: string;

  constructor(private readonly options: UserDirectoryOptions) {
    super();
    this.states = options.sources.map((source) => ({ source, loggedSkips: new Set() }));
    this.refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
    this.maxBackoffMs = Math.max(options.maxBackoffMs ?? 5 * 60_000, this.refreshMs);
    this.random = options.random ?? Math.random;
  }

  /**
   * Loads every source once and starts the periodic refresh. With `strict`, a first load
   * that fails for any source throws (as a missing users file did before), else the
   * directory starts with what it has and keeps retrying.
   */
  async start(options: { strict?: boolean } = {}): Promise<DirectoryStatus> {
    await this.refreshNow();
    if (options.strict) {
      const failed = this.states.find((s) => s.error !== undefined);
      if (failed) {
        this.close();
        throw new Error(`${failed.source.label}: ${failed.error}`);
      }
    }
    for (const s of this.states) if (s.source.watch) this.stopWatches.push(s.source.watch(() => void this.refreshNow()));
    return this.status();
  }

  /** The current users (all roles), as the wire listener reads them at each login. */
  users(): ReadonlyMap<string, UserRecord> {
    return this.current;
  }

  /** The current `replication` credential, re-read on every refresh. */
  replication(): UserRecord | undefined {
    return this.firstWithRole('replication');
  }

  /** The shared `proxy_to_fdw` credential for replica logins. */
  fdw(): UserRecord | undefined {
    return this.firstWithRole('proxy_to_fdw');
  }

  private firstWithRole(role: UserRecord['role']): UserRecord | undefined {
    for (const r of this.current.values()) if (r.role === role) return r;
    return undefined;
  }

  /** May `user` CONNECT to `database`? undefined: not known (no primary, no map yet, user new since the last query). */
  allowed(user: string, database: string): boolean | undefined {
    const set = this.allowedMap?.get(user);
    return set ? set.has(database) : undefined;
  }

  allowedDatabases(user: string): ReadonlySet<string> | undefined {
    return this.allowedMap?.get(user);
  }

  /**
   * Runs a pass now (or joins the one running). Passes start one interval apart (not one
   * interval after the previous pass ended), so a rotation is picked up within one interval
   * plus the time of the pass itself, however slow Secrets Manager answers.
   */
  refreshNow(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.running) {
      const started = Date.now();
      this.running = this.pass().finally(() => {
        this.running = undefined;
        this.schedule(Date.now() - started);
      });
    }
    return this.running;
  }

  private schedule(elapsedMs = 0): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    // Never sooner than a tenth of the interval after a pass: a pass as slow as the interval
    // must not turn into back-to-back passes.
    let delay = Math.max(this.refreshMs - elapsedMs, this.refreshMs / 10);
    if (this.failures > 0) {
      const ceiling = Math.min(this.maxBackoffMs, this.refreshMs * 2 ** Math.min(this.failures, 30));
      // Equal jitter: retries of many proxies spread out, and never come sooner than the interval.
      delay = Math.max(this.refreshMs, Math.round(ceiling / 2 + (this.random() * ceiling) / 2));
    }
    this.nextDelay = delay;
    this.nextAt = new Date(Date.now() + delay);
    this.timer = setTimeout(() => void this.refreshNow(), delay);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    const started = new Date();
    await Promise.all(this.states.map((s) => this.loadSource(s)));
    if (this.closed) return;
    const merged = mergeSources(this.states.filter((s) => s.last).map((s) => ({ label: s.source.label, users: s.last!.users })));
    this.logConflicts(merged.conflicts);
    const first = this.lastSuccessAt === undefined && this.lastRefreshAt === undefined;
    const { users, changes } = await reconcile(this.current, merged.users);
    if (this.closed) return;
    this.current = users;
    this.registerServerCredentials();
    this.logChanges(changes, first);
    if (changes.length) this.emit('changes', changes);

    const usersFailed = this.states.some((s) => s.error !== undefined);
    const allowedFailed = this.options.primary ? !(await this.refreshAllowed()) : false;
    this.lastRefreshAt = started;
    if (!usersFailed) this.lastSuccessAt = started;
    this.failures = usersFailed || allowedFailed ? this.failures + 1 : 0;
    this.emit('refreshed', this.status());
  }

  private async loadSource(s: SourceState): Promise<void> {
    try {
      const loaded = await s.source.load();
      s.last = loaded;
      s.lastSuccessAt = new Date();
      if (s.error !== undefined) this.options.log.log('info', 'users.source-recovered', { source: s.source.label, users: loaded.users.size });
      s.error = undefined;
      const now = new Set<string>();
      for (const k of loaded.skipped) {
        const line = `${k.where}\0${k.reason}`;
        now.add(line);
        if (!s.loggedSkips.has(line)) this.options.log.log('warn', 'users.skipped', { source: s.source.label, entry: k.where, reason: k.reason });
      }
      s.loggedSkips = now;
    } catch (e) {
      s.error = (e as Error).message;
      this.options.log.log('warn', 'users.source-failed', {
        source: s.source.label,
        error: s.error,
        keeping: s.last ? `the last good ${s.last.users.size} users from ${s.lastSuccessAt!.toISOString()}` : 'nothing (never loaded)',
      });
    }
  }

  private logConflicts(conflicts: { username: string; kept: string; ignored: string }[]): void {
    const now = new Set<string>();
    for (const c of conflicts) {
      const key = `${c.username}\0${c.kept}\0${c.ignored}`;
      now.add(key);
      if (!this.conflictsLogged.has(key)) this.options.log.log('warn', 'users.conflict', { username: c.username, kept: c.kept, ignored: c.ignored });
    }
    this.conflictsLogged = now;
  }

  private logChanges(changes: UserChange[], first: boolean): void {
    const log = this.options.log;
    const count = { added: 0, changed: 0, removed: 0 };
    for (const c of changes) {
      count[c.kind]++;
      // The first load lists no one by name, later passes at most a few dozen: a thousand lines
      // would bury the summary (and cost the event loop).
      if (first || count.added + count.changed + count.removed > NAMED_CHANGES) continue;
      if (c.kind === 'added') log.log('info', 'users.added', { username: c.username, role: c.record.role });
      else if (c.kind === 'changed') log.log('info', 'users.changed', { username: c.username, fields: c.fields });
      else log.log('info', 'users.removed', { username: c.username });
    }
    if (first || changes.length)
      log.log('info', first ? 'users.loaded' : 'users.reconciled', {
        users: this.current.size,
        ...count,
        sources: this.states.map((s) => s.source.label),
      });
  }

  /**
   * The credentials Mayfly itself logs in with (replication, proxy_to_fdw) go to the redactor,
   * in case a driver's error text ever echoes one. Client users' secrets are never put in a
   * log field (the tests check with a logger that does not redact), and registering a
   * thousand of them would make every log line scan a thousand strings.
   */
  private registerServerCredentials(): void {
    const redactor = this.options.log.redactor;
    const now = new Set<string>();
    for (const r of [this.replication(), this.fdw()]) if (r?.secret.type === 'text') now.add(r.secret.password);
    for (const old of this.registered) if (!now.has(old)) redactor.remove(old);
    for (const p of now) redactor.add(p);
    this.registered = now;
  }

  /** Returns false when the map could not be refreshed (the last one stays). */
  private async refreshAllowed(): Promise<boolean> {
    const log = this.options.log;
    const fail = (error: string) => {
      if (error !== this.allowedError) log.log('warn', 'users.allowed-failed', { error, keeping: this.allowedMap ? 'the last map' : 'no map yet' });
      this.allowedError = error;
      return false;
    };
    const repl = this.replication();
    if (!repl) return fail('no user with role "replication": add one to a --users source so Mayfly can ask the primary which databases each user may connect to');
    if (repl.secret.type !== 'text')
      return fail(`the replication user "${repl.username}" must have type "text": Mayfly logs in to the primary with its password`);
    const names = [...this.current.values()].filter((r) => r.role === 'database').map((r) => r.username);
    let map: AllowedMap;
    try {
      const server = await this.options.primary!();
      map = await queryAllowedDatabases({ ...server, user: repl.username, password: repl.secret.password }, names);
    } catch (e) {
      return fail(`cannot ask the primary as "${repl.username}": ${(e as Error).message}`);
    }
    if (this.closed) return true;
    const changes: AllowedChange[] = this.allowedMap ? diffAllowed(this.allowedMap, map) : [];
    this.allowedMap = map;
    this.allowedAt = new Date();
    if (this.allowedError !== undefined) log.log('info', 'users.allowed-recovered', { users: map.size });
    this.allowedError = undefined;
    for (const c of changes) log.log('info', 'users.allowed-changed', { username: c.username, lost: c.lost, gained: c.gained });
    if (changes.length) this.emit('allowed', changes);
    return true;
  }

  status(): DirectoryStatus {
    const errors = this.states.filter((s) => s.error !== undefined).map((s) => `${s.source.label}: ${s.error}`);
    if (this.options.primary && this.allowedError) errors.push(`allowed databases: ${this.allowedError}`);
    return {
      users: this.current.size,
      refreshMs: this.refreshMs,
      ...(this.lastRefreshAt ? { lastRefreshAt: this.lastRefreshAt.toISOString() } : {}),
      ...(this.lastSuccessAt ? { lastSuccessAt: this.lastSuccessAt.toISOString() } : {}),
      stale: this.states.some((s) => s.error !== undefined || !s.lastSuccessAt),
      ...(errors.length ? { error: errors.join('; ') } : {}),
      consecutiveFailures: this.failures,
      ...(this.nextDelay !== undefined ? { nextRefreshInMs: this.nextDelay } : {}),
      ...(this.nextAt ? { nextRefreshAt: this.nextAt.toISOString() } : {}),
      sources: this.states.map((s) => ({
        source: s.source.label,
        users: s.last?.users.size ?? 0,
        skipped: s.last?.skipped.length ?? 0,
        ...(s.lastSuccessAt ? { lastSuccessAt: s.lastSuccessAt.toISOString() } : {}),
        ...(s.error !== undefined ? { error: s.error } : {}),
      })),
      ...(this.options.primary
        ? {
            allowed: {
              users: this.allowedMap?.size ?? 0,
              stale: this.allowedError !== undefined || !this.allowedAt,
              ...(this.allowedAt ? { lastSuccessAt: this.allowedAt.toISOString() } : {}),
              ...(this.allowedError ? { error: this.allowedError } : {}),
            },
          }
        : {}),
    };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const stop of this.stopWatches) stop();
    this.stopWatches = [];
    for (const s of this.states) s.source.close?.();
  }
}
