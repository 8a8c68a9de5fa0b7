/** Restart Proxy, Show Logs, Sweep Expired Roles, Set Entry DSN. */
import * as vscode from 'vscode';
import { showError, type Services } from '../services';

export const SECRET_PREFIX = 'mayfly.entryDsn.';

export function registerProxyCommands(services: Services): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('mayfly.restartProxy', async () => {
      await services.restartProxy();
    }),
    vscode.commands.registerCommand('mayfly.showLogs', () => services.output.show()),
    vscode.commands.registerCommand('mayfly.sweepExpiredRoles', async () => {
      try {
        const client = await services.proxy.ready();
        const { reports } = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: 'Mayfly: sweeping expired roles…' },
          () => client.sweep(),
        );
        services.output.info(`sweep: ${JSON.stringify(reports)}`);
        const failed = (reports as { error?: string }[]).filter((r) => r.error).length;
        void vscode.window.showInformationMessage(`Mayfly: sweep finished for ${reports.length} entr${reports.length === 1 ? 'y' : 'ies'}${failed ? `, ${failed} failed (see logs)` : ''}.`);
        return reports;
      } catch (e) {
        await showError(services, `sweep failed: ${(e as Error).message}`);
        return undefined;
      }
    }),
    vscode.commands.registerCommand('mayfly.setEntryDsn', async (entryArg?: string, dsnArg?: string) => {
      const entries = [...new Set(services.policies.policies.map((p) => p.pluginConfigEntry).filter((e): e is string => !!e))];
      const entry =
        entryArg ??
        (await vscode.window.showQuickPick(entries.length ? entries : ['(type a name)'], { title: 'Mayfly: which plugin config entry?' }));
      if (!entry) return;
      const dsn =
        dsnArg ??
        (await vscode.window.showInputBox({
          title: `Mayfly: granter DSN for "${entry}"`,
          prompt: 'postgres://USER:PASSWORD@HOST:PORT/postgres — kept in the OS keychain, never in settings',
          password: true,
          ignoreFocusOut: true,
          validateInput: (v) => (/^postgres(ql)?:\/\//.test(v.trim()) ? undefined : 'A DSN starts with postgres:// or postgresql://'),
        }));
      if (!dsn) return;
      await services.context.secrets.store(SECRET_PREFIX + entry, dsn.trim());
      services.output.redactor.add(dsn.trim());
      services.output.info(`stored the DSN for entry "${entry}" in SecretStorage`);
      await services.restartProxy();
    }),
  ];
}
