/** Quick fixes: each diagnostic that knows its fix (see policy/schema.ts) offers it here. */
import type { CodeAction, Connection, TextDocuments } from 'vscode-languageserver/node';
import { CodeActionKind } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { AnalysisCache } from '../documents';
import { toLspDiagnostic, toRange } from '../convert';

export function registerCodeActions(connection: Connection, documents: TextDocuments<TextDocument>, cache: AnalysisCache): void {
  connection.onCodeAction(({ textDocument, range }): CodeAction[] => {
    const doc = documents.get(textDocument.uri);
    if (!doc) return [];
    const start = doc.offsetAt(range.start);
    const end = doc.offsetAt(range.end);
    const actions: CodeAction[] = [];
    for (const d of cache.get(doc).diagnostics) {
      if (!d.fixes?.length || d.span.end < start || d.span.start > end) continue;
      for (const fix of d.fixes)
        actions.push({
          title: fix.title,
          kind: CodeActionKind.QuickFix,
          isPreferred: fix.preferred,
          diagnostics: [toLspDiagnostic(doc, d)],
          edit: { changes: { [doc.uri]: fix.edits.map((e) => ({ range: toRange(doc, e.span), newText: e.newText })) } },
        });
    }
    return actions;
  });
}
