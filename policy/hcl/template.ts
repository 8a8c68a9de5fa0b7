/**
 * Literal-string helpers for templates: escape decoding (HCL's scan_string_lit.rl and
 * ParseStringLiteralToken), `<<-` heredoc indentation trimming, and number text rules.
 */
import type { Diagnostic } from './ast';
import * as L from './lexer';
import * as M from './messages';

// Bound once: namespace members are getters under per-file transpilers.
const isGoSpace = L.isGoSpace;

/**
 * Reuses one string for repeated short source slices (attribute names, block types,
 * values like "postgres" or "SELECT"): a policy file repeats them thousands of times,
 * and sharing them cuts allocation and GC time noticeably. A tiny direct-mapped
 * cache: a miss just slices and replaces the slot.
 */
export class Interner {
  private readonly table: (string | undefined)[] = new Array(1024);
  constructor(private readonly text: string) {}

  get(start: number, end: number): string {
    const len = end - start;
    if (len === 0) return '';
    if (len > 32) return this.text.slice(start, end);
    const t = this.text;
    const h = (len * 31 + t.charCodeAt(start) * 7 + t.charCodeAt(end - 1) * 3 + t.charCodeAt(start + (len >> 1))) & 1023;
    const cached = this.table[h];
    if (cached !== undefined && cached.length === len && t.startsWith(cached, start)) return cached;
    const fresh = t.slice(start, end);
    this.table[h] = fresh;
    return fresh;
  }
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/**
 * Decode a literal run of a quoted string: `\n \r \t \" \\ \uNNNN \UNNNNNNNN` and
 * the `$${` / `%%{` template escapes. Bad escapes are reported (once per offset) and
 * decoded the way HCL does, so the partial value stays close to what was meant.
 */
export function decodeQuotedLiteral(
  text: string, start: number, end: number, diags: Diagnostic[], reported: Set<number>, intern?: Interner,
): string {
  // Fast path: nothing to decode.
  let p = start;
  while (p < end) {
    const c = text.charCodeAt(p);
    if (c === 0x5c || c === 0x24 || c === 0x25) break;
    p++;
  }
  if (p === end) return intern ? intern.get(start, end) : text.slice(start, end);

  let out = text.slice(start, p);
  const bad = (detail: string, s: number, e: number): void => {
    if (reported.has(s)) return;
    reported.add(s);
    diags.push(M.invalidEscape(detail, s, e));
  };
  while (p < end) {
    const c = text.charCodeAt(p);
    if (c === 0x24 || c === 0x25) {
      // `$${` is a literal `${`; any other `$` is itself.
      if (text.charCodeAt(p + 1) === c && text.charCodeAt(p + 2) === 0x7b && p + 2 < end) {
        out += c === 0x24 ? '${' : '%{';
        p += 3;
      } else {
        out += text[p];
        p++;
      }
      continue;
    }
    if (c !== 0x5c) {
      let q = p + 1;
      while (q < end) {
        const d = text.charCodeAt(q);
        if (d === 0x5c || d === 0x24 || d === 0x25) break;
        q++;
      }
      out += text.slice(p, q);
      p = q;
      continue;
    }
    if (p + 1 >= end) {
      bad('Backslash must be followed by an escape sequence selector character. Write \\\\ for a literal backslash.', p, p + 1);
      out += '\\';
      p++;
      continue;
    }
    const sel = text.charCodeAt(p + 1);
    switch (sel) {
      case 0x6e: out += '\n'; p += 2; continue; // n
      case 0x72: out += '\r'; p += 2; continue; // r
      case 0x74: out += '\t'; p += 2; continue; // t
      case 0x22: out += '"'; p += 2; continue;
      case 0x5c: out += '\\'; p += 2; continue;
      case 0x75: case 0x55: { // u, U
        const want = sel === 0x75 ? 4 : 8;
        let q = p + 2;
        while (q < end && q < p + 2 + want && isHex(text.charCodeAt(q))) q++;
        if (q - (p + 2) !== want) {
          bad(sel === 0x75
            ? 'The \\u escape sequence must be followed by four hexadecimal digits, like \\u00e9.'
            : 'The \\U escape sequence must be followed by eight hexadecimal digits, like \\U0001F600.', p, q);
          p = q;
          continue;
        }
        const cp = parseInt(text.slice(p + 2, q), 16);
        if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
          bad(`Cannot encode character U+${cp.toString(16).padStart(4, '0')} in UTF-8. ` +
            'Surrogate code points are not characters; write a character above U+FFFF with \\U and eight digits.', p, q);
          p = q;
          continue;
        }
        out += String.fromCodePoint(cp);
        p = q;
        continue;
      }
      default: {
        const cp = text.codePointAt(p + 1)!;
        const len = cp > 0xffff ? 2 : 1;
        const sym = text.slice(p + 1, p + 1 + len);
        bad(`The symbol ${JSON.stringify(sym)} is not a valid escape sequence selector. ` +
          'Valid escapes are \\n, \\r, \\t, \\", \\\\, \\uNNNN and \\UNNNNNNNN; write \\\\ for a literal backslash.', p, p + 1 + len);
        out += sym;
        p += 1 + len;
      }
    }
  }
  return out;
}

