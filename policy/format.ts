/**
 * Canonical layout like `terraform fmt`: two-space indentation by nesting depth, and `=`
 * aligned across runs of consecutive single-line arguments in the same body.
 * Works line by line on top of the syntax tree so comments survive untouched; heredoc
 * bodies and multi-line comments are left exactly as written. Refuses (returns undefined)
 * when the file has syntax errors, as formatting a broken file would move text unpredictably.
 */
import { parseHcl } from './hcl';
import type { Attribute, Body, Span, Value } from './hcl/ast';

interface Container {
  open: number;
  close: number;
}

export interface FormatOptions {
  indent?: string;
}

export function formatPolicyText(text: string, options: FormatOptions = {}): string | undefined {
  const indentUnit = options.indent ?? '  ';
  const parsed = parseHcl(text);
  if (parsed.diagnostics.some((d) => d.severity === 'error')) return undefined;

  const containers: Container[] = [];
  const frozen: Span[] = []; // multi-line string content (heredocs): never touched
  const alignable = new Map<number, Attribute>(); // attribute name offset -> attribute
  collect(parsed.body, containers, frozen, alignable);

  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.split(/\r?\n/);
  const starts: number[] = [];
  let offset = 0;
  for (const line of lines) {
    starts.push(offset);
    offset += line.length + (text.startsWith('\r\n', offset + line.length) ? 2 : 1);
  }
  const blockComments = findBlockComments(text, frozen);

  const out: string[] = [];
  // Blank lines outside heredocs and comments, which a run of may be collapsed to one.
  const freeBlank: boolean[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const start = starts[i]!;
    const inFrozen = frozen.some((s) => start > s.start && start < s.end);
    const inComment = blockComments.some((s) => start > s.start && start < s.end);
    freeBlank.push(i < lines.length - 1 && !inFrozen && !inComment && line.trim() === '');
    if (inFrozen || inComment) {
      out.push(line);
      continue;
    }
    const trimmed = line.trim();
    if (trimmed === '') {
      out.push('');
      continue;
    }
    const first = start + (line.length - line.trimStart().length);
    let depth = 0;
    for (const c of containers) if (c.open < first && c.close >= first) depth++;
    // A line that starts with the closing bracket sits at its opener's depth.
    if (containers.some((c) => c.close === first)) depth--;
    out.push(indentUnit.repeat(Math.max(0, depth)) + line.trimStart().replace(/[ \t]+$/, ''));
  }

  alignEquals(out, starts, lines, alignable);
  // Line breaks become the file's style, except inside a heredoc, where they are part of its value.
  const breakAt = (i: number): string => {
    const at = starts[i]! + lines[i]!.length;
    if (!frozen.some((s) => at >= s.start && at < s.end)) return eol;
    return text.startsWith('\r\n', at) ? '\r\n' : '\n';
  };
  // Collapse runs of blank lines to one, as terraform fmt does between blocks (never
  // inside a heredoc, whose blank lines are part of its value).
  const kept = out.map((_, i) => i).filter((i) => !(freeBlank[i] && freeBlank[i - 1]));
  return kept.map((i, j) => out[i]! + (j < kept.length - 1 ? breakAt(i) : '')).join('');
}

function collect(body: Body, containers: Container[], frozen: Span[], alignable: Map<number, Attribute>): void {
  for (const item of body.items) {
    if (item.kind === 'block') {
      if (item.closeBrace) containers.push({ open: item.openBrace.start, close: item.closeBrace.start });
      collect(item.body, containers, frozen, alignable);
    } else {
      alignable.set(item.nameSpan.start, item);
      collectValue(item.value, containers, frozen);
    }
  }
}

function collectValue(v: Value, containers: Container[], frozen: Span[]): void {
  if (v.kind === 'tuple' || v.kind === 'object') {
    containers.push({ open: v.span.start, close: v.span.end - 1 });
    if (v.kind === 'tuple') for (const i of v.items) collectValue(i, containers, frozen);
    else for (const i of v.items) collectValue(i.value, containers, frozen);
  } else if (v.kind === 'string' || v.kind === 'expression') {
    frozen.push(v.span);
  }
}

/** `/* ... *\/` comments outside strings, found by a small scan (the tree drops comments). */
function findBlockComments(text: string, strings: Span[]): Span[] {
  const out: Span[] = [];
  let i = 0;
  while (i < text.length) {
    const s = strings.find((x) => x.start <= i && i < x.end);
    if (s) {
      i = s.end;
      continue;
    }
    const c = text[i];
    if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const close = end < 0 ? text.length : end + 2;
      out.push({ start: i, end: close });
      i = close;
    } else i++;
  }
  return out;
}

/** Aligns `=` in runs of consecutive lines that each start a single-line argument. */
function alignEquals(out: string[], starts: number[], lines: string[], attrs: Map<number, Attribute>): void {
  let run: { line: number; name: string }[] = [];
  const flush = (): void => {
    if (run.length > 1) {
      const width = Math.max(...run.map((r) => r.name.length));
      for (const r of run) {
        const l = out[r.line]!;
        const indent = l.slice(0, l.length - l.trimStart().length);
        const rest = l.trimStart().slice(r.name.length).replace(/^\s*=\s*/, '');
        out[r.line] = `${indent}${r.name.padEnd(width)} = ${rest}`;
      }
    } else if (run.length === 1) {
      const r = run[0]!;
      const l = out[r.line]!;
      const indent = l.slice(0, l.length - l.trimStart().length);
      out[r.line] = `${indent}${r.name} = ${l.trimStart().slice(r.name.length).replace(/^\s*=\s*/, '')}`;
    }
    run = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const first = starts[i]! + (line.length - line.trimStart().length);
    const attr = attrs.get(first);
    if (!attr) {
      flush();
      continue;
    }
    // `name /* c */ = value`: a comment before `=` cannot be aligned around; leave the line be.
    if (!/^[ \t]*=/.test(out[i]!.trimStart().slice(attr.name.length))) {
      flush();
      continue;
    }
    const lineEnd = starts[i]! + line.length;
    run.push({ line: i, name: attr.name });
    // An argument whose value continues on later lines ends the run, as in terraform fmt.
    if (attr.value.span.end > lineEnd) flush();
  }
  flush();
}
