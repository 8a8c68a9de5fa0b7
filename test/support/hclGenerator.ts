/**
 * Seeded generator of HCL documents for the differential test against hcl2-parser.
 *
 * Valid documents are built from a small grammar (policy-like blocks, random nesting,
 * every value kind, comments and whitespace in odd places, CRLF, BOM); invalid ones
 * are mutations of valid ones (character and token edits, joined lines, unbalanced
 * delimiters, truncation). Mutations may happen to leave a document valid: the test
 * compares verdicts with the reference, whatever they are.
 *
 * Deterministic: everything derives from the seed through a small PRNG, never
 * Math.random, so a failing document can be regenerated from its index.
 */

export interface GeneratedDoc {
  text: string;
  /** 'valid' documents are valid by construction; 'mutated' ones may or may not be. */
  origin: 'valid' | 'mutated';
  /** Short description of how it was made (for failure messages). */
  recipe: string;
}

/** mulberry32: tiny, fast, good enough for test data. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

const NAMES = [
  'a', 'b', 'name', 'value_2', 'x-y', 'ttl', 'max_ttl', 'roles', 'tags', 'enabled', 'port', 'hosts', 'é', 'naïve',
  'データ', '_private', 'in', 'if', 'for', 'true', 'null', 'endif', 'Δx', 'a1-b2_c3',
];
const BLOCK_TYPES = ['policy', 'grant', 'resource', 'settings', 'rule', 'b', 'nested-block', 'ünïcode', 'locals', 'for'];
const WORDS = ['postgres', 'pg-homolog', 'dellstore', 'SELECT', 'UPDATE', '12h', 'hello world', 'a.b.c', 'x', ''];
const UNICODE = ['é', 'ñ', '日本語', '😀', 'Ω', 'ß', '\u00a0', 'e\u0301', '\u2028', '\u{1F680}'];
const ESCAPES = ['\\n', '\\r', '\\t', '\\"', '\\\\', '\\u00e9', '\\u0041', '\\U0001F600', '\\u2603', '$${', '%%{', '$', '%', '$x', '%d', '{', '}', '$$', '%%'];

interface Ctx {
  rng: Rng;
  /** Whether only literal values are generated. */
  literal: boolean;
  depth: number;
}

// ------------------------------------------------------------------ values

function identifier(rng: Rng): string {
  if (rng.chance(0.7)) return rng.pick(NAMES);
  const first = 'abcdefghijklmnopqrstuvwxyz_';
  const rest = 'abcdefghijklmnopqrstuvwxyz0123456789_-';
  let s = first[rng.int(first.length)];
  const n = rng.int(10);
  for (let i = 0; i < n; i++) s += rest[rng.int(rest.length)];
  return s;
}

function stringContent(rng: Rng, allowTemplates: boolean): string {
  let s = '';
  const parts = rng.int(5);
  for (let i = 0; i < parts; i++) {
    const r = rng.next();
    if (r < 0.4) s += rng.pick(WORDS);
    else if (r < 0.6) {
      // Keep `$`/`%` + `{` from meeting across parts: that would start a template.
      const e = rng.pick(ESCAPES);
      s += /[$%]$/.test(s) && e.startsWith('{') ? ' ' + e : e;
    }
    else if (r < 0.75) s += rng.pick(UNICODE);
    else if (r < 0.85) s += ' ';
    else if (allowTemplates) s += rng.pick(['${var.x}', '${1 + 2}', '%{ if c }y%{ endif }', '${~ "t" ~}', '%{ for v in xs }${v}%{ endfor }']);
    else s += rng.pick(WORDS);
  }
  return s;
}

function quoted(rng: Rng, allowTemplates: boolean): string {
  return '"' + stringContent(rng, allowTemplates) + '"';
}

