/**
 * The status bar item: proxy state, number of sessions and, with `--users` sources, the
 * user store (a warning look while it is stale); a click shows the logs on error.
 */
import * as vscode from 'vscode';
import type { ProxyState } from './proxy/supervisor';
import type { DirectoryStatus } from '../proxy/users/directory';
import { formatEndpoint } from '../proxy/control/viaProxy';
import { summarizeUserStore } from './userStoreText';

export class StatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('mayfly.status', vscode.StatusBarAlignment.Left, 50);
  text = '';
  tooltip = '';
  /** Which look the item has, for tests: the theme's warning or error background, or none. */
  look: 'normal' | 'warning' | 'error' = 'normal';

  constructor() {
    this.item.name = 'Mayfly';
    this.item.show();
  }

  update(state: ProxyState, sessions: number, users?: DirectoryStatus): void {
    switch (state.kind) {
      case 'starting':
        this.set('$(sync~spin) Mayfly: starting', 'Starting the Mayfly proxy', 'mayfly.showLogs');
        break;
      case 'running': {
        const count = `${sessions} session${sessions === 1 ? '' : 's'}`;
        const proxy = `Mayfly proxy running (pid ${state.pid})${state.listen ? `, listening for Postgres clients on ${formatEndpoint(state.listen)}` : ''}`;
        const store = users ? summarizeUserStore(users, Date.now()) : undefined;
        if (store?.stale) {
          this.set(`$(warning) Mayfly: ${count}, ${store.text}`, `${proxy}\n${store.tooltip}\nClick for the status of each user source`, 'mayfly.showUserStore');
          this.setLook('warning');
          return;
        }
        this.set(
          `$(database) Mayfly: ${count}${store ? `, ${store.text}` : ''}`,
          store ? `${proxy}\n${store.tooltip}` : proxy,
          sessions ? 'workbench.view.extension.mayfly' : 'mayfly.openSessionTerminal',
        );
        break;
      }
      case 'waiting-for-trust':
        this.set('$(shield) Mayfly: restricted', 'Trust this workspace to open Mayfly sessions', 'workbench.trust.manage');
        break;
      case 'error':
        this.set('$(error) Mayfly: error', `${state.message} — click for logs`, 'mayfly.showLogs');
        this.setLook('error');
        return;
      case 'stopped':
        this.set('$(circle-slash) Mayfly: stopped', state.reason ?? 'The Mayfly proxy is not running', 'mayfly.showLogs');
        break;
    }
    this.setLook('normal');
  }

  private setLook(look: StatusItem['look']): void {
    this.look = look;
    this.item.backgroundColor = look === 'normal' ? undefined : new vscode.ThemeColor(`statusBarItem.${look}Background`);
  }

  private set(text: string, tooltip: string, command: string): void {
    this.text = text;
    this.tooltip = tooltip;
    this.item.text = text;
    this.item.tooltip = tooltip;
    this.item.command = command;
  }

  dispose(): void {
    this.item.dispose();
  }
}
