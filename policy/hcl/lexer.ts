/**
 * Hand-written scanner for HCL native syntax.
 *
 * It mirrors HashiCorp's Ragel scanner (hclsyntax/scan_tokens.rl): the same token
 * boundaries, the same template modes (quoted strings, heredocs and the `${`/`%{`
 * sequences inside them) and the same oddities (a number may not end in `.`, `1.2.3`
 * is one bad number token, a heredoc's closing marker needs a newline after it).
 *
 * Tokens are stored as parallel typed arrays rather than objects: a 1 MB file has
 * ~300k tokens and this keeps the scan allocation-free apart from array growth.
 * Comments are trivia and produce no tokens; a line comment's newline is still
 * emitted as a Newline token, which is what HCL's peeker does too.
 *
 * Where HCL's scanner would leave the token stream unbalanced (a quoted string broken
 * by a newline, EOF inside a heredoc or an interpolation) we report the problem here
 * and synthesize zero-width closing tokens, so the parser always sees a well-formed
 * template and error recovery is not thrown off by one stray quote.
 */
import type { Diagnostic } from './ast';
import * as M from './messages';

// Token kinds. Plain numeric constants (not an enum) so hot comparisons stay cheap.
export const EOF = 0;
export const NEWLINE = 1;
export const IDENT = 2;
export const NUMBER = 3;
export const OBRACE = 4; // {
export const CBRACE = 5; // }
export const OBRACK = 6; // [
export const CBRACK = 7; // ]
export const OPAREN = 8; // (
export const CPAREN = 9; // )
export const COMMA = 10;
export const DOT = 11;
export const ELLIPSIS = 12; // ...
export const EQUAL = 13; // =
export const EQUAL_OP = 14; // ==
export const NOT_EQUAL = 15; // !=
export const LT = 16;
export const LE = 17;
export const GT = 18;
export const GE = 19;
export const PLUS = 20;
export const MINUS = 21;
export const STAR = 22;
export const SLASH = 23;
export const PERCENT = 24;
export const AND = 25; // &&
export const OR = 26; // ||
export const BANG = 27; // !
export const QUESTION = 28;
export const COLON = 29;
export const FAT_ARROW = 30; // =>
export const OQUOTE = 31; // opening "
export const CQUOTE = 32; // closing " (zero-width when synthesized)
export const QUOTED_LIT = 33; // literal run inside a quoted string (escapes undecoded)
export const OHEREDOC = 34; // <<EOT or <<-EOT plus its newline
export const CHEREDOC = 35; // the closing marker line, without its newline
export const STRING_LIT = 36; // literal run inside a heredoc
export const TEMPLATE_INTERP = 37; // ${ or ${~
export const TEMPLATE_CONTROL = 38; // %{ or %{~
export const TEMPLATE_SEQ_END = 39; // } or ~} ending a template sequence
export const INVALID = 40; // a character HCL does not use (already reported)

export interface Tokens {
  kind: Uint8Array;
  start: Int32Array;
  end: Int32Array;
  /** Number of tokens; the last one is always EOF. */
  count: number;
}

export interface LexResult {
  tokens: Tokens;
  diagnostics: Diagnostic[];
}

// Frame kinds of the scanner's mode stack.
const F_ROOT = 0; // top-level normal mode
const F_SEQ = 1; // normal mode inside ${ } or %{ }
const F_QUOTED = 2; // inside "..."
const F_HEREDOC = 3; // inside a heredoc body
// Fields of a frame in the mode stack.
const FRAME = 5;
const F_KIND = 0;
const F_DEPTH = 1;
const F_OPEN = 2;
const F_MARK_START = 3;
const F_MARK_END = 4;

// ASCII character classes.
const C_IDSTART = 1;
const C_IDCONT = 2;
const C_DIGIT = 4;
const charClass = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z_]/.test(ch)) charClass[c] |= C_IDSTART | C_IDCONT;
  if (/[0-9]/.test(ch)) charClass[c] |= C_DIGIT | C_IDCONT;
  if (ch === '-') charClass[c] |= C_IDCONT;
}

