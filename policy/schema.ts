/**
 * The policy rules: hoop's (so existing files mean the same) plus Mayfly's stricter ones.
 * Input is the syntax tree; output is validated policies and diagnostics with stable codes.
 * Every diagnostic sits on the offending token and says how to fix the problem.
 */
import type { Attribute, Block, Body, Diagnostic, Fix, Severity, Span, Value } from './hcl/ast';
import { formatDuration, HOUR_NS, parseGoDuration } from './duration';
import { INSTANCE_PATTERN, splitInstance } from './instances';
import {
  DEFAULT_EXPIRATION,
  ENGINES,
  MAX_INSTANCES,
  PRIVILEGES,
  type AnalyzeOptions,
  type Instance,
  type Policy,
  type Privilege,
} from './model';
import { sessionUserName } from './naming';
import { closest } from './suggest';

export const ARGUMENTS = ['engine', 'plugin_config_entry', 'expiration', 'instances', 'grant_privileges'] as const;
export const REQUIRED_ARGUMENTS = ['engine', 'plugin_config_entry', 'instances', 'grant_privileges'] as const;
const MAX_EXPIRATION_NS = 24 * HOUR_NS;
const DEFAULT_EXPIRATION_NS = 12 * HOUR_NS;

type Sink = (d: Diagnostic) => void;

function diag(
  severity: Severity,
  code: string,
  summary: string,
  detail: string,
  span: Span,
  extra: Partial<Diagnostic> = {},
): Diagnostic {
  return { severity, code, summary, detail, span, ...extra };
}

function replaceFix(title: string, span: Span, newText: string, preferred = true): Fix {
  return { title, edits: [{ span, newText }], preferred };
}

/** Span of `"x"` minus its quotes, for fixes that replace only the content. */
function inner(span: Span): Span {
  return { start: span.start + 1, end: span.end - 1 };
}

function describe(v: Value): string {
  switch (v.kind) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'bool':
      return 'a bool';
    case 'null':
      return 'null';
    case 'tuple':
      return 'a list';
    case 'object':
      return 'an object';
    case 'expression':
      return `a ${v.what}`;
  }
}

function notLiteral(name: string, v: Value & { kind: 'expression' }, sink: Sink): void {
  sink(
    diag(
      'error',
      'policy.not-literal',
      'Value must be a literal',
      `"${name}" must be a literal value, not a ${v.what} (\`${v.text.length > 40 ? v.text.slice(0, 37) + '...' : v.text}\`): Mayfly policies are static, so write the value itself, e.g. ${example(name)}.`,
      v.span,
    ),
  );
}

function example(name: string): string {
  switch (name) {
    case 'engine':
      return 'engine = "postgres"';
    case 'plugin_config_entry':
      return 'plugin_config_entry = "pg-homolog-credentials"';
    case 'expiration':
      return 'expiration = "12h"';
    case 'instances':
      return 'instances = ["dellstore", "dellstore.store"]';
    default:
      return 'grant_privileges = ["SELECT", "UPDATE"]';
  }
}

function expectString(attr: Attribute, sink: Sink): (Value & { kind: 'string' }) | undefined {
  const v = attr.value;
  if (v.kind === 'string') return v;
  if (v.kind === 'expression') notLiteral(attr.name, v, sink);
  else
    sink(
      diag(
        'error',
        'policy.wrong-type',
        'Incorrect attribute value type',
        `"${attr.name}" must be a string, not ${describe(v)}: write it in double quotes, e.g. ${example(attr.name)}.`,
        v.span,
      ),
    );
  return undefined;
}

