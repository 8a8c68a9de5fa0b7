/**
 * Session terminals: their own transient environment (never the persistent environment
 * variable collection, which would outlive the credentials), named after the policy and
 * its expiry, told when the session expires. Their PGHOST/PGPORT are the server's, or the
 * local proxy's when `via` is given (mayfly.terminal.connectVia).
 */
import * as vscode from 'vscode';
import type { WireEndpoint } from '../proxy/control/protocol';
import { formatEndpoint } from '../proxy/control/viaProxy';
import { sessionEnv, type SessionInfo } from '../proxy/sessions/types';

/** How a session terminal reaches the database. */
export interface TerminalRoute {
  viaProxy: boolean;
  /** "through the Mayfly proxy at HOST:PORT" or "to HOST:PORT". */
  text: string;
}

export class SessionTerminals implements vscode.Disposable {
  private readonly bySession = new Map<string, vscode.Terminal[]>();
  /** Which address each session's latest terminal got, for the Sessions view. */
  private readonly routes = new Map<string, TerminalRoute>();
  private readonly closeListener: vscode.Disposable;

  constructor() {
    this.closeListener = vscode.window.onDidCloseTerminal((t) => {
      for (const [id, list] of this.bySession) this.bySession.set(id, list.filter((x) => x !== t));
    });
  }

  open(session: SessionInfo, via?: WireEndpoint): vscode.Terminal {
    const until = new Date(session.expiresAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const route: TerminalRoute = { viaProxy: !!via, text: via ? `through the Mayfly proxy at ${formatEndpoint(via)}` : `to ${formatEndpoint(session)}` };
    const terminal = vscode.window.createTerminal({
      name: `Mayfly: ${session.policy} (until ${until})`,
      env: sessionEnv(session, via),
      isTransient: true,
      iconPath: new vscode.ThemeIcon('database'),
      message: `Mayfly session for policy "${session.policy}" as ${session.role}, until ${session.expiresAt}. psql connects ${route.text} with no arguments.`,
    });
    this.bySession.set(session.id, [...(this.bySession.get(session.id) ?? []), terminal]);
    this.routes.set(session.id, route);
    terminal.show();
    return terminal;
  }

  /** How the session's latest terminal connects, while one is open. */
  routeOf(sessionId: string): TerminalRoute | undefined {
    return this.terminalsOf(sessionId).length ? this.routes.get(sessionId) : undefined;
  }

  terminalsOf(sessionId: string): vscode.Terminal[] {
    return this.bySession.get(sessionId) ?? [];
  }

  expired(session: SessionInfo): void {
    for (const t of this.terminalsOf(session.id)) {
      // A shell comment: visible in the scrollback, harmless when executed.
      t.sendText(`# Mayfly: session "${session.policy}" expired at ${session.expiresAt}; its credentials no longer work`, true);
    }
  }

  dispose(): void {
    this.closeListener.dispose();
  }
}
