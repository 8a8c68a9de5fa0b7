/**
 * Recursive-descent parser for HCL native syntax (hashicorp/hcl hclsyntax/spec.md).
 *
 * The grammar, the newline rules and the error summaries follow HashiCorp's parser
 * (hclsyntax/parser.go) so that a file is valid here exactly when it is valid for
 * Terraform/HCL. Two things differ on purpose:
 *
 *  - Error recovery. HCL stops reporting after its first recovery; we recover per
 *    body item (skip to the end of the line, respecting brackets) so that one broken
 *    policy does not hide problems in the others, and we keep every attribute that
 *    parsed. A one-line block with several arguments (HCL rejects it) is parsed fully
 *    and reported once, with a fix that expands it.
 *  - Expressions are not kept as trees. Literals become values; anything else becomes
 *    an ExpressionValue that records what kind of expression it is and its source.
 *
 * Newlines are significant in bodies and objects but not inside (), [] and ${}; as in
 * HCL's peeker, the parser tracks that with a flag (`nl`) saved and restored around
 * each bracketed construct.
 */
import type {
  Attribute, Block, BlockLabel, Body, Diagnostic, ExpressionValue, Fix, ObjectItem, ParseResult, Span, Value,
} from './ast';
import * as L from './lexer';
import * as M from './messages';
import * as T from './template';
import { expandBlockFix } from './fixes';

// Token kinds (and helpers) as local constants: under per-file transpilers (tsx,
// ts-node) a namespace import is read through getters, ~4x slower in hot loops.
const {
  AND, BANG, CBRACE, CBRACK, CHEREDOC, COLON, COMMA, CPAREN,
  CQUOTE, DOT, ELLIPSIS, EOF, EQUAL, EQUAL_OP, FAT_ARROW, GE,
  GT, IDENT, INVALID, LE, LT, MINUS, NEWLINE, NOT_EQUAL,
  NUMBER, OBRACE, OBRACK, OHEREDOC, OPAREN, OQUOTE, OR, PERCENT,
  PLUS, QUESTION, QUOTED_LIT, SLASH, STAR, STRING_LIT, TEMPLATE_CONTROL, TEMPLATE_INTERP,
  TEMPLATE_SEQ_END,
} = L;
const { decodeHeredocLiteral, decodeQuotedLiteral, flushHeredocLines, formatNumberKey, isValidNumber } = T;

type What = ExpressionValue['what'];
type Item = Attribute | Block;
/** An open `%{ if }` or `%{ for }` in a template. */
interface Directive {
  kw: string;
  at: number;
  inElse: boolean;
}

// Binary operator precedence (HCL spec "Operations"); 0 = not a binary operator.
const PREC = new Uint8Array(64);
PREC[OR] = 1;
PREC[AND] = 2;
PREC[EQUAL_OP] = 3; PREC[NOT_EQUAL] = 3;
PREC[GT] = 4; PREC[GE] = 4; PREC[LT] = 4; PREC[LE] = 4;
PREC[PLUS] = 5; PREC[MINUS] = 5;
PREC[STAR] = 6; PREC[SLASH] = 6; PREC[PERCENT] = 6;


/** Result of parsing one `{ ... }` block body. */
interface BodyResult {
  items: Item[];
  /** Token index of the closing brace, or -1 when the body hit the end of input. */
  close: number;
}

class Parser {
  private readonly text: string;
  private readonly k: Uint8Array;
  private readonly s: Int32Array;
  private readonly e: Int32Array;
  private readonly eofIdx: number;
  /** Tokens at or after this index read as EOF (used to cut an unclosed block short). */
  private limit: number;
  /** Index of the next raw token. */
  private pos = 0;
  /** Whether newlines are significant in the current context. */
  private nl = true;
  /** End offset of the last consumed token, for expression spans. */
  private lastEnd = 0;
  /**
   * Set once an error has been reported inside an expression: every expression
   * routine then returns at once (like HCL's `p.recovery`) and the enclosing body
   * item skips the rest of its line. Reset for each body item.
   */
  private bail = false;
  /** Token indices of brackets opened and not yet closed by the expression being parsed (for recovery). */
  private readonly open: number[] = [];
  /**
   * Nesting depth of blocks and bracketed expressions. Recursion is bounded so that
   * hostile input cannot overflow the stack; real files never get near the limit.
   */
  private depth = 0;
  /** An "Unclosed configuration block" was reported for the current EOF already. */
  private unclosedReported = false;
  readonly diags: Diagnostic[];
  private readonly diagStarts = new Set<number>();
  private readonly intern: T.Interner;

  constructor(text: string, lexed: L.LexResult) {
    this.text = text;
    const t = lexed.tokens;
    this.k = t.kind;
    this.s = t.start;
    this.e = t.end;
    this.eofIdx = t.count - 1;
    this.limit = this.eofIdx;
    this.diags = lexed.diagnostics;
    this.intern = new T.Interner(text);
    for (const d of this.diags) this.diagStarts.add(d.span.start);
  }

  // ------------------------------------------------------------------ token access

  /** Index of the next significant token (skipping newlines where they don't count). */
  private next(): number {
    let i = this.pos;
    if (!this.nl) while (this.k[i] === NEWLINE) i++;
    return i >= this.limit ? this.limit : i;
  }

  private kind(i: number): number {
    return i >= this.limit ? EOF : this.k[i];
  }

  private end(i: number): number {
    return i >= this.limit ? this.s[i] : this.e[i];
  }

  private peekKind(): number {
    return this.kind(this.next());
  }

  /** Consume the next significant token and return its index. */
  private read(): number {
    const i = this.next();
    if (i < this.limit) {
      this.pos = i + 1;
      this.lastEnd = this.e[i];
    }
    return i;
  }

  private tokenText(i: number): string {
    return this.intern.get(this.s[i], this.end(i));
  }

  private isIdent(i: number, word: string): boolean {
    return this.kind(i) === IDENT && this.e[i] - this.s[i] === word.length && this.text.startsWith(word, this.s[i]);
  }

  /** How to name token `i` in a message. */
  private describe(i: number): string {
    const k = this.kind(i);
    if (k === EOF) return 'the end of the file';
    if (k === NEWLINE) return 'the end of the line';
    if (k === OQUOTE) {
      const raw = this.text.slice(this.s[i], this.errEnd(i));
      return 'the string ' + (raw.length > 40 ? raw.slice(0, 37) + '..."' : raw);
    }
    if (k === OHEREDOC) return 'a heredoc';
    return M.show(this.tokenText(i));
  }

  /** End of the source unit starting at token `i`: a whole string for an opening quote. */
  private errEnd(i: number): number {
    if (this.kind(i) !== OQUOTE) return this.end(i);
    let j = i + 1;
    while (j < this.limit && this.k[j] !== CQUOTE && this.k[j] !== NEWLINE) j++;
    return j < this.limit ? this.e[j] : this.e[i];
  }

  private span(i: number): Span {
    return { start: this.s[i], end: this.end(i) };
  }

  /** Report a diagnostic unless one is already reported at the same place. */
  private report(d: Diagnostic): void {
    if (this.diagStarts.has(d.span.start)) return;
    this.diagStarts.add(d.span.start);
    this.diags.push(d);
  }

  /** Report an error inside an expression and unwind the expression parser. */
  private fail(d: Diagnostic): void {
    this.report(d);
    this.bail = true;
  }

  private lineStart(offset: number): number {
    let p = offset;
    while (p > 0) {
      const c = this.text.charCodeAt(p - 1);
      if (c === 0x0a || c === 0x0d) break;
      p--;
    }
    return p;
  }

  /** Leading whitespace of the line holding `offset`. */
  private indentOf(offset: number): string {
    const ls = this.lineStart(offset);
    let p = ls;
    while (p < this.text.length) {
      const c = this.text.charCodeAt(p);
      if (c !== 0x20 && c !== 0x09) break;
      p++;
    }
    return this.text.slice(ls, p);
  }

  private column(offset: number): number {
    return offset - this.lineStart(offset);
  }

  /** True when token `i` is the first token on its line. */
  private firstOnLine(i: number): boolean {
    return i === 0 || this.k[i - 1] === NEWLINE || this.indentOf(this.s[i]).length === this.column(this.s[i]);
  }

  // ------------------------------------------------------------------ bodies

