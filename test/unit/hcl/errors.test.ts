import assert from 'node:assert/strict';
import { parseHcl, toPlain, type Attribute, type Block, type Diagnostic, type Span } from '../../../policy/hcl';

const slice = (text: string, span: Span): string => text.slice(span.start, span.end);

/** [source, code, HashiCorp summary, text under the span, detail must match] */
type Case = [string, string, string, string, RegExp?];

const CASES: Case[] = [
  // structure
  ['a = 1 b = 2\n', 'hcl.missing-newline', 'Missing newline after argument', 'b', /own line/],
  ['a = 1, b = 2\n', 'hcl.unexpected-comma', 'Unexpected comma after argument', ',', /not commas/],
  ['b {\n}\nc {} d {}\n', 'hcl.missing-newline', 'Missing newline after block definition', 'd'],
  ['b {\n  a = 1\n', 'hcl.unclosed-block', 'Unclosed configuration block', '{', /Add the missing "}"/],
  ['b { a = 1 c = 2 }\n', 'hcl.single-line-block', 'Invalid single-argument block definition', 'c', /only one argument/],
  ['b { c { d = 1 } }\n', 'hcl.single-line-block', 'Invalid single-argument block definition', 'c', /cannot contain another block/],
  ['b { a = 1\n}\n', 'hcl.single-line-block', 'Invalid single-argument block definition', 'a', /closed on the same line/],
  ['b { a = 1 ] }\n', 'hcl.single-line-block', 'Invalid single-argument block definition', ']', /closing brace immediately after/],
  ['= 1\n', 'hcl.argument-or-block-required', 'Argument or block definition required', '='],
  ['a\n', 'hcl.argument-or-block-required', 'Argument or block definition required', 'a', /equals sign/],
  ['a : 1\n', 'hcl.argument-or-block-required', 'Argument or block definition required', 'a', /rather than a colon/],
  ['}\n', 'hcl.argument-or-block-required', 'Argument or block definition required', '}', /no matching opening brace/],
  ['"a" = 1\n', 'hcl.invalid-argument-name', 'Invalid argument name', '"', /must not be quoted/],
  ['b "x" = {\n}\n', 'hcl.invalid-block-definition', 'Invalid block definition', '=', /equals sign/],
  ['b "x"\n{\n}\n', 'hcl.invalid-block-definition', 'Invalid block definition', '\n', /Move the "\{" up/],
  ['b "x" [\n', 'hcl.invalid-block-definition', 'Invalid block definition', '[', /label or an opening brace/],
  ['b "${x}" {\n}\n', 'hcl.invalid-string-literal', 'Invalid string literal', '${', /double it/],
  ['a = 1\na = 2\n', 'hcl.duplicate-attribute', 'Attribute redefined', 'a', /already set at line 1/],
  // expressions
  ['a = \n', 'hcl.invalid-expression', 'Invalid expression', '\n', /end of the line/],
  ['a = )\n', 'hcl.invalid-expression', 'Invalid expression', ')', /found "\)"/],
  ['a =', 'hcl.missing-expression', 'Missing expression', ''],
  ['a = [1 2]\n', 'hcl.missing-item-separator', 'Missing item separator', '2', /comma/],
  ['a = ["x" "y"]\n', 'hcl.missing-item-separator', 'Missing item separator', '"y"'],
  ['a = [1,\n', 'hcl.missing-expression', 'Missing expression', ''],
  ['a = [1, 2\nb = 3\n', 'hcl.unterminated-tuple', 'Unterminated tuple constructor expression', '[', /Add the missing "\]"/],
  ['a = {a = 1 b = 2}\n', 'hcl.missing-attribute-separator', 'Missing attribute separator', 'b'],
  ['a = {a 1}\n', 'hcl.missing-key-value-separator', 'Missing key/value separator', '1'],
  ['a = {a b}\n', 'hcl.missing-key-value-separator', 'Missing key/value separator', 'b', /in quotes/],
  ['a = {a\n}\n', 'hcl.missing-attribute-value', 'Missing attribute value', '\n'],
  ['a = { b = 1', 'hcl.unterminated-object', 'Unterminated object constructor expression', '{'],
  ['a = (1\n', 'hcl.unbalanced-parentheses', 'Unbalanced parentheses', ''],
  ['a = f(1 2)\n', 'hcl.missing-argument-separator', 'Missing argument separator', '2'],
  ['a = f(1', 'hcl.unterminated-function-call', 'Unterminated function call', 'f('],
  ['a = f(x... , y)\n', 'hcl.missing-closing-parenthesis', 'Missing closing parenthesis', '...'],
  ['a = x.\n', 'hcl.invalid-attribute-name', 'Invalid attribute name', '\n'],
  ['a = x.0.1\n', 'hcl.invalid-legacy-index', 'Invalid legacy index syntax', '0.1', /\[0\]\[1\]/],
  ['a = x.*.*\n', 'hcl.nested-splat', 'Nested splat expression not allowed', '*'],
  ['a = x[*\n', 'hcl.missing-close-bracket', 'Missing close bracket on splat index', '\n'],
  ['a = x[1\n', 'hcl.missing-close-bracket', 'Missing close bracket on index', ''],
  ['a = 1.2.3\n', 'hcl.invalid-number', 'Invalid number literal', '1.2.3'],
  ['a = 1 ? 2\n', 'hcl.missing-false-expression', 'Missing false expression in conditional', '\n'],
  ['a = [for]\n', 'hcl.invalid-for-expression', "Invalid 'for' expression", ']', /variable name/],
  ['a = [for x in y : x => y]\n', 'hcl.invalid-for-expression', "Invalid 'for' expression", 'x', /not valid when building a tuple/],
  ['a = {for x in y : x}\n', 'hcl.invalid-for-expression', "Invalid 'for' expression", 'x', /required when building an object/],
  ['a = [for x in y : x z]\n', 'hcl.invalid-for-expression', "Invalid 'for' expression", 'z', /Extra characters/],
  // templates
  ['a = "${x y}"\n', 'hcl.extra-characters-in-interpolation', 'Extra characters after interpolation expression', 'y', /\$\$\{/],
  ['a = "${x:y}"\n', 'hcl.extra-characters-in-interpolation', 'Extra characters after interpolation expression', ':', /colon/],
  ['a = "${x"\n', 'hcl.unclosed-interpolation', 'Unclosed template interpolation sequence', '${'],
  ['a = "%{ endif }"\n', 'hcl.unbalanced-directive', 'Unexpected endif directive', '%{ endif }'],
  ['a = "%{ if x }"\n', 'hcl.unbalanced-directive', 'Unexpected end of template', '"', /missing its corresponding endif/],
  ['a = "%{ iff x }y%{ endif }"\n', 'hcl.invalid-template-control-keyword', 'Invalid template control keyword', 'iff', /Did you mean "if"/],
  ['a = "%{ if x y }z%{ endif }"\n', 'hcl.extra-characters-in-directive', 'Extra characters in if marker', 'y'],
  ['a = "%{ }"\n', 'hcl.invalid-template-directive', 'Invalid template directive', '}'],
  ['a = "%{ for }%{ endfor }"\n', 'hcl.invalid-for-directive', "Invalid 'for' directive", '}'],
  ['a = "%{ if x }%{ else }%{ else }%{ endif }"\n', 'hcl.unbalanced-directive', 'Unexpected else directive', '%{ else }'],
  // strings and lexical problems
  ['a = "abc\nb = 1\n', 'hcl.unterminated-string', 'Unterminated template string', '"abc', /heredoc/],
  ['a = <<EOT\nabc\n', 'hcl.unterminated-heredoc', 'Unterminated template string', '<<EOT', /"EOT"/],
  ['a = <<EOT\nabc\nEOT', 'hcl.unterminated-heredoc', 'Unterminated template string', '<<EOT', /newline is required/],
  ['a = "\\q"\n', 'hcl.invalid-escape', 'Invalid escape sequence', '\\q', /not a valid escape/],
  ['a = "\\u12"\n', 'hcl.invalid-escape', 'Invalid escape sequence', '\\u12', /four hexadecimal/],
  ['a = "\\uD800"\n', 'hcl.invalid-escape', 'Invalid escape sequence', '\\uD800', /Cannot encode/],
  ['a = 1;\n', 'hcl.invalid-character', 'Invalid character', ';', /newlines to separate/],
  ["a = 'x'\n", 'hcl.invalid-character', 'Invalid character', "'", /double quotes/],
  ['a = `x`\n', 'hcl.invalid-character', 'Invalid character', '`', /heredoc/],
  ['a = @\n', 'hcl.invalid-character', 'Invalid character', '@', /U\+0040/],
  ['a = 1\rb = 2\n', 'hcl.invalid-character', 'Invalid character', '\r', /CRLF/],
  ['a = 1 & 2\n', 'hcl.unsupported-operator', 'Unsupported operator', '&', /&&/],
  ['a = ~x\n', 'hcl.unsupported-operator', 'Unsupported operator', '~', /"!"/],
  ['a = "x"\ud800\n', 'hcl.invalid-encoding', 'Invalid character encoding', '\ud800'],
  ['a = "x\udc00y"\n', 'hcl.invalid-encoding', 'Invalid character encoding', '\udc00'],
  ['/* x\na = 1\n', 'hcl.unclosed-comment', 'Unclosed multi-line comment', '/*', /"\*\/"/],
];

describe('hcl errors: messages, codes and spans', () => {
  for (const [src, code, summary, under, detail] of CASES) {
    it(`${JSON.stringify(src)} → ${summary}`, () => {
      const r = parseHcl(src);
      const d = r.diagnostics[0];
      assert.ok(d, 'expected a diagnostic');
      assert.deepEqual([d.code, d.summary, slice(src, d.span)], [code, summary, under],
        JSON.stringify(r.diagnostics.map((x) => [x.code, x.summary, slice(src, x.span)])));
      assert.equal(d.severity, 'error');
      assert.ok(d.detail.endsWith('.') || d.detail.endsWith('?'), `detail should be a sentence: ${d.detail}`);
      if (detail) assert.match(d.detail, detail);
    });
  }

  it('points "Attribute redefined" at the first definition and keeps it', () => {
    const t = 'p {\n  engine = "postgres"\n  other = 1\n  engine = "mysql"\n}\n';
    const r = parseHcl(t);
    assert.equal(r.diagnostics.length, 1);
    const d = r.diagnostics[0];
    assert.equal(d.span.start, t.lastIndexOf('engine'));
    assert.deepEqual(d.related?.map((x) => [x.span.start, slice(t, x.span)]), [[t.indexOf('engine'), 'engine']]);
    assert.deepEqual(toPlain(r.body), { p: [{ engine: 'postgres', other: 1 }] });
  });

  it('offers to quote a duration written without quotes', () => {
    const t = 'expiration = 12h\n';
    const d = parseHcl(t).diagnostics[0];
    assert.equal(d.code, 'hcl.missing-newline');
    assert.match(d.detail, /"12h"/);
    assert.deepEqual(d.fixes?.[0].edits, [{ span: { start: 13, end: 16 }, newText: '"12h"' }]);
  });

  it('offers to put an argument that follows another on its own line', () => {
    const t = 'p {\n  a = 1 b = 2\n}\n';
    const d = parseHcl(t).diagnostics[0];
    const fixed = apply(t, d);
    assert.equal(fixed, 'p {\n  a = 1\n  b = 2\n}\n');
    assert.deepEqual(parseHcl(fixed).diagnostics, []);
  });

  it('offers double quotes for a single-quoted string', () => {
    const t = "a = 'x'\n";
    const d = parseHcl(t).diagnostics[0];
    assert.equal(parseHcl(apply(t, d)).diagnostics.length, 0);
  });

  it('offers to move the first argument of a half single-line block down', () => {
    const t = 'p { a = 1\n  b = 2\n}\n';
    const r = parseHcl(t);
    assert.deepEqual(toPlain(r.body), { p: [{ a: 1, b: 2 }] });
    assert.deepEqual(parseHcl(apply(t, r.diagnostics[0])).diagnostics, []);
  });
});

describe('hcl errors: recovery', () => {
  const names = (body: { items: (Attribute | Block)[] }): string[] =>
    body.items.map((i) => (i.kind === 'attribute' ? i.name : `${i.type}${i.labels.map((l) => ` ${l.value}`).join('')}`));

  it('keeps later policies after an unterminated string and a bad expression in policy 1', () => {
    const t = [
      'policy "one" {',
      '  engine = "postgres',
      '  instances = ["a", ]]',
      '  expiration = "1h"',
      '}',
      '',
      'policy "two" {',
      '  engine = "postgres"',
      '}',
      '',
      'policy "three" {',
      '  engine = "mysql"',
      '}',
      '',
    ].join('\n');
    const r = parseHcl(t);
    assert.deepEqual(r.diagnostics.map((d) => d.code), ['hcl.unterminated-string', 'hcl.missing-newline']);
    assert.deepEqual(names(r.body), ['policy one', 'policy two', 'policy three']);
    const one = r.body.items[0] as Block;
    assert.deepEqual(names(one.body), ['engine', 'instances', 'expiration']);
    assert.deepEqual(toPlain(one.body), { engine: 'postgres', instances: ['a'], expiration: '1h' });
  });

  it('reports problems in every policy, not just the first', () => {
    const t = [
      'policy "one" {',
      '  engine = @',
      '}',
      'policy "two" {',
      '  instances = ["a" "b"]',
      '}',
      'policy "three" {',
      '  tags = { a = 1 b = 2 }',
      '  x = 1 y = 2',
      '}',
      'policy "four" {',
      '  engine = "a"',
      '  engine = "b"',
      '}',
    ].join('\n');
    const r = parseHcl(t);
    assert.deepEqual(r.diagnostics.map((d) => d.code), [
      'hcl.invalid-character', 'hcl.missing-item-separator', 'hcl.missing-attribute-separator', 'hcl.missing-newline',
      'hcl.duplicate-attribute',
    ]);
    assert.deepEqual(names(r.body), ['policy one', 'policy two', 'policy three', 'policy four']);
    assert.deepEqual(names((r.body.items[2] as Block).body), ['tags', 'x', 'y']);
  });

  it('stops an unclosed tuple at the next argument', () => {
    const t = 'p {\n  instances = [\n    "x",\n    "y"\n  engine = "postgres"\n}\nq {\n}\n';
    const r = parseHcl(t);
    assert.deepEqual(r.diagnostics.map((d) => [d.code, slice(t, d.span)]), [['hcl.unterminated-tuple', '[']]);
    assert.deepEqual(toPlain(r.body), { p: [{ instances: ['x', 'y'], engine: 'postgres' }], q: [{}] });
  });

  it('does not swallow following top-level blocks into an unclosed block', () => {
    const t = 'policy "a" {\n  engine = "x"\n\npolicy "b" {\n  engine = "y"\n}\n\npolicy "c" {\n}\n';
    const r = parseHcl(t);
    assert.deepEqual(r.diagnostics.map((d) => [d.code, d.span.start]), [['hcl.unclosed-block', t.indexOf('{')]]);
    assert.match(r.diagnostics[0].detail, /before the next top-level block on line 4/);
    assert.deepEqual(names(r.body), ['policy a', 'policy b', 'policy c']);
    const a = r.body.items[0] as Block;
    assert.equal(a.closeBrace, undefined);
    assert.deepEqual(names(a.body), ['engine']);
  });

  it('points at the nested block whose "}" is missing, judging by indentation', () => {
    const t = 'policy "a" {\n  grant {\n    x = 1\n\n  y = 2\n}\n\npolicy "b" {\n}\n';
    const r = parseHcl(t);
    assert.deepEqual(r.diagnostics.map((d) => [d.code, d.span.start]), [['hcl.unclosed-block', t.indexOf('{')]]);
    const d = r.diagnostics[0];
    assert.match(d.detail, /closes the "\{" on line 2, which is probably the one missing/);
    assert.deepEqual(d.related?.map((x) => x.span.start), [t.indexOf('{', 14)]);
    assert.deepEqual(names(r.body), ['policy a', 'policy b']);
  });

  it('does the same for an object whose "}" is missing', () => {
    const t = 'policy "a" {\n  tags = {\n    team = "x"\n  engine = "y"\n}\n\npolicy "b" {\n}\n';
    const d = parseHcl(t).diagnostics[0];
    assert.equal(d.code, 'hcl.unclosed-block');
    assert.deepEqual(d.related?.map((x) => slice(t, x.span)), ['{']);
    assert.equal(d.related?.[0].span.start, t.indexOf('{', 14));
  });

  it('hands an argument swallowed by an unclosed tuple back to the block', () => {
    const t = 'p {\n  instances = ["db1",\n  grant_privileges = ["SELECT"]\n  grant {\n  }\n}\n';
    const r = parseHcl(t);
    assert.deepEqual(r.diagnostics.map((d) => [d.code, slice(t, d.span)]), [['hcl.unterminated-tuple', '[']]);
    assert.deepEqual(toPlain(r.body), { p: [{ instances: ['db1'], grant_privileges: ['SELECT'], grant: [{}] }] });
    const t2 = 'p {\n  instances = ["db1",\n  grant {\n  }\n}\n';
    assert.deepEqual(toPlain(parseHcl(t2).body), { p: [{ instances: ['db1'], grant: [{}] }] });
  });

  it('reports an unclosed block once, at its brace, when nothing follows', () => {
    const t = 'policy "a" {\n  grant {\n    x = 1\n';
    const r = parseHcl(t);
    assert.deepEqual(r.diagnostics.map((d) => [d.code, d.span.start]), [['hcl.unclosed-block', t.indexOf('{', 14)]]);
  });

  it('recovers a block header with the brace on the next line', () => {
    const r = parseHcl('policy "a"\n{\n  engine = "x"\n}\n');
    assert.deepEqual(r.diagnostics.map((d) => d.code), ['hcl.invalid-block-definition']);
    assert.deepEqual(toPlain(r.body), { policy: { a: [{ engine: 'x' }] } });
  });

  it('skips the body of a block whose header is broken beyond repair', () => {
    const t = 'policy "a" = [\n  engine = "x"\n}\npolicy "b" {\n  engine = "y"\n}\n';
    const r = parseHcl(t);
    assert.equal(r.diagnostics[0].code, 'hcl.invalid-block-definition');
    assert.deepEqual(toPlain(r.body), { policy: { b: [{ engine: 'y' }] } });
  });

  it('keeps both arguments written on one line', () => {
    const r = parseHcl('p {\n  a = 1 b = "x"\n}\n');
    assert.deepEqual(toPlain(r.body), { p: [{ a: 1, b: 'x' }] });
  });

  it('keeps both blocks written on one line', () => {
    const r = parseHcl('a {} b {}\n');
    assert.deepEqual(r.diagnostics.map((d) => d.code), ['hcl.missing-newline']);
    assert.deepEqual(toPlain(r.body), { a: [{}], b: [{}] });
  });

  it('reports every diagnostic once per place', () => {
    const r = parseHcl('a = 1;\nb = @\n');
    const starts = r.diagnostics.map((d) => d.span.start);
    assert.equal(new Set(starts).size, starts.length);
  });
});

function apply(text: string, d: Diagnostic): string {
  const fix = d.fixes?.[0];
  assert.ok(fix, 'expected a fix');
  let out = text;
  for (const e of [...fix.edits].sort((a, b) => b.span.start - a.span.start)) {
    out = out.slice(0, e.span.start) + e.newText + out.slice(e.span.end);
  }
  return out;
}