/** A list of string literals; reports each bad element and returns the good ones. */
function expectStringList(
  attr: Attribute,
  sink: Sink,
): { value: string; span: Span }[] | undefined {
  const v = attr.value;
  if (v.kind !== 'tuple') {
    if (v.kind === 'expression') notLiteral(attr.name, v, sink);
    else if (v.kind === 'string')
      sink(
        diag(
          'error',
          'policy.wrong-type',
          'Incorrect attribute value type',
          `"${attr.name}" must be a list of strings, not a single string: wrap it in brackets, e.g. ["${v.value}"].`,
          v.span,
          { fixes: [replaceFix('Wrap in a list', v.span, `[${JSON.stringify(v.value)}]`)] },
        ),
      );
    else
      sink(
        diag(
          'error',
          'policy.wrong-type',
          'Incorrect attribute value type',
          `"${attr.name}" must be a list of strings, not ${describe(v)}, e.g. ${example(attr.name)}.`,
          v.span,
        ),
      );
    return undefined;
  }
  const out: { value: string; span: Span }[] = [];
  for (const item of v.items) {
    if (item.kind === 'string') out.push({ value: item.value, span: item.span });
    else if (item.kind === 'expression') notLiteral(attr.name, item, sink);
    else
      sink(
        diag(
          'error',
          'policy.wrong-type',
          'Incorrect list element type',
          `Each element of "${attr.name}" must be a string, not ${describe(item)}.`,
          item.span,
        ),
      );
  }
  return out;
}

/** Removes a list element together with its separating comma, for "remove repeat" fixes. */
function removeElementFix(list: Value, index: number, what: string): Fix | undefined {
  if (list.kind !== 'tuple') return undefined;
  const item = list.items[index];
  const prev = list.items[index - 1];
  if (!item || !prev) return undefined;
  // From the end of the previous element to the end of this one: drops ", "X"".
  return { title: `Remove the repeated ${what}`, edits: [{ span: { start: prev.span.end, end: item.span.end }, newText: '' }], preferred: true };
}

export function validateBody(body: Body, options: AnalyzeOptions, sink: Sink): Policy[] {
  const policies: Policy[] = [];
  for (const item of body.items) {
    if (item.kind === 'attribute') {
      sink(
        diag(
          'error',
          'policy.unexpected-argument',
          'Unsupported argument',
          `An argument named "${item.name}" is not expected at the top level: a policy file holds only \`policy "NAME" { ... }\` blocks.`,
          item.nameSpan,
        ),
      );
      continue;
    }
    if (item.type !== 'policy') {
      const guess = closest(item.type, ['policy']);
      sink(
        diag(
          'error',
          'policy.unexpected-block',
          'Unsupported block type',
          `Blocks of type "${item.type}" are not expected here: a policy file holds only \`policy "NAME" { ... }\` blocks.${guess ? ' Did you mean "policy"?' : ''}`,
          item.typeSpan,
          guess ? { fixes: [replaceFix('Change to "policy"', item.typeSpan, 'policy')] } : {},
        ),
      );
      continue;
    }
    const policy = validatePolicy(item, options, sink);
    if (policy) policies.push(policy);
  }
  return policies;
}