  parseFile(): Body {
    const items: Item[] = [];
    this.parseBodyItems(items, false);
    this.checkDuplicates(items);
    return { items, span: { start: 0, end: this.text.length } };
  }

  /**
   * Parse body items until `}` (nested) or EOF. Returns the closing brace's token
   * index, or -1 at EOF.
   */
  private parseBodyItems(items: Item[], nested: boolean): number {
    for (;;) {
      this.nl = true;
      const i = this.next();
      const k = this.kind(i);
      if (k === NEWLINE) {
        this.read();
        continue;
      }
      if (k === EOF) return -1;
      if (k === CBRACE && nested) {
        this.read();
        return i;
      }
      const progress = this.pos;
      if (k === IDENT) {
        const before = this.diags.length;
        const item = this.parseItem(nested);
        if (item) {
          items.push(item);
          if (!nested && item.kind === 'block' && !item.closeBrace) this.cutUnclosedTopLevelBlock(items, before);
        }
      } else {
        this.badBodyToken(i, nested);
      }
      // Safety net: recovery must always move forward.
      if (this.pos === progress && this.kind(this.pos) !== EOF) this.pos++;
    }
  }

  /** Something that cannot start an argument or block: report it and skip the line. */
  private badBodyToken(i: number, nested: boolean): void {
    const k = this.kind(i);
    if (k === OQUOTE) {
      this.report(M.diag('hcl.invalid-argument-name', 'Invalid argument name',
        'Argument names must not be quoted. Remove the quotes around the name.', this.s[i], this.s[i] + 1));
    } else if (k === CBRACE && !nested) {
      this.report(M.argumentOrBlockRequired(this.s[i], this.e[i],
        'This closing brace has no matching opening brace. Remove it, or check the brace nesting above it.'));
      this.read();
      return;
    } else if (k !== INVALID) {
      this.report(M.argumentOrBlockRequired(this.s[i], this.end(i)));
    }
    this.read();
    this.skipRestOfItem(this.s[i], true);
  }

  /** Parse an attribute or a block starting at the identifier under the cursor. */
  private parseItem(nested: boolean): Item | null {
    const nameIdx = this.read();
    const k = this.peekKind();
    if (k === EQUAL) return this.parseAttribute(nameIdx, false);
    if (k === OQUOTE || k === OBRACE || k === IDENT) return this.parseBlock(nameIdx, false);
    const detail = k === COLON
      ? 'An argument or block definition is required here. To set an argument, use the equals sign "=" rather than a colon.'
      : 'An argument or block definition is required here. To set an argument, use the equals sign "=" to introduce the argument value.';
    this.report(M.argumentOrBlockRequired(this.s[nameIdx], this.e[nameIdx], detail));
    this.skipRestOfItem(this.s[nameIdx], nested);
    return null;
  }

  private parseAttribute(nameIdx: number, inline: boolean): Attribute | null {
    this.read(); // =
    this.bail = false;
    if (this.open.length > 0) this.open.length = 0; // (setting length is a slow runtime call)
    const value = this.parseExpression();
    const failed = this.bail;
    // A value that failed at its very first token is no value at all: drop the attribute.
    const empty = value.kind === 'expression' && value.span.start === value.span.end;
    const attr: Attribute | null = !empty
      ? {
        kind: 'attribute',
        name: this.tokenText(nameIdx),
        nameSpan: this.span(nameIdx),
        value,
        span: { start: this.s[nameIdx], end: value.span.end },
      }
      : null;
    if (failed) {
      this.bail = false;
      this.skipRestOfItem(this.s[nameIdx], true);
      return attr;
    }
    if (!inline) this.expectEndOfItem(nameIdx, value.span.end, false, value);
    return attr;
  }

  /**
   * After an argument or block: a newline or EOF must follow. Otherwise report it and,
   * if what follows starts another item on the same line (`a = 1 b = 2`), leave it to
   * be parsed so both are kept.
   */
  private expectEndOfItem(itemIdx: number, itemEnd: number, isBlock: boolean, value?: Value): void {
    this.nl = true;
    const i = this.next();
    const k = this.kind(i);
    if (k === NEWLINE) {
      this.read();
      return;
    }
    if (k === EOF) return;
    if (value && value.kind === 'number' && k === IDENT && this.s[i] === value.span.end) {
      this.unquotedDuration(value, i);
      return;
    }
    const fix: Fix | undefined = this.startsItem(i)
      ? {
        title: 'Put the next definition on its own line',
        edits: [{ span: { start: itemEnd, end: this.s[i] }, newText: '\n' + this.indentOf(this.s[itemIdx]) }],
        preferred: true,
      }
      : undefined;
    if (isBlock) this.report(M.missingNewlineAfterBlock(this.s[i], this.end(i), fix));
    else this.report(M.missingNewline(k === COMMA, this.s[i], this.end(i), fix));
    if (k === COMMA) {
      this.read();
      if (this.startsItem(this.next())) return;
    }
    if (fix || k === CBRACE) return;
    this.skipRestOfItem(this.s[itemIdx], true);
  }

  /**
   * `expiration = 12h`: HCL reads the number 12 and then stumbles on `h`. The value
   * was almost certainly meant as a string, so say that and offer to quote it.
   */
  private unquotedDuration(value: Value & { kind: 'number' }, identIdx: number): void {
    const word = this.text.slice(value.span.start, this.e[identIdx]);
    const d = M.missingNewline(false, this.s[identIdx], this.e[identIdx], {
      title: `Quote the value as "${word}"`,
      edits: [{ span: { start: value.span.start, end: this.e[identIdx] }, newText: JSON.stringify(word) }],
      preferred: true,
    });
    d.detail = `An argument definition must end with a newline, but the number ${value.raw} is directly followed by ` +
      `"${this.tokenText(identIdx)}". If ${M.show(word)} is meant as a string, put it in quotes: ${JSON.stringify(word)}.`;
    this.report(d);
    this.read();
    this.skipRestOfItem(value.span.start, true);
  }

  /** Does token `i` begin an attribute (`name =`) or a block header (`name ... {`)? */
  private startsItem(i: number): boolean {
    if (this.kind(i) !== IDENT) return false;
    let j = i + 1;
    const k = this.kind(j);
    if (k === EQUAL) return true;
    for (;; j++) {
      const kj = this.kind(j);
      if (kj === OBRACE) return true;
      if (kj === IDENT || kj === QUOTED_LIT || kj === OQUOTE || kj === CQUOTE) continue;
      return false;
    }
  }

  /**
   * Recovery after a broken item: skip to the end of the line, treating brackets
   * (opened inside the item, or by the expression that failed) as spanning lines.
   * Stops early at a `}` that would close the enclosing block, and at a following
   * line that starts a new item at the item's indentation or less (so an unclosed
   * `[` does not swallow the rest of the file).
   */
  private skipRestOfItem(itemStart: number, stopAtCloseBrace: boolean): void {
    const depthStack = this.open.map((i) => this.k[i]);
    if (this.open.length > 0) this.open.length = 0;
    this.nl = true;
    // Already at the start of a line with nothing open: the item ended cleanly.
    if (depthStack.length === 0 && this.pos > 0 && this.k[this.pos - 1] === NEWLINE) return;
    const itemCol = this.column(itemStart);
    for (;;) {
      const i = this.pos;
      const k = this.kind(i);
      if (k === EOF) return;
      if (k === NEWLINE) {
        this.read();
        if (depthStack.length === 0) return;
        const j = this.nextNonNewline();
        if (this.kind(j) === EOF) return;
        // A line starting a new item at the broken item's indentation, or a `}` left
        // of it (the enclosing block's), means the open bracket was never closed.
        const col = this.column(this.s[j]);
        if (this.firstOnLine(j) && ((col <= itemCol && this.startsItem(j)) || (col < itemCol && this.kind(j) === CBRACE))) return;
        continue;
      }
      switch (k) {
        case OBRACE: case OBRACK: case OPAREN: case OQUOTE: case OHEREDOC:
        case TEMPLATE_INTERP: case TEMPLATE_CONTROL:
          depthStack.push(k);
          break;
        case CBRACE: case CBRACK: case CPAREN: case CQUOTE: case CHEREDOC: case TEMPLATE_SEQ_END: {
          const opener = openerOf(k);
          let found = -1;
          for (let d = depthStack.length - 1; d >= 0; d--) {
            const o = depthStack[d];
            if (o === opener || (k === TEMPLATE_SEQ_END && o === TEMPLATE_CONTROL)) { found = d; break; }
          }
          if (found < 0) {
            if (k === CBRACE && stopAtCloseBrace) return;
          } else {
            depthStack.length = found;
          }
          break;
        }
      }
      this.pos = i + 1;
      this.lastEnd = this.e[i];
    }
  }

