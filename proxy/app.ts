/**
 * Composition root of the Mayfly process: configuration, policies, sessions, and the
 * control API. `mayfly proxy` runs it until stopped; the CLI builds the same pieces
 * without the control server when no proxy is running.
 */
import path from 'node:path';
import { ConfigError, parsePluginConfig, resolveEntry, type PluginConfig } from './config/entries';
import type { ConnectionParams } from './config/dsn';
import { PolicyStore } from './policies/policyStore';
import { SessionManager, type ProvisionerApi } from './sessions/sessionManager';
import { SessionStore } from './sessions/sessionStore';
import { mayflyHome } from './control/paths';
import { ControlServer } from './control/server';
import type { Health, OpenRequest, PoliciesResponse } from './control/protocol';
import type { Logger } from './log/logger';
import * as provision from './provision';
import { SessionError, type SessionInfo } from './sessions/types';
import { parseListen, WireListener, type ListenAddress } from './wire/listener';
import type { UserRecord } from './users/fileStore';
import { UserDirectory } from './users/directory';
import type { UserChange } from './users/reconcile';
import type { AllowedChange } from './users/allowedDatabases';
import { createProxyUserSources } from './users/worker/workerSource';
import { parseUserSourceSpec } from './users/sourceSpec';
import { secureContext, selfSignedFiles, type TlsFiles } from './wire/tls';
import type { PoolLimits } from './wire/pool';
import { sessionFingerprint } from './wire/landing';
import type tls from 'node:tls';

export const VERSION = '0.1.0';

export interface AppOptions {
  config: string[];
  log: Logger;
  /** Reload the policy file when it changes (the proxy does; one-shot CLI commands don't). */
  watch?: boolean;
  /** The file live roles and sessions survive restarts in (default ~/.mayfly/state/sessions.json; false: memory only). */
  sessionState?: string | false;
  /** AWS settings for `aws:` entries (region, profile, endpoint); unset ones come from the environment. */
  aws?: import('./aws/config').AwsOptions;
}

export class MayflyApp {
  readonly plugin: PluginConfig;
  readonly policies: PolicyStore;
  readonly sessions: SessionManager;
  private control?: ControlServer;
  private sweepTimer?: NodeJS.Timeout;
  private wire?: WireListener;
  /** What health() advertises, so session terminals can point at the listener. */
  private wireAddress?: Health['listen'];
  /** The user store behind the listener (`--users`), when there is one. */
  users?: UserDirectory;
  private readonly opening = new Map<string, Promise<SessionInfo>>();
  readonly startedAt = new Date();

  constructor(readonly options: AppOptions, provisioner: ProvisionerApi = provision) {
    this.plugin = parsePluginConfig(options.config);
    if (!this.plugin.policyFile)
      throw new ConfigError('no policy file: pass --config policy-config=path:FILE (e.g. policy-config=path:./config.hcl)');
    this.policies = new PolicyStore(path.resolve(this.plugin.policyFile), [...this.plugin.entries.keys()]);
    this.policies.load();
    if (options.watch) this.policies.watch();
    this.policies.on('change', () => {
      if (this.policies.loadError) options.log.log('error', 'policies.load-failed', { error: this.policies.loadError });
      const errors = this.policies.problems.filter((p) => p.severity === 'error');
      options.log.log(errors.length ? 'warn' : 'info', 'policies.loaded', {
        file: this.policies.file,
        policies: this.policies.list().length,
        errors: errors.length,
      });
      for (const e of errors) options.log.log('warn', 'policies.problem', { line: e.line, column: e.column, message: e.message });
    });
    this.sessions = new SessionManager({
      policy: (name) => this.policies.get(name),
      granter: (entry) => this.granter(entry),
      provisioner,
      log: options.log,
      ...(options.sessionState === false ? {} : { store: new SessionStore(options.sessionState ?? path.join(mayflyHome(), 'state', 'sessions.json')) }),
    });
  }