function validatePolicy(block: Block, options: AnalyzeOptions, sink: Sink): Policy | undefined {
  const label = block.labels[0];
  if (!label) {
    sink(
      diag(
        'error',
        'policy.missing-name',
        'Missing name for policy',
        'A policy block needs one label, its name: `policy "pg-homolog" { ... }`.',
        block.typeSpan,
      ),
    );
    return undefined;
  }
  for (const extra of block.labels.slice(1))
    sink(
      diag(
        'error',
        'policy.extra-label',
        'Extraneous label for policy',
        `A policy block has exactly one label, its name; remove "${extra.value}".`,
        extra.span,
        { fixes: [replaceFix('Remove the extra label', { start: block.labels[0]!.span.end, end: extra.span.end }, '')] },
      ),
    );
  if (label.value.trim() === '')
    sink(
      diag('error', 'policy.empty-name', 'Empty policy name', 'Give the policy a name, e.g. `policy "pg-homolog" { ... }`.', label.span),
    );

  const policy: Policy = {
    name: label.value,
    nameSpan: label.span,
    span: block.span,
    expiration: { ns: DEFAULT_EXPIRATION_NS, text: DEFAULT_EXPIRATION },
    instances: [],
    privileges: [],
    valid: true,
  };

  const seen = new Map<string, Attribute>();
  let instancesOk = false;
  let privilegesOk = false;
  for (const item of block.body.items) {
    if (item.kind === 'block') {
      sink(
        diag(
          'error',
          'policy.nested-block',
          'Unsupported block type',
          `Blocks of type "${item.type}" are not expected inside a policy: policies hold only the arguments ${ARGUMENTS.join(', ')}.`,
          item.typeSpan,
        ),
      );
      continue;
    }
    seen.set(item.name, item);
    switch (item.name) {
      case 'engine':
        checkEngine(item, policy, sink);
        break;
      case 'plugin_config_entry':
        checkEntry(item, policy, options, sink);
        break;
      case 'expiration':
        checkExpiration(item, policy, sink);
        break;
      case 'instances':
        instancesOk = checkInstances(item, policy, sink);
        break;
      case 'grant_privileges':
        privilegesOk = checkPrivileges(item, policy, sink);
        break;
      default: {
        const guess = closest(item.name, ARGUMENTS);
        sink(
          diag(
            'error',
            'policy.unknown-argument',
            'Unsupported argument',
            `An argument named "${item.name}" is not expected in a policy.${guess ? ` Did you mean "${guess}"?` : ''} Valid arguments: ${ARGUMENTS.join(', ')}.`,
            item.nameSpan,
            guess ? { fixes: [replaceFix(`Rename to "${guess}"`, item.nameSpan, guess)] } : {},
          ),
        );
      }
    }
  }
  for (const required of REQUIRED_ARGUMENTS) {
    if (seen.has(required)) continue;
    sink(
      diag(
        'error',
        'policy.missing-argument',
        'Missing required argument',
        `The argument "${required}" is required in policy "${policy.name}", e.g. ${example(required)}.`,
        label.span,
      ),
    );
  }
  if (instancesOk && privilegesOk)
    policy.sessionUser = sessionUserName(
      policy.instances.map((i) => i.raw),
      policy.privileges.map((p) => p.name),
    );
  return policy;
}

function checkEngine(attr: Attribute, policy: Policy, sink: Sink): void {
  const v = expectString(attr, sink);
  if (!v) return;
  policy.engine = v.value;
  if ((ENGINES as readonly string[]).includes(v.value)) return;
  const lower = v.value.toLowerCase();
  const guess = lower === 'postgresql' || lower === 'pg' || lower === 'postgres' ? 'postgres' : closest(v.value, ENGINES);
  sink(
    diag(
      'error',
      'policy.engine',
      'Unsupported engine',
      `Engine "${v.value}" is not supported: the only engine is "postgres".`,
      v.span,
      guess ? { fixes: [replaceFix('Change to "postgres"', inner(v.span), 'postgres')] } : {},
    ),
  );
}

function checkEntry(attr: Attribute, policy: Policy, options: AnalyzeOptions, sink: Sink): void {
  const v = expectString(attr, sink);
  if (!v) return;
  if (v.value.trim() === '') {
    sink(
      diag(
        'error',
        'policy.entry-empty',
        'Empty plugin config entry',
        'plugin_config_entry names the config entry holding the granter DSN (e.g. "pg-homolog-credentials"); it cannot be empty.',
        v.span,
      ),
    );
    return;
  }
  if (v.value === 'policy-config') {
    sink(
      diag(
        'error',
        'policy.entry-reserved',
        'Reserved plugin config entry',
        '"policy-config" names the policy file itself, not a database: use the name of an entry that holds a DSN.',
        v.span,
      ),
    );
    return;
  }
  policy.pluginConfigEntry = v.value;
  policy.pluginConfigEntrySpan = v.span;
  const known = options.knownEntries;
  if (known && !known.includes(v.value)) {
    const guess = closest(v.value, known);
    sink(
      diag(
        'warning',
        'policy.unknown-entry',
        'Unknown plugin config entry',
        `No plugin config entry named "${v.value}" is configured${known.length ? ` (configured: ${known.join(', ')})` : ''}. Add it with \`--config ${v.value}=...\` or the mayfly.configEntries setting${guess ? `, or did you mean "${guess}"?` : '.'}`,
        v.span,
        guess ? { fixes: [replaceFix(`Change to "${guess}"`, inner(v.span), guess)] } : {},
      ),
    );
  }
}

