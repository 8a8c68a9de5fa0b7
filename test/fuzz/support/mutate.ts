/**
 * Mutation arbitraries: a valid input plus a short list of edits, so the fuzzers reach
 * deep into parsers instead of failing at the first byte. Edits are data (position,
 * length, replacement) and applied afterwards, which keeps them shrinkable and makes a
 * counterexample print as the edits that broke the input.
 */
import fc from 'fast-check';

// ------------------------------------------------------------------ bytes

/** Int32 values that sit on the edges of length and code checks. */
export const INTERESTING_INT32 = [
  0, 1, 3, 4, 5, 7, 8, 9, 12, 16, 255, 256, 257, 1024, 9_999, 10_000, 10_001, 65_535, 65_536, 196_608, 196_610, 196_611, 80_877_102,
  80_877_103, 80_877_104, 0x7fff_ffff, -1, -2, -8, -0x8000_0000, 1 << 30,
];
const INTERESTING_BYTES = [0, 1, 0x2c /* , */, 0x3d /* = */, 0x20, 0x7f, 0x80, 0xc0, 0xef, 0xfe, 0xff];

export type ByteEdit =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'int32'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; len: number }
  | { op: 'duplicate'; at: number; len: number }
  | { op: 'truncate'; at: number }
  | { op: 'append'; bytes: Uint8Array };