  private nextNonNewline(): number {
    let j = this.pos;
    while (j < this.limit && this.k[j] === NEWLINE) j++;
    return j >= this.limit ? this.limit : j;
  }

  // ------------------------------------------------------------------ blocks

  private parseBlock(typeIdx: number, inline: boolean): Block | null {
    const labels: BlockLabel[] = [];
    let openIdx = -1;
    for (;;) {
      const i = this.next();
      const k = this.kind(i);
      if (k === OBRACE) {
        openIdx = this.read();
        break;
      }
      if (k === OQUOTE) {
        labels.push(this.parseQuotedLabel());
        continue;
      }
      if (k === IDENT) {
        this.read();
        labels.push({ value: this.tokenText(i), span: this.span(i), quoted: false });
        continue;
      }
      openIdx = this.badBlockHeader(typeIdx, i);
      if (openIdx < 0) return null;
      break;
    }
    if (this.depth >= MAX_DEPTH) {
      this.report(tooDeep(this.s[openIdx], this.e[openIdx]));
      this.skipBalancedBraces();
      return null;
    }
    this.depth++;
    const body = this.parseBlockBody(openIdx);
    this.depth--;
    const recovered = this.endCovering(body.items);
    const block: Block = {
      kind: 'block',
      type: this.tokenText(typeIdx),
      typeSpan: this.span(typeIdx),
      labels,
      body: { items: body.items, span: { start: this.e[openIdx], end: body.close >= 0 ? this.s[body.close] : recovered } },
      openBrace: this.span(openIdx),
      span: { start: this.s[typeIdx], end: body.close >= 0 ? this.e[body.close] : recovered },
    };
    this.checkDuplicates(body.items);
    if (body.close < 0) {
      if (!this.unclosedReported) {
        const cut = this.limit < this.eofIdx ? M.lineOf(this.text, this.s[this.limit]) : undefined;
        const d = M.unclosedBlock(this.s[openIdx], this.e[openIdx], cut);
        this.explainMissingBrace(d, body.items);
        this.report(d);
        this.unclosedReported = true;
      }
      return block;
    }
    block.closeBrace = this.span(body.close);
    if (!inline) this.expectEndOfItem(typeIdx, this.e[body.close], true);
    return block;
  }

  /**
   * A block header with something other than a label or `{`. Reports it and, when the
   * line still ends in `{`, carries on with the body so its contents are not lost.
   * Returns the opening brace's token index, or -1 when the header has no body.
   */
  private badBlockHeader(typeIdx: number, i: number): number {
    const k = this.kind(i);
    const headerLineIndent = this.column(this.s[typeIdx]);
    if (k === NEWLINE) {
      // `policy "x"` with the brace on the next line.
      const j = this.nextNonNewline();
      this.report(M.invalidBlockDefinition(
        'A block definition must have block content delimited by "{" and "}", starting on the same line as the block header. ' +
        (this.kind(j) === OBRACE ? 'Move the "{" up to the end of this line.' : 'Add "{" at the end of this line.'),
        this.s[i], this.e[i]));
      if (this.kind(j) === OBRACE) {
        this.pos = j + 1;
        this.lastEnd = this.e[j];
        return j;
      }
    } else if (k === EQUAL) {
      this.report(M.invalidBlockDefinition(
        'The equals sign "=" indicates an argument definition, and must not be used when defining a block. Remove the "=".',
        this.s[i], this.e[i]));
    } else if (k === EOF) {
      this.report(M.invalidBlockDefinition(
        'Either a quoted string block label or an opening brace ("{") is expected here, but the file ends.', this.s[i], this.s[i]));
      return -1;
    } else {
      this.report(M.invalidBlockDefinition(
        `Either a quoted string block label or an opening brace ("{") is expected here, but found ${this.describe(i)}.`,
        this.s[i], this.end(i)));
    }
    // Look for a `{` ending this line: then only the header is garbled.
    let j = i;
    let lastBrace = -1;
    while (this.kind(j) !== NEWLINE && this.kind(j) !== EOF) {
      lastBrace = this.kind(j) === OBRACE ? j : -1;
      j++;
    }
    if (lastBrace >= 0) {
      this.pos = lastBrace + 1;
      this.lastEnd = this.e[lastBrace];
      return lastBrace;
    }
    // No body on this line: skip it, and any more-indented lines that follow
    // (the body of the broken block) up to a closing brace at the header's indentation.
    this.pos = j;
    this.skipIndentedBody(headerLineIndent);
    return -1;
  }

  private skipIndentedBody(headerCol: number): void {
    for (;;) {
      if (this.kind(this.pos) === NEWLINE) this.read();
      const j = this.nextNonNewline();
      if (this.kind(j) === EOF) return;
      const col = this.column(this.s[j]);
      if (col <= headerCol) {
        if (this.kind(j) === CBRACE && this.firstOnLine(j)) {
          this.pos = j + 1;
          this.lastEnd = this.e[j];
        }
        return;
      }
      this.pos = j;
      while (this.kind(this.pos) !== NEWLINE && this.kind(this.pos) !== EOF) this.pos++;
    }
  }

  /** Skip to after the `}` matching an already consumed `{` (or to EOF). */
  private skipBalancedBraces(): void {
    let depth = 1;
    for (;;) {
      const k = this.kind(this.pos);
      if (k === EOF) return;
      this.lastEnd = this.e[this.pos];
      this.pos++;
      if (k === OBRACE) depth++;
      else if (k === CBRACE && --depth === 0) return;
    }
  }

  private parseQuotedLabel(): BlockLabel {
    const open = this.read();
    let value = '';
    for (;;) {
      const i = this.pos;
      const k = this.kind(i);
      if (k === QUOTED_LIT) {
        value += decodeQuotedLiteral(this.text, this.s[i], this.e[i], this.diags, this.diagStarts, this.intern);
        this.pos++;
      } else if (k === CQUOTE) {
        this.pos++;
        this.lastEnd = this.e[i];
        break;
      } else if (k === INVALID) {
        this.pos++; // a bad character inside the label, already reported
      } else if (k === TEMPLATE_INTERP || k === TEMPLATE_CONTROL) {
        const which = k === TEMPLATE_INTERP ? '$' : '%';
        this.report(M.diag('hcl.invalid-string-literal', 'Invalid string literal',
          `Template sequences are not allowed in this string. To include a literal "${which}", double it (as "${which}${which}") to escape it.`,
          this.s[i], this.e[i]));
        value += which + '{ ... }';
        this.skipTemplateSequence();
      } else {
        // Cannot happen: the lexer always closes quoted strings.
        break;
      }
    }
    return { value, span: { start: this.s[open], end: this.lastEnd }, quoted: true };
  }

  /** Skip a `${ ... }` / `%{ ... }` sequence starting at the cursor, nesting included. */
  private skipTemplateSequence(): void {
    let depth = 0;
    for (;;) {
      const k = this.kind(this.pos);
      if (k === EOF) return;
      this.pos++;
      if (k === TEMPLATE_INTERP || k === TEMPLATE_CONTROL) depth++;
      else if (k === TEMPLATE_SEQ_END && --depth === 0) {
        this.lastEnd = this.e[this.pos - 1];
        return;
      }
    }
  }

  /**
   * Which `{` inside an unclosed block lacks its `}`? Usually the one whose closing
   * brace sits left of where it was opened: that brace was meant for an enclosing
   * block. Point at it in the detail and as related information.
   */
  private explainMissingBrace(d: Diagnostic, items: Item[]): void {
    const found = this.findMisindentedClose(items);
    if (!found) return;
    const [open, close] = found;
    d.detail = d.detail.replace(M.UNCLOSED_NESTING_HINT,
      `The "${this.text[close]}" on line ${M.lineOf(this.text, close)} is indented like an enclosing block's brace but closes ` +
      `the "${this.text[open]}" on line ${M.lineOf(this.text, open)}, which is probably the one missing its closing brace.`);
    d.related = [{ span: { start: open, end: open + 1 }, message: 'This is probably the unclosed one' }];
  }

