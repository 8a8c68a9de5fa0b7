/**
 * Diagnostic texts for HCL syntax errors.
 *
 * Summaries are HashiCorp's own (hclsyntax/parser.go, parser_template.go, token.go) so
 * people can search for them; details start from HashiCorp's sentence and add how to
 * fix the problem where the original only says what is wrong. Codes are stable.
 */
import type { Diagnostic, Fix } from './ast';

export function diag(code: string, summary: string, detail: string, start: number, end: number): Diagnostic {
  return { severity: 'error', code, summary, detail, span: { start, end } };
}

/** 1-based line number of `offset`, for "was already set at line N" style details. */
export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** Quote a piece of source for a message, truncating long text. */
export function show(s: string): string {
  const one = s.length > 40 ? s.slice(0, 37) + '...' : s;
  return JSON.stringify(one);
}

// ------------------------------------------------------------------ lexical

export function invalidCharacter(text: string, start: number, end: number): Diagnostic {
  const ch = text.slice(start, end);
  const c = ch.charCodeAt(0);
  switch (ch) {
    case "'":
      return diag('hcl.invalid-character', 'Invalid character',
        'Single quotes are not valid. Use double quotes (") to enclose strings.', start, end);
    case '`':
      return diag('hcl.invalid-character', 'Invalid character',
        'The "`" character is not valid. To create a multi-line string, use the "heredoc" syntax, like "<<EOT".', start, end);
    case ';':
      return diag('hcl.invalid-character', 'Invalid character',
        'The ";" character is not valid. Use newlines to separate arguments and blocks, and commas to separate items in collection values.', start, end);
    case '&':
      return diag('hcl.unsupported-operator', 'Unsupported operator',
        'Bitwise operators are not supported. Did you mean boolean AND ("&&")?', start, end);
    case '|':
      return diag('hcl.unsupported-operator', 'Unsupported operator',
        'Bitwise operators are not supported. Did you mean boolean OR ("||")?', start, end);
    case '~':
      return diag('hcl.unsupported-operator', 'Unsupported operator',
        'Bitwise operators are not supported. Did you mean boolean NOT ("!")?', start, end);
    case '^':
      return diag('hcl.unsupported-operator', 'Unsupported operator', 'Bitwise operators are not supported.', start, end);
    case '\r':
      return diag('hcl.invalid-character', 'Invalid character',
        'A carriage return must be followed by a line feed. Use LF or CRLF line endings.', start, end);
  }
  if (c >= 0xd800 && c <= 0xdfff && end - start === 1) {
    return diag('hcl.invalid-encoding', 'Invalid character encoding',
      'All input files must be UTF-8 encoded, but this is an unpaired UTF-16 surrogate. Ensure that UTF-8 encoding is selected in your editor.', start, end);
  }
  const cp = text.codePointAt(start)!;
  const hex = 'U+' + cp.toString(16).toUpperCase().padStart(4, '0');
  const shown = cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0) ? hex : `"${ch}" (${hex})`;
  return diag('hcl.invalid-character', 'Invalid character',
    `This character is not used within the language: ${shown}. Remove it, or put it inside a quoted string.`, start, end);
}

/**
 * `'text'` or `` `text` ``: HCL strings use double quotes. When the closing quote is
 * on the same line, offer to switch both to double quotes.
 */
