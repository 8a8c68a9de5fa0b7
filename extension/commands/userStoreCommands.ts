/** Show User Store Status: the proxy's user sources, one line each, in the output channel. */
import * as vscode from 'vscode';
import type { Services } from '../services';
import { userStoreReport } from '../userStoreText';

export function registerUserStoreCommands(services: Services): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('mayfly.showUserStore', async () => {
      const status = await services.users.refresh();
      if (!status) {
        const why = !services.proxy.hasUserStore
          ? 'no user sources are configured: add them to the mayfly.users.sources setting'
          : 'the proxy is not running; see Mayfly: Show Logs';
        void vscode.window.showInformationMessage(`Mayfly: ${why}.`);
        return undefined;
      }
      const [head, ...rest] = userStoreReport(status, Date.now());
      services.output.info(head!);
      services.output.append(rest.join('\n'));
      services.output.show();
      return status;
    }),
  ];
}
