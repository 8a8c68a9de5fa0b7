/** Starts the bundled language server (dist/server.js) over IPC for policy files. */
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import type { MayflySettings } from './settings';

export const POLICY_LANGUAGE = 'mayfly-policy';

/**
 * Parsing allocates many short-lived nodes; a larger young generation keeps garbage
 * collection out of the typing path on big files (see BENCHMARKS.md).
 */
export const SERVER_EXEC_ARGV = ['--max-semi-space-size=32'];

export async function startLanguageClient(context: vscode.ExtensionContext, settings: MayflySettings): Promise<LanguageClient> {
  const module = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc, options: { execArgv: SERVER_EXEC_ARGV } },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: SERVER_EXEC_ARGV } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: POLICY_LANGUAGE }],
    synchronize: { configurationSection: 'mayfly' },
    initializationOptions: { configEntries: Object.keys(settings.configEntries), openTerminalLens: true },
  };
  const client = new LanguageClient('mayfly', 'Mayfly Policy Language Server', serverOptions, clientOptions);
  await client.start();
  return client;
}

/** Files matching mayfly.policyFiles get the policy language even without the usual names. */
export function associatePolicyFiles(settings: MayflySettings): vscode.Disposable {
  const pattern = settings.policyFiles;
  const apply = (doc: vscode.TextDocument): void => {
    if (doc.languageId === POLICY_LANGUAGE || doc.uri.scheme !== 'file') return;
    if (vscode.languages.match({ pattern }, doc) > 0) void vscode.languages.setTextDocumentLanguage(doc, POLICY_LANGUAGE);
  };
  vscode.workspace.textDocuments.forEach(apply);
  return vscode.workspace.onDidOpenTextDocument(apply);
}
