/** Document symbols, folding ranges and formatting: the file's shape. */
import type { Connection, DocumentSymbol, FoldingRange, TextDocuments, TextEdit } from 'vscode-languageserver/node';
import { SymbolKind } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { Body, Value } from '../../policy/hcl/ast';
import { formatPolicyText } from '../../policy/format';
import type { AnalysisCache } from '../documents';
import { toRange } from '../convert';

export function registerStructure(connection: Connection, documents: TextDocuments<TextDocument>, cache: AnalysisCache): void {
  connection.onDocumentSymbol(({ textDocument }): DocumentSymbol[] => {
    const doc = documents.get(textDocument.uri);
    if (!doc) return [];
    const analysis = cache.get(doc);
    const symbols = (body: Body): DocumentSymbol[] =>
      body.items.map((item) => {
        if (item.kind === 'attribute')
          return { name: item.name, kind: SymbolKind.Property, range: toRange(doc, item.span), selectionRange: toRange(doc, item.nameSpan) };
        const policy = analysis.policies.find((p) => p.span.start === item.span.start);
        const label = item.labels.map((l) => l.value).join(' ');
        return {
          name: label ? `${item.type} "${label}"` : item.type,
          detail: policy?.sessionUser,
          kind: SymbolKind.Object,
          range: toRange(doc, item.span),
          selectionRange: toRange(doc, item.labels[0]?.span ?? item.typeSpan),
          children: symbols(item.body),
        };
      });
    return symbols(analysis.parse.body);
  });

  connection.onFoldingRanges(({ textDocument }): FoldingRange[] => {
    const doc = documents.get(textDocument.uri);
    if (!doc) return [];
    const out: FoldingRange[] = [];
    const add = (start: number, end: number): void => {
      const s = doc.positionAt(start).line;
      const e = doc.positionAt(end).line;
      if (e > s) out.push({ startLine: s, endLine: e - 1 });
    };
    const value = (v: Value): void => {
      if (v.kind === 'tuple' || v.kind === 'object') {
        add(v.span.start, v.span.end);
        if (v.kind === 'tuple') v.items.forEach(value);
        else v.items.forEach((i) => value(i.value));
      }
    };
    const body = (b: Body): void => {
      for (const item of b.items) {
        if (item.kind === 'attribute') value(item.value);
        else {
          add(item.openBrace.start, item.closeBrace?.start ?? item.span.end);
          body(item.body);
        }
      }
    };
    body(cache.get(doc).parse.body);
    return out;
  });

  connection.onDocumentFormatting(({ textDocument }): TextEdit[] => {
    const doc = documents.get(textDocument.uri);
    if (!doc) return [];
    const text = doc.getText();
    // HCL's canonical style is two spaces whatever the editor's tab settings, as terraform fmt.
    const formatted = formatPolicyText(text);
    if (formatted === undefined || formatted === text) return [];
    return [{ range: { start: doc.positionAt(0), end: doc.positionAt(text.length) }, newText: formatted }];
  });
}