  async granter(entry: string): Promise<ConnectionParams> {
    const ref = this.plugin.entries.get(entry);
    if (!ref)
      throw new SessionError(
        `no plugin config entry named "${entry}": add --config ${entry}=env:VAR (or path:FILE) when starting Mayfly`,
        'config',
      );
    try {
      // Loaded only when an aws: entry is used; the fetcher caches values briefly and fails static.
      const fetcher = ref.kind === 'aws' ? (await import('./aws/secretFetcher')).awsSecretFetcher(this.options.aws, this.options.log) : undefined;
      const params = await resolveEntry(entry, ref, fetcher);
      this.options.log.redactor.add(params.password);
      return params;
    } catch (e) {
      throw new SessionError((e as Error).message, 'config');
    }
  }

  /** All configured granters that resolve, for sweeps. */
  async granters(): Promise<{ entry: string; params?: ConnectionParams; error?: string }[]> {
    const out: { entry: string; params?: ConnectionParams; error?: string }[] = [];
    for (const entry of this.plugin.entries.keys()) {
      try {
        out.push({ entry, params: await this.granter(entry) });
      } catch (e) {
        out.push({ entry, error: (e as Error).message });
      }
    }
    return out;
  }

  async sweep(graceMs: number): Promise<{ entry: string; report?: unknown; error?: string }[]> {
    const results: { entry: string; report?: unknown; error?: string }[] = [];
    for (const g of await this.granters()) {
      if (!g.params) {
        results.push({ entry: g.entry, error: g.error });
        continue;
      }
      try {
        const report = await provision.sweepExpiredRoles(g.params, { graceMs });
        results.push({ entry: g.entry, report });
        this.options.log.log('info', 'sweep.done', { entry: g.entry, report });
      } catch (e) {
        results.push({ entry: g.entry, error: (e as Error).message });
        this.options.log.log('warn', 'sweep.failed', { entry: g.entry, error: (e as Error).message });
      }
    }
    return results;
  }

  health(): Health {
    return {
      ok: true,
      pid: process.pid,
      version: VERSION,
      startedAt: this.startedAt.toISOString(),
      sessions: this.sessions.list().length,
      policyFile: this.policies.file,
      ...(this.policies.loadError ? { policyError: this.policies.loadError } : {}),
      ...(this.wireAddress ? { listen: this.wireAddress } : {}),
      ...(this.users ? { users: this.users.status() } : {}),
    };
  }

  async serveControl(socketPath: string, sweepEveryMs = 10 * 60_000, sweepGraceMs = 60 * 60_000): Promise<void> {
    // Sessions a previous run issued are live again before anyone can ask for one.
    await this.sessions.ready();
    const control = new ControlServer()
      .route('GET', '/health', async () => this.health())
      .route(
        'GET',
        '/policies',
        async (): Promise<PoliciesResponse> => ({
          file: this.policies.file,
          policies: this.policies.list(),
          problems: this.policies.problems,
          ...(this.policies.loadError ? { error: this.policies.loadError } : {}),
        }),
      )
      .route('GET', '/sessions', async () => this.sessions.list())
      .route('POST', '/sessions', async (body) => {
        const req = body as OpenRequest | undefined;
        if (!req || typeof req.policy !== 'string') throw new SessionError('the request needs {"policy": NAME}', 'unknown-policy');
        return this.sessions.open(req.policy, { rotate: req.rotate === true });
      })
      .route('POST', '/sessions/:id/renew', async (_b, p) => this.sessions.renew(p.id!))
      .route('DELETE', '/sessions/:id', async (_b, p) => this.sessions.revoke(p.id!))
      .route('POST', '/sweep', async () => ({ reports: await this.sweep(sweepGraceMs) }));
    await control.listen(socketPath);
    this.control = control;
    this.sweepTimer = setInterval(() => void this.sweep(sweepGraceMs), sweepEveryMs);
    this.sweepTimer.unref();
  }