const ID_START_RE = /\p{ID_Start}/u;
const ID_CONTINUE_RE = /\p{ID_Continue}/u;

/** Length in UTF-16 units of the identifier-start character at `i`, or 0. */
function idStartLen(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c < 128) return charClass[c] & C_IDSTART ? 1 : 0;
  if (c !== c) return 0; // NaN: past the end
  const cp = text.codePointAt(i)!;
  return ID_START_RE.test(String.fromCodePoint(cp)) ? (cp > 0xffff ? 2 : 1) : 0;
}

/** Length of the identifier-continue character at `i` (dash included), or 0. */
function idContLen(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c < 128) return charClass[c] & C_IDCONT ? 1 : 0;
  if (c !== c) return 0; // NaN: past the end
  const cp = text.codePointAt(i)!;
  return ID_CONTINUE_RE.test(String.fromCodePoint(cp)) ? (cp > 0xffff ? 2 : 1) : 0;
}

/** End offset of the identifier starting at `i` (which must be an ID start). */
export function scanIdentEnd(text: string, i: number): number {
  let p = i + idStartLen(text, i);
  const n = text.length;
  while (p < n) {
    const c = text.charCodeAt(p);
    if (c < 128) {
      if (charClass[c] & C_IDCONT) { p++; continue; }
      break;
    }
    const l = idContLen(text, p);
    if (l === 0) break;
    p += l;
  }
  return p;
}

/**
 * A UTF-16 surrogate without its partner. Such text has no UTF-8 encoding, so for
 * HCL (which reads UTF-8) it is an encoding error, inside strings as elsewhere.
 */
function isLoneSurrogate(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff) {
    const d = text.charCodeAt(i + 1);
    return !(d >= 0xdc00 && d <= 0xdfff);
  }
  if (c >= 0xdc00 && c <= 0xdfff) {
    const b = text.charCodeAt(i - 1);
    return !(b >= 0xd800 && b <= 0xdbff);
  }
  return false;
}

/** Go's unicode.IsSpace, which HCL uses to trim heredoc markers and indentation. */
export function isGoSpace(c: number): boolean {
  return (
    c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x85 || c === 0xa0 || c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f ||
    c === 0x205f || c === 0x3000
  );
}

class Lexer {
  private readonly text: string;
  private readonly n: number;
  private kind: Uint8Array;
  private start: Int32Array;
  private end: Int32Array;
  private count = 0;
  readonly diagnostics: Diagnostic[] = [];
  /** How many `'` and `` ` `` characters were seen (outside strings). */
  private quoteChars = 0;

  // Mode stack, FRAME ints per frame: kind, brace depth (normal frames), opening
  // offset (quoted/heredoc/seq frames), heredoc marker start and end. A typed array
  // rather than objects: one frame is pushed per string literal.
  private frames = new Int32Array(FRAME * 16);
  /** Offset of the top frame in `frames`. */
  private top = 0;

  constructor(text: string) {
    this.text = text;
    this.n = text.length;
    const cap = Math.max(16, (text.length >> 2) + 16);
    this.kind = new Uint8Array(cap);
    this.start = new Int32Array(cap);
    this.end = new Int32Array(cap);
    this.frames[F_KIND] = F_ROOT;
  }

  private emit(kind: number, s: number, e: number): void {
    if (this.count === this.kind.length) this.grow();
    const i = this.count++;
    this.kind[i] = kind;
    this.start[i] = s;
    this.end[i] = e;
  }

  private grow(): void {
    const cap = this.kind.length * 2;
    const k = new Uint8Array(cap); k.set(this.kind); this.kind = k;
    const s = new Int32Array(cap); s.set(this.start); this.start = s;
    const e = new Int32Array(cap); e.set(this.end); this.end = e;
  }

