/**
 * Completion from where the cursor is: argument names inside a policy, values after
 * `name =`, privileges not yet used inside grant_privileges, configured entry names, and
 * duration snippets. The context comes from the text before the cursor inside the
 * enclosing block, since the tree is often broken mid-edit.
 */
import type { CompletionItem, Connection, TextDocuments } from 'vscode-languageserver/node';
import { CompletionItemKind, InsertTextFormat } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { ARGUMENTS, PRIVILEGES } from '../../policy';
import type { AnalysisCache } from '../documents';
import { ARGUMENT_DOCS } from './hover';

const SNIPPETS: Record<string, string> = {
  engine: 'engine = "postgres"',
  plugin_config_entry: 'plugin_config_entry = "${1:entry}"',
  expiration: 'expiration = "${1|12h,1h,8h,24h,30m|}"',
  instances: 'instances = ["${1:database}"]',
  grant_privileges: 'grant_privileges = ["${1|SELECT,INSERT,UPDATE,DELETE|}"]',
};

const DURATIONS = ['1h', '4h', '8h', '12h', '24h', '30m', '1h30m'];

export type CompletionContext =
  | { kind: 'top' }
  | { kind: 'argument'; used: string[] }
  | { kind: 'value'; argument: string; inString: boolean; used: string[] };

/** Pure, for unit tests: what to complete at `offset` in `text`. */
export function completionContext(text: string, offset: number): CompletionContext {
  // Find the innermost unclosed `{` before the cursor (ignoring strings and comments).
  const opens: number[] = [];
  let inString = false;
  for (let i = 0; i < offset; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      const nl = text.indexOf('\n', i);
      if (nl < 0 || nl >= offset) return { kind: 'top' };
      i = nl;
    } else if (c === '{') opens.push(i);
    else if (c === '}') opens.pop();
  }
  if (opens.length === 0) return { kind: 'top' };
  const blockText = text.slice(opens[opens.length - 1]! + 1, offset);
  const used = [...blockText.matchAll(/^[ \t]*([A-Za-z_][\w-]*)[ \t]*=/gm)].map((m) => m[1]!);
  const lineStart = blockText.lastIndexOf('\n') + 1;
  const line = blockText.slice(lineStart);
  if (/^[ \t]*[A-Za-z_]*$/.test(line)) {
    // At the start of a line, unless we're inside an unclosed list of an earlier argument.
    const lastArg = [...blockText.matchAll(/([A-Za-z_][\w-]*)[ \t]*=[ \t]*\[([^\]]*)$/g)].pop();
    if (!lastArg) return { kind: 'argument', used };
  }
  const assign = [...blockText.matchAll(/([A-Za-z_][\w-]*)[ \t]*=/g)].pop();
  if (!assign) return { kind: 'argument', used };
  const after = blockText.slice(assign.index! + assign[0].length);
  const quotes = (after.match(/"/g) ?? []).length;
  const usedValues = [...after.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
  return { kind: 'value', argument: assign[1]!, inString: quotes % 2 === 1, used: usedValues };
}

function valueItem(label: string, inString: boolean, kind: CompletionItemKind, detail?: string): CompletionItem {
  return { label, kind, detail, insertText: inString ? label : `"${label}"` };
}

export function completions(text: string, offset: number, knownEntries: string[] | undefined): CompletionItem[] {
  const ctx = completionContext(text, offset);
  if (ctx.kind === 'top')
    return [
      {
        label: 'policy',
        kind: CompletionItemKind.Snippet,
        detail: 'A Mayfly access policy',
        insertTextFormat: InsertTextFormat.Snippet,
        insertText: [
          'policy "${1:name}" {',
          '  engine              = "postgres"',
          '  plugin_config_entry = "${2:entry}"',
          '  expiration          = "${3:12h}"',
          '  instances           = ["${4:database}"]',
          '  grant_privileges    = ["${5:SELECT}"]',
          '}',
        ].join('\n'),
      },
    ];
  if (ctx.kind === 'argument')
    return ARGUMENTS.filter((a) => !ctx.used.includes(a)).map((a) => ({
      label: a,
      kind: CompletionItemKind.Property,
      documentation: { kind: 'markdown', value: ARGUMENT_DOCS[a] ?? '' },
      insertTextFormat: InsertTextFormat.Snippet,
      insertText: SNIPPETS[a],
    }));
  switch (ctx.argument) {
    case 'engine':
      return [valueItem('postgres', ctx.inString, CompletionItemKind.EnumMember, 'PostgreSQL')];
    case 'grant_privileges':
      return PRIVILEGES.filter((p) => !ctx.used.includes(p)).map((p) => valueItem(p, ctx.inString, CompletionItemKind.EnumMember));
    case 'plugin_config_entry':
      return (knownEntries ?? []).map((e) => valueItem(e, ctx.inString, CompletionItemKind.Value, 'configured entry'));
    case 'expiration':
      return DURATIONS.map((d, i) => ({ ...valueItem(d, ctx.inString, CompletionItemKind.Value, 'Go duration'), sortText: String(i) }));
    default:
      return [];
  }
}

export function registerCompletion(
  connection: Connection,
  documents: TextDocuments<TextDocument>,
  cache: AnalysisCache,
): void {
  connection.onCompletion(({ textDocument, position }) => {
    const doc = documents.get(textDocument.uri);
    if (!doc) return [];
    return completions(doc.getText(), doc.offsetAt(position), cache.settings.knownEntries);
  });
}