  /**
   * A live session for a policy, for a wire-proxy client: reuse one that is not about to
   * expire, else open one. Concurrent logins for the same policy share one open.
   */
  async sessionForPolicy(policy: string): Promise<SessionInfo> {
    // Reuse a session with a useful stretch left: 30 s, or a quarter of a shorter policy's
    // lifetime (otherwise every login to a 10 s policy would open a session of its own).
    const expirationMs = (this.policies.get(policy)?.expiration?.ns ?? 120e9) / 1e6;
    const soon = Date.now() + Math.min(30_000, expirationMs / 4);
    const live = this.sessions
      .list()
      .find((s) => s.policy === policy && new Date(s.expiresAt).getTime() > soon && this.sessions.roleLogin(s.role));
    if (live) return live;
    let p = this.opening.get(policy);
    if (!p) {
      p = this.sessions.open(policy).finally(() => this.opening.delete(policy));
      this.opening.set(policy, p);
    }
    return p;
  }

  /**
   * The identities the listener accepts, from every `--users` source, refreshed in the
   * background. A users file that cannot be read stops the start (as it always did); an
   * AWS source that fails starts empty and keeps retrying (fail-static from then on).
   */
  private async startUserDirectory(specs: string[], refreshMs: number | undefined, primaryEntry: string | undefined): Promise<UserDirectory | undefined> {
    if (!specs.length) return undefined;
    const parsed = specs.map(parseUserSourceSpec);
    const directory = new UserDirectory({
      // AWS sources load in a worker thread, so a refresh never holds up logins here.
      sources: createProxyUserSources(parsed, { ...(this.options.aws ? { aws: this.options.aws } : {}), log: this.options.log }),
      log: this.options.log,
      ...(refreshMs ? { refreshMs } : {}),
      ...(primaryEntry ? { primary: () => this.granter(primaryEntry) } : {}),
    });
    await directory.start({ strict: parsed.every((p) => p.kind === 'file') });
    this.users = directory;
    return directory;
  }

  /**
   * The listener follows the user store: a removed identity's clients and server
   * connections go at once; a changed credential retires the server connections logged in
   * with the old one (idle now, busy when released) while its clients stay; a database
   * whose CONNECT was revoked loses the identity's clients and server connections there.
   */
  private followUserStore(directory: UserDirectory, wire: WireListener): void {
    const log = this.options.log;
    directory.on('changes', (changes: UserChange[]) => {
      for (const c of changes) {
        if (c.kind === 'removed') {
          const clients = wire.closeIdentity(c.username, `user "${c.username}" was removed from the user store`);
          const pooled = wire.evictRole(c.username);
          if (clients || pooled) log.log('info', 'wire.user-removed', { username: c.username, clients, pooled });
        } else if (c.kind === 'changed' && c.fields.includes('credential')) {
          const pooled = wire.evictCredential(c.username, c.oldFingerprint);
          if (pooled) log.log('info', 'wire.credential-evicted', { username: c.username, pooled });
        }
      }
    });
    directory.on('allowed', (changes: AllowedChange[]) => {
      for (const c of changes)
        for (const db of c.lost) {
          const clients = wire.closeIdentity(c.username, `user "${c.username}" may no longer connect to database "${db}"`, db);
          const pooled = wire.evictRole(c.username);
          log.log('info', 'wire.connect-revoked', { username: c.username, database: db, clients, pooled });
        }
    });
  }

