/**
 * Live sessions and the one live password per role.
 *
 * Every session on a role shares that role's password until it expires; opening or
 * renewing only pushes VALID UNTIL later, so nobody's open credentials break (hoop resets
 * the password on every open). Live roles and sessions are also kept in a private state
 * file (sessionStore.ts), so a restarted Mayfly picks them up again. When a role is live
 * on the server but its password is known neither here nor there (another user's Mayfly
 * issued it), opening refuses unless asked to rotate, because rotating would lock out
 * whoever holds the current one.
 */
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import { planPolicy, type Policy } from '../../policy';
import type { ConnectionParams } from '../config/dsn';
import { generatePassword } from '../auth/scramVerifier';
import type { Logger } from '../log/logger';
import { KeyedMutex } from './keyedMutex';
import { SessionError, type SessionInfo } from './types';
import type { SessionStore, StoredState } from './sessionStore';
import type { ProvisionPlan } from '../../policy/plan';

/** The provisioning operations sessions need (proxy/provision implements them). */
export interface ProvisionerApi {
  provision(
    granter: ConnectionParams,
    plan: ProvisionPlan,
    opts: { validUntil: Date; newPassword?: string },
  ): Promise<{ created: boolean; passwordChanged: boolean }>;
  roleStatus(granter: ConnectionParams, role: string): Promise<{ exists: boolean; managed: boolean; validUntil?: Date; canLogin: boolean }>;
  extendRole(granter: ConnectionParams, role: string, validUntil: Date): Promise<void>;
  expireRole(
    granter: ConnectionParams,
    role: string,
    opts: { terminate: boolean; ifValidUntilNotAfter?: Date },
  ): Promise<{ expired: boolean; terminated: number }>;
}

export interface SessionManagerDeps {
  policy(name: string): Policy | undefined;
  granter(entry: string): Promise<ConnectionParams>;
  provisioner: ProvisionerApi;
  log: Logger;
  now?: () => Date;
  /** Where live roles and sessions survive a restart (none: memory only). */
  store?: SessionStore;
}

interface RoleState {
  key: string;
  role: string;
  /** The plugin config entry of the granter (what the state file records instead of the DSN). */
  entry: string;
  granter: ConnectionParams;
  password: string;
  validUntil: Date;
}

interface Session extends SessionInfo {
  roleKey: string;
  timer?: NodeJS.Timeout;
}

/**
 * Opening again when VALID UNTIL would move by less than this (or 1/60 of the expiration)
 * skips the server round trip: the cached path.
 */
const EXTEND_SLACK_MS = 60_000;

/** The state file is written at most this often (see persist()). */
const SAVE_EVERY_MS = 50;

export interface OpenOptions {
  /** Issue a new password even though the role is live with a password this process does not hold. */
  rotate?: boolean;
}

export class SessionManager extends EventEmitter {
  private readonly roles = new Map<string, RoleState>();
  private readonly sessions = new Map<string, Session>();
  private readonly mutex = new KeyedMutex();
  private readonly now: () => Date;
  private restored?: Promise<void>;
  /** Roles and sessions this process ended: a merge with the state file must not bring them back. */
  private readonly forgotten = new Set<string>();
  private saveQueued = false;

  constructor(private readonly deps: SessionManagerDeps) {
    super();
    this.now = deps.now ?? (() => new Date());
  }

  /** Picks up the live roles and sessions of the state file once; later calls wait for that. */
  ready(): Promise<void> {
    this.restored ??= this.restore();
    return this.restored;
  }

  private async restore(): Promise<void> {
    const stored = this.deps.store?.load();
    if (!stored) return;
    const count = await this.adopt(stored);
    if (count.roles) this.deps.log.log('info', 'sessions.restored', count);
  }

