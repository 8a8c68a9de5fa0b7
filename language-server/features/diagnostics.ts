/**
 * Diagnostics as you type. Analysis is synchronous and fast (a 50-policy file takes well
 * under a millisecond), so there is no debounce; each publish carries the document version,
 * and a result for an older version than the one now open is dropped, so stale never wins.
 */
import type { Connection, TextDocuments } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { AnalysisCache } from '../documents';
import { toLspDiagnostic } from '../convert';

export function registerDiagnostics(
  connection: Connection,
  documents: TextDocuments<TextDocument>,
  cache: AnalysisCache,
): { refreshAll(): void } {
  const publish = (doc: TextDocument): void => {
    const analysis = cache.get(doc);
    const current = documents.get(doc.uri);
    if (!current || current.version !== doc.version) return;
    void connection.sendDiagnostics({
      uri: doc.uri,
      version: doc.version,
      diagnostics: analysis.diagnostics.map((d) => toLspDiagnostic(doc, d)),
    });
  };
  documents.onDidChangeContent((e) => publish(e.document));
  documents.onDidClose((e) => {
    cache.forget(e.document.uri);
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
  });
  return { refreshAll: () => documents.all().forEach(publish) };
}
