/**
 * The sessions the proxy holds, refreshed after every action and every few seconds;
 * raises the renew reminder before expiry and tells terminals when they expire.
 */
import * as vscode from 'vscode';
import type { SessionInfo } from '../proxy/sessions/types';
import type { ProxySupervisor } from './proxy/supervisor';

export class SessionsModel implements vscode.Disposable {
  sessions: SessionInfo[] = [];
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;
  private readonly expiredEmitter = new vscode.EventEmitter<SessionInfo>();
  readonly onDidExpire = this.expiredEmitter.event;
  private readonly reminded = new Set<string>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly proxy: ProxySupervisor,
    private readonly reminderMinutes: () => number,
    private readonly remind: (s: SessionInfo) => void,
  ) {
    this.timer = setInterval(() => void this.refresh(), 5000);
  }

  async refresh(): Promise<void> {
    const previous = this.sessions;
    if (this.proxy.state.kind !== 'running') {
      this.sessions = [];
    } else {
      try {
        this.sessions = await this.proxy.client.sessions();
      } catch {
        return;
      }
    }
    const now = Date.now();
    for (const old of previous)
      if (!this.sessions.some((s) => s.id === old.id) && new Date(old.expiresAt).getTime() <= now + 1000) this.expiredEmitter.fire(old);
    for (const s of this.sessions) {
      const left = new Date(s.expiresAt).getTime() - now;
      if (left < this.reminderMinutes() * 60_000 && !this.reminded.has(`${s.id}:${s.expiresAt}`)) {
        this.reminded.add(`${s.id}:${s.expiresAt}`);
        this.remind(s);
      }
    }
    this.emitter.fire();
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.emitter.dispose();
    this.expiredEmitter.dispose();
  }
}