  /** Takes live roles (and their sessions) from stored state that this process does not know. */
  private async adopt(stored: StoredState, only?: string): Promise<{ roles: number; sessions: number }> {
    const now = this.now();
    let roles = 0;
    let sessions = 0;
    for (const r of stored.roles) {
      if ((only && r.key !== only) || this.roles.has(r.key) || this.forgotten.has(r.key) || new Date(r.validUntil) <= now) continue;
      let granter: ConnectionParams;
      try {
        granter = await this.deps.granter(r.entry);
      } catch {
        continue; // the entry is gone or unresolvable now: the role just expires on its own
      }
      // The entry may point at another server now: then this role is not that server's.
      if (roleKey(granter.host, granter.port, r.role) !== r.key) continue;
      this.deps.log.redactor.add(r.password);
      this.roles.set(r.key, { key: r.key, role: r.role, entry: r.entry, granter, password: r.password, validUntil: new Date(r.validUntil) });
      roles++;
    }
    for (const st of stored.sessions) {
      if (this.sessions.has(st.id) || this.forgotten.has(st.id) || !this.roles.has(st.roleKey) || new Date(st.expiresAt) <= now) continue;
      if (only && st.roleKey !== only) continue;
      const session: Session = { ...st };
      this.sessions.set(session.id, session);
      this.schedule(session);
      sessions++;
    }
    if (roles || sessions) this.emit('change');
    return { roles, sessions };
  }

  /**
   * Writes the state file: at once when the last write is 50 ms old or more (so a process
   * killed right after issuing a password has it on disk), otherwise once at the end of the
   * 50 ms — a storm of opens costs a write per 50 ms, not one per open. close() writes what
   * is pending.
   */
  private persist(): void {
    if (!this.deps.store || this.saveQueued) return;
    const wait = this.lastFlush + SAVE_EVERY_MS - Date.now();
    if (wait <= 0) return this.flush();
    this.saveQueued = true;
    this.saveTimer = setTimeout(() => this.flush(), wait);
    this.saveTimer.unref();
  }

  private saveTimer?: NodeJS.Timeout;
  private lastFlush = 0;

  private flush(): void {
    const store = this.deps.store;
    if (!store) return;
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveQueued = false;
    this.lastFlush = Date.now();
    const now = this.now();
    // Merge what another process of this user wrote since our last write (only then re-read).
    const theirs = store.changedSinceOwnWrite() ? store.load() : { roles: [], sessions: [] };
    const roles = [...this.roles.values()]
      .filter((r) => r.validUntil > now)
      .map((r) => ({ key: r.key, role: r.role, entry: r.entry, password: r.password, validUntil: r.validUntil.toISOString() }));
    const sessions = [...this.sessions.values()].map(({ timer: _t, ...rest }) => rest);
    for (const r of theirs.roles) if (!this.roles.has(r.key) && !this.forgotten.has(r.key) && new Date(r.validUntil) > now) roles.push(r);
    for (const x of theirs.sessions) if (!this.sessions.has(x.id) && !this.forgotten.has(x.id) && new Date(x.expiresAt) > now) sessions.push(x);
    try {
      store.save({ roles, sessions });
    } catch (e) {
      this.deps.log.log('warn', 'sessions.save-failed', { file: store.file, error: (e as Error).message });
    }
  }

  list(): SessionInfo[] {
    return [...this.sessions.values()].map(publicView);
  }

  /** The live password of a role, for the wire proxy logging in upstream. */
  livePassword(host: string, port: number, role: string): string | undefined {
    const state = this.roles.get(roleKey(host, port, role));
    return state && state.validUntil > this.now() ? state.password : undefined;
  }

  /**
   * Where and how the wire proxy logs in as a live role: the granter's server, the live
   * password, and the databases of the sessions currently using the role.
   */
  roleLogin(role: string): { granter: ConnectionParams; password: string; databases: string[] } | undefined {
    const now = this.now();
    for (const state of this.roles.values()) {
      if (state.role !== role || state.validUntil <= now) continue;
      const databases = [...this.sessions.values()].filter((s) => s.roleKey === state.key && new Date(s.expiresAt) > now).flatMap((s) => s.databases);
      if (databases.length === 0) continue;
      return { granter: state.granter, password: state.password, databases: [...new Set(databases)] };
    }
    return undefined;
  }