export function invalidQuote(text: string, start: number, lineEnd: number): Diagnostic {
  const q = text[start];
  const d = invalidCharacter(text, start, start + 1);
  const close = text.indexOf(q, start + 1);
  if (close > 0 && close < lineEnd) {
    const inner = text.slice(start + 1, close);
    if (!/["\\]/.test(inner)) {
      d.fixes = [{
        title: 'Use double quotes',
        edits: [{ span: { start, end: start + 1 }, newText: '"' }, { span: { start: close, end: close + 1 }, newText: '"' }],
        preferred: true,
      }];
    }
  }
  return d;
}

export function unterminatedString(open: number, lineEnd: number): Diagnostic {
  return diag('hcl.unterminated-string', 'Unterminated template string',
    'No closing quote was found for this string on its line. Quoted strings cannot span lines: add the closing ", ' +
    'write a newline as the \\n escape, or use a heredoc (<<EOT) for multi-line text.', open, Math.max(lineEnd, open + 1));
}

export function unterminatedHeredoc(text: string, open: number): Diagnostic {
  let p = open + 2;
  if (text.charCodeAt(p) === 0x2d) p++;
  let q = p;
  while (q < text.length && text.charCodeAt(q) !== 0x0a && text.charCodeAt(q) !== 0x0d) q++;
  const marker = text.slice(p, q);
  return diag('hcl.unterminated-heredoc', 'Unterminated template string',
    `No closing marker was found for the string. End the heredoc with a line containing only ${show(marker)}, ` +
    'followed by a newline (a newline is required even at the end of the file).', open, q);
}

export function unclosedTemplateSeq(open: number): Diagnostic {
  return diag('hcl.unclosed-interpolation', 'Unclosed template interpolation sequence',
    'There is no closing brace for this interpolation sequence before the end of the file. ' +
    'This might be caused by incorrect nesting inside the given expression; add the missing "}".', open, open + 2);
}

export function unclosedComment(start: number): Diagnostic {
  return diag('hcl.unclosed-comment', 'Unclosed multi-line comment',
    'This comment starts with "/*" but there is no "*/" to end it. Add "*/" where the comment should end.', start, start + 2);
}

export function invalidEscape(detail: string, start: number, end: number): Diagnostic {
  return diag('hcl.invalid-escape', 'Invalid escape sequence', detail, start, end);
}

// ------------------------------------------------------------------ structure

export const UNCLOSED_NESTING_HINT = 'This may also be caused by incorrect brace nesting elsewhere in this block.';

export function unclosedBlock(start: number, end: number, beforeLine?: number): Diagnostic {
  const where = beforeLine === undefined
    ? 'before the end of the file'
    : `before the next top-level block on line ${beforeLine}`;
  return diag('hcl.unclosed-block', 'Unclosed configuration block',
    `There is no closing brace for this block ${where}. Add the missing "}". ` +
    UNCLOSED_NESTING_HINT, start, end);
}

export function argumentOrBlockRequired(start: number, end: number, detail?: string): Diagnostic {
  return diag('hcl.argument-or-block-required', 'Argument or block definition required',
    detail ?? 'An argument or block definition is required here.', start, end);
}

export function missingNewline(comma: boolean, start: number, end: number, fix?: Fix): Diagnostic {
  const d = comma
    ? diag('hcl.unexpected-comma', 'Unexpected comma after argument',
      'Argument definitions must be separated by newlines, not commas. An argument definition must end with a newline.', start, end)
    : diag('hcl.missing-newline', 'Missing newline after argument',
      'An argument definition must end with a newline. Put each argument on its own line.', start, end);
  if (fix) d.fixes = [fix];
  return d;
}

export function missingNewlineAfterBlock(start: number, end: number, fix?: Fix): Diagnostic {
  const d = diag('hcl.missing-newline', 'Missing newline after block definition',
    'A block definition must end with a newline. Put the next argument or block on its own line.', start, end);
  if (fix) d.fixes = [fix];
  return d;
}

export function invalidBlockDefinition(detail: string, start: number, end: number): Diagnostic {
  return diag('hcl.invalid-block-definition', 'Invalid block definition', detail, start, end);
}

export function attributeRedefined(name: string, firstLine: number, start: number, end: number,
  firstStart: number, firstEnd: number): Diagnostic {
  const d = diag('hcl.duplicate-attribute', 'Attribute redefined',
    `The argument "${name}" was already set at line ${firstLine}. Each argument may be set only once; remove one of the definitions.`,
    start, end);
  d.related = [{ span: { start: firstStart, end: firstEnd }, message: `"${name}" was first set here` }];
  return d;
}

// ------------------------------------------------------------------ expressions

export function invalidExpression(found: string, start: number, end: number): Diagnostic {
  return diag('hcl.invalid-expression', 'Invalid expression',
    `Expected the start of an expression, but found ${found}. Write a value here, such as a quoted string, number, list or object.`,
    start, end);
}

export function missingExpression(start: number): Diagnostic {
  return diag('hcl.missing-expression', 'Missing expression',
    'Expected the start of an expression, but found the end of the file.', start, start);
}
