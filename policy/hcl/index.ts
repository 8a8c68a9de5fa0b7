/**
 * HCL native-syntax parser for Mayfly policies.
 *
 *   parseHcl(text)  → { body, diagnostics }   never throws
 *   toPlain(body)   → the JSON shape hcl2json (and so the `hcl2-parser` package) produces
 *
 * Spans are UTF-16 offsets, half-open. A block body's span is the text between its
 * braces (to the end of what was recovered when the block is unclosed); the file's
 * body spans the whole text.
 */
import type { Body, Value } from './ast';

export { parseHcl } from './parser';
export * from './ast';

type Plain = null | boolean | number | string | Plain[] | { [key: string]: Plain };
type PlainObject = { [key: string]: Plain };

/** Assign without tripping over `__proto__` as a key. */
function put(obj: PlainObject, key: string, value: Plain): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

function isPlainObject(v: Plain | undefined): v is PlainObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Convert a body to hcl2json's shape: a block becomes `{type: {label1: {label2: [body]}}}`
 * (repeated blocks accumulate in the array; no labels: `{type: [body]}`), an attribute
 * its value. As in hcl2json, blocks are converted first and an attribute of the same
 * name overwrites them. Non-literal expressions become `"${<source>}"`.
 * Where hcl2json itself fails (a block type used both with and without labels) this
 * keeps what it can instead of throwing.
 */
export function toPlain(body: Body): unknown {
  const out: PlainObject = {};
  for (const item of body.items) {
    if (item.kind !== 'block') continue;
    let target: PlainObject = out;
    let key = item.type;
    for (const label of item.labels) {
      const existing = target[key];
      if (isPlainObject(existing)) {
        target = existing;
      } else {
        const fresh: PlainObject = {};
        put(target, key, fresh);
        target = fresh;
      }
      key = label.value;
    }
    const converted = toPlain(item.body) as Plain;
    const existing = target[key];
    if (Array.isArray(existing)) existing.push(converted);
    else put(target, key, [converted]);
  }
  for (const item of body.items) {
    if (item.kind === 'attribute') put(out, item.name, plainValue(item.value));
  }
  return out;
}

function plainValue(v: Value): Plain {
  switch (v.kind) {
    case 'string':
    case 'number':
    case 'bool':
      return v.value;
    case 'null':
      return null;
    case 'tuple':
      return v.items.map(plainValue);
    case 'object': {
      const o: PlainObject = {};
      for (const it of v.items) put(o, it.keyIsExpression ? '${' + it.key + '}' : it.key, plainValue(it.value));
      return o;
    }
    case 'expression':
      return '${' + v.text + '}';
  }
}
