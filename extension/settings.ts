/** Reads Mayfly's settings and finds the policy file. */
import * as vscode from 'vscode';
import path from 'node:path';

export interface MayflySettings {
  policyFile: string;
  policyFiles: string;
  configEntries: Record<string, string>;
  listen: string;
  /** Whether session terminals get the server's address or the local proxy's. */
  connectVia: 'server' | 'proxy';
  renewReminderMinutes: number;
  /** `--users` specs for the local Postgres proxy, as typed: checked by checkUserStoreSettings. */
  userSources: unknown[];
  /** `--users-refresh`, a Go duration. */
  usersRefresh: string;
  /** AWS overrides; empty strings mean "from the environment and ~/.aws", as the AWS CLI does. */
  aws: { region: string; profile: string; endpoint: string };
}

const DEFAULT_LISTEN = '127.0.0.1:6432';

export function readSettings(): MayflySettings {
  const c = vscode.workspace.getConfiguration('mayfly');
  return {
    policyFile: c.get<string>('policyFile', ''),
    policyFiles: c.get<string>('policyFiles', '**/{*.policy.hcl,config.hcl}'),
    configEntries: c.get<Record<string, string>>('configEntries', {}),
    listen: c.get<string>('proxy.listen', DEFAULT_LISTEN),
    connectVia: c.get<string>('terminal.connectVia', 'server') === 'proxy' ? 'proxy' : 'server',
    renewReminderMinutes: c.get<number>('renewReminderMinutes', 10),
    // A lone string (settings.json edited by hand) counts as a list of one.
    userSources: ((v: unknown) => (Array.isArray(v) ? v : v === undefined || v === '' ? [] : [v]))(c.get('users.sources')),
    usersRefresh: c.get<string>('users.refresh', '15s'),
    aws: { region: c.get<string>('aws.region', ''), profile: c.get<string>('aws.profile', ''), endpoint: c.get<string>('aws.endpoint', '') },
  };
}

/**
 * The `--listen` address for the extension's proxy: only while terminals connect through
 * it or user sources are set (users log in there), so a window that does not need the
 * listener never competes for its port.
 */
export function proxyListen(settings: MayflySettings): string | undefined {
  const needed = settings.connectVia === 'proxy' || settings.userSources.length > 0;
  return needed ? settings.listen.trim() || DEFAULT_LISTEN : undefined;
}

/** The configured policy file, or the first workspace file matching mayfly.policyFiles. */
export async function findPolicyFile(settings: MayflySettings): Promise<vscode.Uri | undefined> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (settings.policyFile) {
    const p = path.isAbsolute(settings.policyFile) || !folder ? settings.policyFile : path.join(folder.uri.fsPath, settings.policyFile);
    return vscode.Uri.file(p);
  }
  // Deterministic: hoop's config.hcl at the root wins, then the shortest path, then by name.
  const found = await vscode.workspace.findFiles(settings.policyFiles, '**/node_modules/**', 50);
  const rank = (u: vscode.Uri): [number, number, string] => {
    const rel = folder ? path.relative(folder.uri.fsPath, u.fsPath) : u.fsPath;
    return [rel === 'config.hcl' ? 0 : 1, rel.split(path.sep).length, rel];
  };
  return found.sort((a, b) => {
    const [x, y] = [rank(a), rank(b)];
    return x[0] - y[0] || x[1] - y[1] || (x[2] < y[2] ? -1 : x[2] > y[2] ? 1 : 0);
  })[0];
}