function numberLit(rng: Rng): string {
  switch (rng.int(9)) {
    case 0: return String(rng.int(10));
    case 1: return String(rng.int(100000));
    case 2: return `${rng.int(1000)}.${rng.int(1000)}`;
    case 3: return `${rng.int(10)}e${rng.int(20)}`;
    case 4: return `${rng.int(10)}.${rng.int(100)}E-${rng.int(10)}`;
    case 5: return `${rng.int(10)}.${rng.int(10)}e+${rng.int(30)}`;
    case 6: return '-' + rng.pick(['', ' ']) + String(rng.int(1000));
    case 7: return '12345678901234567890';
    default: return `0${rng.int(10)}`;
  }
}

function heredoc(ctx: Ctx, indent: string): string {
  const { rng } = ctx;
  const marker = rng.pick(['EOT', 'EOF', 'END_OF_TEXT', 'X-Y', 'Ω']);
  const flush = rng.chance(0.5);
  const lines: string[] = [];
  const n = rng.int(5);
  for (let i = 0; i < n; i++) {
    const pad = rng.pick(['', '  ', '    ', '\t', ' ', '      ']);
    let line = pad;
    const parts = rng.int(4);
    for (let j = 0; j < parts; j++) {
      const r = rng.next();
      if (r < 0.5) line += rng.pick(WORDS) + ' ';
      else if (r < 0.7) line += rng.pick(['$${', '%%{', '$', '%', '"quoted"', '\\n', '#', '//', '/*', '}', 'EOT2']);
      else if (r < 0.85) line += rng.pick(UNICODE.filter((u) => u !== '\u2028' && u !== 'e\u0301'));
      else if (!ctx.literal) line += '${var.x}';
      else line += 'x';
    }
    if (rng.chance(0.1)) line = pad; // whitespace-only line
    lines.push(line);
  }
  const closeIndent = rng.pick(['', indent, '  ']);
  return `<<${flush ? '-' : ''}${marker}\n${lines.map((l) => l + '\n').join('')}${closeIndent}${marker}`;
}

function comment(rng: Rng): string {
  return rng.pick(['# note', '// note', '/* note */', '#', '//', '/* multi\n line */', '# "quoted" { } [', '// ${not} %{ a }']);
}

function tuple(ctx: Ctx, indent: string): string {
  const { rng } = ctx;
  const n = rng.int(5);
  const items: string[] = [];
  for (let i = 0; i < n; i++) items.push(value({ ...ctx, depth: ctx.depth + 1 }, indent + '  '));
  if (n === 0) return rng.pick(['[]', '[ ]', '[\n' + indent + ']']);
  if (rng.chance(0.5)) return '[' + items.join(rng.pick([', ', ',', ' , '])) + (rng.chance(0.2) ? ',' : '') + ']';
  // Multi-line, maybe with comments between items and a trailing comma.
  let s = '[\n';
  items.forEach((it, i) => {
    if (rng.chance(0.15)) s += indent + '  ' + rng.pick(['# c', '// c', '/* c */']) + '\n';
    const last = i === items.length - 1;
    s += indent + '  ' + it + (last ? (rng.chance(0.5) ? ',' : '') : ',') + (rng.chance(0.1) ? ' /* c */' : '') + '\n';
  });
  return s + indent + ']';
}

function objectKey(ctx: Ctx): string {
  const { rng } = ctx;
  const r = rng.next();
  if (r < 0.5) {
    // `for` as a first key would start a for-expression; `null` keys break hcl2json.
    let k = identifier(rng);
    while (k === 'for' || k === 'null') k = identifier(rng);
    return k;
  }
  if (r < 0.85) return quoted(rng, false);
  if (!ctx.literal && r < 0.95) return rng.pick(['(var.k)', '"${k}"']);
  return rng.pick([String(rng.int(100)), '1e3', '0.50', '007', '1.5e-2', ctx.literal ? '2' : '-1']);
}

