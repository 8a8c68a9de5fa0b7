/**
 * The proxy's user-store status (last refresh, staleness, per source), polled from its
 * health while it runs with `--users` sources, as sessionsModel polls the sessions. Every
 * poll fires onDidChange, so "refreshed 8 s ago" stays current; staleness changes are also
 * written to the output channel, where the proxy's own users.* events already are.
 */
import * as vscode from 'vscode';
import type { DirectoryStatus } from '../proxy/users/directory';
import type { MayflyOutput } from './output';
import type { ProxySupervisor } from './proxy/supervisor';

const POLL_MS = 5000;

export class UserStoreModel implements vscode.Disposable {
  status?: DirectoryStatus;
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly proxy: ProxySupervisor,
    private readonly output: MayflyOutput,
  ) {
    this.timer = setInterval(() => void this.refresh(), POLL_MS);
  }

  /** Asks the proxy now; resolves to the status (undefined: no user store, or no proxy running). */
  async refresh(): Promise<DirectoryStatus | undefined> {
    const before = this.status;
    if (this.proxy.state.kind !== 'running' || !this.proxy.hasUserStore) {
      this.status = undefined;
    } else {
      try {
        const users = (await this.proxy.client.health()).users;
        this.status = users && this.redacted(users);
      } catch {
        // A proxy between restarts: keep what was last known until the next poll.
        return this.status;
      }
    }
    this.noteStaleness(before, this.status);
    this.emitter.fire();
    return this.status;
  }

  /** Error texts come from drivers and the AWS SDK: the output's redactor (stored DSNs) applies to them too. */
  private redacted(s: DirectoryStatus): DirectoryStatus {
    const r = (e: string | undefined) => (e === undefined ? undefined : this.output.redactor.redact(e));
    const out: DirectoryStatus = { ...s, sources: s.sources.map((src) => (src.error === undefined ? src : { ...src, error: r(src.error)! })) };
    if (s.error !== undefined) out.error = r(s.error)!;
    if (s.allowed?.error !== undefined) out.allowed = { ...s.allowed, error: r(s.allowed.error)! };
    return out;
  }

  private noteStaleness(before: DirectoryStatus | undefined, now: DirectoryStatus | undefined): void {
    if (!now) return;
    if (now.stale && !before?.stale)
      this.output.info(`users are stale (${now.users} in force): ${now.error ?? 'a source has not loaded yet'}`);
    else if (!now.stale && before?.stale) this.output.info(`users refreshed again: ${now.users} in force`);
  }

  dispose(): void {
    clearInterval(this.timer);
    this.emitter.dispose();
  }
}
