/**
 * What must hold for ANY text given to the HCL parser, shared by the parser's unit
 * tests and the fuzzer: no internal error (parseHcl turns a thrown exception into
 * `hcl.internal-error`, so "never throws" alone would prove nothing), every span inside
 * the text, each node's parts inside the node, and toPlain() total.
 */
import assert from 'node:assert/strict';
import { parseHcl, toPlain, type Body, type ParseResult, type Span, type TextEdit, type Value } from '../../policy/hcl';

/** Every span in the tree: bodies, items, names, labels, braces, values, object keys. */
export function allSpans(body: Body, out: Span[] = []): Span[] {
  out.push(body.span);
  const value = (v: Value): void => {
    out.push(v.span);
    if (v.kind === 'tuple') v.items.forEach(value);
    if (v.kind === 'object') for (const i of v.items) { out.push(i.keySpan); value(i.value); }
  };
  for (const it of body.items) {
    out.push(it.span);
    if (it.kind === 'attribute') { out.push(it.nameSpan); value(it.value); } else {
      out.push(it.typeSpan, it.openBrace, ...it.labels.map((l) => l.span));
      if (it.closeBrace) out.push(it.closeBrace);
      allSpans(it.body, out);
    }
  }
  return out;
}

const show = (text: string): string => JSON.stringify(text.length > 400 ? text.slice(0, 400) + '…' : text);

export function assertSpansInside(text: string, spans: Span[]): void {
  for (const s of spans) {
    assert.ok(Number.isInteger(s.start) && Number.isInteger(s.end) && s.start >= 0 && s.start <= s.end && s.end <= text.length,
      `bad span ${JSON.stringify(s)} in ${show(text)}`);
  }
}

const within = (inner: Span, outer: Span): boolean => inner.start >= outer.start && inner.end <= outer.end;

/** An attribute holds its name and value; a block its type, labels and braces; a collection its items. */
export function assertNested(text: string, body: Body): void {
  const check = (inner: Span, outer: Span, what: string): void =>
    assert.ok(within(inner, outer), `${what} ${JSON.stringify(inner)} outside ${JSON.stringify(outer)} in ${show(text)}`);
  const value = (v: Value): void => {
    if (v.kind === 'tuple') for (const i of v.items) { check(i.span, v.span, 'tuple item'); value(i); }
    if (v.kind === 'object') for (const i of v.items) { check(i.keySpan, v.span, 'object key'); check(i.value.span, v.span, 'object value'); value(i.value); }
  };
  for (const it of body.items) {
    check(it.span, body.span, `${it.kind}`);
    if (it.kind === 'attribute') {
      check(it.nameSpan, it.span, 'attribute name');
      check(it.value.span, it.span, 'attribute value');
      value(it.value);
    } else {
      check(it.typeSpan, it.span, 'block type');
      for (const l of it.labels) check(l.span, it.span, 'block label');
      check(it.openBrace, it.span, 'open brace');
      if (it.closeBrace) check(it.closeBrace, it.span, 'close brace');
      check(it.body.span, it.span, 'block body');
      assertNested(text, it.body);
    }
  }
}

/** Parses `text` and checks the invariants above; returns the result for further checks. */
export function assertParseInvariants(text: string): ParseResult {
  const r = parseHcl(text);
  assertSpansInside(text, allSpans(r.body));
  assertSpansInside(text, r.diagnostics.map((d) => d.span));
  assertNested(text, r.body);
  for (const d of r.diagnostics) {
    assert.equal(d.severity, 'error');
    assert.match(d.code, /^hcl\.[a-z]+(-[a-z]+)*$/);
    assert.notEqual(d.code, 'hcl.internal-error', `${d.detail} for ${show(text)}`);
  }
  toPlain(r.body);
  return r;
}

/** Applies non-overlapping span edits (a quick fix, a formatting) to a text. */
export function applySpanEdits(text: string, edits: TextEdit[]): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.span.start - a.span.start)) {
    out = out.slice(0, e.span.start) + e.newText + out.slice(e.span.end);
  }
  return out;
}