function object(ctx: Ctx, indent: string): string {
  const { rng } = ctx;
  const n = rng.int(5);
  const items: string[] = [];
  for (let i = 0; i < n; i++) {
    const sep = rng.pick([' = ', '=', ' : ', ': ', ' =  ']);
    items.push(objectKey(ctx) + sep + value({ ...ctx, depth: ctx.depth + 1 }, indent + '  '));
  }
  if (n === 0) return rng.pick(['{}', '{ }', '{\n' + indent + '}']);
  if (rng.chance(0.4)) return '{ ' + items.join(', ') + (rng.chance(0.3) ? ',' : '') + ' }';
  let s = '{\n';
  items.forEach((it) => {
    if (rng.chance(0.15)) s += indent + '  ' + comment(rng).replace('\n', ' ') + '\n';
    s += indent + '  ' + it + (rng.chance(0.3) ? ',' : '') + (rng.chance(0.1) ? ' # c' : '') + '\n';
    if (rng.chance(0.1)) s += '\n';
  });
  return s + indent + '}';
}

const EXPRESSIONS = [
  'var.x', 'local.a.b', 'a[0]', 'a.0', 'a[*].b', 'a.*.b', 'data.x["k"]', 'f()', 'f(1, "x")', 'f(xs...)', 'upper("a")',
  'f(\n  1,\n  2,\n)', '"${var.x}"', '"a ${b} c"', '"%{ if x }y%{ else }z%{ endif }"', '"%{ for v in xs }${v}, %{ endfor }"',
  '1 + 2 * 3', 'a == b && !c', 'a ? b : c', '(a + 1) / 2', '[for x in y : x]', '{for k, v in m : k => v}',
  '[for i, x in y : x if i > 0]', '{for k, v in m : v => k...}', '-a', '!a', '(1)', 'a.b.c[1]["x"]', 'x > 1 || y <= 2',
  '"${"a"}"', 'true ? "a" : "b"', '[1, 2][0]', '{a = 1}.a', '1 % 2 - 3', 'a != b', 'f(\n  [for x in y : x],\n)',
];

function value(ctx: Ctx, indent: string): string {
  const { rng } = ctx;
  const r = rng.next();
  const deep = ctx.depth >= 3;
  if (!ctx.literal && r < 0.15) {
    if (rng.chance(0.3)) return heredoc(ctx, indent);
    return rng.pick(EXPRESSIONS);
  }
  if (r < 0.4) return quoted(rng, false);
  if (r < 0.55) return numberLit(rng);
  if (r < 0.65) return rng.pick(['true', 'false', 'null']);
  if (r < 0.72) return heredoc(ctx, indent);
  if (r < 0.86 && !deep) return tuple(ctx, indent);
  if (!deep) return object(ctx, indent);
  return quoted(rng, false);
}

// ------------------------------------------------------------------ structure

function spacingAroundEquals(rng: Rng): [string, string] {
  return rng.pick([[' ', ' '], ['', ''], ['  ', ' '], ['\t', ' '], [' ', '\t'], [' /* c */ ', ' ']] as [string, string][]);
}

function attribute(ctx: Ctx, name: string, indent: string): string {
  const [a, b] = spacingAroundEquals(ctx.rng);
  let line = indent + name + a + '=' + b + value(ctx, indent);
  if (ctx.rng.chance(0.15)) line += ' ' + ctx.rng.pick(['# c', '// c', '/* c */']);
  if (ctx.rng.chance(0.05)) line += '   ';
  return line;
}

function label(rng: Rng): string {
  if (rng.chance(0.3)) return identifier(rng);
  return quoted(rng, false);
}

/**
 * Block types are given a fixed label count per body, because hcl2json (not HCL)
 * fails when one type is used with different label counts at the same level.
 */
function block(ctx: Ctx, type: string, labelCount: number, indent: string): string {
  const { rng } = ctx;
  const labels: string[] = [];
  for (let i = 0; i < labelCount; i++) labels.push(label(rng));
  const header = indent + [type, ...labels].join(rng.pick([' ', '  ', '\t'])) + rng.pick([' ', '', '  ']);
  const r = rng.next();
  if (r < 0.1) return header + rng.pick(['{}', '{ }', '{/* c */}']);
  if (r < 0.2) {
    // One-line block with exactly one argument: valid HCL.
    const v = ctx.rng.chance(0.5) ? quoted(rng, false) : numberLit(rng);
    return header + '{ ' + identifier(rng) + ' = ' + v + ' }';
  }
  const inner = body({ ...ctx, depth: ctx.depth + 1 }, indent + rng.pick(['  ', '    ', '\t', '']));
  return header + '{' + (rng.chance(0.15) ? ' # c' : '') + '\n' + inner + indent + '}';
}

