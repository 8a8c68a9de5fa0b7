import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  parseHcl, toPlain, type Attribute, type Block, type Body, type Span, type Value,
} from '../../../policy/hcl';
import { applySpanEdits, assertParseInvariants } from '../../support/hclInvariants';

const slice = (text: string, span: Span): string => text.slice(span.start, span.end);

function parseOk(text: string): Body {
  const r = parseHcl(text);
  assert.deepEqual(r.diagnostics.map((d) => `${d.code}: ${d.summary} @${d.span.start}`), [], `unexpected diagnostics for ${JSON.stringify(text)}`);
  return r.body;
}

function attr(body: Body, name: string): Attribute {
  const a = body.items.find((it): it is Attribute => it.kind === 'attribute' && it.name === name);
  assert.ok(a, `attribute ${name} not found`);
  return a;
}

function block(body: Body, type: string, index = 0): Block {
  const b = body.items.filter((it): it is Block => it.kind === 'block' && it.type === type)[index];
  assert.ok(b, `block ${type}[${index}] not found`);
  return b;
}

function value(text: string): Value {
  return attr(parseOk(`v = ${text}\n`), 'v').value;
}

const SEED =
  'policy "pg-homolog" { engine = "postgres" plugin_config_entry = "pg-homolog-credentials" expiration = "12h" ' +
  'instances = ["dellstore", "dellstore.store", "testdb"] grant_privileges = ["SELECT", "UPDATE"] }';

describe('hcl parser: structure and spans', () => {
  const text = [
    '# a policy',
    'policy "pg-homolog" {',
    '  engine   = "postgres"',
    '  instances = ["a", "b.c"]',
    '',
    '  grant "x" y {',
    '    privileges = ["SELECT"]',
    '  }',
    '}',
    '',
  ].join('\n');

  it('finds blocks, labels and attributes with exact spans', () => {
    const body = parseOk(text);
    const p = block(body, 'policy');
    assert.equal(slice(text, p.typeSpan), 'policy');
    assert.equal(p.labels.length, 1);
    assert.deepEqual({ ...p.labels[0], span: slice(text, p.labels[0].span) }, { value: 'pg-homolog', span: '"pg-homolog"', quoted: true });
    assert.equal(slice(text, p.openBrace), '{');
    assert.equal(slice(text, p.closeBrace!), '}');
    assert.equal(p.closeBrace!.start, text.lastIndexOf('}'));
    assert.ok(slice(text, p.span).startsWith('policy "pg-homolog" {') && slice(text, p.span).endsWith('}'));

    const engine = attr(p.body, 'engine');
    assert.equal(slice(text, engine.nameSpan), 'engine');
    assert.equal(slice(text, engine.value.span), '"postgres"');
    assert.equal(slice(text, engine.span), 'engine   = "postgres"');

    const inst = attr(p.body, 'instances').value;
    assert.equal(inst.kind, 'tuple');
    if (inst.kind !== 'tuple') return;
    assert.equal(slice(text, inst.span), '["a", "b.c"]');
    assert.deepEqual(inst.items.map((v) => slice(text, v.span)), ['"a"', '"b.c"']);

    const g = block(p.body, 'grant');
    assert.deepEqual(g.labels.map((l) => [l.value, l.quoted, slice(text, l.span)]), [['x', true, '"x"'], ['y', false, 'y']]);
    assert.equal(slice(text, attr(g.body, 'privileges').span), 'privileges = ["SELECT"]');
  });

  it('gives the file body the whole text and a block body the text between its braces', () => {
    const body = parseOk(text);
    assert.deepEqual(body.span, { start: 0, end: text.length });
    const p = block(body, 'policy');
    assert.equal(p.body.span.start, p.openBrace.end);
    assert.equal(p.body.span.end, p.closeBrace!.start);
  });

  it('reports spans of object items', () => {
    const t = 'v = {\n  a = 1\n  "b c": [true]\n}\n';
    const v = attr(parseOk(t), 'v').value;
    assert.equal(v.kind, 'object');
    if (v.kind !== 'object') return;
    assert.deepEqual(v.items.map((i) => [i.key, slice(t, i.keySpan), slice(t, i.value.span)]), [['a', 'a', '1'], ['b c', '"b c"', '[true]']]);
  });

  it('counts spans in UTF-16 code units', () => {
    const t = 'a = "😀é"\nb = 2\n';
    const b = attr(parseOk(t), 'b');
    assert.equal(slice(t, b.nameSpan), 'b');
    assert.equal(slice(t, attr(parseOk(t), 'a').value.span), '"😀é"');
  });

  it('accepts blocks with zero, many and identifier labels', () => {
    const t = 'a {\n}\nb "x" "y" z {\n}\nc d {\n}\n';
    const body = parseOk(t);
    assert.deepEqual(body.items.map((b) => (b as Block).labels.map((l) => l.value)), [[], ['x', 'y', 'z'], ['d']]);
  });

  it('accepts one-line blocks with one argument, and empty blocks', () => {
    const body = parseOk('b { a = 1 }\nc {}\nd { }\ne {/* x */}\nf "l" { g = [1,\n 2] }\n');
    assert.deepEqual(toPlain(body), { b: [{ a: 1 }], c: [{}], d: [{}], e: [{}], f: { l: [{ g: [1, 2] }] } });
    const b = block(body, 'b');
    assert.equal(b.closeBrace!.start, 10);
  });

  it('parses nested blocks', () => {
    const body = parseOk('a {\n  b {\n    c {\n      d = 1\n    }\n  }\n}\n');
    assert.deepEqual(toPlain(body), { a: [{ b: [{ c: [{ d: 1 }] }] }] });
  });

  it('accepts an empty file, blank lines, comments only, and no final newline', () => {
    assert.deepEqual(parseOk('').items, []);
    assert.deepEqual(parseOk('\n\n  \n').items, []);
    assert.deepEqual(parseOk('# c\n// d\n/* e\n f */').items, []);
    assert.deepEqual(toPlain(parseOk('a = 1')), { a: 1 });
    assert.deepEqual(toPlain(parseOk('b {\n}')), { b: [{}] });
  });

  it('accepts CRLF line ends, tabs and a byte order mark', () => {
    assert.deepEqual(toPlain(parseOk('\ufeffb "x" {\r\n\ta\t=\t1\r\n}\r\n')), { b: { x: [{ a: 1 }] } });
  });
});

