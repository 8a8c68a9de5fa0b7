/**
 * Runs the bundled proxy (dist/proxy.js) with `fork` — never a `node` from PATH — from
 * the settings, restarts it after a crash with exponential backoff, and stops it with
 * the window. Literal DSNs from SecretStorage reach it through its environment, never
 * through its arguments (which any local user can read in `ps`).
 */
import { fork, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import type { MayflyOutput } from '../output';
import { ControlClient } from '../../proxy/control/client';
import { userStoreFlags, type UserStoreLaunch } from './userStoreFlags';

export type ProxyState =
  | { kind: 'stopped'; reason?: string }
  | { kind: 'waiting-for-trust' }
  | { kind: 'starting' }
  | { kind: 'running'; pid: number; listen?: { host: string; port: number } }
  | { kind: 'error'; message: string; retryInMs?: number };

export interface ProxyLaunch {
  policyFile: string;
  /** entry name -> `env:VAR` | `path:FILE` | `aws:ID` reference from settings. */
  entries: Record<string, string>;
  /** entry name -> literal DSN from SecretStorage. */
  secretDsns: Record<string, string>;
  /** `--listen` address of the local Postgres proxy; undefined: no listener. */
  listen?: string;
  /** `--users` sources (they need `listen`) and the AWS settings, checked. */
  userStore?: UserStoreLaunch;
}

const MAX_BACKOFF_MS = 30_000;
const HEALTHY_AFTER_MS = 60_000;

export class ProxySupervisor implements vscode.Disposable {
  private child?: ChildProcess;
  private stopping = false;
  private backoffMs = 1000;
  private restartTimer?: NodeJS.Timeout;
  private healthyTimer?: NodeJS.Timeout;
  private launch?: ProxyLaunch;
  /** The proxy's own last error line (`mayfly: ...`), to say why it exited. */
  private lastError?: string;
  /** Whether the proxy of the current launch was ever ready: if not, its exits are start-up failures. */
  private readyOnce = false;
  private readonly emitter = new vscode.EventEmitter<ProxyState>();
  readonly onDidChangeState = this.emitter.event;
  state: ProxyState = { kind: 'stopped' };
  readonly socketPath: string;
  readonly client: ControlClient;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: MayflyOutput,
  ) {
    // One socket per workspace, short enough for the 108-byte Unix socket path limit.
    const key = crypto.createHash('sha256').update(vscode.workspace.workspaceFolders?.[0]?.uri.toString() ?? 'none').digest('hex').slice(0, 12);
    const home = process.env.MAYFLY_HOME || path.join(os.homedir(), '.mayfly');
    this.socketPath = path.join(home, 'run', `vscode-${key}.sock`);
    this.client = new ControlClient(this.socketPath);
  }

  private setState(state: ProxyState): void {
    this.state = state;
    this.emitter.fire(state);
  }

  markWaitingForTrust(): void {
    this.setState({ kind: 'waiting-for-trust' });
  }

  async start(launch: ProxyLaunch): Promise<void> {
    this.launch = launch;
    this.readyOnce = false;
    await this.stop();
    this.stopping = false;
    this.spawn();
  }

  async restart(): Promise<void> {
    if (!this.launch) return;
    this.backoffMs = 1000;
    await this.start(this.launch);
  }

  private spawn(): void {
    const launch = this.launch!;
    const args = ['proxy', '--config', `policy-config=path:${launch.policyFile}`];
    const env: NodeJS.ProcessEnv = { ...process.env, MAYFLY_CONTROL_SOCKET: this.socketPath };
    for (const [name, ref] of Object.entries(launch.entries)) args.push('--config', `${name}=${ref}`);
    Object.entries(launch.secretDsns).forEach(([name, dsn], i) => {
      if (launch.entries[name]) return; // an explicit setting wins over a stored DSN
      const variable = `MAYFLY_ENTRY_DSN_${i}`;
      env[variable] = dsn;
      this.output.redactor.add(dsn);
      args.push('--config', `${name}=env:${variable}`);
    });
    if (launch.listen) args.push('--listen', launch.listen);
    if (launch.userStore) args.push(...userStoreFlags(launch.userStore));
    this.lastError = undefined;
    this.setState({ kind: 'starting' });
    this.output.info(`starting the proxy: ${args.filter((a) => !a.startsWith('--')).join(' ')}`);
    const child = fork(this.context.asAbsolutePath('dist/proxy.js'), args, { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => this.output.append(d.toString()));
    child.stderr?.on('data', (d: Buffer) => {
      const text = d.toString();
      this.output.append(text);
      const error = text.split('\n').filter((l) => l.startsWith('mayfly: ')).pop();
      if (error) this.lastError = this.output.redactor.redact(error.slice('mayfly: '.length));
    });
    child.on('message', (m: { type?: string; pid?: number; listen?: { host: string; port: number } }) => {
      if (m?.type !== 'ready') return;
      this.readyOnce = true;
      this.setState({ kind: 'running', pid: m.pid ?? child.pid ?? 0, ...(m.listen ? { listen: m.listen } : {}) });
      this.healthyTimer = setTimeout(() => (this.backoffMs = 1000), HEALTHY_AFTER_MS);
    });
    child.on('exit', (code, signal) => {
      if (this.healthyTimer) clearTimeout(this.healthyTimer);
      if (this.child !== child) return;
      this.child = undefined;
      if (this.stopping) {
        this.setState({ kind: 'stopped' });
        return;
      }
      const retryInMs = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
      const why = this.lastError ? `: ${this.lastError}` : '';
      const message = `the proxy exited (${signal ?? `code ${code}`})${why}; restarting in ${Math.round(retryInMs / 1000)} s`;
      this.output.info(message);
      this.setState({ kind: 'error', message, retryInMs });
      this.restartTimer = setTimeout(() => this.spawn(), retryInMs);
    });
  }

  /** The `--listen` address the proxy was last started with. */
  get listen(): string | undefined {
    return this.launch?.listen;
  }

  /** Whether the proxy was started with `--users` sources (then its health reports their status). */
  get hasUserStore(): boolean {
    return !!this.launch?.userStore?.sources.length;
  }

  /** The proxy's pid, for tests that kill it to check restarts. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => (child.kill('SIGKILL'), resolve()), 5000);
      child.once('exit', () => (clearTimeout(t), resolve()));
      child.kill('SIGTERM');
    });
  }

  /** Resolves when the proxy is running, or rejects with the reason it is not. */
  async ready(timeoutMs = 20_000): Promise<ControlClient> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const s = this.state;
      if (s.kind === 'running') return this.client;
      if (s.kind === 'waiting-for-trust') throw new Error('Mayfly starts its proxy only in a trusted workspace');
      if (s.kind === 'stopped' && s.reason) throw new Error(s.reason);
      // One that failed to start (say, its --listen port is taken) is reported now, not after
      // the timeout; the background retries go on.
      if (s.kind === 'error' && !this.readyOnce) throw new Error(s.message);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(this.state.kind === 'error' ? this.state.message : 'the Mayfly proxy did not start in time; see Mayfly: Show Logs');
  }

  notStarted(reason: string): void {
    this.setState({ kind: 'stopped', reason });
  }

  dispose(): void {
    void this.stop();
    this.emitter.dispose();
  }
}