const at = fc.nat({ max: 1 << 16 });
const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at, bit: fc.nat({ max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at, value: fc.oneof(fc.constantFrom(...INTERESTING_BYTES), fc.nat({ max: 255 })) }),
  fc.record({ op: fc.constant('int32' as const), at, value: fc.oneof(fc.constantFrom(...INTERESTING_INT32), fc.integer()) }),
  fc.record({ op: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant('delete' as const), at, len: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('duplicate' as const), at, len: fc.integer({ min: 1, max: 32 }) }),
  fc.record({ op: fc.constant('truncate' as const), at }),
  fc.record({ op: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
);

/** Applies edits in order; positions wrap around the current length, so every edit lands. */
export function applyByteEdits(base: Buffer, edits: ByteEdit[]): Buffer {
  let b = Buffer.from(base);
  for (const e of edits) {
    const pos = (n: number): number => (b.length ? n % b.length : 0);
    switch (e.op) {
      case 'flip':
        if (b.length) b[pos(e.at)]! ^= 1 << e.bit;
        break;
      case 'set':
        if (b.length) b[pos(e.at)] = e.value;
        break;
      case 'int32':
        if (b.length >= 4) b.writeInt32BE(e.value | 0, e.at % (b.length - 3));
        break;
      case 'insert': {
        const p = b.length ? e.at % (b.length + 1) : 0;
        b = Buffer.concat([b.subarray(0, p), Buffer.from(e.bytes), b.subarray(p)]);
        break;
      }
      case 'delete': {
        const p = pos(e.at);
        b = Buffer.concat([b.subarray(0, p), b.subarray(p + e.len)]);
        break;
      }
      case 'duplicate': {
        const p = pos(e.at);
        b = Buffer.concat([b.subarray(0, p + e.len), b.subarray(p)]);
        break;
      }
      case 'truncate':
        b = b.subarray(0, b.length ? e.at % b.length : 0);
        break;
      case 'append':
        b = Buffer.concat([b, Buffer.from(e.bytes)]);
        break;
    }
  }
  return b;
}

/**
 * Where the length word is (0 for startup packets, 1 for typed messages), or none.
 * With `fixLength`, the word is rewritten to the mutated size afterwards, so the edit
 * reaches the parser behind the framing instead of always failing the length check.
 */
export interface MutatedBytes {
  bytes: Buffer;
  edits: ByteEdit[];
  fixLength: boolean;
}

/** 1 to `max` byte edits, for inputs only known at run time (e.g. a reply to a server nonce). */
export const byteEdits = (max = 4): fc.Arbitrary<ByteEdit[]> => fc.array(byteEdit, { minLength: 1, maxLength: max });

/** Edits for a message only known at run time (a reply to a server nonce), and whether to fix its length word after. */
export interface Mutation {
  edits: ByteEdit[];
  fixLength: boolean;
}
export const mutation = (maxEdits = 3): fc.Arbitrary<Mutation> => fc.record({ edits: byteEdits(maxEdits), fixLength: fc.boolean() });

/** Applies edits, then (with `fixLength`) rewrites the length word at `lengthAt` to the new size. */
export function mutate(base: Buffer, edits: ByteEdit[], fixLength: boolean, lengthAt?: 0 | 1): MutatedBytes {
  const bytes = applyByteEdits(base, edits);
  const fixed = fixLength && lengthAt !== undefined && bytes.length >= lengthAt + 4;
  if (fixed) bytes.writeInt32BE(bytes.length - lengthAt!, lengthAt!);
  return { bytes, edits, fixLength: fixed };
}

export function mutatedBytes(base: fc.Arbitrary<Buffer> | Buffer, lengthAt?: 0 | 1, maxEdits = 4): fc.Arbitrary<MutatedBytes> {
  const bases = Buffer.isBuffer(base) ? fc.constant(base) : base;
  return fc.tuple(bases, byteEdits(maxEdits), fc.boolean()).map(([b, edits, fix]) => mutate(b, edits, fix, lengthAt));
}

// ------------------------------------------------------------------ text

export type TextEdit =
  | { op: 'insert'; at: number; text: string }
  | { op: 'delete'; at: number; len: number }
  | { op: 'replace'; at: number; len: number; text: string }
  | { op: 'copy'; from: number; len: number; at: number }
  | { op: 'swap-lines'; a: number; b: number }
  | { op: 'join-line'; at: number }
  | { op: 'truncate'; at: number };

export function applyTextEdits(base: string, edits: TextEdit[]): string {
  let t = base;
  for (const e of edits) {
    const pos = (n: number): number => (t.length ? n % (t.length + 1) : 0);
    switch (e.op) {
      case 'insert': {
        const p = pos(e.at);
        t = t.slice(0, p) + e.text + t.slice(p);
        break;
      }
      case 'delete': {
        const p = pos(e.at);
        t = t.slice(0, p) + t.slice(p + e.len);
        break;
      }
      case 'replace': {
        const p = pos(e.at);
        t = t.slice(0, p) + e.text + t.slice(p + e.len);
        break;
      }
      case 'copy': {
        const f = pos(e.from);
        const piece = t.slice(f, f + e.len);
        const p = pos(e.at);
        t = t.slice(0, p) + piece + t.slice(p);
        break;
      }
      case 'swap-lines': {
        const lines = t.split('\n');
        const a = e.a % lines.length;
        const b = e.b % lines.length;
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
        t = lines.join('\n');
        break;
      }
      case 'join-line': {
        const nls = [...t.matchAll(/\r?\n/g)];
        if (!nls.length) break;
        const m = nls[e.at % nls.length]!;
        t = t.slice(0, m.index) + ' ' + t.slice(m.index! + m[0].length);
        break;
      }
      case 'truncate':
        t = t.slice(0, pos(e.at));
        break;
    }
  }
  return t;
}

/** Pieces of HCL (and of things that are not quite HCL) to splice into documents. */
export const HCL_FRAGMENTS = [
  '{', '}', '[', ']', '(', ')', '"', '=', ',', '.', ':', '\n', '\r\n', '\r', '\t', ' ', '#', '//', '/*', '*/', '\\', '\\u', '\\U0001F600',
  '${', '%{', '~}', '}"', '$${', '<<EOT\n', '<<-EOT\n', '\nEOT\n', 'EOT', '<<', '...', '=>', '?', '!', '-', '*', '0', '1e5', '1.5', '0x1',
  'null', 'true', 'for', 'in', 'if', 'endif', 'policy', 'policy "x" {\n', 'engine', '"postgres"', 'instances', 'grant_privileges',
  '"SELECT"', 'expiration', '"12h"', '"1d"', 'plugin_config_entry', '\ufeff', '\u00a0', '\u2028', 'é', 'e\u0301', '\ud83d\ude00',
  '\ud800', '\udc00', '\0', '\u0085', 'ÿ',
];

const textAt = fc.nat({ max: 1 << 16 });
const fragment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HCL_FRAGMENTS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom(...HCL_FRAGMENTS), { minLength: 2, maxLength: 6 }).map((xs) => xs.join('')) },
);
const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.record({ op: fc.constant('insert' as const), at: textAt, text: fragment }),
  fc.record({ op: fc.constant('delete' as const), at: textAt, len: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ op: fc.constant('replace' as const), at: textAt, len: fc.integer({ min: 1, max: 8 }), text: fragment }),
  fc.record({ op: fc.constant('copy' as const), from: textAt, len: fc.integer({ min: 1, max: 80 }), at: textAt }),
  fc.record({ op: fc.constant('swap-lines' as const), a: textAt, b: textAt }),
  fc.record({ op: fc.constant('join-line' as const), at: textAt }),
  fc.record({ op: fc.constant('truncate' as const), at: textAt }),
);

/** A document from `bases` with 1 to `maxEdits` edits. */
export function mutatedText(bases: fc.Arbitrary<string>, maxEdits = 6): fc.Arbitrary<{ text: string; edits: TextEdit[] }> {
  return fc
    .tuple(bases, fc.array(textEdit, { minLength: 1, maxLength: maxEdits }))
    .map(([base, edits]) => ({ text: applyTextEdits(base, edits), edits }));
}
