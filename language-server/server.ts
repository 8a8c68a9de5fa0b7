/**
 * Composition root of the language server: documents, capabilities and feature wiring.
 * Each feature lives in ./features; all of them read the same cached analysis.
 * Runs over stdio (`node dist/server.js --stdio`) or IPC (the VS Code extension).
 */
import {
  createConnection,
  ProposedFeatures,
  TextDocuments,
  TextDocumentSyncKind,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { AnalysisCache } from './documents';
import { registerDiagnostics } from './features/diagnostics';
import { registerHover } from './features/hover';
import { registerLenses } from './features/lenses';
import { registerCompletion } from './features/completion';
import { registerCodeActions } from './features/codeActions';
import { registerStructure } from './features/structure';
import { registerPolicyRequests } from './features/policies';

export interface InitializationOptions {
  /** Plugin config entry names the workspace defines (mayfly.configEntries keys). */
  configEntries?: string[];
  /** Show the "Open session terminal" lens (the client implements the command). */
  openTerminalLens?: boolean;
}

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);
const cache = new AnalysisCache();
let openTerminalLens = false;

function entriesFrom(value: unknown): string[] | undefined {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (value && typeof value === 'object') return Object.keys(value);
  return undefined;
}

connection.onInitialize((params): InitializeResult => {
  const init = (params.initializationOptions ?? {}) as InitializationOptions;
  cache.settings.knownEntries = entriesFrom(init.configEntries);
  openTerminalLens = init.openTerminalLens === true;
  return {
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      hoverProvider: true,
      codeLensProvider: { resolveProvider: false },
      inlayHintProvider: true,
      completionProvider: { triggerCharacters: ['"', '=', ' ', ','] },
      codeActionProvider: { codeActionKinds: ['quickfix'] },
      documentSymbolProvider: true,
      foldingRangeProvider: true,
      documentFormattingProvider: true,
    },
    serverInfo: { name: 'mayfly-language-server', version: '0.1.0' },
  };
});

const diagnostics = registerDiagnostics(connection, documents, cache);
registerHover(connection, documents, cache);
registerLenses(connection, documents, cache, () => ({ openTerminalCommand: openTerminalLens }));
registerCompletion(connection, documents, cache);
registerCodeActions(connection, documents, cache);
registerStructure(connection, documents, cache);
registerPolicyRequests(connection, documents, cache);

// Settings push: { settings: { mayfly: { configEntries: {name: ref} | [names] } } }.
connection.onDidChangeConfiguration(({ settings }) => {
  const mayfly = (settings as { mayfly?: { configEntries?: unknown } } | undefined)?.mayfly;
  if (mayfly && 'configEntries' in mayfly) {
    cache.settings.knownEntries = entriesFrom(mayfly.configEntries);
    diagnostics.refreshAll();
  }
});

documents.listen(connection);
connection.listen();
