/** The status bar item: proxy state and number of sessions; a click shows the logs on error. */
import * as vscode from 'vscode';
import type { ProxyState } from './proxy/supervisor';
import { formatEndpoint } from '../proxy/control/viaProxy';

export class StatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('mayfly.status', vscode.StatusBarAlignment.Left, 50);
  text = '';

  constructor() {
    this.item.name = 'Mayfly';
    this.item.show();
  }

  update(state: ProxyState, sessions: number): void {
    switch (state.kind) {
      case 'starting':
        this.set('$(sync~spin) Mayfly: starting', 'Starting the Mayfly proxy', 'mayfly.showLogs');
        break;
      case 'running':
        this.set(
          `$(database) Mayfly: ${sessions} session${sessions === 1 ? '' : 's'}`,
          `Mayfly proxy running (pid ${state.pid})${state.listen ? `, listening for Postgres clients on ${formatEndpoint(state.listen)}` : ''}`,
          sessions ? 'workbench.view.extension.mayfly' : 'mayfly.openSessionTerminal',
        );
        break;
      case 'waiting-for-trust':
        this.set('$(shield) Mayfly: restricted', 'Trust this workspace to open Mayfly sessions', 'workbench.trust.manage');
        break;
      case 'error':
        this.set('$(error) Mayfly: error', `${state.message} — click for logs`, 'mayfly.showLogs');
        this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
        return;
      case 'stopped':
        this.set('$(circle-slash) Mayfly: stopped', state.reason ?? 'The Mayfly proxy is not running', 'mayfly.showLogs');
        break;
    }
    this.item.backgroundColor = undefined;
  }

  private set(text: string, tooltip: string, command: string): void {
    this.text = text;
    this.item.text = text;
    this.item.tooltip = tooltip;
    this.item.command = command;
  }

  dispose(): void {
    this.item.dispose();
  }
}
