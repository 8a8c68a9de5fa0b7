/**
 * fast-check arbitraries for policy files that are valid HCL: the shape users write
 * (one `policy` block per policy, the five arguments) in every layout HCL allows —
 * argument order, alignment, tabs, comments anywhere a comment may go, blank lines,
 * single- and multi-line lists with trailing commas, escapes and non-ASCII in strings,
 * CRLF, a heredoc, extra arguments and nested blocks the schema will complain about.
 * Valid HCL by construction; not necessarily a valid policy.
 */
import fc from 'fast-check';
import { PRIVILEGES } from '../../../policy/model';

const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789-_';
const name = fc.string({ unit: fc.constantFrom(...NAME_CHARS), minLength: 1, maxLength: 16 });
/** A database or schema name as policies write them (letters, digits, `_`, `$`). */
const identifier = fc
  .tuple(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_'), fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789_$'), maxLength: 12 }))
  .map(([a, b]) => a + b);

/** A quoted HCL string whose content includes escapes and non-ASCII text. */
const quotedPiece = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: fc.constantFrom(...NAME_CHARS, '.', ' ', 'É', 'ß', '日', '😀'), maxLength: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom('\\"', '\\\\', '\\n', '\\t', '\\u00e9', '\\U0001F600', '$${x}', '%%{y}', '$', '%') },
);
const quoted = (inner: fc.Arbitrary<string>): fc.Arbitrary<string> => inner.map((s) => `"${s}"`);
const anyQuoted = quoted(fc.array(quotedPiece, { maxLength: 4 }).map((xs) => xs.join('')));

const comment = fc.constantFrom('# note', '// note', '/* note */', '#', '# "quoted" { } [', '// ${not} %{ a }', '/* multi\n   line */');
const lineEnd = fc.oneof({ weight: 5, arbitrary: fc.constant('') }, { weight: 1, arbitrary: comment.filter((c) => !c.includes('\n')).map((c) => ' ' + c) });

const goodInstance = fc.oneof(
  fc.constantFrom('dellstore', 'dellstore.store', 'testdb'),
  fc.tuple(identifier, fc.option(identifier, { nil: undefined })).map(([d, s]) => (s ? `${d}.${s}` : d)),
);
const anyInstance = fc.oneof(goodInstance, fc.tuple(name, name).map(([d, s]) => `${d}.${s}`), fc.constantFrom('db.Mixed Case', 'db."q"', 'a.b.c', '', '.x'));
const anyPrivilege = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...PRIVILEGES) }, { weight: 1, arbitrary: fc.constantFrom('select', 'ALL', 'SELECT ') });
/** Mostly what a valid policy holds (1 to 9 distinct valid items), sometimes anything. */
const items = (good: fc.Arbitrary<string>, any: fc.Arbitrary<string>): fc.Arbitrary<string[]> =>
  fc.oneof({ weight: 4, arbitrary: fc.uniqueArray(good, { minLength: 1, maxLength: 9 }) }, { weight: 1, arbitrary: fc.array(any, { maxLength: 12 }) }).map((xs) =>
    xs.map((x) => JSON.stringify(x)),
  );

/** How a list is laid out: on one line or several, maybe with a comment and a trailing comma. */
const listLayout = fc.record({
  multi: fc.boolean(),
  trailing: fc.boolean(),
  sep: fc.constantFrom(', ', ',', ' , '),
  comment: fc.option(comment.filter((c) => !c.includes('\n')), { nil: undefined }),
});
type ListLayout = typeof listLayout extends fc.Arbitrary<infer T> ? T : never;

function list(xs: string[], l: ListLayout, indent: string): string {
  if (!l.multi || xs.length === 0) return `[${xs.join(l.sep)}${l.trailing && xs.length ? ',' : ''}]`;
  const inner = xs.map((x, i) => `${indent}  ${x}${i < xs.length - 1 || l.trailing ? ',' : ''}`).join('\n');
  return `[\n${l.comment ? `${indent}  ${l.comment}\n` : ''}${inner}\n${indent}]`;
}

const heredoc = fc.tuple(fc.boolean(), fc.array(fc.string({ unit: fc.constantFrom(...NAME_CHARS, ' ', '"', '{', '}', '#'), maxLength: 12 }), { maxLength: 3 }))
  .map(([flush, lines]) => `<<${flush ? '-' : ''}EOT\n${lines.map((l) => (flush ? '  ' : '') + l + '\n').join('')}${flush ? '  ' : ''}EOT`);

const extraArgument = fc.oneof(
  fc.tuple(fc.constantFrom('description', 'owner', 'expiration_', 'grant_privilege'), anyQuoted).map(([k, v]) => `${k} = ${v}`),
  fc.constantFrom('enabled = true', 'max = 5', 'ratio = 1.5e3', 'tags = { team = "data", "on-call" = null }', 'note = null'),
);

