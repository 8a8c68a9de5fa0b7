/** Renew, Revoke and Copy Connection Details for open sessions. */
import * as vscode from 'vscode';
import { proxyEndpoint } from '../../proxy/control/viaProxy';
import type { WireEndpoint } from '../../proxy/control/protocol';
import type { SessionInfo } from '../../proxy/sessions/types';
import { showError, type Services } from '../services';
import { readSettings } from '../settings';
import { timeLeft } from '../views/sessionsView';

async function pickSession(services: Services, arg: unknown, verb: string): Promise<SessionInfo | undefined> {
  await services.sessions.refresh();
  if (arg && typeof arg === 'object' && 'id' in arg) return services.sessions.sessions.find((s) => s.id === (arg as SessionInfo).id);
  if (typeof arg === 'string') return services.sessions.sessions.find((s) => s.id === arg || s.policy === arg);
  const all = services.sessions.sessions;
  if (!all.length) {
    void vscode.window.showInformationMessage('Mayfly: there are no open sessions.');
    return undefined;
  }
  if (all.length === 1) return all[0];
  const pick = await vscode.window.showQuickPick(
    all.map((s) => ({ label: s.policy, description: `${s.role} · ${timeLeft(s.expiresAt)}`, s })),
    { title: `Mayfly: ${verb} which session?` },
  );
  return pick?.s;
}

export function registerSessionCommands(services: Services): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('mayfly.renewSession', async (arg?: unknown) => {
      const s = await pickSession(services, arg, 'renew');
      if (!s) return undefined;
      try {
        const [renewed] = await services.proxy.client.renew(s.id);
        await services.sessions.refresh();
        void vscode.window.showInformationMessage(`Mayfly: "${s.policy}" renewed until ${new Date(renewed!.expiresAt).toLocaleTimeString()} (same password).`);
        return { expiresAt: renewed!.expiresAt };
      } catch (e) {
        await showError(services, `could not renew "${s.policy}": ${(e as Error).message}`);
        return undefined;
      }
    }),
    vscode.commands.registerCommand('mayfly.revokeSession', async (arg?: unknown) => {
      const s = await pickSession(services, arg, 'revoke');
      if (!s) return undefined;
      try {
        const r = await services.proxy.client.revoke(s.id);
        await services.sessions.refresh();
        void vscode.window.showInformationMessage(
          r.roleExpired
            ? `Mayfly: "${s.policy}" revoked; ${s.role} can no longer log in and its connections were ended.`
            : `Mayfly: "${s.policy}" closed; ${s.role} stays live for ${r.stillShared} other session(s).`,
        );
        return r;
      } catch (e) {
        await showError(services, `could not revoke "${s.policy}": ${(e as Error).message}`);
        return undefined;
      }
    }),
    vscode.commands.registerCommand('mayfly.copyConnectionDetails', async (arg?: unknown, what?: string) => {
      const s = await pickSession(services, arg, 'copy');
      if (!s) return undefined;
      const db = s.databases[0] ?? 'postgres';
      // Where terminals connect, tools connect too: the proxy's address when they go through it.
      const via = await copyRoute(services);
      const at = via ?? { host: s.host, port: s.port };
      const host = at.host.includes(':') ? `[${at.host}]` : at.host;
      const port = at.port;
      const where = via ? ' through the Mayfly proxy' : '';
      const options: { label: string; detail: string; text: string }[] = [
        { label: 'Connection URI (no password)', detail: `for DBeaver, DataGrip, psql${where}`, text: `postgresql://${encodeURIComponent(s.user)}@${host}:${port}/${encodeURIComponent(db)}` },
        { label: 'Host, port, database, user', detail: `one per line${where}`, text: `host=${at.host}\nport=${port}\ndatabase=${db}\nuser=${s.user}` },
        { label: 'JDBC URL (no password)', detail: `for JDBC tools${where}`, text: `jdbc:postgresql://${host}:${port}/${db}?user=${encodeURIComponent(s.user)}` },
        { label: 'Password', detail: `copies the secret; it works until ${s.expiresAt}`, text: s.password },
      ];
      const chosen = what ? options.find((o) => o.label.startsWith(what)) : await vscode.window.showQuickPick(options, { title: `Mayfly: copy connection details for "${s.policy}"` });
      if (!chosen) return undefined;
      await vscode.env.clipboard.writeText(chosen.text);
      void vscode.window.showInformationMessage(`Mayfly: copied ${chosen.label.toLowerCase()}.`);
      return chosen.label;
    }),
  ];
}

/**
 * The proxy's listener when session terminals connect through it (mayfly.terminal.connectVia)
 * and it listens; else undefined, and the details name the server.
 */
async function copyRoute(services: Services): Promise<WireEndpoint | undefined> {
  if (readSettings().connectVia !== 'proxy') return undefined;
  try {
    return proxyEndpoint(await services.proxy.client.health());
  } catch {
    return undefined;
  }
}