describe('hcl parser: literal values', () => {
  it('decodes string escapes', () => {
    const v = value('"a\\nb\\rc\\td\\"e\\\\f\\u00e9\\U0001F600"');
    assert.deepEqual(v.kind === 'string' && v.value, 'a\nb\rc\td"e\\fé😀');
  });

  it('treats $${ and %%{ as literal ${ and %{, and lone $ and % as themselves', () => {
    const v = value('"$${x} %%{y} $ % $x 100%"');
    assert.equal(v.kind, 'string');
    assert.equal(v.kind === 'string' && v.value, '${x} %{y} $ % $x 100%');
  });

  it('normalizes string values to NFC as HCL (cty) does', () => {
    const v = value('"e\u0301"');
    assert.equal(v.kind === 'string' && v.value, 'é');
  });

  it('parses numbers in all forms', () => {
    const cases: [string, number][] = [
      ['0', 0], ['42', 42], ['007', 7], ['1.5', 1.5], ['1e3', 1000], ['1E3', 1000], ['2.5e-3', 0.0025], ['1e+2', 100],
      ['1.e5', 100000], ['-5', -5], ['- 2.5', -2.5], ['12345678901234567890', 12345678901234567890],
    ];
    for (const [src, n] of cases) {
      const v = value(src);
      assert.equal(v.kind, 'number', src);
      if (v.kind === 'number') {
        assert.equal(v.value, n, src);
        assert.equal(v.raw, src);
      }
    }
  });

  it('parses true, false and null', () => {
    assert.deepEqual(toPlain(parseOk('a = true\nb = false\nc = null\n')), { a: true, b: false, c: null });
  });

  it('parses tuples and objects spanning lines, with trailing commas, = or :, comma or newline separated', () => {
    const t = [
      'a = [',
      '  1, # one',
      '  "two", /* two */',
      '  [3,],',
      ']',
      'b = {',
      '  x = 1',
      '  "y": 2,',
      '  z = { w = [] },',
      '',
      '}',
      'c = { p = 1, q: 2, }',
      'd = []',
      'e = {}',
    ].join('\n');
    assert.deepEqual(toPlain(parseOk(t)), { a: [1, 'two', [3]], b: { x: 1, y: 2, z: { w: [] } }, c: { p: 1, q: 2 }, d: [], e: {} });
  });

  it('accepts object keys that are numbers, keywords or quoted', () => {
    const v = value('{ 1.50 = "a", true = "b", "k" = "c", in = "d" }');
    assert.equal(v.kind, 'object');
    if (v.kind === 'object') assert.deepEqual(v.items.map((i) => i.key), ['1.5', 'true', 'k', 'in']);
  });
});

