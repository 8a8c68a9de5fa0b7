/**
 * Composition root of the Mayfly extension: everything is built here, once, and every
 * disposable goes into context.subscriptions. Features are grouped by role:
 * languageClient (policy editing), proxy/ (the bundled proxy process), commands/,
 * views/, terminals, status.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { associatePolicyFiles, startLanguageClient } from './languageClient';
import { MayflyOutput } from './output';
import { PolicyIndex } from './policyIndex';
import { ProxySupervisor } from './proxy/supervisor';
import { SessionsModel } from './sessionsModel';
import { StatusItem } from './status';
import { SessionTerminals } from './terminals';
import { UserStoreModel } from './userStoreModel';
import { checkUserStoreSettings, type UserStoreLaunch } from './proxy/userStoreFlags';
import { findPolicyFile, proxyListen, readSettings } from './settings';
import { showError, type Services } from './services';
import { registerOpenSessionTerminal } from './commands/openSessionTerminal';
import { registerSessionCommands } from './commands/sessionCommands';
import { registerProxyCommands, SECRET_PREFIX } from './commands/proxyCommands';
import { registerUserStoreCommands } from './commands/userStoreCommands';
import { PoliciesView } from './views/policiesView';
import { SessionsView } from './views/sessionsView';

/** What tests (and other extensions) can inspect. */
export interface MayflyApi {
  services: Services;
  status: StatusItem;
  languageClient?: LanguageClient;
  /** How long activate() took, for the benchmark. */
  activationMs?: number;
}

let api: MayflyApi | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<MayflyApi> {
  const started = Date.now();
  const output = new MayflyOutput();
  const settings = readSettings();
  const proxy = new ProxySupervisor(context, output);
  const terminals = new SessionTerminals();
  const policies = new PolicyIndex(() => Object.keys(readSettings().configEntries));
  const status = new StatusItem();
  const sessions = new SessionsModel(
    proxy,
    () => readSettings().renewReminderMinutes,
    (s) => {
      void vscode.window
        .showWarningMessage(`Mayfly: session "${s.policy}" expires at ${new Date(s.expiresAt).toLocaleTimeString()}.`, 'Renew')
        .then((choice) => choice === 'Renew' && vscode.commands.executeCommand('mayfly.renewSession', s));
    },
  );
  const users = new UserStoreModel(proxy, output);
  context.subscriptions.push(output, proxy, terminals, policies, status, sessions, users);

  const launchProxy = async (): Promise<void> => {
    if (!vscode.workspace.isTrusted) {
      proxy.markWaitingForTrust();
      return;
    }
    const current = readSettings();
    const file = await findPolicyFile(current);
    if (!file) {
      proxy.notStarted('no policy file: create a *.policy.hcl file or set mayfly.policyFile');
      return;
    }
    const secretDsns: Record<string, string> = {};
    const entryNames = new Set([...policies.policies.map((p) => p.pluginConfigEntry ?? ''), ...Object.keys(current.configEntries)]);
    for (const name of entryNames) {
      if (!name) continue;
      const dsn = await context.secrets.get(SECRET_PREFIX + name);
      if (dsn) secretDsns[name] = dsn;
    }
    let userStore: UserStoreLaunch;
    try {
      userStore = checkUserStoreSettings(current, vscode.workspace.workspaceFolders?.[0]?.uri.fsPath);
    } catch (e) {
      // A bad edit changes nothing: a running proxy keeps its settings. None running is not
      // started at all, since a proxy that exits at once would only be retried with backoff.
      const message = (e as Error).message;
      if (proxy.pid !== undefined) return showError(services, `${message} (not applied: the proxy keeps its previous settings)`);
      await proxy.stop();
      proxy.notStarted(message);
      return showError(services, `the proxy was not started: ${message}`);
    }
    const listen = proxyListen(current);
    await proxy.start({ policyFile: file.fsPath, entries: current.configEntries, secretDsns, ...(listen ? { listen } : {}), userStore });
  };
  // One (re)start at a time: two overlapping ones would both spawn, leaving one proxy orphaned.
  // Requests made while one waits for its turn share it (it reads the settings when it runs),
  // so editing three settings in a row does not start three proxies.
  let chain: Promise<void> = Promise.resolve();
  let waiting: Promise<void> | undefined;
  const startProxy = (): Promise<void> => {
    if (waiting) return waiting;
    const next = chain.then(() => {
      waiting = undefined;
      return launchProxy();
    });
    waiting = next;
    chain = next.catch(() => undefined);
    return next;
  };

  const services: Services = { context, output, proxy, sessions, terminals, policies, users, restartProxy: startProxy };
  api = { services, status };

  const refreshStatus = (): void => status.update(proxy.state, sessions.sessions.length, users.status);
  context.subscriptions.push(
    proxy.onDidChangeState(() => {
      refreshStatus();
      void sessions.refresh();
      void users.refresh();
    }),
    sessions.onDidChange(refreshStatus),
    users.onDidChange(refreshStatus),
    sessions.onDidExpire((s) => {
      terminals.expired(s);
      void vscode.window.showWarningMessage(`Mayfly: session "${s.policy}" expired; its credentials no longer work.`, 'Open New Session').then(
        (c) => c && vscode.commands.executeCommand('mayfly.openSessionTerminal', s.policy),
      );
    }),
    registerOpenSessionTerminal(services),
    ...registerSessionCommands(services),
    ...registerProxyCommands(services),
    ...registerUserStoreCommands(services),
    vscode.commands.registerCommand('mayfly.refresh', async () => {
      await policies.load(await findPolicyFile(readSettings()));
      await sessions.refresh();
    }),
    vscode.window.registerTreeDataProvider('mayfly.policies', new PoliciesView(policies)),
    vscode.window.registerTreeDataProvider('mayfly.sessions', new SessionsView(sessions, (id) => terminals.routeOf(id))),
    associatePolicyFiles(settings),
    vscode.workspace.onDidGrantWorkspaceTrust(() => void startProxy()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      const restartFor = ['mayfly.policyFile', 'mayfly.configEntries', 'mayfly.users', 'mayfly.aws'];
      if (restartFor.some((s) => e.affectsConfiguration(s))) void startProxy();
      // A restart forgets the proxy's sessions, so only when terminals now need a listener
      // it lacks; switching back to "server" leaves the listener running.
      else if (e.affectsConfiguration('mayfly.terminal.connectVia') || e.affectsConfiguration('mayfly.proxy.listen')) {
        const listen = proxyListen(readSettings());
        if (listen && listen !== proxy.listen) void startProxy();
      }
    }),
  );
  // Non-secret: lets `npx mayfly ...` in integrated terminals talk to this window's proxy.
  context.environmentVariableCollection.replace('MAYFLY_CONTROL_SOCKET', proxy.socketPath);
  context.environmentVariableCollection.description = 'Points the mayfly CLI at this window\'s Mayfly proxy (no credentials).';

  refreshStatus();
  await policies.load(await findPolicyFile(settings));
  try {
    api.languageClient = await startLanguageClient(context, settings);
    context.subscriptions.push(api.languageClient);
  } catch (e) {
    output.info(`the language server did not start: ${(e as Error).message}`);
  }
  await startProxy();
  api.activationMs = Date.now() - started;
  output.info(`activated in ${api.activationMs} ms`);
  return api;
}

export async function deactivate(): Promise<void> {
  await api?.services.proxy.stop();
  await api?.languageClient?.stop();
}