  private push(kind: number, open: number): void {
    const t = this.top + FRAME;
    if (t + FRAME > this.frames.length) {
      const bigger = new Int32Array(this.frames.length * 2);
      bigger.set(this.frames);
      this.frames = bigger;
    }
    this.frames[t + F_KIND] = kind;
    this.frames[t + F_DEPTH] = 0;
    this.frames[t + F_OPEN] = open;
    this.top = t;
  }

  private pop(): void {
    this.top -= FRAME;
  }

  private topKind(): number {
    return this.frames[this.top + F_KIND];
  }

  run(): LexResult {
    let p = 0;
    // HCL strips a UTF-8 byte order mark before scanning.
    if (this.text.charCodeAt(0) === 0xfeff) p = 1;
    while (p < this.n) {
      const f = this.topKind();
      if (f === F_QUOTED) p = this.scanQuoted(p);
      else if (f === F_HEREDOC) p = this.scanHeredoc(p);
      else p = this.scanNormal(p);
    }
    this.closeAllAtEof();
    this.emit(EOF, this.n, this.n);
    return {
      tokens: { kind: this.kind, start: this.start, end: this.end, count: this.count },
      diagnostics: this.diagnostics,
    };
  }

  /** EOF inside templates: report the innermost one and synthesize the closers. */
  private closeAllAtEof(): void {
    let reported = false;
    while (this.top > 0) {
      const f = this.topKind();
      const open = this.frames[this.top + F_OPEN];
      if (f === F_QUOTED) {
        if (!reported) this.diagnostics.push(M.unterminatedString(open, this.lineEnd(open)));
        this.emit(CQUOTE, this.n, this.n);
      } else if (f === F_HEREDOC) {
        if (!reported) this.diagnostics.push(M.unterminatedHeredoc(this.text, open));
        this.emit(CHEREDOC, this.n, this.n);
      } else {
        if (!reported) this.diagnostics.push(M.unclosedTemplateSeq(open));
        this.emit(TEMPLATE_SEQ_END, this.n, this.n);
      }
      reported = true;
      this.pop();
    }
  }

  private lineEnd(p: number): number {
    const t = this.text;
    while (p < this.n) {
      const c = t.charCodeAt(p);
      if (c === 10 || (c === 13 && t.charCodeAt(p + 1) === 10)) break;
      p++;
    }
    return p;
  }

  // ---------------------------------------------------------------- normal mode