  /** [open, close] offsets of the first bracket pair closed at a lesser indentation. */
  private findMisindentedClose(items: Item[]): [number, number] | null {
    const misindented = (open: number, close: number): boolean =>
      this.indentOf(close).length === this.column(close) && this.column(close) < this.indentOf(open).length;
    const inValue = (v: Value): [number, number] | null => {
      if (v.kind !== 'tuple' && v.kind !== 'object') return null;
      const close = v.span.end - 1;
      const closer = v.kind === 'tuple' ? ']' : '}';
      if (this.text[close] === closer && misindented(v.span.start, close)) return [v.span.start, close];
      for (const it of v.kind === 'tuple' ? v.items : v.items.map((i) => i.value)) {
        const r = inValue(it);
        if (r) return r;
      }
      return null;
    };
    for (const it of items) {
      if (it.kind === 'attribute') {
        const r = inValue(it.value);
        if (r) return r;
        continue;
      }
      if (it.closeBrace && misindented(it.openBrace.start, it.closeBrace.start)) return [it.openBrace.start, it.closeBrace.start];
      const r = this.findMisindentedClose(it.body.items);
      if (r) return r;
    }
    return null;
  }

  /**
   * The body after `{`. Either a normal multi-line body, or (when something follows
   * the brace on the same line) a single-line block, which HCL restricts to one
   * argument. We parse any number of items on that line so nothing is lost, and
   * report a violation once, with a fix that expands the block.
   */
  private parseBlockBody(openIdx: number): BodyResult {
    this.nl = true;
    const k = this.peekKind();
    if (k === NEWLINE || k === EOF || k === CBRACE) {
      const items: Item[] = [];
      return { items, close: this.parseBodyItems(items, true) };
    }
    return this.parseInlineBody(openIdx);
  }

  private parseInlineBody(openIdx: number): BodyResult {
    const items: Item[] = [];
    let sawComma = false;
    let junk = false;
    for (;;) {
      this.nl = true;
      const i = this.next();
      const k = this.kind(i);
      if (k === CBRACE) {
        this.read();
        if (!junk) this.checkSingleLine(openIdx, items, sawComma, i);
        return { items, close: i };
      }
      if (k === EOF) return { items, close: -1 };
      if (k === NEWLINE) {
        // `b { a = 1` + newline: a single-line block must close on its line.
        if (items.length > 0) this.reportUnclosedSingleLine(openIdx, items[0]);
        const close = this.parseBodyItems(items, true);
        return { items, close };
      }
      if (k === COMMA && items.length > 0) {
        sawComma = true;
        this.read();
        continue;
      }
      if (k === IDENT) {
        const kn = this.kind(this.next() + 1);
        const nameIdx = this.read();
        let item: Item | null = null;
        if (kn === EQUAL) item = this.parseAttribute(nameIdx, true);
        else if (kn === OQUOTE || kn === OBRACE || kn === IDENT) item = this.parseBlock(nameIdx, true);
        else {
          this.report(M.argumentOrBlockRequired(this.s[nameIdx], this.e[nameIdx],
            'An argument or block definition is required here. To set an argument, use the equals sign "=" to introduce the argument value.'));
          junk = true;
          this.skipToInlineEnd();
        }
        if (item) items.push(item);
        if (item && item.kind === 'block' && !item.closeBrace) return { items, close: -1 };
        continue;
      }
      if (k !== INVALID) {
        this.report(M.diag('hcl.single-line-block', 'Invalid single-argument block definition',
          'A single-line block definition must end with a closing brace immediately after its single argument definition.',
          this.s[i], this.end(i)));
      }
      junk = true;
      this.skipToInlineEnd();
    }
  }

  /** Recovery inside a single-line body: skip to its `}` or the end of the line. */
  private skipToInlineEnd(): void {
    let depth = 0;
    for (;;) {
      const i = this.pos;
      const k = this.kind(i);
      if (k === EOF || (k === NEWLINE && depth === 0)) return;
      if (k === CBRACE && depth === 0) return;
      if (k === OBRACE || k === OBRACK || k === OPAREN || k === OQUOTE || k === OHEREDOC ||
        k === TEMPLATE_INTERP || k === TEMPLATE_CONTROL) depth++;
      else if ((k === CBRACE || k === CBRACK || k === CPAREN || k === CQUOTE || k === CHEREDOC ||
        k === TEMPLATE_SEQ_END) && depth > 0) depth--;
      this.pos++;
      this.lastEnd = this.e[i];
    }
  }

  /** A closed single-line block: HCL allows exactly one argument and nothing else. */
  private checkSingleLine(openIdx: number, items: Item[], sawComma: boolean, closeIdx: number): void {
    if (items.length === 0) return;
    if (items.length === 1 && items[0].kind === 'attribute' && !sawComma) return;
    const hasBlock = items.some((it) => it.kind === 'block');
    const culprit = items.length > 1 ? items[1] : items[0];
    const at = culprit.kind === 'attribute' ? culprit.nameSpan : culprit.typeSpan;
    const detail = hasBlock
      ? 'A single-line block definition cannot contain another block definition. Put each argument and nested block on its own line.'
      : 'A single-line block definition can contain only one argument definition. Put each argument on its own line: ' +
        'use the multi-line block syntax with one argument definition per line.';
    const d = M.diag('hcl.single-line-block', 'Invalid single-argument block definition', detail, at.start, at.end);
    const fix = this.expandFix(openIdx, closeIdx, items);
    if (fix) d.fixes = [fix];
    this.report(d);
  }

  private reportUnclosedSingleLine(openIdx: number, first: Item): void {
    const at = first.kind === 'attribute' ? first.nameSpan : first.typeSpan;
    const d = M.diag('hcl.single-line-block', 'Invalid single-argument block definition',
      'An argument definition on the same line as its containing block creates a single-line block definition, ' +
      'which must also be closed on the same line. Move the argument onto its own line below the "{".',
      at.start, at.end);
    const indent = this.indentOf(this.s[openIdx]);
    d.fixes = [{
      title: 'Move the argument onto its own line',
      edits: [{ span: { start: this.e[openIdx], end: at.start }, newText: '\n' + indent + '  ' }],
      preferred: true,
    }];
    this.report(d);
  }

  /**
   * The "Expand block onto multiple lines" fix. Not offered when comments sit
   * between the braces, since re-rendering the items would drop them.
   */
  private expandFix(openIdx: number, closeIdx: number, items: Item[]): Fix | undefined {
    for (let j = openIdx; j < closeIdx; j++) {
      for (let p = this.e[j]; p < this.s[j + 1]; p++) {
        const c = this.text.charCodeAt(p);
        if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return undefined;
      }
    }
    return expandBlockFix(this.text, this.e[openIdx], this.s[closeIdx], items, this.indentOf(this.s[openIdx]));
  }

  /** HCL: each argument may be set once per body. Keeps the first, reports the others. */
  private checkDuplicates(items: Item[]): void {
    let attrs = 0;
    for (const it of items) if (it.kind === 'attribute') attrs++;
    if (attrs < 2) return;
    // Bodies are small: a linear scan beats allocating a Map for each one.
    const seen = attrs > 16 ? new Map<string, Attribute>() : null;
    let w = 0;
    for (let r = 0; r < items.length; r++) {
      const it = items[r];
      if (it.kind === 'attribute') {
        const first = seen ? seen.get(it.name) : findAttribute(items, w, it.name);
        if (first) {
          this.report(M.attributeRedefined(it.name, M.lineOf(this.text, first.nameSpan.start),
            it.nameSpan.start, it.nameSpan.end, first.nameSpan.start, first.nameSpan.end));
          continue;
        }
        seen?.set(it.name, it);
      }
      items[w++] = it;
    }
    if (w !== items.length) items.length = w;
  }