function body(ctx: Ctx, indent: string): string {
  const { rng } = ctx;
  const n = ctx.depth === 0 ? rng.range(1, 5) : rng.int(6);
  const used = new Set<string>();
  const labelCounts = new Map<string, number>();
  let s = '';
  for (let i = 0; i < n; i++) {
    if (rng.chance(0.1)) s += indent + comment(rng) + '\n';
    if (rng.chance(0.1)) s += rng.pick(['\n', '   \n', '\t\n']);
    if (rng.chance(0.55) || ctx.depth >= 3) {
      const name = identifier(rng);
      if (used.has(name)) continue;
      used.add(name);
      s += attribute(ctx, name, indent) + '\n';
    } else {
      const type = rng.pick(BLOCK_TYPES);
      if (!labelCounts.has(type)) labelCounts.set(type, rng.int(3));
      s += block(ctx, type, labelCounts.get(type)!, indent) + '\n';
    }
  }
  return s;
}

/** A Mayfly policy in the shape users write. */
function policy(ctx: Ctx, name: string): string {
  const { rng } = ctx;
  const attrs: [string, string][] = [
    ['engine', '"postgres"'],
    ['plugin_config_entry', `"${name}-credentials"`],
    ['expiration', rng.pick(['"12h"', '"30m"', '"1h30m"'])],
    ['instances', '["dellstore", "dellstore.store", "testdb"]'],
    ['grant_privileges', rng.pick(['["SELECT", "UPDATE"]', '["SELECT"]', '[\n    "SELECT",\n    "INSERT",\n  ]'])],
  ];
  if (!ctx.literal && rng.chance(0.5)) attrs.push(['description', '"${var.env} access"']);
  const width = Math.max(...attrs.map(([k]) => k.length));
  const lines = attrs.filter(() => rng.chance(0.9)).map(([k, v]) => '  ' + (rng.chance(0.5) ? k.padEnd(width) : k) + ' = ' + v);
  return `policy "${name}" {\n${lines.join('\n')}\n}\n`;
}

function validDocument(rng: Rng): { text: string; recipe: string } {
  const literal = rng.chance(0.7);
  const ctx: Ctx = { rng, literal, depth: 0 };
  let text: string;
  let recipe: string;
  if (rng.chance(0.35)) {
    const count = rng.range(1, 4);
    const parts: string[] = [];
    for (let i = 0; i < count; i++) parts.push(policy(ctx, `pg-${i}-${rng.pick(WORDS.filter((w) => /^[a-z-]+$/.test(w)))}`));
    text = parts.join(rng.pick(['\n', '', '\n# next\n']));
    recipe = 'policies';
  } else {
    text = body(ctx, '');
    recipe = 'random-body';
  }
  if (rng.chance(0.2)) {
    text = text.replace(/\n/g, '\r\n');
    recipe += '+crlf';
  }
  if (rng.chance(0.05)) {
    text = '\ufeff' + text;
    recipe += '+bom';
  }
  if (rng.chance(0.1)) {
    text = text.replace(/\r?\n$/, '');
    recipe += '+no-final-newline';
  }
  return { text, recipe: recipe + (literal ? '+literal' : '+expressions') };
}

// ------------------------------------------------------------------ mutations

const INSERTS = ['{', '}', '[', ']', '(', ')', '"', '=', ',', '.', '\n', '#', '/', '*', '$', '%', '\\', '<', '-', ':', ' ', 'x', '0', '\t', ';', "'", '~', '?', '!'];
const TOKEN_RE = /\s+|[A-Za-z_\u00c0-\uffff][\w\u00c0-\uffff-]*|\d+(?:\.\d+)?|"(?:[^"\\\n]|\\.)*"|<<-?\w+|\/\*|\*\/|\$\{|%\{|./gsu;

function tokens(text: string): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (const m of text.matchAll(TOKEN_RE)) {
    if (!/^\s+$/.test(m[0])) out.push({ start: m.index!, end: m.index! + m[0].length });
  }
  return out;
}