  private scanNormal(p: number): number {
    const t = this.text;
    const c = t.charCodeAt(p);
    switch (c) {
      case 0x20: case 0x09: { // spaces and tabs
        let q = p + 1;
        while (q < this.n) {
          const d = t.charCodeAt(q);
          if (d !== 0x20 && d !== 0x09) break;
          q++;
        }
        return q;
      }
      case 0x0a:
        this.emit(NEWLINE, p, p + 1);
        return p + 1;
      case 0x0d:
        if (t.charCodeAt(p + 1) === 0x0a) {
          this.emit(NEWLINE, p, p + 2);
          return p + 2;
        }
        return this.invalid(p, 1);
      case 0x23: // #
        return this.lineEnd(p);
      case 0x2f: // /
        if (t.charCodeAt(p + 1) === 0x2f) return this.lineEnd(p);
        if (t.charCodeAt(p + 1) === 0x2a) return this.blockComment(p);
        return this.single(SLASH, p);
      case 0x7b: // {
        this.frames[this.top + F_DEPTH]++;
        return this.single(OBRACE, p);
      case 0x7d: // }
        return this.closeBrace(p, 1);
      case 0x7e: // ~
        if (t.charCodeAt(p + 1) === 0x7d) return this.closeBrace(p, 2);
        return this.invalid(p, 1);
      case 0x5b: return this.single(OBRACK, p);
      case 0x5d: return this.single(CBRACK, p);
      case 0x28: return this.single(OPAREN, p);
      case 0x29: return this.single(CPAREN, p);
      case 0x2c: return this.single(COMMA, p);
      case 0x2e: // .
        if (t.charCodeAt(p + 1) === 0x2e && t.charCodeAt(p + 2) === 0x2e) return this.multi(ELLIPSIS, p, 3);
        return this.single(DOT, p);
      case 0x3d: // =
        if (t.charCodeAt(p + 1) === 0x3d) return this.multi(EQUAL_OP, p, 2);
        if (t.charCodeAt(p + 1) === 0x3e) return this.multi(FAT_ARROW, p, 2);
        return this.single(EQUAL, p);
      case 0x21: // !
        if (t.charCodeAt(p + 1) === 0x3d) return this.multi(NOT_EQUAL, p, 2);
        return this.single(BANG, p);
      case 0x3c: // <
        if (t.charCodeAt(p + 1) === 0x3c) {
          const q = this.heredocOpener(p);
          if (q > 0) return q;
        }
        if (t.charCodeAt(p + 1) === 0x3d) return this.multi(LE, p, 2);
        return this.single(LT, p);
      case 0x3e: // >
        if (t.charCodeAt(p + 1) === 0x3d) return this.multi(GE, p, 2);
        return this.single(GT, p);
      case 0x26: // &
        if (t.charCodeAt(p + 1) === 0x26) return this.multi(AND, p, 2);
        return this.invalid(p, 1);
      case 0x7c: // |
        if (t.charCodeAt(p + 1) === 0x7c) return this.multi(OR, p, 2);
        return this.invalid(p, 1);
      case 0x2b: return this.single(PLUS, p);
      case 0x2d: return this.single(MINUS, p);
      case 0x2a: return this.single(STAR, p);
      case 0x25: return this.single(PERCENT, p);
      case 0x3f: return this.single(QUESTION, p);
      case 0x3a: return this.single(COLON, p);
      case 0x22: // "
        this.emit(OQUOTE, p, p + 1);
        this.push(F_QUOTED, p);
        return p + 1;
      default:
        if (c >= 0x30 && c <= 0x39) return this.number(p);
        if (idStartLen(t, p) > 0) {
          const e = scanIdentEnd(t, p);
          this.emit(IDENT, p, e);
          return e;
        }
        // Anything else (including a lone surrogate) is a character HCL never uses.
        return this.invalid(p, 1);
    }
  }

  private single(kind: number, p: number): number {
    this.emit(kind, p, p + 1);
    return p + 1;
  }

  private multi(kind: number, p: number, len: number): number {
    this.emit(kind, p, p + len);
    return p + len;
  }

  private invalid(p: number, len: number): number {
    if (this.text.codePointAt(p)! > 0xffff) len = 2; // keep a surrogate pair together
    const c = this.text.charCodeAt(p);
    if (c === 0x27 || c === 0x60) {
      // Quotes come in pairs: like HCL, report only the opening one of each pair.
      if (this.quoteChars++ % 2 === 0) this.diagnostics.push(M.invalidQuote(this.text, p, this.lineEnd(p)));
    } else {
      this.diagnostics.push(M.invalidCharacter(this.text, p, p + len));
    }
    this.emit(INVALID, p, p + len);
    return p + len;
  }

  /** `}` or `~}`: ends a template sequence when it balances its `${`/`%{`. */
  private closeBrace(p: number, len: number): number {
    const d = this.top;
    if (this.frames[d + F_KIND] === F_SEQ && this.frames[d + F_DEPTH] === 0) {
      this.emit(TEMPLATE_SEQ_END, p, p + len);
      this.pop();
      return p + len;
    }
    if (this.frames[d + F_DEPTH] > 0) this.frames[d + F_DEPTH]--;
    // HCL scans `~}` as a sequence end even where it cannot be one, so the parser
    // reports it; we do the same.
    this.emit(len === 2 ? TEMPLATE_SEQ_END : CBRACE, p, p + len);
    return p + len;
  }

  private blockComment(p: number): number {
    const close = this.text.indexOf('*/', p + 2);
    if (close >= 0) return close + 2;
    // HCL would scan the rest as tokens; we report the comment and, to keep the
    // damage local, treat only the rest of its line as commented out.
    this.diagnostics.push(M.unclosedComment(p));
    return this.lineEnd(p);
  }

