/** Reads Mayfly's settings and finds the policy file. */
import * as vscode from 'vscode';
import path from 'node:path';

export interface MayflySettings {
  policyFile: string;
  policyFiles: string;
  configEntries: Record<string, string>;
  listen: string;
  renewReminderMinutes: number;
}

export function readSettings(): MayflySettings {
  const c = vscode.workspace.getConfiguration('mayfly');
  return {
    policyFile: c.get<string>('policyFile', ''),
    policyFiles: c.get<string>('policyFiles', '**/{*.policy.hcl,config.hcl}'),
    configEntries: c.get<Record<string, string>>('configEntries', {}),
    listen: c.get<string>('proxy.listen', '127.0.0.1:6432'),
    renewReminderMinutes: c.get<number>('renewReminderMinutes', 10),
  };
}

/** The configured policy file, or the first workspace file matching mayfly.policyFiles. */
export async function findPolicyFile(settings: MayflySettings): Promise<vscode.Uri | undefined> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (settings.policyFile) {
    const p = path.isAbsolute(settings.policyFile) || !folder ? settings.policyFile : path.join(folder.uri.fsPath, settings.policyFile);
    return vscode.Uri.file(p);
  }
  const found = await vscode.workspace.findFiles(settings.policyFiles, '**/node_modules/**', 1);
  return found[0];
}
