/** Code lens and inlay hint with each policy's session role, so the name is never a surprise. */
import type { CodeLens, Connection, InlayHint, TextDocuments } from 'vscode-languageserver/node';
import { InlayHintKind } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { AnalysisCache } from '../documents';
import { toRange } from '../convert';

export interface LensOptions {
  /** The client implements `mayfly.openSessionTerminal` (the VS Code extension does). */
  openTerminalCommand: boolean;
}

export function registerLenses(
  connection: Connection,
  documents: TextDocuments<TextDocument>,
  cache: AnalysisCache,
  options: () => LensOptions,
): void {
  connection.onCodeLens(({ textDocument }): CodeLens[] => {
    const doc = documents.get(textDocument.uri);
    if (!doc) return [];
    const lenses: CodeLens[] = [];
    for (const p of cache.get(doc).policies) {
      const range = toRange(doc, p.nameSpan);
      if (!p.sessionUser) {
        lenses.push({ range, command: { title: `$(error) ${p.problem ? p.problem.split(':')[0] : 'Invalid policy'}`, command: '' } });
        continue;
      }
      const dbs = new Set(p.instances.map((i) => i.database)).size;
      const title = p.valid
        ? `${p.sessionUser} · ${p.expiration.text} · ${dbs} database${dbs === 1 ? '' : 's'}`
        : `$(error) ${p.problem ? p.problem.split(':')[0] : 'Invalid policy'} · ${p.sessionUser}`;
      lenses.push({ range, command: { title, command: '' } });
      if (p.valid && options().openTerminalCommand)
        lenses.push({ range, command: { title: 'Open session terminal', command: 'mayfly.openSessionTerminal', arguments: [p.name] } });
    }
    return lenses;
  });

  connection.languages.inlayHint.on(({ textDocument, range }): InlayHint[] => {
    const doc = documents.get(textDocument.uri);
    if (!doc) return [];
    const start = doc.offsetAt(range.start);
    const end = doc.offsetAt(range.end);
    return cache
      .get(doc)
      .policies.filter((p) => p.sessionUser && p.nameSpan.end >= start && p.nameSpan.end <= end)
      .map((p) => ({
        position: doc.positionAt(p.nameSpan.end),
        label: `→ ${p.sessionUser}`,
        kind: InlayHintKind.Type,
        paddingLeft: true,
        tooltip: `Session role for policy "${p.name}"`,
      }));
  });
}