  async open(policyName: string, options: OpenOptions = {}): Promise<SessionInfo> {
    await this.ready();
    const policy = this.deps.policy(policyName);
    if (!policy) throw new SessionError(`no policy named "${policyName}" in the policy file`, 'unknown-policy');
    if (!policy.valid || !policy.pluginConfigEntry) throw new SessionError(`policy "${policyName}" is invalid: ${policy.problem}`, 'invalid-policy');
    const granter = await this.deps.granter(policy.pluginConfigEntry);
    const plan = planPolicy(policy);
    const key = roleKey(granter.host, granter.port, plan.role);
    const state = await this.mutex.run(key, () => this.ensureRole(key, policy.pluginConfigEntry!, granter, plan, options));
    const session: Session = {
      id: crypto.randomUUID(),
      policy: policy.name,
      role: plan.role,
      host: granter.host,
      port: granter.port,
      user: plan.role,
      password: state.password,
      databases: [...new Set(policy.instances.map((i) => i.database))],
      createdAt: this.now().toISOString(),
      // A session ends when its role's VALID UNTIL does (an open within the slack shares it).
      expiresAt: state.validUntil.toISOString(),
      roleKey: key,
    };
    this.sessions.set(session.id, session);
    this.schedule(session);
    this.persist();
    this.deps.log.log('info', 'session.open', { policy: session.policy, role: session.role, expiresAt: session.expiresAt });
    this.emit('change');
    return publicView(session);
  }

  private async ensureRole(key: string, entry: string, granter: ConnectionParams, plan: ProvisionPlan, options: OpenOptions): Promise<RoleState> {
    const now = this.now();
    const desired = new Date(now.getTime() + plan.expirationNs / 1e6);
    // Another Mayfly of this user (the CLI, another window's proxy) may have issued it since.
    if (!this.roles.has(key) && this.deps.store) await this.adopt(this.deps.store.load(), key);
    const known = this.roles.get(key);
    if (known && known.validUntil > now) {
      const slack = Math.min(EXTEND_SLACK_MS, plan.expirationNs / 1e6 / 60);
      if (desired.getTime() > known.validUntil.getTime() + slack) {
        await this.provisionCall(() => this.deps.provisioner.extendRole(granter, plan.role, desired));
        known.validUntil = desired;
      }
      return known;
    }
    if (!options.rotate) {
      const status = await this.provisionCall(() => this.deps.provisioner.roleStatus(granter, plan.role));
      if (status.exists && status.managed && status.canLogin && status.validUntil && status.validUntil > now)
        throw new SessionError(
          `role ${plan.role} is live until ${status.validUntil.toISOString()} with a password another Mayfly process issued; ` +
            'open the session through that process (the proxy), wait for it to expire, or rotate the password (CLI: --rotate), which ends access for whoever holds the current one',
          'role-in-use',
        );
    }
    const password = generatePassword();
    this.deps.log.redactor.add(password);
    await this.provisionCall(() => this.deps.provisioner.provision(granter, plan, { validUntil: desired, newPassword: password }));
    if (known) this.deps.log.redactor.remove(known.password);
    const state: RoleState = { key, role: plan.role, entry, granter, password, validUntil: desired };
    this.roles.set(key, state);
    this.forgotten.delete(key);
    // open() writes the state file once the session is added too (one write, not two).
    return state;
  }