function mutate(rng: Rng, text: string): { text: string; recipe: string } {
  const r = rng.int(10);
  // Work on whole code points: splitting a surrogate pair would make text that has
  // no UTF-8 form, which the reference (reading UTF-8) cannot even be given.
  let at = text.length ? rng.int(text.length) : 0;
  if (at > 0 && /[\udc00-\udfff]/.test(text[at]) && /[\ud800-\udbff]/.test(text[at - 1])) at--;
  const ch = text.length ? String.fromCodePoint(text.codePointAt(at)!) : '';
  switch (r) {
    case 0: return { text: text.slice(0, at) + text.slice(at + ch.length), recipe: 'delete-char' };
    case 1: return { text: text.slice(0, at) + rng.pick(INSERTS) + text.slice(at), recipe: 'insert-char' };
    case 2: return { text: text.slice(0, at) + ch + text.slice(at), recipe: 'duplicate-char' };
    case 3: {
      const toks = tokens(text);
      if (!toks.length) return { text, recipe: 'none' };
      const t = rng.pick(toks);
      return { text: text.slice(0, t.start) + text.slice(t.end), recipe: 'delete-token' };
    }
    case 4: {
      const toks = tokens(text);
      if (!toks.length) return { text, recipe: 'none' };
      const t = rng.pick(toks);
      return { text: text.slice(0, t.end) + ' ' + text.slice(t.start), recipe: 'duplicate-token' };
    }
    case 5: {
      const nls = [...text.matchAll(/\r?\n/g)].map((m) => m.index!);
      if (!nls.length) return { text, recipe: 'none' };
      const nl = rng.pick(nls);
      const len = text[nl] === '\r' ? 2 : 1;
      return { text: text.slice(0, nl) + ' ' + text.slice(nl + len), recipe: 'join-lines' };
    }
    case 6: {
      const idx: number[] = [];
      for (let i = 0; i < text.length; i++) if ('{}[]()"'.includes(text[i])) idx.push(i);
      if (!idx.length) return { text, recipe: 'none' };
      const i = rng.pick(idx);
      return { text: text.slice(0, i) + text.slice(i + 1), recipe: 'unbalance-delimiter' };
    }
    case 7: return { text: text.slice(0, at), recipe: 'truncate' };
    case 8: {
      const toks = tokens(text);
      if (toks.length < 2) return { text, recipe: 'none' };
      const i = rng.int(toks.length - 1);
      const a = toks[i];
      const b = toks[i + 1];
      return {
        text: text.slice(0, a.start) + text.slice(b.start, b.end) + text.slice(a.end, b.start) + text.slice(a.start, a.end) + text.slice(b.end),
        recipe: 'swap-tokens',
      };
    }
    default: {
      // The seed document's mistake: put a whole block on one line.
      const m = /\{\r?\n([\s\S]*?)\r?\n\}/.exec(text);
      if (!m) return { text, recipe: 'none' };
      const flat = m[1].split(/\r?\n/).map((l) => l.trim()).join(' ');
      return { text: text.slice(0, m.index) + '{ ' + flat + ' }' + text.slice(m.index + m[0].length), recipe: 'one-line-block' };
    }
  }
}

/** `count` documents from `seed`: roughly 60% valid by construction, 40% mutated. */
export function generateCorpus(seed: number, count: number): GeneratedDoc[] {
  const rng = new Rng(seed);
  const docs: GeneratedDoc[] = [];
  for (let i = 0; i < count; i++) {
    const base = validDocument(rng);
    if (rng.chance(0.6)) {
      docs.push({ text: base.text, origin: 'valid', recipe: base.recipe });
      continue;
    }
    let { text } = base;
    const recipes: string[] = [];
    const n = rng.chance(0.8) ? 1 : 2;
    for (let j = 0; j < n; j++) {
      const m = mutate(rng, text);
      text = m.text;
      recipes.push(m.recipe);
    }
    docs.push({ text, origin: 'mutated', recipe: base.recipe + ' / ' + recipes.join('+') });
  }
  return docs;
}