  /**
   * Numbers follow HCL's scanner: a digit, then any run of digits, dots and exponents
   * (`e`, `e+`, `e-` followed by a digit), but the token may not end in a dot.
   * So `1.2.3` is one (invalid) number token and `1.` is `1` followed by `.`.
   */
  private number(p: number): number {
    const t = this.text;
    let q = p + 1;
    let last = q;
    for (;;) {
      const c = t.charCodeAt(q);
      if (c >= 0x30 && c <= 0x39) {
        q++;
        last = q;
      } else if (c === 0x2e) {
        q++;
      } else if (c === 0x65 || c === 0x45) {
        let r = q + 1;
        const s = t.charCodeAt(r);
        if (s === 0x2b || s === 0x2d) r++;
        const d = t.charCodeAt(r);
        if (d >= 0x30 && d <= 0x39) {
          q = r + 1;
          last = q;
        } else break;
      } else break;
    }
    this.emit(NUMBER, p, last);
    return last;
  }

  /** `<<EOT` / `<<-EOT` immediately followed by a newline opens a heredoc. */
  private heredocOpener(p: number): number {
    const t = this.text;
    let q = p + 2;
    if (t.charCodeAt(q) === 0x2d) q++;
    if (idStartLen(t, q) === 0) return 0;
    const markStart = q;
    const markEnd = scanIdentEnd(t, q);
    let nl = markEnd;
    if (t.charCodeAt(nl) === 0x0d) nl++;
    if (t.charCodeAt(nl) !== 0x0a) return 0;
    this.emit(OHEREDOC, p, nl + 1);
    this.push(F_HEREDOC, p);
    this.frames[this.top + F_MARK_START] = markStart;
    this.frames[this.top + F_MARK_END] = markEnd;
    return nl + 1;
  }

  // ---------------------------------------------------------------- template modes

  /** `${`, `%{` (optionally with `~`) at `p`: push a sequence frame. */
  private templateSeq(p: number, kind: number): number {
    const len = this.text.charCodeAt(p + 2) === 0x7e ? 3 : 2;
    this.emit(kind, p, p + len);
    this.push(F_SEQ, p);
    return p + len;
  }

  /**
   * Inside "...": literal runs (escapes are kept raw and decoded by the parser),
   * `${`/`%{` sequences, the closing quote. A newline ends the string with an error.
   */
  private scanQuoted(p: number): number {
    const t = this.text;
    const litStart = p;
    while (p < this.n) {
      const c = t.charCodeAt(p);
      if (c === 0x22) break;
      if (c === 0x0a || c === 0x0d) {
        if (c === 0x0d && t.charCodeAt(p + 1) !== 0x0a) {
          // A lone CR is not a newline to HCL, just an invalid character.
          if (p > litStart) this.emit(QUOTED_LIT, litStart, p);
          return this.invalid(p, 1);
        }
        break;
      }
      if (c === 0x5c) { // backslash escapes the next character (decoded later)
        const d = t.charCodeAt(p + 1);
        p += d === 0x0a || d === 0x0d || d !== d || isLoneSurrogate(t, p + 1) ? 1 : d >= 0xd800 && d <= 0xdbff ? 3 : 2;
        continue;
      }
      if (c === 0x24 || c === 0x25) { // $ or %
        const d = t.charCodeAt(p + 1);
        if (d === 0x7b) break; // a template sequence
        if (d === c && t.charCodeAt(p + 2) === 0x7b) { p += 3; continue; } // $${ / %%{ escape
        p++;
        continue;
      }
      if ((c & 0xf800) === 0xd800 && isLoneSurrogate(t, p)) {
        if (p > litStart) this.emit(QUOTED_LIT, litStart, p);
        return this.invalid(p, 1);
      }
      p++;
    }
    if (p > litStart) this.emit(QUOTED_LIT, litStart, p);
    if (p >= this.n) return p;
    const c = t.charCodeAt(p);
    if (c === 0x22) {
      this.emit(CQUOTE, p, p + 1);
      this.pop();
      return p + 1;
    }
    if (c === 0x24) return this.templateSeq(p, TEMPLATE_INTERP);
    if (c === 0x25) return this.templateSeq(p, TEMPLATE_CONTROL);
    this.breakQuotedAtNewline(p);
    return p;
  }