function checkExpiration(attr: Attribute, policy: Policy, sink: Sink): void {
  const v = expectString(attr, sink);
  if (!v) return;
  const parsed = parseGoDuration(v.value);
  if (!parsed.ok) {
    const fixes: Fix[] = [];
    let detail = `Invalid expiration: ${parsed.reason}. Use a Go duration such as "12h", "90m" or "1h30m" (at most 24h).`;
    const days = /^(\d+(?:\.\d+)?)d$/.exec(v.value);
    if (days) {
      const hours = Number(days[1]) * 24;
      detail = `Invalid expiration "${v.value}": Go durations have no "d" unit; write hours instead ("${hours}h")${hours > 24 ? ', and note the maximum is 24h' : ''}.`;
      fixes.push(replaceFix(`Change to "${hours}h"`, inner(v.span), `${hours}h`));
    }
    sink(diag('error', 'policy.expiration-invalid', 'Invalid expiration', detail, v.span, fixes.length ? { fixes } : {}));
    return;
  }
  if (parsed.ns <= 0 || parsed.ns > MAX_EXPIRATION_NS) {
    sink(
      diag(
        'error',
        'policy.expiration-range',
        'Expiration out of range',
        `Expiration "${v.value}" is ${parsed.ns <= 0 ? 'not positive' : `longer than the 24h maximum (it is ${formatDuration(parsed.ns)})`}: use a duration greater than 0 and at most "24h".`,
        v.span,
        parsed.ns > MAX_EXPIRATION_NS ? { fixes: [replaceFix('Change to "24h"', inner(v.span), '24h')] } : {},
      ),
    );
    return;
  }
  policy.expiration = { ns: parsed.ns, text: formatDuration(parsed.ns), span: v.span };
}

/**
 * Repeats are errors (hoop would hash them into the role name), reported on the repeat
 * with the first occurrence as related location and a fix that removes the repeat.
 */
function isRepeat(
  attr: Attribute,
  item: { value: string; span: Span },
  index: number,
  firstSeen: Map<string, Span>,
  what: 'instance' | 'privilege',
  sink: Sink,
): boolean {
  const first = firstSeen.get(item.value);
  if (!first) {
    firstSeen.set(item.value, item.span);
    return false;
  }
  const fix = removeElementFix(attr.value, index, what);
  const label = what === 'instance' ? 'Instance' : 'Privilege';
  sink(
    diag('error', `policy.${what}-repeated`, `Repeated ${what}`, `${label} "${item.value}" is listed more than once: remove the repeat.`, item.span, {
      related: [{ span: first, message: 'First listed here' }],
      ...(fix ? { fixes: [fix] } : {}),
    }),
  );
  return true;
}

function checkInstances(attr: Attribute, policy: Policy, sink: Sink): boolean {
  const list = expectStringList(attr, sink);
  if (!list) return false;
  let ok = list.length === (attr.value.kind === 'tuple' ? attr.value.items.length : -1);
  if (list.length === 0 && ok) {
    sink(
      diag(
        'error',
        'policy.instances-count',
        'No instances',
        'instances must list at least one database, e.g. ["dellstore", "dellstore.store"].',
        attr.value.span,
      ),
    );
    return false;
  }
  if (list.length > MAX_INSTANCES) {
    ok = false;
    sink(
      diag(
        'error',
        'policy.instances-count',
        'Too many instances',
        `A policy may list at most ${MAX_INSTANCES} instances (${list.length}): split it into several policies.`,
        attr.value.span,
      ),
    );
  }
  const firstSeen = new Map<string, Span>();
  list.forEach((item, index) => {
    if (!INSTANCE_PATTERN.test(item.value)) {
      ok = false;
      sink(
        diag(
          'error',
          'policy.instance-name',
          'Invalid instance name',
          `Instance "${item.value}" is not valid: write "database" or "database.schema" using letters, digits, "_", "$" and ".", starting with a letter or "_".`,
          item.span,
        ),
      );
      return;
    }
    if (isRepeat(attr, item, index, firstSeen, 'instance', sink)) {
      ok = false;
      return;
    }
    const split = splitInstance(item.value);
    const instance: Instance = { raw: item.value, database: split.database, schema: split.schema, span: item.span };
    policy.instances.push(instance);
  });
  return ok;
}

