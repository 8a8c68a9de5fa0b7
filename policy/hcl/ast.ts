/**
 * Syntax tree for HCL native syntax as Mayfly needs it.
 *
 * Every node carries a Span of UTF-16 offsets into the source text (the same unit
 * JavaScript strings and the LSP use), so diagnostics can point at the exact token.
 * Line/column conversion lives in ../text.ts, not here, to keep the tree cheap.
 */

/** Half-open range [start, end) of UTF-16 code-unit offsets into the source. */
export interface Span {
  start: number;
  end: number;
}

export type Value =
  | StringValue
  | NumberValue
  | BoolValue
  | NullValue
  | TupleValue
  | ObjectValue
  | ExpressionValue;

/** A quoted string or heredoc with no interpolation; `value` has escapes decoded. */
export interface StringValue {
  kind: 'string';
  value: string;
  span: Span;
  /** True for `<<EOT` / `<<-EOT` heredocs. */
  heredoc?: boolean;
}

export interface NumberValue {
  kind: 'number';
  value: number;
  /** The literal as written, e.g. `1.5e3`. */
  raw: string;
  span: Span;
}

export interface BoolValue {
  kind: 'bool';
  value: boolean;
  span: Span;
}

export interface NullValue {
  kind: 'null';
  span: Span;
}

export interface TupleValue {
  kind: 'tuple';
  items: Value[];
  span: Span;
}

export interface ObjectItem {
  /** Key as written: identifier name, or decoded string for quoted keys. */
  key: string;
  keySpan: Span;
  /** Non-literal key (e.g. `(var.x)`), which Mayfly cannot evaluate. */
  keyIsExpression?: boolean;
  value: Value;
}

export interface ObjectValue {
  kind: 'object';
  items: ObjectItem[];
  span: Span;
}

/**
 * Anything HCL accepts that is not a literal: references (`var.x`), function calls,
 * templates with `${}`/`%{}`, operators, conditionals, for-expressions, splats, indexing.
 * It parses (so the file is valid HCL) but Mayfly cannot evaluate it.
 */
export interface ExpressionValue {
  kind: 'expression';
  /** What sort of expression, for the "must be a literal" message. */
  what:
    | 'reference'
    | 'function call'
    | 'template'
    | 'operator'
    | 'conditional'
    | 'for expression'
    | 'index or attribute access'
    | 'splat'
    | 'parenthesized expression';
  /** Source text of the expression. */
  text: string;
  span: Span;
}

export interface Attribute {
  kind: 'attribute';
  name: string;
  nameSpan: Span;
  value: Value;
  /** From the name to the end of the value. */
  span: Span;
}

export interface BlockLabel {
  /** Decoded label (quoted string or bare identifier). */
  value: string;
  span: Span;
  quoted: boolean;
}

export interface Block {
  kind: 'block';
  type: string;
  typeSpan: Span;
  labels: BlockLabel[];
  body: Body;
  openBrace: Span;
  /** Absent when the block is unclosed (recovery). */
  closeBrace?: Span;
  /** From the type name to the closing brace (or the end of what was recovered). */
  span: Span;
}

export interface Body {
  items: (Attribute | Block)[];
  span: Span;
}

export type Severity = 'error' | 'warning' | 'information' | 'hint';

export interface TextEdit {
  span: Span;
  newText: string;
}

export interface Fix {
  title: string;
  edits: TextEdit[];
  /** The obvious fix for this problem (LSP `isPreferred`). */
  preferred?: boolean;
}

export interface Diagnostic {
  severity: Severity;
  /** Stable code, e.g. `hcl.missing-newline` or `policy.unknown-privilege`. */
  code: string;
  /** HashiCorp-style summary, e.g. "Missing newline after argument". */
  summary: string;
  /** Full sentence(s) saying what is wrong and how to fix it. */
  detail: string;
  span: Span;
  related?: { span: Span; message: string }[];
  fixes?: Fix[];
}

export interface ParseResult {
  body: Body;
  diagnostics: Diagnostic[];
}