/** Decode a heredoc literal run: only `$${` and `%%{` are escapes there. */
export function decodeHeredocLiteral(text: string, start: number, end: number): string {
  let p = text.indexOf('{', start);
  if (p < 0 || p >= end) return text.slice(start, end);
  let out = '';
  let from = start;
  for (p = start; p + 2 < end; p++) {
    const c = text.charCodeAt(p);
    if ((c === 0x24 || c === 0x25) && text.charCodeAt(p + 1) === c && text.charCodeAt(p + 2) === 0x7b) {
      out += text.slice(from, p + 1) + '{';
      p += 2;
      from = p + 1;
    }
  }
  return out + text.slice(from, end);
}

/**
 * `<<-` heredocs: remove the smallest common leading whitespace from every line.
 * As in HCL, whitespace-only lines do not count towards the minimum and are kept
 * as they are; tabs count as one character like spaces.
 */
export function flushHeredocLines(lines: string[]): string {
  let min = Infinity;
  const lead: number[] = new Array(lines.length);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    let n = 0;
    while (n < line.length && isGoSpace(line.charCodeAt(n))) n++;
    const blank = n === line.length && line.endsWith('\n');
    lead[i] = blank ? -1 : n;
    if (!blank && n < min) min = n;
  }
  if (min === Infinity || min === 0) return lines.join('');
  let out = '';
  for (let i = 0; i < lines.length; i++) out += lead[i] < 0 ? lines[i] : lines[i].slice(min);
  return out;
}

const NUMBER_RE = /^[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?$/;

/**
 * Whether a number token is a number. The scanner accepts runs like `1.2.3` that HCL
 * then rejects; Go's big.Float parser (which HCL uses) also accepts `1.e5`.
 */
export function isValidNumber(raw: string): boolean {
  return NUMBER_RE.test(raw);
}

/**
 * A number used as an object key becomes a string the way cty converts numbers:
 * plain decimal notation, no exponent, no redundant zeros (`1.50` → `1.5`, `1e3` → `1000`).
 */
export function formatNumberKey(raw: string): string {
  const m = /^([0-9]+)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/.exec(raw);
  if (!m) return raw;
  let digits = m[1] + (m[2] ?? '');
  let point = m[1].length + (m[3] ? parseInt(m[3], 10) : 0);
  // Strip leading zeros (keeping the decimal point position consistent).
  let lead = 0;
  while (lead < digits.length - 1 && digits[lead] === '0') lead++;
  digits = digits.slice(lead);
  point -= lead;
  if (/^0*$/.test(digits)) return '0';
  if (point <= 0) {
    const frac = '0'.repeat(-point) + digits;
    return '0.' + frac.replace(/0+$/, '');
  }
  if (point >= digits.length) return digits + '0'.repeat(point - digits.length);
  const frac = digits.slice(point).replace(/0+$/, '');
  return digits.slice(0, point) + (frac ? '.' + frac : '');
}