  /**
   * A quoted string cannot contain a newline. Report it and close the string (and
   * any quoted strings it is nested in through `${`) with zero-width tokens so the
   * parser sees a balanced template and recovery resumes on the next line.
   */
  private breakQuotedAtNewline(p: number): void {
    const open = this.frames[this.top + F_OPEN];
    this.diagnostics.push(M.unterminatedString(open, p));
    this.emit(CQUOTE, p, p);
    this.pop();
    while (this.topKind() === F_SEQ && this.frames[this.top - FRAME + F_KIND] === F_QUOTED) {
      this.emit(TEMPLATE_SEQ_END, p, p);
      this.pop();
      this.emit(CQUOTE, p, p);
      this.pop();
    }
  }

  /**
   * Inside a heredoc body. At the start of each line, a line holding only the marker
   * (surrounding whitespace allowed, newline required) closes the heredoc. Otherwise
   * literal text runs to the end of the line (newline included) or the next `${`/`%{`.
   */
  private scanHeredoc(p: number): number {
    const t = this.text;
    const d = this.top;
    // Only a line that starts fresh can be the marker: after a `${...}` on the same
    // line, HCL no longer considers the rest of that line a candidate.
    if (t.charCodeAt(p - 1) === 0x0a) {
      const q = this.heredocCloser(p, this.frames[d + F_MARK_START], this.frames[d + F_MARK_END]);
      if (q > 0) return q;
    }
    const litStart = p;
    let seq = 0;
    while (p < this.n) {
      const c = t.charCodeAt(p);
      if (c === 0x0a) { p++; break; }
      if (c === 0x0d) {
        if (t.charCodeAt(p + 1) === 0x0a) { p += 2; break; }
        if (p > litStart) this.emit(STRING_LIT, litStart, p);
        return this.invalid(p, 1);
      }
      if (c === 0x24 || c === 0x25) {
        const e = t.charCodeAt(p + 1);
        if (e === 0x7b) { seq = c; break; }
        if (e === c && t.charCodeAt(p + 2) === 0x7b) { p += 3; continue; }
      }
      if ((c & 0xf800) === 0xd800 && isLoneSurrogate(t, p)) {
        if (p > litStart) this.emit(STRING_LIT, litStart, p);
        return this.invalid(p, 1);
      }
      p++;
    }
    if (p > litStart) this.emit(STRING_LIT, litStart, p);
    if (seq !== 0) return this.templateSeq(p, seq === 0x24 ? TEMPLATE_INTERP : TEMPLATE_CONTROL);
    return p;
  }

  /** If the line at `p` is the closing marker, emit it and return the next offset. */
  private heredocCloser(p: number, ms: number, me: number): number {
    const t = this.text;
    let s = p;
    while (s < this.n && isGoSpace(t.charCodeAt(s)) && t.charCodeAt(s) !== 0x0a) s++;
    const len = me - ms;
    if (s + len > this.n) return 0;
    for (let i = 0; i < len; i++) if (t.charCodeAt(s + i) !== t.charCodeAt(ms + i)) return 0;
    let e = s + len;
    while (e < this.n && t.charCodeAt(e) !== 0x0a && isGoSpace(t.charCodeAt(e))) e++;
    if (t.charCodeAt(e) !== 0x0a) return 0; // needs a newline (HCL requires it)
    let nlStart = e;
    if (t.charCodeAt(e - 1) === 0x0d && e - 1 >= s + len) nlStart = e - 1;
    this.emit(CHEREDOC, p, nlStart);
    this.emit(NEWLINE, nlStart, e + 1);
    this.pop();
    return e + 1;
  }
}

export function lex(text: string): LexResult {
  return new Lexer(text).run();
}
