/** Sessions view: policy, role and time left, with Renew / Revoke / Open terminal actions. */
import * as vscode from 'vscode';
import type { SessionInfo } from '../../proxy/sessions/types';
import type { SessionsModel } from '../sessionsModel';
import type { TerminalRoute } from '../terminals';

export function timeLeft(expiresAt: string, now = Date.now()): string {
  const ms = new Date(expiresAt).getTime() - now;
  if (ms <= 0) return 'expired';
  const m = Math.round(ms / 60_000);
  return m >= 60 ? `${Math.floor(m / 60)}h ${m % 60}m left` : `${Math.max(1, m)}m left`;
}

export class SessionsView implements vscode.TreeDataProvider<SessionInfo>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly sub: vscode.Disposable;

  constructor(
    private readonly model: SessionsModel,
    /** How the session's terminal connects, while one is open. */
    private readonly routeOf: (sessionId: string) => TerminalRoute | undefined = () => undefined,
  ) {
    this.sub = model.onDidChange(() => this.emitter.fire());
  }

  getChildren(node?: SessionInfo): SessionInfo[] {
    return node ? [] : this.model.sessions;
  }

  getTreeItem(s: SessionInfo): vscode.TreeItem {
    const item = new vscode.TreeItem(s.policy);
    item.id = s.id;
    const route = this.routeOf(s.id);
    item.description = `${s.role} · ${timeLeft(s.expiresAt)}${route?.viaProxy ? ' · via proxy' : ''}`;
    item.tooltip = `${s.user}@${s.host}:${s.port} (${s.databases.join(', ')}) until ${s.expiresAt}${route ? `\nits terminal connects ${route.text}` : ''}`;
    item.iconPath = new vscode.ThemeIcon('key');
    item.contextValue = 'session';
    return item;
  }

  dispose(): void {
    this.sub.dispose();
    this.emitter.dispose();
  }
}