  /**
   * A top-level block ran to the end of the file. If a line inside it starts at
   * column 0 with a block header (`policy "x" {`), the missing `}` most likely
   * belongs before it: re-parse the block stopping there, so the following blocks
   * are read as top-level blocks instead of being swallowed.
   */
  private cutUnclosedTopLevelBlock(items: Item[], diagsBefore: number): void {
    if (this.limit !== this.eofIdx) return;
    const block = items[items.length - 1] as Block;
    const typeIdx = this.tokenIndexAt(block.typeSpan.start);
    const openIdx = this.tokenIndexAt(block.openBrace.start);
    const cut = this.findColumnZeroBlockStart(openIdx + 1);
    if (cut < 0) return;
    items.pop();
    for (let d = diagsBefore; d < this.diags.length; d++) this.diagStarts.delete(this.diags[d].span.start);
    this.diags.length = diagsBefore;
    // Lexer diagnostics were registered up front; keep them registered.
    for (const d of this.diags) this.diagStarts.add(d.span.start);
    this.unclosedReported = false;
    this.pos = typeIdx;
    this.limit = cut;
    const again = this.parseItem(false);
    if (again) items.push(again);
    this.limit = this.eofIdx;
    this.pos = cut;
    this.unclosedReported = false;
  }

  private tokenIndexAt(offset: number): number {
    let lo = 0;
    let hi = this.eofIdx;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.s[mid] < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private findColumnZeroBlockStart(from: number): number {
    for (let i = from; i < this.eofIdx; i++) {
      if (this.k[i] !== IDENT || this.k[i - 1] !== NEWLINE || this.column(this.s[i]) !== 0) continue;
      let j = i + 1;
      for (;;) {
        const k = this.k[j];
        if (k === IDENT) { j++; continue; }
        if (k === OQUOTE) {
          while (this.k[j] !== CQUOTE && j < this.eofIdx) j++;
          j++;
          continue;
        }
        break;
      }
      if (this.k[j] === OBRACE) return i;
    }
    return -1;
  }

  // ------------------------------------------------------------------ expressions

  /**
   * Where a node that recovery cut short ends: at the last token read, but never before
   * its last child, since the placeholder for a missing value sits at the token the
   * parser failed on, which was not read.
   */
  private endCovering(children: { span: Span }[]): number {
    const last = children[children.length - 1];
    return last ? Math.max(this.lastEnd, last.span.end) : this.lastEnd;
  }

  private exprValue(what: What, start: number, end: number): ExpressionValue {
    return { kind: 'expression', what, text: this.text.slice(start, end), span: { start, end } };
  }

  parseExpression(): Value {
    const first = this.next();
    const cond = this.parseBinary(1);
    if (this.bail || this.peekKind() !== QUESTION) return cond;
    this.read();
    this.parseExpression();
    if (this.bail) return this.exprValue('conditional', this.s[first], this.lastEnd);
    const colon = this.next();
    if (this.kind(colon) !== COLON) {
      this.fail(M.diag('hcl.missing-false-expression', 'Missing false expression in conditional',
        'The conditional operator (...?...:...) requires a false expression, delimited by a colon.',
        this.s[colon], this.end(colon)));
      return this.exprValue('conditional', this.s[first], this.lastEnd);
    }
    this.read();
    this.parseExpression();
    return this.exprValue('conditional', this.s[first], this.lastEnd);
  }

  /** Precedence climbing; operators of one level associate to the left. */
  private parseBinary(minPrec: number): Value {
    const first = this.next();
    let lhs = this.parseOperand();
    for (;;) {
      if (this.bail) return lhs;
      const prec = PREC[this.peekKind()];
      if (prec === 0 || prec < minPrec) return lhs;
      this.read();
      this.parseBinary(prec + 1);
      lhs = this.exprValue('operator', this.s[first], this.lastEnd);
    }
  }

  /** A term with its traversals, or a unary operator applied to one. */
  private parseOperand(): Value {
    const i = this.next();
    if (this.depth >= MAX_DEPTH) {
      this.fail(tooDeep(this.s[i], this.end(i)));
      return this.exprValue('reference', this.s[i], this.s[i]);
    }
    this.depth++;
    const v = this.parseOperandInner(i);
    this.depth--;
    return v;
  }

  private parseOperandInner(i: number): Value {
    const k = this.kind(i);
    if (k === MINUS || k === BANG) {
      this.read();
      const operand = this.parseOperand();
      // `-5` is how people write negative numbers; HCL folds it into a literal too.
      if (k === MINUS && operand.kind === 'number' && !this.bail && operand.raw.charCodeAt(0) !== 0x2d) {
        const raw = this.text.slice(this.s[i], operand.span.end);
        return { kind: 'number', value: -operand.value, raw, span: { start: this.s[i], end: operand.span.end } };
      }
      return this.exprValue('operator', this.s[i], this.lastEnd);
    }
    const term = this.parseTerm();
    if (this.bail) return term;
    return this.parseTraversals(term);
  }

  private parseTerm(): Value {
    const i = this.next();
    switch (this.kind(i)) {
      case NUMBER: return this.parseNumber(i);
      case IDENT: return this.parseIdentTerm(i);
      case OQUOTE: return this.parseTemplate(CQUOTE);
      case OHEREDOC: return this.parseTemplate(CHEREDOC);
      case OBRACK: return this.parseTuple();
      case OBRACE: return this.parseObject();
      case OPAREN: return this.parseParens();
      case EOF:
        this.fail(M.missingExpression(this.s[i]));
        return this.exprValue('reference', this.s[i], this.s[i]);
      default:
        this.fail(M.invalidExpression(this.describe(i), this.s[i], this.errEnd(i)));
        return this.exprValue('reference', this.s[i], this.s[i]);
    }
  }

  private parseNumber(i: number): Value {
    this.read();
    const raw = this.tokenText(i);
    if (!isValidNumber(raw)) {
      this.fail(M.diag('hcl.invalid-number', 'Invalid number literal',
        `Failed to recognize the value of this number literal: ${M.show(raw)} is not a number. ` +
        'Numbers are written like 42, 1.5 or 1e3.', this.s[i], this.e[i]));
      return this.exprValue('reference', this.s[i], this.e[i]);
    }
    return { kind: 'number', value: Number(raw), raw, span: this.span(i) };
  }

  private parseIdentTerm(i: number): Value {
    this.read();
    if (this.peekKind() === OPAREN) return this.parseCall(i);
    const len = this.e[i] - this.s[i];
    if (len === 4 && this.isIdent(i, 'true')) return { kind: 'bool', value: true, span: this.span(i) };
    if (len === 5 && this.isIdent(i, 'false')) return { kind: 'bool', value: false, span: this.span(i) };
    if (len === 4 && this.isIdent(i, 'null')) return { kind: 'null', span: this.span(i) };
    return this.exprValue('reference', this.s[i], this.e[i]);
  }

  private parseParens(): Value {
    const open = this.read();
    const saved = this.nl;
    this.nl = false;
    this.open.push(open);
    this.parseExpression();
    if (!this.bail) {
      const close = this.next();
      if (this.kind(close) !== CPAREN) {
        this.fail(M.diag('hcl.unbalanced-parentheses', 'Unbalanced parentheses',
          `Expected a closing parenthesis to terminate the expression, but found ${this.describe(close)}. Add the missing ")".`,
          this.s[close], this.end(close)));
      } else {
        this.read();
        this.open.pop();
      }
    }
    this.nl = saved;
    return this.exprValue('parenthesized expression', this.s[open], this.lastEnd);
  }

  private parseCall(nameIdx: number): Value {
    const open = this.read();
    const saved = this.nl;
    this.nl = false;
    this.open.push(open);
    for (;;) {
      if (this.peekKind() === CPAREN) {
        this.read();
        break;
      }
      this.parseExpression();
      if (this.bail) break;
      const sep = this.read();
      const k = this.kind(sep);
      if (k === CPAREN) break;
      if (k === ELLIPSIS) {
        if (this.peekKind() !== CPAREN) {
          this.fail(M.diag('hcl.missing-closing-parenthesis', 'Missing closing parenthesis',
            'An expanded function argument (with ...) must be immediately followed by closing parentheses.',
            this.s[sep], this.e[sep]));
          break;
        }
        this.read();
        break;
      }
      if (k !== COMMA) {
        if (k === EOF) {
          this.fail(M.diag('hcl.unterminated-function-call', 'Unterminated function call',
            'There is no closing parenthesis for this function call before the end of the file. ' +
            'This may be caused by incorrect parenthesis nesting elsewhere in this file.', this.s[nameIdx], this.e[open]));
        } else {
          this.fail(M.diag('hcl.missing-argument-separator', 'Missing argument separator',
            `A comma is required to separate each function argument from the next, but found ${this.describe(sep)}.`,
            this.s[sep], this.errEnd(sep)));
        }
        break;
      }
      if (this.peekKind() === CPAREN) {
        this.read();
        break;
      }
    }
    if (!this.bail) this.open.pop();
    this.nl = saved;
    return this.exprValue('function call', this.s[nameIdx], this.lastEnd);
  }

  private parseTraversals(term: Value): Value {
    let what: What | null = null;
    // A bare name followed by attribute/constant-index steps is a reference; any
    // other traversal is "index or attribute access"; a splat anywhere wins.
    const isRef = term.kind === 'expression' && term.what === 'reference';
    for (;;) {
      const i = this.next();
      const k = this.kind(i);
      if (k === DOT) {
        this.read();
        const step = this.parseDotStep();
        if (step === 'splat') what = 'splat';
        else if (what !== 'splat') what = isRef && what !== 'index or attribute access' ? 'reference' : 'index or attribute access';
      } else if (k === OBRACK) {
        this.read();
        const step = this.parseIndexStep(i);
        if (step === 'splat') what = 'splat';
        else if (what !== 'splat') {
          what = isRef && step === 'constant' && what !== 'index or attribute access' ? 'reference' : 'index or attribute access';
        }
      } else break;
      if (this.bail) break;
    }
    if (what === null) return term;
    return this.exprValue(what, term.span.start, this.lastEnd);
  }

  /** After `.`: a name, a legacy index `.0`, or an attribute-only splat `.*`. */
  private parseDotStep(): 'attr' | 'splat' {
    const i = this.next();
    const k = this.kind(i);
    if (k === IDENT) {
      this.read();
      return 'attr';
    }
    if (k === NUMBER) {
      this.read();
      this.checkLegacyIndex(i, '');
      return 'attr';
    }
    if (k === STAR) {
      this.read();
      // `.*` takes only further `.name` / `.0` steps.
      while (!this.bail && this.peekKind() === DOT) {
        const dot = this.read();
        const j = this.next();
        const kj = this.kind(j);
        if (kj === IDENT) this.read();
        else if (kj === NUMBER) {
          this.read();
          this.checkLegacyIndex(j, ' with a full splat expression [*]');
        } else if (kj === STAR) {
          this.fail(M.diag('hcl.nested-splat', 'Nested splat expression not allowed',
            'A splat expression (*) cannot be used inside another attribute-only splat expression.', this.s[j], this.e[j]));
        } else {
          this.fail(M.diag('hcl.invalid-attribute-name', 'Invalid attribute name',
            'An attribute name is required after a dot.', this.s[dot], this.e[dot]));
        }
      }
      return 'splat';
    }
    this.fail(M.diag('hcl.invalid-attribute-name', 'Invalid attribute name',
      `An attribute name is required after a dot, but found ${this.describe(i)}.`, this.s[i], this.end(i)));
    return 'attr';
  }

  private checkLegacyIndex(i: number, how: string): void {
    const raw = this.tokenText(i);
    const dot = raw.indexOf('.');
    if (dot >= 0) {
      this.fail(M.diag('hcl.invalid-legacy-index', 'Invalid legacy index syntax',
        `When using the legacy index syntax, chaining two indexes together is not permitted. Use the proper index syntax${how} instead, like [${raw.slice(0, dot)}][${raw.slice(dot + 1)}].`,
        this.s[i], this.e[i]));
    } else if (!isValidNumber(raw)) {
      this.fail(M.diag('hcl.invalid-number', 'Invalid number literal',
        `Failed to recognize the value of this number literal: ${M.show(raw)} is not a number.`, this.s[i], this.e[i]));
    }
  }

  /** After `[`: a full splat `[*]` or an index expression. */
  private parseIndexStep(open: number): 'constant' | 'dynamic' | 'splat' {
    if (this.peekKind() === STAR) {
      this.read();
      const close = this.read();
      if (this.kind(close) !== CBRACK) {
        this.fail(M.diag('hcl.missing-close-bracket', 'Missing close bracket on splat index',
          'The star for a full splat operator must be immediately followed by a closing bracket ("]").',
          this.s[close], this.end(close)));
      }
      return 'splat';
    }
    const saved = this.nl;
    this.nl = false;
    this.open.push(open);
    const key = this.parseExpression();
    if (!this.bail) {
      const close = this.next();
      if (this.kind(close) !== CBRACK) {
        this.fail(M.diag('hcl.missing-close-bracket', 'Missing close bracket on index',
          `The index operator must end with a closing bracket ("]"), but found ${this.describe(close)}.`,
          this.s[close], this.end(close)));
      } else {
        this.read();
        this.open.pop();
      }
    }
    this.nl = saved;
    return key.kind === 'expression' ? 'dynamic' : 'constant';
  }

  // ------------------------------------------------------------------ collections

  private parseTuple(): Value {
    const open = this.read();
    const saved = this.nl;
    this.nl = false;
    if (this.isIdent(this.next(), 'for')) {
      const v = this.parseFor(open, false);
      this.nl = saved;
      return v;
    }
    this.open.push(open);
    const items: Value[] = [];
    for (;;) {
      if (this.peekKind() === CBRACK) {
        this.read();
        break;
      }
      items.push(this.parseExpression());
      if (this.bail) break;
      const sep = this.next();
      const k = this.kind(sep);
      if (k === CBRACK) {
        this.read();
        break;
      }
      if (k === COMMA) {
        this.read();
        continue;
      }
      this.giveBackArgument(items);
      this.missingSeparator(open, this.next(), false);
      break;
    }
    if (!this.bail) this.open.pop();
    this.nl = saved;
    return { kind: 'tuple', items, span: { start: this.s[open], end: this.endCovering(items) } };
  }

  /**
   * `instances = ["a",` + newline + `engine = "x"`: the tuple swallowed `engine` as an
   * item before tripping over `=`. When the last item is a bare name starting its own
   * line and starting an argument or block, hand it back so the body parses it.
   */
  private giveBackArgument(items: Value[]): void {
    const last = items[items.length - 1];
    if (last.kind !== 'expression' || last.what !== 'reference') return;
    const tok = this.tokenIndexAt(last.span.start);
    if (!this.firstOnLine(tok) || !this.startsItem(tok)) return;
    items.pop();
    this.pos = tok;
    let prev = tok - 1;
    while (prev > 0 && this.k[prev] === NEWLINE) prev--;
    this.lastEnd = this.e[prev];
  }

  /**
   * A tuple or object item not followed by a separator. When the stray token sits on
   * a later line and starts an argument or closes the block, the bracket was most
   * likely never closed: say so at the bracket, and leave the token for the body.
   */
  private missingSeparator(open: number, sep: number, object: boolean): void {
    const k = this.kind(sep);
    const name = object ? 'object' : 'tuple';
    const closer = object ? '}' : ']';
    const unclosed = k === EOF ||
      (this.firstOnLine(sep) && (this.startsItem(sep) || k === CBRACE) && sep > open);
    if (unclosed) {
      this.fail(M.diag(`hcl.unterminated-${name}`, `Unterminated ${name} constructor expression`,
        `There is no corresponding closing ${object ? 'brace' : 'bracket'} for this ${name} ` +
        `${k === EOF ? 'before the end of the file' : 'before the next argument'}. Add the missing "${closer}".`,
        this.s[open], this.e[open]));
      this.open.length = 0; // nothing left to skip: the next line starts fresh
      return;
    }
    if (object) {
      this.fail(M.diag('hcl.missing-attribute-separator', 'Missing attribute separator',
        'Expected a newline or comma to mark the beginning of the next attribute.', this.s[sep], this.errEnd(sep)));
    } else {
      this.fail(M.diag('hcl.missing-item-separator', 'Missing item separator',
        `Expected a comma to mark the beginning of the next item, but found ${this.describe(sep)}.`,
        this.s[sep], this.errEnd(sep)));
    }
  }

  private parseObject(): Value {
    const open = this.read();
    const saved = this.nl;
    this.nl = false;
    if (this.isIdent(this.next(), 'for')) {
      const v = this.parseFor(open, true);
      this.nl = saved;
      return v;
    }
    // Object items are separated by newlines or commas, so newlines count here.
    this.nl = true;
    this.open.push(open);
    const items: ObjectItem[] = [];
    for (;;) {
      const i = this.next();
      const k = this.kind(i);
      if (k === NEWLINE) {
        this.read();
        continue;
      }
      if (k === CBRACE) {
        this.read();
        break;
      }
      const keyVal = this.parseExpression();
      if (this.bail) break;
      const sepTok = this.next();
      const ks = this.kind(sepTok);
      if (ks !== EQUAL && ks !== COLON) {
        this.missingKeyValueSeparator(open, sepTok);
        break;
      }
      this.read();
      const value = this.parseExpression();
      items.push(this.objectItem(i, keyVal, value));
      if (this.bail) break;
      const after = this.next();
      const ka = this.kind(after);
      if (ka === CBRACE) {
        this.read();
        break;
      }
      if (ka === COMMA || ka === NEWLINE) {
        this.read();
        continue;
      }
      this.missingSeparator(open, after, true);
      break;
    }
    if (!this.bail) this.open.pop();
    this.nl = saved;
    return { kind: 'object', items, span: { start: this.s[open], end: this.endCovering(items.map((i) => i.value)) } };
  }

  private missingKeyValueSeparator(open: number, i: number): void {
    const k = this.kind(i);
    if (k === NEWLINE || k === COMMA) {
      this.fail(M.diag('hcl.missing-attribute-value', 'Missing attribute value',
        'Expected an attribute value, introduced by an equals sign ("=").', this.s[i], this.end(i)));
    } else if (k === EOF) {
      this.missingSeparator(open, i, true);
    } else if (k === IDENT) {
      this.fail(M.diag('hcl.missing-key-value-separator', 'Missing key/value separator',
        'Expected an equals sign ("=") to mark the beginning of the attribute value. If you intended to give an attribute ' +
        'name containing periods or spaces, write the name in quotes to create a string literal.', this.s[i], this.end(i)));
    } else {
      this.fail(M.diag('hcl.missing-key-value-separator', 'Missing key/value separator',
        `Expected an equals sign ("=") to mark the beginning of the attribute value, but found ${this.describe(i)}.`,
        this.s[i], this.end(i)));
    }
  }

  /** Object keys: a bare name or literal is the key itself; anything else is an expression. */
  private objectItem(keyTok: number, key: Value, value: Value): ObjectItem {
    const keySpan = key.span;
    switch (key.kind) {
      case 'string': return { key: key.value, keySpan, value };
      case 'number':
        // `-1` is a unary minus applied to 1, which HCL (and hcl2json) treat as an expression key.
        if (key.raw.charCodeAt(0) === 0x2d) return { key: key.raw, keySpan, keyIsExpression: true, value };
        return { key: formatNumberKey(key.raw), keySpan, value };
      case 'bool': return { key: key.value ? 'true' : 'false', keySpan, value };
      case 'null': return { key: 'null', keySpan, value };
      case 'expression':
        if (key.what === 'reference' && keySpan.end === this.e[keyTok] && this.kind(keyTok) === IDENT) {
          return { key: key.text, keySpan, value };
        }
        return { key: key.text, keySpan, keyIsExpression: true, value };
      default:
        return { key: this.text.slice(keySpan.start, keySpan.end), keySpan, keyIsExpression: true, value };
    }
  }

  /** `[for x in xs : x if c]` / `{for k, v in m : k => v... if c}`. */
  private parseFor(open: number, object: boolean): Value {
    const closeKind = object ? CBRACE : CBRACK;
    this.nl = false;
    this.open.push(open);
    this.read(); // for
    const bad = (detail: string): Value => {
      const i = this.next();
      this.fail(M.diag('hcl.invalid-for-expression', "Invalid 'for' expression", detail, this.s[i], this.end(i)));
      return this.exprValue('for expression', this.s[open], this.lastEnd);
    };
    if (this.peekKind() !== IDENT) return bad("For expression requires variable name after 'for'.");
    this.read();
    if (this.peekKind() === COMMA) {
      this.read();
      if (this.peekKind() !== IDENT) return bad('For expression requires value variable name after comma.');
      this.read();
    }
    if (!this.isIdent(this.next(), 'in')) return bad("For expression requires the 'in' keyword after its name declarations.");
    this.read();
    this.parseExpression();
    if (this.bail) return this.exprValue('for expression', this.s[open], this.lastEnd);
    if (this.peekKind() !== COLON) return bad('For expression requires a colon after the collection expression.');
    this.read();
    const first = this.next();
    this.parseExpression();
    let keyExpr = -1;
    if (!this.bail && this.peekKind() === FAT_ARROW) {
      keyExpr = first;
      this.read();
      this.parseExpression();
    }
    if (this.bail) return this.exprValue('for expression', this.s[open], this.lastEnd);
    let ellipsis = -1;
    if (this.peekKind() === ELLIPSIS) ellipsis = this.read();
    if (this.isIdent(this.next(), 'if')) {
      this.read();
      this.parseExpression();
      if (this.bail) return this.exprValue('for expression', this.s[open], this.lastEnd);
    }
    if (this.peekKind() !== closeKind) return bad("Extra characters after the end of the 'for' expression.");
    const close = this.read();
    this.open.pop();
    if (!object && keyExpr >= 0) {
      this.report(M.diag('hcl.invalid-for-expression', "Invalid 'for' expression",
        'Key expression is not valid when building a tuple. Use {...} to build an object, or remove the "=>" part.',
        this.s[keyExpr], this.s[keyExpr] + 1));
    }
    if (!object && ellipsis >= 0) {
      this.report(M.diag('hcl.invalid-for-expression', "Invalid 'for' expression",
        'Grouping ellipsis (...) cannot be used when building a tuple.', this.s[ellipsis], this.e[ellipsis]));
    }
    if (object && keyExpr < 0) {
      this.report(M.diag('hcl.invalid-for-expression', "Invalid 'for' expression",
        'Key expression is required when building an object. Write it as "key => value".', this.s[first], this.end(first)));
    }
    return this.exprValue('for expression', this.s[open], this.e[close]);
  }

  // ------------------------------------------------------------------ templates

  /**
   * A quoted string or heredoc. Without `${}`/`%{}` sequences it is a literal string
   * (escapes decoded, `<<-` indentation removed); otherwise a template expression.
   */
  private parseTemplate(closeKind: number): Value {
    const open = this.read();
    // Fast path for the overwhelmingly common `"plain text"`.
    const lit = this.pos;
    if (closeKind === CQUOTE && this.k[lit] === QUOTED_LIT && this.k[lit + 1] === CQUOTE && lit + 1 < this.limit) {
      this.pos = lit + 2;
      this.lastEnd = this.e[lit + 1];
      const value = decodeQuotedLiteral(this.text, this.s[lit], this.e[lit], this.diags, this.diagStarts, this.intern);
      return { kind: 'string', value: toNFC(value), span: { start: this.s[open], end: this.lastEnd } };
    }
    const heredoc = closeKind === CHEREDOC;
    let literal = '';
    let lines: string[] | null = null;
    let hasSeq = false;
    // Open if/for directives, to check they balance (HCL's template parser does).
    let directives: Directive[] | null = null;
    for (;;) {
      const i = this.pos;
      const k = this.kind(i);
      if (k === closeKind) {
        this.pos++;
        this.lastEnd = this.e[i];
        break;
      }
      if (k === QUOTED_LIT) {
        if (!hasSeq) literal += decodeQuotedLiteral(this.text, this.s[i], this.e[i], this.diags, this.diagStarts, this.intern);
        else decodeQuotedLiteral(this.text, this.s[i], this.e[i], this.diags, this.diagStarts);
        this.pos++;
      } else if (k === STRING_LIT) {
        if (!hasSeq) (lines ??= []).push(decodeHeredocLiteral(this.text, this.s[i], this.e[i]));
        this.pos++;
      } else if (k === TEMPLATE_INTERP) {
        hasSeq = true;
        this.parseInterpolation(closeKind);
      } else if (k === TEMPLATE_CONTROL) {
        hasSeq = true;
        this.parseDirective((directives ??= []));
      } else if (k === INVALID) {
        this.pos++; // a bad character inside the string, already reported
      } else {
        // Only reachable through a malformed stream; the lexer reported the cause.
        this.fail(M.diag('hcl.unterminated-string', 'Unterminated template string',
          'No closing marker was found for the string.', this.s[open], this.e[open]));
      }
      if (this.bail) return this.exprValue('template', this.s[open], this.lastEnd);
    }
    if (directives !== null && directives.length > 0) {
      const d = directives[directives.length - 1];
      const closeAt = this.lastEnd;
      this.report(M.diag('hcl.unbalanced-directive', 'Unexpected end of template',
        `The ${d.kw} directive at line ${M.lineOf(this.text, d.at)} is missing its corresponding end${d.kw} directive. ` +
        `Add %{ end${d.kw} }.`, Math.max(this.s[open], closeAt - 1), closeAt));
    }
    const span = { start: this.s[open], end: this.lastEnd };
    if (hasSeq) return this.exprValue('template', span.start, span.end);
    if (heredoc) {
      const flush = this.text.charCodeAt(this.s[open] + 2) === 0x2d;
      const value = lines === null ? '' : flush ? flushHeredocLines(lines) : lines.join('');
      return { kind: 'string', value: toNFC(value), span, heredoc: true };
    }
    return { kind: 'string', value: toNFC(literal), span };
  }

  private parseInterpolation(closeKind: number): void {
    const open = this.read();
    const saved = this.nl;
    this.nl = false;
    this.open.push(open);
    this.parseExpression();
    if (!this.bail) {
      const close = this.next();
      const k = this.kind(close);
      if (k === TEMPLATE_SEQ_END) {
        this.read();
        this.open.pop();
      } else if (k === COLON) {
        this.fail(M.diag('hcl.extra-characters-in-interpolation', 'Extra characters after interpolation expression',
          'Template interpolation doesn\'t expect a colon at this location. Did you intend this to be a literal sequence to be ' +
          'processed as part of another language? If so, you can escape it by starting with "$${" instead of just "${".',
          this.s[close], this.end(close)));
      } else if ((k === CQUOTE || k === OQUOTE) && closeKind === CQUOTE) {
        this.fail(M.diag('hcl.unclosed-interpolation', 'Unclosed template interpolation sequence',
          'There is no closing brace for this interpolation sequence before the end of the quoted template. ' +
          'This might be caused by incorrect nesting inside the given expression; add the missing "}".',
          this.s[open], this.e[open]));
      } else {
        this.fail(M.diag('hcl.extra-characters-in-interpolation', 'Extra characters after interpolation expression',
          'Expected a closing brace to end the interpolation expression, but found extra characters. This can happen when ' +
          'you include interpolation syntax for another language, such as shell scripting, but forget to escape the ' +
          'interpolation start token. If this is an embedded sequence for another language, escape it by starting with ' +
          '"$${" instead of just "${".', this.s[close], this.end(close)));
      }
    }
    this.nl = saved;
  }

  /** `%{ if c }`, `%{ else }`, `%{ endif }`, `%{ for x in xs }`, `%{ endfor }`. */
  private parseDirective(directives: Directive[]): void {
    const open = this.read();
    const saved = this.nl;
    this.nl = false;
    this.open.push(open);
    const kw = this.next();
    const unbalanced = (summary: string, detail: string): void => {
      const close = this.next();
      const end = this.kind(close) === TEMPLATE_SEQ_END ? this.e[close] : this.e[kw];
      this.report(M.diag('hcl.unbalanced-directive', summary, detail, this.s[open], end));
    };
    if (this.kind(kw) !== IDENT) {
      this.fail(M.diag('hcl.invalid-template-directive', 'Invalid template directive',
        'A template directive keyword ("if", "for", etc) is expected at the beginning of a %{ sequence.',
        this.s[kw], this.end(kw)));
      this.nl = saved;
      return;
    }
    const word = this.tokenText(kw);
    this.read();
    const top = directives[directives.length - 1];
    switch (word) {
      case 'if':
        this.parseExpression();
        directives.push({ kw: 'if', at: this.s[open], inElse: false });
        break;
      case 'else':
        if (top && top.kw === 'if' && !top.inElse) top.inElse = true;
        else unbalanced('Unexpected else directive', top && top.kw === 'for'
          ? 'An else clause is not expected for a for directive.'
          : top ? 'Already in the else clause for this if directive.' : 'The control directives within this template are unbalanced: there is no %{ if } for this else.');
        break;
      case 'endif':
      case 'endfor': {
        const want = word.slice(3);
        if (top && top.kw === want) directives.pop();
        else {
          unbalanced(`Unexpected ${word} directive`, top
            ? `Expecting an end${top.kw} directive for the ${top.kw} started at line ${M.lineOf(this.text, top.at)}.`
            : 'The control directives within this template are unbalanced.');
        }
        break;
      }
      case 'for':
        this.parseForDirectiveHead();
        directives.push({ kw: 'for', at: this.s[open], inElse: false });
        break;
      default: {
        const suggestion = suggest(word, ['if', 'for', 'else', 'endif', 'endfor']);
        this.fail(M.diag('hcl.invalid-template-control-keyword', 'Invalid template control keyword',
          `"${word}" is not a valid template control keyword.${suggestion ? ` Did you mean "${suggestion}"?` : ''}`,
          this.s[kw], this.e[kw]));
      }
    }
    if (!this.bail) {
      const close = this.next();
      if (this.kind(close) === TEMPLATE_SEQ_END) {
        this.read();
        this.open.pop();
      } else {
        this.fail(M.diag('hcl.extra-characters-in-directive', `Extra characters in ${word} marker`,
          'Expected a closing brace to end the sequence, but found extra characters.', this.s[close], this.end(close)));
      }
    }
    this.nl = saved;
  }

  private parseForDirectiveHead(): void {
    const bad = (detail: string): void => {
      const i = this.next();
      this.fail(M.diag('hcl.invalid-for-directive', "Invalid 'for' directive", detail, this.s[i], this.end(i)));
    };
    if (this.peekKind() !== IDENT) return bad("For directive requires variable name after 'for'.");
    this.read();
    if (this.peekKind() === COMMA) {
      this.read();
      if (this.peekKind() !== IDENT) return bad('For directive requires value variable name after comma.');
      this.read();
    }
    if (!this.isIdent(this.next(), 'in')) return bad("For directive requires 'in' keyword after names.");
    this.read();
    this.parseExpression();
  }
}

/** Deepest nesting of blocks and expressions we parse (about 5 stack frames each). */
const MAX_DEPTH = 256;

function tooDeep(start: number, end: number): Diagnostic {
  return M.diag('hcl.nesting-too-deep', 'Nesting too deep',
    `Blocks and expressions may be nested at most ${MAX_DEPTH} levels deep. Simplify this structure.`, start, end);
}

/**
 * HCL string values are cty strings, which are always NFC-normalized (so "e" plus a
 * combining accent and "é" are the same value). Pure-ASCII strings are already NFC.
 */
function toNFC(s: string): string {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return s.normalize('NFC');
  return s;
}

function findAttribute(items: Item[], count: number, name: string): Attribute | undefined {
  for (let i = 0; i < count; i++) {
    const it = items[i];
    if (it.kind === 'attribute' && it.name === name) return it;
  }
  return undefined;
}

function openerOf(k: number): number {
  switch (k) {
    case CBRACE: return OBRACE;
    case CBRACK: return OBRACK;
    case CPAREN: return OPAREN;
    case CQUOTE: return OQUOTE;
    case CHEREDOC: return OHEREDOC;
    default: return TEMPLATE_INTERP;
  }
}

/** The closest candidate within edit distance 2, as HCL's nameSuggestion does. */
function suggest(given: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDist = 3;
  for (const c of candidates) {
    const d = editDistance(given, c);
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}

/** Parse HCL native syntax. Never throws; problems are reported as diagnostics. */
export function parseHcl(text: string): ParseResult {
  try {
    const lexed = L.lex(text);
    const parser = new Parser(text, lexed);
    const body = parser.parseFile();
    const diagnostics = parser.diags;
    diagnostics.sort((a, b) => a.span.start - b.span.start);
    return { body, diagnostics };
  } catch (err) {
    // A bug, not a syntax error: still honour the "never throws" contract.
    return {
      body: { items: [], span: { start: 0, end: text.length } },
      diagnostics: [M.diag('hcl.internal-error', 'Internal parser error',
        `The HCL parser failed unexpectedly (${(err as Error)?.message ?? String(err)}). Please report this.`, 0, 0)],
    };
  }
}