describe('hcl parser: heredocs', () => {
  it('parses <<EOT heredocs as strings, keeping indentation', () => {
    const t = 'a = <<EOT\n  hello\n    world\nEOT\nb = 1\n';
    const body = parseOk(t);
    const a = attr(body, 'a').value;
    assert.deepEqual(a.kind === 'string' && [a.value, a.heredoc], ['  hello\n    world\n', true]);
    assert.equal(slice(t, a.span), '<<EOT\n  hello\n    world\nEOT');
    assert.equal(toPlain(body) && (toPlain(body) as { b: number }).b, 1);
  });

  it('trims the common indentation of <<-EOT heredocs, ignoring blank lines', () => {
    const a = value('<<-EOT\n    a\n  \n      b\n  EOT\n');
    assert.equal(a.kind === 'string' && a.value, 'a\n  \n  b\n');
  });

  it('handles CRLF heredocs', () => {
    const body = parseOk('a = <<EOT\r\nx\r\ny\r\nEOT\r\nb = 2\r\n');
    assert.deepEqual(toPlain(body), { a: 'x\r\ny\r\n', b: 2 });
  });

  it('allows an indented closing marker and an empty heredoc', () => {
    assert.deepEqual(toPlain(parseOk('a = <<EOT\nx\n   EOT\nb = <<EOT\nEOT\n')), { a: 'x\n', b: '' });
  });

  it('does not end at a marker that shares a line with other text', () => {
    assert.deepEqual(toPlain(parseOk('a = <<EOT\nEOT x\nEOTX\nEOT\n')), { a: 'EOT x\nEOTX\n' });
  });

  it('is a template when it interpolates', () => {
    const v = value('<<EOT\nhello ${name}\nEOT\n');
    assert.deepEqual(v.kind === 'expression' && v.what, 'template');
  });
});

describe('hcl parser: comments', () => {
  it('accepts all comment styles in odd places', () => {
    const t = [
      '/* lead */ policy /* a */ "x" /* b */ { # after brace',
      '  a /* c */ = /* d */ 1 // after',
      '  // own line',
      '  b = [ # in tuple',
      '    1, /* mid */ 2',
      '  ]',
      '}  # after close',
    ].join('\n');
    assert.deepEqual(toPlain(parseOk(t)), { policy: { x: [{ a: 1, b: [1, 2] }] } });
  });

  it('keeps comment-like text inside strings', () => {
    assert.deepEqual(toPlain(parseOk('a = "# not // a /* comment */"\n')), { a: '# not // a /* comment */' });
  });
});

describe('hcl parser: expressions', () => {
  const cases: [string, string][] = [
    ['var.x', 'reference'],
    ['x', 'reference'],
    ['a.b[0].c', 'reference'],
    ['a.0', 'reference'],
    ['a[b]', 'index or attribute access'],
    ['f(1)[0]', 'index or attribute access'],
    ['[1, 2][0]', 'index or attribute access'],
    ['a.*.b', 'splat'],
    ['a[*].b', 'splat'],
    ['upper("a")', 'function call'],
    ['concat(xs...)', 'function call'],
    ['f(\n  1,\n  2,\n)', 'function call'],
    ['"${x}"', 'template'],
    ['"a ${b} c"', 'template'],
    ['"${"a"}"', 'template'],
    ['"%{ if x }y%{ else }z%{ endif }"', 'template'],
    ['"%{ for v in xs }${v}%{ endfor }"', 'template'],
    ['1 + 2', 'operator'],
    ['1 + 2 * 3 - 4 / 5 % 6', 'operator'],
    ['a == b && !c || d != e', 'operator'],
    ['a < b', 'operator'],
    ['!true', 'operator'],
    ['-x', 'operator'],
    ['--1', 'operator'],
    ['a ? b : c', 'conditional'],
    ['a ? b : c ? d : e', 'conditional'],
    ['[for x in y : x]', 'for expression'],
    ['{for k, v in m : k => v... if c}', 'for expression'],
    ['[for i, x in y : x if i > 0]', 'for expression'],
    ['(a)', 'parenthesized expression'],
    ['(1)', 'parenthesized expression'],
    ['(\n  a + b\n)', 'parenthesized expression'],
  ];
  for (const [src, what] of cases) {
    it(`${JSON.stringify(src)} is ${what}`, () => {
      const t = `v = ${src}\n`;
      const v = attr(parseOk(t), 'v').value;
      assert.equal(v.kind, 'expression');
      if (v.kind !== 'expression') return;
      assert.equal(v.what, what);
      assert.equal(v.text, src);
      assert.equal(slice(t, v.span), src);
    });
  }

  it('keeps literal items literal inside collections', () => {
    const v = value('["a", var.b, 1 + 2, { k = x, j = 2 }]');
    assert.equal(v.kind, 'tuple');
    if (v.kind !== 'tuple') return;
    assert.deepEqual(v.items.map((i) => i.kind), ['string', 'expression', 'expression', 'object']);
    const o = v.items[3];
    if (o.kind === 'object') assert.deepEqual(o.items.map((i) => i.value.kind), ['expression', 'number']);
  });

  it('marks non-literal object keys', () => {
    const v = value('{ (k) = 1, "${x}" = 2, a.b = 3, plain = 4 }');
    assert.equal(v.kind, 'object');
    if (v.kind === 'object') {
      assert.deepEqual(v.items.map((i) => [i.key, !!i.keyIsExpression]), [['(k)', true], ['"${x}"', true], ['a.b', true], ['plain', false]]);
    }
  });
});

