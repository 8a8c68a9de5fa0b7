/** What commands and views share; built once in extension.ts. */
import * as vscode from 'vscode';
import type { MayflyOutput } from './output';
import type { PolicyIndex } from './policyIndex';
import type { ProxySupervisor } from './proxy/supervisor';
import type { SessionsModel } from './sessionsModel';
import type { SessionTerminals } from './terminals';
import type { UserStoreModel } from './userStoreModel';

export interface Services {
  context: vscode.ExtensionContext;
  output: MayflyOutput;
  proxy: ProxySupervisor;
  sessions: SessionsModel;
  terminals: SessionTerminals;
  policies: PolicyIndex;
  users: UserStoreModel;
  restartProxy(): Promise<void>;
}

/**
 * An error message with the buttons that fix most problems; details go to the output
 * channel. Does not wait for the user, so the command that failed returns at once.
 */
export async function showError(services: Services, message: string): Promise<void> {
  services.output.info(`error: ${message}`);
  void vscode.window.showErrorMessage(`Mayfly: ${message}`, 'Open Settings', 'Show Logs').then(async (choice) => {
    if (choice === 'Open Settings') await vscode.commands.executeCommand('workbench.action.openSettings', 'mayfly');
    if (choice === 'Show Logs') services.output.show();
  });
}
