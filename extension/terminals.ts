/**
 * Session terminals: their own transient environment (never the persistent environment
 * variable collection, which would outlive the credentials), named after the policy and
 * its expiry, told when the session expires.
 */
import * as vscode from 'vscode';
import { sessionEnv, type SessionInfo } from '../proxy/sessions/types';

export class SessionTerminals implements vscode.Disposable {
  private readonly bySession = new Map<string, vscode.Terminal[]>();
  private readonly closeListener: vscode.Disposable;

  constructor() {
    this.closeListener = vscode.window.onDidCloseTerminal((t) => {
      for (const [id, list] of this.bySession) this.bySession.set(id, list.filter((x) => x !== t));
    });
  }

  open(session: SessionInfo): vscode.Terminal {
    const until = new Date(session.expiresAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const terminal = vscode.window.createTerminal({
      name: `Mayfly: ${session.policy} (until ${until})`,
      env: sessionEnv(session),
      isTransient: true,
      iconPath: new vscode.ThemeIcon('database'),
      message: `Mayfly session for policy "${session.policy}" as ${session.role}, until ${session.expiresAt}. psql connects with no arguments.`,
    });
    this.bySession.set(session.id, [...(this.bySession.get(session.id) ?? []), terminal]);
    terminal.show();
    return terminal;
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