describe('hcl parser: the pasted one-line policy', () => {
  it('reports one single-line-block diagnostic and keeps every attribute', () => {
    const r = parseHcl(SEED);
    assert.equal(r.diagnostics.length, 1);
    const d = r.diagnostics[0];
    assert.equal(d.code, 'hcl.single-line-block');
    assert.equal(d.severity, 'error');
    assert.equal(d.summary, 'Invalid single-argument block definition');
    assert.match(d.detail, /own line/);
    assert.equal(slice(SEED, d.span), 'plugin_config_entry');
    const p = block(r.body, 'policy');
    assert.deepEqual(p.body.items.map((i) => (i as Attribute).name),
      ['engine', 'plugin_config_entry', 'expiration', 'instances', 'grant_privileges']);
    assert.ok(p.closeBrace);
    assert.deepEqual(toPlain(r.body), {
      policy: { 'pg-homolog': [{
        engine: 'postgres', plugin_config_entry: 'pg-homolog-credentials', expiration: '12h',
        instances: ['dellstore', 'dellstore.store', 'testdb'], grant_privileges: ['SELECT', 'UPDATE'],
      }] },
    });
  });

  it('offers a preferred fix that expands the block like terraform fmt', () => {
    const d = parseHcl(SEED).diagnostics[0];
    const fix = d.fixes?.[0];
    assert.ok(fix);
    assert.equal(fix.title, 'Expand block onto multiple lines');
    assert.equal(fix.preferred, true);
    const fixed = applySpanEdits(SEED, fix.edits);
    assert.equal(fixed, [
      'policy "pg-homolog" {',
      '  engine              = "postgres"',
      '  plugin_config_entry = "pg-homolog-credentials"',
      '  expiration          = "12h"',
      '  instances           = ["dellstore", "dellstore.store", "testdb"]',
      '  grant_privileges    = ["SELECT", "UPDATE"]',
      '}',
    ].join('\n'));
    const again = parseHcl(fixed);
    assert.deepEqual(again.diagnostics, []);
    assert.deepEqual(toPlain(again.body), toPlain(parseHcl(SEED).body));
  });

  it('indents the expansion relative to a nested block, and expands nested one-line blocks', () => {
    const t = 'outer {\n  inner "x" { a = 1 b = "two" c { d = 3 } }\n}\n';
    const r = parseHcl(t);
    assert.equal(r.diagnostics.length, 1);
    assert.equal(r.diagnostics[0].code, 'hcl.single-line-block');
    assert.match(r.diagnostics[0].detail, /cannot contain another block/);
    const fixed = applySpanEdits(t, r.diagnostics[0].fixes![0].edits);
    assert.equal(fixed, 'outer {\n  inner "x" {\n    a = 1\n    b = "two"\n    c {\n      d = 3\n    }\n  }\n}\n');
    assert.deepEqual(parseHcl(fixed).diagnostics, []);
    assert.deepEqual(toPlain(parseHcl(fixed).body), toPlain(r.body));
  });

  it('offers no expansion when it would drop a comment', () => {
    const r = parseHcl('b { a = 1 /* keep me */ c = 2 }\n');
    assert.equal(r.diagnostics[0].code, 'hcl.single-line-block');
    assert.equal(r.diagnostics[0].fixes, undefined);
  });

  it('treats comma-separated arguments in a one-line block the same way', () => {
    const t = 'b { a = 1, c = 2 }\n';
    const r = parseHcl(t);
    assert.deepEqual(r.diagnostics.map((d) => d.code), ['hcl.single-line-block']);
    assert.deepEqual(toPlain(r.body), { b: [{ a: 1, c: 2 }] });
    assert.deepEqual(parseHcl(applySpanEdits(t, r.diagnostics[0].fixes![0].edits)).diagnostics, []);
  });

  it('recovers the following policies after the one-liner', () => {
    const t = `${SEED}\n\npolicy "next" {\n  engine = "postgres"\n}\n`;
    const r = parseHcl(t);
    assert.equal(r.diagnostics.length, 1);
    assert.deepEqual(Object.keys((toPlain(r.body) as { policy: object }).policy), ['pg-homolog', 'next']);
  });
});