  private async provisionCall<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof SessionError) throw e;
      throw new SessionError((e as Error).message, 'provision');
    }
  }

  private find(idOrPolicy: string): Session[] {
    const byId = this.sessions.get(idOrPolicy);
    if (byId) return [byId];
    return [...this.sessions.values()].filter((s) => s.policy === idOrPolicy);
  }

  async renew(idOrPolicy: string): Promise<SessionInfo[]> {
    await this.ready();
    const targets = this.find(idOrPolicy);
    if (targets.length === 0) throw new SessionError(`no open session for "${idOrPolicy}"`, 'unknown-session');
    const out: SessionInfo[] = [];
    for (const s of targets) {
      const policy = this.deps.policy(s.policy);
      const state = this.roles.get(s.roleKey);
      if (!policy || !state) throw new SessionError(`session ${s.id} cannot be renewed: its policy or role is gone`, 'unknown-session');
      const expires = new Date(this.now().getTime() + policy.expiration.ns / 1e6);
      await this.mutex.run(s.roleKey, async () => {
        if (expires > state.validUntil) {
          await this.provisionCall(() => this.deps.provisioner.extendRole(state.granter, state.role, expires));
          state.validUntil = expires;
        }
        this.persist();
      });
      s.expiresAt = expires.toISOString();
      this.schedule(s);
      this.deps.log.log('info', 'session.renew', { policy: s.policy, role: s.role, expiresAt: s.expiresAt });
      out.push(publicView(s));
    }
    this.emit('change');
    return out;
  }

  /**
   * Ends sessions. The role's password is shared, so access is cut (VALID UNTIL now and
   * its backends terminated) only when no other session still uses the role.
   */
  async revoke(idOrPolicy: string): Promise<{ revoked: number; roleExpired: boolean; stillShared: number }> {
    await this.ready();
    const targets = this.find(idOrPolicy);
    if (targets.length === 0) throw new SessionError(`no open session for "${idOrPolicy}"`, 'unknown-session');
    let roleExpired = false;
    let stillShared = 0;
    for (const s of targets) {
      this.drop(s);
      this.deps.log.log('info', 'session.revoke', { policy: s.policy, role: s.role });
    }
    for (const key of new Set(targets.map((t) => t.roleKey))) {
      const remaining = [...this.sessions.values()].filter((x) => x.roleKey === key).length;
      stillShared += remaining;
      if (remaining === 0) {
        roleExpired = (await this.expireRoleState(key, undefined)) || roleExpired;
      }
    }
    this.emit('change');
    return { revoked: targets.length, roleExpired, stillShared };
  }

  private drop(s: Session): void {
    if (s.timer) clearTimeout(s.timer);
    this.sessions.delete(s.id);
    this.forgotten.add(s.id);
    this.persist();
  }

  private async expireRoleState(key: string, ifNotAfter: Date | undefined): Promise<boolean> {
    const state = this.roles.get(key);
    if (!state) return false;
    return this.mutex.run(key, async () => {
      const result = await this.provisionCall(() =>
        this.deps.provisioner.expireRole(state.granter, state.role, { terminate: true, ifValidUntilNotAfter: ifNotAfter }),
      );
      if (result.expired) {
        this.roles.delete(key);
        this.forgotten.add(key);
        this.persist();
        this.deps.log.redactor.remove(state.password);
        this.deps.log.log('info', 'role.expired', { role: state.role, terminatedBackends: result.terminated });
      }
      return result.expired;
    });
  }

  private schedule(s: Session): void {
    if (s.timer) clearTimeout(s.timer);
    const ms = Math.max(0, new Date(s.expiresAt).getTime() - this.now().getTime());
    s.timer = setTimeout(() => void this.onExpired(s.id), Math.min(ms, 2 ** 31 - 1));
    s.timer.unref();
  }

  private async onExpired(id: string): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) return;
    if (new Date(s.expiresAt).getTime() > this.now().getTime()) return this.schedule(s);
    this.drop(s);
    this.deps.log.log('info', 'session.expired', { policy: s.policy, role: s.role });
    this.emit('expired', publicView(s));
    const others = [...this.sessions.values()].filter((x) => x.roleKey === s.roleKey);
    const state = this.roles.get(s.roleKey);
    // Terminate only if nobody extended the role past this session's end.
    if (others.length === 0 && state && state.validUntil.getTime() <= new Date(s.expiresAt).getTime()) {
      try {
        await this.expireRoleState(s.roleKey, state.validUntil);
      } catch (e) {
        this.deps.log.log('warn', 'role.expire-failed', { role: s.role, error: (e as Error).message });
      }
    }
    this.emit('change');
  }

  close(): void {
    if (this.saveQueued) this.flush();
    for (const s of this.sessions.values()) if (s.timer) clearTimeout(s.timer);
  }
}

function roleKey(host: string, port: number, role: string): string {
  return `${host}:${port}/${role}`;
}

function publicView(s: Session): SessionInfo {
  const { roleKey: _k, timer: _t, ...info } = s;
  return info;
}
