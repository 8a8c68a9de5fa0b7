/**
 * hcl2-parser (HashiCorp's HCL v2.10 + hcl2json, compiled to JavaScript with GopherJS) as
 * the reference for our HCL parser: the verdict and value comparison shared by the
 * differential test (test/unit/hcl) and the fuzzer (test/fuzz).
 *
 * hcl2json quirks, where hcl2-parser rejects or mangles a document that HCL itself
 * parses without error. These come from the JSON conversion, not from HCL's syntax,
 * so they are excluded precisely (each needs HCL's own parser, reached through the
 * same bundle, to report no error, and our parser to find the construct):
 *  1. A block type used both with and without (or with fewer) labels in one body:
 *     hcl2json's label nesting fails ("interface conversion" panic or an error).
 *  2. A unary operator on a literal it cannot apply to (`-true`, `!1`, `-null`):
 *     hcl2json evaluates unary operators on literals and fails.
 *  3. `null` as an object key: hcl2json converts the key with AsString() and throws.
 *  4. Numbers with enormous exponents (`1e999999999`): hcl2json's conversion fails.
 *     (Merely out-of-range numbers like `1e400` are fine: both sides give Infinity.)
 *
 * Not a quirk but a limit of the reference: a JavaScript string with an unpaired
 * surrogate has no UTF-8 form, and GopherJS silently turns it into U+FFFD before HCL
 * sees it. We report such text as an encoding error; generators never make it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseHcl, toPlain, type Body, type Value } from '../../policy/hcl';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const hcl2 = require('hcl2-parser') as { parseToObject(text: string): [unknown, unknown] };

// ------------------------------------------------------------------ reference

export interface Reference {
  valid: boolean;
  value: unknown;
}

export function reference(text: string): Reference {
  try {
    const [value, err] = hcl2.parseToObject(text);
    return { valid: value !== null && err === null, value };
  } catch {
    return { valid: false, value: null }; // hcl2json panics surface as exceptions
  }
}

export interface HclDiag {
  summary: string;
  start: number;
}

/**
 * HCL's own ParseConfig from inside the hcl2-parser bundle, to tell a real syntax
 * error from an hcl2json conversion failure. The bundle hides its package table in a
 * closure, so we evaluate a copy with one line added to export it. Returns null if
 * the bundle ever changes shape (the quirk exclusions then simply don't apply).
 */
