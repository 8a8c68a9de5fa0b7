/**
 * Quick-fix text for syntax errors: rewriting a one-line block into the multi-line
 * form that HCL requires, formatted the way `terraform fmt` would.
 */
import type { Attribute, Block, Fix } from './ast';

/**
 * Replace the text between a block's braces (`from` after `{`, `to` at `}`) with
 * one item per line, indented two spaces past `indent`, `=` aligned across
 * consecutive arguments. Values are copied from the source as written.
 */
export function expandBlockFix(text: string, from: number, to: number, items: (Attribute | Block)[], indent: string): Fix {
  const lines = renderItems(text, items, indent + '  ');
  return {
    title: 'Expand block onto multiple lines',
    edits: [{ span: { start: from, end: to }, newText: '\n' + lines.join('\n') + '\n' + indent }],
    preferred: true,
  };
}

function renderItems(text: string, items: (Attribute | Block)[], indent: string): string[] {
  const out: string[] = [];
  let group: Attribute[] = [];
  // terraform fmt aligns the `=` of adjacent arguments; a nested block ends a group.
  const flush = (): void => {
    const width = group.reduce((w, a) => Math.max(w, a.name.length), 0);
    for (const a of group) out.push(indent + a.name.padEnd(width) + ' = ' + text.slice(a.value.span.start, a.value.span.end));
    group = [];
  };
  for (const it of items) {
    if (it.kind === 'attribute') {
      group.push(it);
      continue;
    }
    flush();
    const header = [it.type, ...it.labels.map((l) => text.slice(l.span.start, l.span.end))].join(' ');
    if (it.body.items.length === 0) {
      out.push(indent + header + ' {}');
    } else {
      out.push(indent + header + ' {');
      out.push(...renderItems(text, it.body.items, indent + '  '));
      out.push(indent + '}');
    }
  }
  flush();
  return out;
}