function checkPrivileges(attr: Attribute, policy: Policy, sink: Sink): boolean {
  const list = expectStringList(attr, sink);
  if (!list) return false;
  let ok = list.length === (attr.value.kind === 'tuple' ? attr.value.items.length : -1);
  if (list.length === 0 && ok) {
    sink(
      diag(
        'error',
        'policy.privileges-empty',
        'No privileges',
        `grant_privileges must list at least one of ${PRIVILEGES.join(', ')}.`,
        attr.value.span,
      ),
    );
    return false;
  }
  const firstSeen = new Map<string, Span>();
  list.forEach((item, index) => {
    if (!(PRIVILEGES as readonly string[]).includes(item.value)) {
      ok = false;
      const upper = item.value.toUpperCase();
      if ((PRIVILEGES as readonly string[]).includes(upper)) {
        sink(
          diag(
            'error',
            'policy.privilege-case',
            'Privilege must be upper case',
            `Privileges are case-sensitive: write "${upper}" instead of "${item.value}".`,
            item.span,
            { fixes: [replaceFix(`Change to "${upper}"`, inner(item.span), upper)] },
          ),
        );
      } else {
        const guess = closest(item.value, PRIVILEGES);
        sink(
          diag(
            'error',
            'policy.privilege-unknown',
            'Unknown privilege',
            `"${item.value}" is not a privilege Mayfly grants.${guess ? ` Did you mean "${guess}"?` : ''} Allowed: ${PRIVILEGES.join(', ')}.`,
            item.span,
            guess ? { fixes: [replaceFix(`Change to "${guess}"`, inner(item.span), guess)] } : {},
          ),
        );
      }
      return;
    }
    if (isRepeat(attr, item, index, firstSeen, 'privilege', sink)) {
      ok = false;
      return;
    }
    policy.privileges.push({ name: item.value as Privilege, span: item.span });
  });
  return ok;
}

/** Rules across policies: duplicate names (error) and shared session roles (information). */
export function validateAcross(policies: Policy[], sink: Sink): void {
  const byName = new Map<string, Policy>();
  const byRole = new Map<string, Policy>();
  for (const p of policies) {
    const first = byName.get(p.name);
    if (first) {
      sink(
        diag(
          'error',
          'policy.duplicate-name',
          'Duplicate policy name',
          `A policy named "${p.name}" is already defined: policy names must be unique in a file; rename this one.`,
          p.nameSpan,
          { related: [{ span: first.nameSpan, message: `First "${p.name}" defined here` }] },
        ),
      );
    } else byName.set(p.name, p);
    if (!p.sessionUser) continue;
    const sharing = byRole.get(p.sessionUser);
    if (sharing && sharing.name !== p.name) {
      sink(
        diag(
          'information',
          'policy.shared-role',
          'Shares a session role',
          `Policies "${sharing.name}" and "${p.name}" have the same instances and privileges, so they share the session role ${p.sessionUser}: the same password and grants (the expiration of whichever was opened last applies).`,
          p.nameSpan,
          { related: [{ span: sharing.nameSpan, message: `"${sharing.name}" uses ${p.sessionUser} too` }] },
        ),
      );
    } else if (!sharing) byRole.set(p.sessionUser, p);
  }
}