export function loadHclParseConfig(): ((text: string) => HclDiag[]) | null {
  try {
    const file = require.resolve('hcl2-parser');
    const src = fs.readFileSync(file, 'utf8');
    const end = src.lastIndexOf('}).call(this);');
    if (end < 0) return null;
    const patched = src.slice(0, end) +
      '$module.exports.__internals = { $packages: $packages, $sliceType: $sliceType, $Uint8: $Uint8 };\n' + src.slice(end);
    const mod = { exports: {} as Record<string, unknown> };
    new Function('module', 'exports', 'require', '__filename', '__dirname', patched)(mod, mod.exports, require, file, path.dirname(file));
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const go = mod.exports.__internals as any;
    const pkgs = Object.keys(go.$packages);
    const syntax = go.$packages[pkgs.find((k) => k.endsWith('/hashicorp/hcl/v2/hclsyntax'))!];
    const hcl = go.$packages[pkgs.find((k) => k.endsWith('/hashicorp/hcl/v2'))!];
    return (text: string) => {
      const bytes = Buffer.from(text, 'utf8');
      const slice = new (go.$sliceType(go.$Uint8))(new Uint8Array(bytes));
      const diags = syntax.ParseConfig(slice, 'x.hcl', new hcl.Pos.ptr(1, 1, 0))[1];
      const arr = diags.$array ? diags.$array.slice(diags.$offset, diags.$offset + diags.$length) : [];
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      return arr.filter((d: any) => d.Severity === 1).map((d: any) => ({
        summary: d.Summary as string,
        start: bytes.subarray(0, d.Subject?.Start?.Byte ?? 0).toString('utf8').length,
      }));
    };
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------ comparison

function eachValue(body: Body, fn: (v: Value, keyNull?: boolean) => void): void {
  const walk = (v: Value): void => {
    fn(v);
    if (v.kind === 'tuple') v.items.forEach(walk);
    if (v.kind === 'object') {
      for (const i of v.items) {
        if (i.key === 'null' && !i.keyIsExpression) fn(i.value, true);
        walk(i.value);
      }
    }
  };
  for (const it of body.items) {
    if (it.kind === 'attribute') walk(it.value);
    else eachValue(it.body, fn);
  }
}

export function allLiteral(body: Body): boolean {
  let ok = true;
  const check = (b: Body): void => eachValue(b, (v) => {
    if (v.kind === 'expression') ok = false;
  });
  check(body);
  const keys = (b: Body): void => {
    for (const it of b.items) {
      if (it.kind === 'block') keys(it.body);
      else {
        const walk = (v: Value): void => {
          if (v.kind === 'tuple') v.items.forEach(walk);
          if (v.kind === 'object') for (const i of v.items) { if (i.keyIsExpression) ok = false; walk(i.value); }
        };
        walk(it.value);
      }
    }
  };
  keys(body);
  return ok;
}

/** Deep equality, numbers compared numerically (the reference goes through float64 too). */
export function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    return a === b || Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b));
  }
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a && typeof a === 'object') {
    if (!b || typeof b !== 'object' || Array.isArray(b)) return false;
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return same(ka, kb) && ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

/** Quirk 1: replay hcl2json's label nesting and see whether it breaks. */
function blockShapeConflict(body: Body): boolean {
  const out: Record<string, unknown> = {};
  for (const it of body.items) {
    if (it.kind !== 'block') continue;
    let cur = out;
    let key = it.type;
    for (const l of it.labels) {
      if (key in cur) {
        if (Array.isArray(cur[key])) return true;
        cur = cur[key] as Record<string, unknown>;
      } else {
        cur = (cur[key] = {}) as Record<string, unknown>;
      }
      key = l.value;
    }
    if (key in cur && !Array.isArray(cur[key])) return true;
    if (!(key in cur)) cur[key] = [];
    if (blockShapeConflict(it.body)) return true;
  }
  return false;
}

/** Quirks 2-4, found in our tree. */
export function conversionQuirk(body: Body): string | null {
  if (blockShapeConflict(body)) return 'block shape conflict';
  let found: string | null = null;
  const unary = /^(?:"\$\{~?\s*)?([-!])\s*(true|false|null|[0-9][0-9.eE+-]*)\s*(?:~?\}")?$/;
  eachValue(body, (v, keyNull) => {
    if (keyNull) found ??= 'null object key';
    if (v.kind === 'number' && Math.abs(Number(/[eE]([+-]?\d+)$/.exec(v.raw)?.[1] ?? 0)) > 400000) found ??= 'huge exponent';
    if (v.kind === 'expression') {
      const m = unary.exec(v.text);
      if (m && (m[1] === '-' ? !/^[0-9]/.test(m[2]) : m[2] !== 'true' && m[2] !== 'false')) found ??= 'unary operator on literal';
    }
  });
  return found;
}

/** One document judged by both parsers. */
export interface Comparison {
  ourValid: boolean;
  refValid: boolean;
  /** A verdict difference explained by an hcl2json quirk (HCL itself agrees with us). */
  quirk?: string;
  /** Values were compared (valid, all literal, no quirk). */
  compared: boolean;
  /** Why the parsers disagree, if they do. */
  failure?: string;
}

/**
 * Our parser against the reference on one text: same verdict (modulo hcl2json quirks
 * confirmed by HCL's own parser), and for valid all-literal documents the same values.
 */
export function compareWithReference(text: string, hclParse: ((text: string) => HclDiag[]) | null): Comparison {
  const ours = parseHcl(text);
  const ourValid = ours.diagnostics.length === 0;
  const ref = reference(text);
  if (ourValid !== ref.valid) {
    const quirk = ourValid ? conversionQuirk(ours.body) : null;
    if (quirk && hclParse && hclParse(text).length === 0) return { ourValid, refValid: ref.valid, quirk, compared: false };
    return {
      ourValid,
      refValid: ref.valid,
      compared: false,
      failure: `ours ${ourValid ? 'valid' : 'invalid'} (${ours.diagnostics.map((d) => d.summary).join('; ')}), hcl2-parser ${ref.valid ? 'valid' : 'invalid'}`,
    };
  }
  if (ourValid && allLiteral(ours.body) && !conversionQuirk(ours.body)) {
    const plain = toPlain(ours.body);
    if (!same(plain, ref.value))
      return { ourValid, refValid: true, compared: true, failure: `values differ\n  ours: ${JSON.stringify(plain)}\n  ref:  ${JSON.stringify(ref.value)}` };
    return { ourValid, refValid: true, compared: true };
  }
  return { ourValid, refValid: ref.valid, compared: false };
}