  /** Starts the local Postgres proxy (`--listen`), with identities from `--users FILE`. */
  async serveWire(opts: {
    listen: string;
    /** User stores (FILE, aws:ID, aws-prefix:P, aws-tag:K=V); the first one wins a duplicate name. */
    users?: string[];
    usersRefreshMs?: number;
    primary?: string;
    /** Config entries naming read replicas of the primary, for read-only pass-through sessions. */
    replicas?: string[];
    /** Certificate files; undefined = a self-signed one kept in the config folder; false = no TLS. */
    tls?: TlsFiles | false;
    allowRemote?: boolean;
    /** Server connection pooling limits (`--pool-size`, `--max-upstream`, ...); unset ones default. */
    pool?: Partial<PoolLimits>;
  }): Promise<ListenAddress> {
    let context: tls.SecureContext | undefined;
    if (opts.tls !== false) {
      try {
        context = secureContext(opts.tls ?? selfSignedFiles());
      } catch (e) {
        // Loopback clients can still connect in plaintext; a remote listener is refused below.
        if (opts.tls) throw e;
        this.options.log.log('warn', 'wire.tls-unavailable', { error: (e as Error).message });
      }
    }
    const primaryEntry = opts.primary;
    if (primaryEntry && !this.plugin.entries.has(primaryEntry))
      throw new ConfigError(`--primary ${primaryEntry}: no plugin config entry of that name (add --config ${primaryEntry}=env:VAR)`);
    for (const r of opts.replicas ?? [])
      if (!this.plugin.entries.has(r)) throw new ConfigError(`--replica ${r}: no plugin config entry of that name (add --config ${r}=env:VAR)`);
    if (opts.replicas?.length && !primaryEntry) throw new ConfigError('--replica needs --primary: read-only sessions are verified on the primary first');
    const replicaEntries = opts.replicas ?? [];
    const directory = await this.startUserDirectory(opts.users ?? [], opts.usersRefreshMs, primaryEntry);
    const users = (): ReadonlyMap<string, UserRecord> => directory?.users() ?? new Map();
    const wire = new WireListener({
      log: this.options.log,
      users,
      roleLogin: (role) => this.sessions.roleLogin(role),
      sessionFor: (policy) => this.sessionForPolicy(policy),
      // Only the entry's server (host, port, TLS) is used; its user and password are not.
      ...(primaryEntry ? { primary: () => this.granter(primaryEntry) } : {}),
      ...(directory ? { allowed: (user: string, db: string) => directory.allowed(user, db), fdw: () => directory.fdw() } : {}),
      ...(replicaEntries.length ? { replicas: () => Promise.all(replicaEntries.map((e) => this.granter(e))) } : {}),
      ...(context ? { tls: context } : {}),
      ...(opts.allowRemote ? { allowRemote: true } : {}),
      ...(opts.pool ? { pool: opts.pool } : {}),
    });
    const addr = await wire.listen(parseListen(opts.listen)).catch(async (e: unknown) => {
      await wire.close().catch(() => undefined);
      throw e;
    });
    this.wire = wire;
    this.wireAddress = { host: addr.host, port: addr.port, tls: context !== undefined };
    // At a session's expiry its clients go, with a clear message — unless another session
    // keeps the role live (then their access legitimately continues).
    this.sessions.on('expired', (s: SessionInfo) => {
      if (this.sessions.roleLogin(s.role)) return;
      wire.evictRole(s.role);
      const closed = wire.closeRole(s.role, `the Mayfly session for policy "${s.policy}" expired; reconnect to open a new one`);
      if (closed) this.options.log.log('info', 'wire.expired-clients-closed', { policy: s.policy, role: s.role, clients: closed });
    });
    // Pooled server connections follow the sessions: a role that is no longer live (revoked,
    // expired) or live with a new password (rotated) keeps none of its old connections.
    this.sessions.on('change', () => {
      for (const role of wire.pooledRoles('session')) {
        const login = this.sessions.roleLogin(role);
        const evicted = wire.evictRole(role, login ? sessionFingerprint(role, login.password) : undefined);
        if (evicted) this.options.log.log('info', 'wire.pool-evicted', { role, connections: evicted });
      }
    });
    if (directory) this.followUserStore(directory, wire);
    this.options.log.log('info', 'wire.listening', { host: addr.host, port: addr.port, users: users().size, tls: context !== undefined });
    return addr;
  }

  async close(): Promise<void> {
    this.users?.close();
    await this.wire?.close();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.policies.close();
    this.sessions.close();
    await this.control?.close();
    // Pooled granter connections: close them rather than wait for their idle timeout.
    await provision.closeProvisionPools();
  }
}