describe('hcl toPlain: the hcl2json shape', () => {
  it('nests labels and collects repeated blocks in arrays', () => {
    const t = 'b "x" "y" {\n  a = 1\n}\nb "x" "y" {\n  a = 2\n}\nb "x" "z" {\n}\nc {\n}\nc {\n  d = [1]\n}\n';
    assert.deepEqual(toPlain(parseOk(t)), { b: { x: { y: [{ a: 1 }, { a: 2 }], z: [{}] } }, c: [{}, { d: [1] }] });
  });

  it('lets an attribute overwrite a block of the same name, as hcl2json does', () => {
    assert.deepEqual(toPlain(parseOk('a {\n}\na = 1\n')), { a: 1 });
  });

  it('writes non-literal expressions as ${source}', () => {
    assert.deepEqual(toPlain(parseOk('a = var.x\nb = [1, f(2)]\nc = { (k) = 1 }\n')), { a: '${var.x}', b: [1, '${f(2)}'], c: { '${(k)}': 1 } });
  });

  it('does not throw where hcl2json would (a block type with and without labels)', () => {
    assert.doesNotThrow(() => toPlain(parseOk('b "x" {\n}\nb {\n}\n')));
    assert.doesNotThrow(() => toPlain(parseOk('b {\n}\nb "x" {\n}\n')));
  });

  it('keeps __proto__ as an ordinary key', () => {
    const plain = toPlain(parseOk('__proto__ = 1\nb = { "__proto__" = 2 }\n')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(plain), ['__proto__', 'b']);
    assert.equal(Object.getPrototypeOf(plain), Object.prototype);
  });
});

describe('hcl parser: never throws', () => {
  const check = (text: string): void => {
    assertParseInvariants(text);
  };

  it('on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), check), { numRuns: 2000 });
  });

  it('on arbitrary unicode strings', () => {
    // fast-check 4 spells fullUnicodeString() as string({ unit: 'binary' }).
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), check), { numRuns: 2000 });
  });

  it('on strings made of HCL fragments', () => {
    const frag = fc.constantFrom('a', ' ', '\n', '=', '{', '}', '[', ']', '(', ')', '"', ',', '.', '1', '${', '%{', '~}', '<<EOT\n',
      'EOT\n', '<<-X\n', '#', '//', '/*', '*/', '\\', 'for', 'in', 'if', 'endif', ':', '?', '=>', '...', '*', '\r\n', '\t', 'é', '\ud800');
    fc.assert(fc.property(fc.array(frag, { maxLength: 60 }).map((xs) => xs.join('')), check), { numRuns: 3000 });
  });

  it('on deeply nested input', () => {
    check('a = ' + '['.repeat(2000) + ']'.repeat(2000) + '\n');
    check('a = ' + '('.repeat(2000) + '\n');
    check('b {\n'.repeat(1000));
    check('a = ' + '-'.repeat(5000) + '1\n');
    const deep = parseHcl('a = ' + '['.repeat(2000) + ']'.repeat(2000) + '\n');
    assert.equal(deep.diagnostics[0].code, 'hcl.nesting-too-deep');
    const fine = parseHcl('a = ' + '['.repeat(100) + ']'.repeat(100) + '\n');
    assert.deepEqual(fine.diagnostics, []);
  });
});

