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
import { ControlServer } from './control/server';
import type { Health, OpenRequest, PoliciesResponse } from './control/protocol';
import type { Logger } from './log/logger';
import * as provision from './provision';
import { SessionError } from './sessions/types';

export const VERSION = '0.1.0';

export interface AppOptions {
  config: string[];
  log: Logger;
  /** Reload the policy file when it changes (the proxy does; one-shot CLI commands don't). */
  watch?: boolean;
}

export class MayflyApp {
  readonly plugin: PluginConfig;
  readonly policies: PolicyStore;
  readonly sessions: SessionManager;
  private control?: ControlServer;
  private sweepTimer?: NodeJS.Timeout;
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
      const params = await resolveEntry(entry, ref);
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
    };
  }

  async serveControl(socketPath: string, sweepEveryMs = 10 * 60_000, sweepGraceMs = 60 * 60_000): Promise<void> {
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

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.policies.close();
    this.sessions.close();
    await this.control?.close();
  }
}