export interface GeneratedPolicyDoc {
  text: string;
  names: string[];
}

const policyBlock = fc.record({
  name: fc.oneof({ weight: 5, arbitrary: name }, { weight: 1, arbitrary: fc.constantFrom('pg-homolog', 'store-readonly', 'Ünïcode', 'a b') }),
  engine: fc.oneof({ weight: 6, arbitrary: fc.constant('"postgres"') }, { weight: 1, arbitrary: fc.constantFrom('"mysql"', '<<EOT\npostgres\nEOT') }),
  entry: fc.oneof({ weight: 6, arbitrary: quoted(name) }, { weight: 1, arbitrary: heredoc }),
  expiration: fc.option(
    fc.oneof({ weight: 4, arbitrary: fc.constantFrom('"12h"', '"30m"', '"1h30m"', '"90m"', '"24h"') }, { weight: 1, arbitrary: fc.constantFrom('"25h"', '"1d"', '"0s"', '"1.5h"', '"-1h"') }),
    { nil: undefined },
  ),
  instances: items(goodInstance, anyInstance),
  privileges: items(fc.constantFrom(...PRIVILEGES), anyPrivilege),
  instancesLayout: listLayout,
  privilegesLayout: listLayout,
  extra: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(extraArgument, { minLength: 1, maxLength: 2 }) }),
  nested: fc.constantFrom(false, false, false, true),
  order: fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
  align: fc.boolean(),
  indent: fc.constantFrom('  ', '    ', '\t', ''),
  around: fc.constantFrom<[string, string]>([' ', ' '], ['', ''], ['\t', ' '], [' /* c */ ', ' ']),
  endings: fc.array(lineEnd, { minLength: 8, maxLength: 8 }),
  commentLines: fc.array(fc.option(comment, { nil: undefined, freq: 4 }), { minLength: 8, maxLength: 8 }),
  labelSpace: fc.constantFrom(' ', '  ', '\t'),
  oneLineHeader: fc.option(comment.filter((c) => !c.includes('\n')), { nil: undefined, freq: 5 }),
});

type PolicyBlock = typeof policyBlock extends fc.Arbitrary<infer T> ? T : never;

function renderPolicy(b: PolicyBlock): { text: string; name: string } {
  const args: [string, string][] = [
    ['engine', b.engine],
    ['plugin_config_entry', b.entry],
    ['instances', list(b.instances, b.instancesLayout, b.indent)],
    ['grant_privileges', list(b.privileges, b.privilegesLayout, b.indent)],
  ];
  if (b.expiration) args.push(['expiration', b.expiration]);
  for (const e of b.extra) {
    const eq = e.indexOf(' = ');
    if (!args.some(([k]) => k === e.slice(0, eq))) args.push([e.slice(0, eq), e.slice(eq + 3)]);
  }
  // A stable shuffle driven by the generated numbers.
  const sorted = args.map((a, i) => ({ a, k: b.order[i % b.order.length]! * 16 + i })).sort((x, y) => x.k - y.k).map((x) => x.a);
  const width = Math.max(...sorted.map(([k]) => k.length));
  const lines: string[] = [];
  sorted.forEach(([k, v], i) => {
    const c = b.commentLines[i];
    if (c) lines.push(b.indent + c);
    // A heredoc ends on its own marker line: no comment after it.
    const end = v.startsWith('<<') ? '' : b.endings[i]!;
    lines.push(`${b.indent}${b.align ? k.padEnd(width) : k}${b.around[0]}=${b.around[1]}${v}${end}`);
  });
  if (b.nested) lines.push(`${b.indent}meta {`, `${b.indent}${b.indent}owner = "x"`, `${b.indent}}`);
  const header = `policy${b.labelSpace}"${b.name}"${b.labelSpace}{${b.oneLineHeader ? ' ' + b.oneLineHeader : ''}`;
  return { text: `${header}\n${lines.join('\n')}\n}\n`, name: b.name };
}

/** One to four policies, with blank lines or comments between them, LF or CRLF. */
export const policyDocument: fc.Arbitrary<GeneratedPolicyDoc> = fc
  .tuple(
    fc.array(policyBlock.map(renderPolicy), { minLength: 1, maxLength: 4 }),
    fc.array(fc.constantFrom('', '\n', '\n# next\n', '\n\n\n', '// between\n'), { minLength: 4, maxLength: 4 }),
    fc.boolean(),
    fc.boolean(),
    fc.boolean(),
  )
  .map(([policies, gaps, crlf, bom, noFinalNewline]) => {
    let text = policies.map((p, i) => (i ? gaps[i]! : '') + p.text).join('');
    if (noFinalNewline) text = text.replace(/\n$/, '');
    if (crlf) text = text.replace(/\n/g, '\r\n');
    if (bom) text = '\ufeff' + text;
    return { text, names: policies.map((p) => p.name) };
  });
