/** "Mayfly: Open Session Terminal": pick a policy, provision with progress, open a terminal. */
import * as vscode from 'vscode';
import type { ControlClient } from '../../proxy/control/client';
import type { WireEndpoint } from '../../proxy/control/protocol';
import { proxyEndpoint } from '../../proxy/control/viaProxy';
import type { SessionInfo } from '../../proxy/sessions/types';
import { readSettings } from '../settings';
import { showError, type Services } from '../services';

interface PolicyPick extends vscode.QuickPickItem {
  policy?: string;
}

async function pickPolicy(services: Services): Promise<string | undefined> {
  const items: PolicyPick[] = services.policies.policies.map((p) =>
    p.valid
      ? { label: p.name, description: `${p.sessionUser} · ${p.expiration}`, detail: p.instances.join(', '), policy: p.name }
      : { label: `$(error) ${p.name}`, description: 'invalid', detail: p.problem },
  );
  if (!items.length) {
    await showError(services, 'no policies found: create a *.policy.hcl file or set mayfly.policyFile');
    return undefined;
  }
  const quickPick = vscode.window.createQuickPick<PolicyPick>();
  quickPick.title = 'Mayfly: open a session for policy';
  quickPick.placeholder = 'Policy (session role · expiry)';
  quickPick.items = items;
  return new Promise((resolve) => {
    quickPick.onDidAccept(() => {
      const picked = quickPick.selectedItems[0];
      // Invalid policies are listed with their reason but cannot be chosen.
      if (!picked?.policy) {
        quickPick.placeholder = picked ? `"${picked.label.replace('$(error) ', '')}" is invalid: fix the policy file first` : quickPick.placeholder;
        return;
      }
      resolve(picked.policy);
      quickPick.hide();
    });
    quickPick.onDidHide(() => {
      resolve(undefined);
      quickPick.dispose();
    });
    quickPick.show();
  });
}

/**
 * Where terminals connect: undefined for the server, else the proxy's listener. Asked before
 * provisioning, so a proxy that cannot take the terminal's connections opens no session.
 */
async function terminalRoute(client: ControlClient): Promise<WireEndpoint | undefined> {
  if (readSettings().connectVia !== 'proxy') return undefined;
  const via = proxyEndpoint(await client.health());
  if (!via)
    throw new Error(
      'session terminals connect through the proxy (mayfly.terminal.connectVia is "proxy"), but the running proxy does not listen for Postgres clients: run Mayfly: Restart Proxy, or set mayfly.terminal.connectVia to "server"',
    );
  return via;
}

export async function openSession(services: Services, policy: string): Promise<{ session: SessionInfo; via?: WireEndpoint } | undefined> {
  if (!vscode.workspace.isTrusted) {
    await showError(services, 'opening credential terminals needs a trusted workspace');
    return undefined;
  }
  try {
    return await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Mayfly: provisioning a session for "${policy}"…` },
      async () => {
        const client = await services.proxy.ready();
        const via = await terminalRoute(client);
        const session = await client.open({ policy });
        services.output.redactor.add(session.password);
        return { session, ...(via ? { via } : {}) };
      },
    );
  } catch (e) {
    await showError(services, `could not open a session for "${policy}": ${(e as Error).message}`);
    return undefined;
  }
}

export function registerOpenSessionTerminal(services: Services): vscode.Disposable {
  return vscode.commands.registerCommand('mayfly.openSessionTerminal', async (arg?: unknown) => {
    // From the code lens: a policy name; from the views: a policy or session node.
    let policy: string | undefined;
    if (typeof arg === 'string') policy = arg;
    else if (arg && typeof arg === 'object' && 'policy' in arg) {
      const p = (arg as { policy: unknown }).policy;
      policy = typeof p === 'string' ? p : (p as { name?: string })?.name;
    }
    policy ??= await pickPolicy(services);
    if (!policy) return undefined;
    const opened = await openSession(services, policy);
    if (!opened) return undefined;
    const { session, via } = opened;
    const terminal = services.terminals.open(session, via);
    await services.sessions.refresh();
    return { session: { ...session, password: undefined }, terminalName: terminal.name, connectVia: via ? 'proxy' : 'server' };
  });
}
