/**
 * Fuzzing the policy core: the HCL parser, the analysis the editor and the proxy run on
 * every keystroke / reload, quick fixes and the formatter.
 *
 * - any text, and mutations of real policy files, never make an internal error, and every
 *   span (syntax tree, diagnostics, related locations, fix edits) lies inside the text;
 * - generated policy files (valid HCL) agree with hcl2-parser, and mutated ones get the
 *   same verdict (test/support/hclReference.ts, shared with the differential test);
 * - formatting a valid file gives a valid file with the same values and the same
 *   policies, and formatting again changes nothing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { analyzePolicies } from '../../policy/analyze';
import { formatPolicyText } from '../../policy/format';
import { parseHcl, toPlain } from '../../policy/hcl';
import { LineIndex } from '../../policy/text';
import { applySpanEdits, assertParseInvariants, assertSpansInside } from '../support/hclInvariants';
import { generateCorpus } from '../support/hclGenerator';
import { compareWithReference, loadHclParseConfig, same } from '../support/hclReference';
import { DEMO_POLICIES, SEED_POLICY } from '../support/policies';
import { HCL_FRAGMENTS, mutatedText } from './support/mutate';
import { policyDocument } from './support/policyDocs';
import { checkProperty, Tally } from './support/settings';

const ROOT = path.resolve(__dirname, '..', '..');

/** Every policy file in the repository's examples and test fixtures. */
function realPolicyFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.hcl')) out.push(fs.readFileSync(p, 'utf8'));
    }
  };
  walk(path.join(ROOT, 'examples'));
  walk(path.join(ROOT, 'test', 'vscode', 'fixtures'));
  return out;
}

const show = (text: string): string => JSON.stringify(text.length > 400 ? text.slice(0, 400) + '…' : text);

/**
 * What the editor and the proxy do with a text: parse, analyse, convert positions,
 * offer fixes and format. Nothing may throw or point outside the text.
 */
function checkAnyText(text: string, tally?: Tally): void {
  const parsed = assertParseInvariants(text);
  const doc = analyzePolicies(text, { knownEntries: ['pg-homolog-credentials'] });
  const lines = new LineIndex(text);
  for (const d of doc.diagnostics) {
    assertSpansInside(text, [d.span, ...(d.related ?? []).map((r) => r.span)]);
    assert.ok(d.summary && d.detail, `diagnostic ${d.code} without a message in ${show(text)}`);
    const { line, character } = lines.position(d.span.start);
    assert.equal(lines.offset({ line, character }), d.span.start, `line/column round trip at ${d.span.start} in ${show(text)}`);
    for (const fix of d.fixes ?? []) {
      assertSpansInside(text, fix.edits.map((e) => e.span));
      // A fix yields text the parser still handles (it may not fix everything).
      assertParseInvariants(applySpanEdits(text, fix.edits));
      tally?.add('fixes applied');
    }
  }
  for (const p of doc.policies) assertSpansInside(text, [p.span, p.nameSpan, ...p.instances.map((i) => i.span), ...p.privileges.map((x) => x.span)]);
  tally?.add(parsed.diagnostics.length ? 'invalid HCL' : doc.diagnostics.some((d) => d.severity === 'error') ? 'valid HCL, invalid policy' : 'valid policy');
  const formatted = formatPolicyText(text);
  if (formatted !== undefined) checkFormatted(text, formatted);
}

/** Formatting keeps the file valid, its values and policies, and is idempotent. */
function checkFormatted(text: string, formatted: string): void {
  const before = parseHcl(text);
  const after = parseHcl(formatted);
  assert.deepEqual(after.diagnostics.map((d) => d.summary), [], `formatting made invalid HCL of ${show(text)}:\n${show(formatted)}`);
  assert.ok(same(toPlain(after.body), toPlain(before.body)), `formatting changed the values of ${show(text)}:\n${show(formatted)}`);
  const policies = (t: string): unknown =>
    analyzePolicies(t).policies.map((p) => [p.name, p.sessionUser, p.valid, p.expiration.text, p.instances.map((i) => i.raw), p.privileges.map((x) => x.name)]);
  assert.deepEqual(policies(formatted), policies(text), `formatting changed the policies of ${show(text)}`);
  assert.equal(formatPolicyText(formatted), formatted, `formatting is not idempotent on ${show(text)}`);
}

/** No unpaired surrogates: such text has no UTF-8 form to give the reference. */
const encodable = (t: string): boolean => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(t);

describe('fuzz: HCL parser, analysis and formatter', function () {
  this.timeout(30 * 60_000);
  const real = realPolicyFiles();
  const realDocs = fc.constantFrom(SEED_POLICY, DEMO_POLICIES, ...real);
  /** Documents from the differential test's grammar, chosen by seed. */
  const corpusDocs = fc.integer().map((seed) => generateCorpus(seed, 1)[0]!.text);
  const hclParse = loadHclParseConfig();

  it('has real policy files to mutate', () => {
    assert.ok(real.length >= 5, `found ${real.length} policy files`);
    for (const t of [SEED_POLICY, DEMO_POLICIES]) assert.deepEqual(analyzePolicies(t).diagnostics, []);
  });

  it('arbitrary text: no internal error, spans inside the text', () => {
    const tally = new Tally();
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.array(fc.constantFrom(...HCL_FRAGMENTS), { maxLength: 80 }).map((xs) => xs.join('')),
    );
    checkProperty('arbitrary text', 4, fc.property(text, (t) => checkAnyText(t, tally)), tally);
  });

  it('mutated policy files (examples, fixtures, the seed): no internal error, spans inside, fixes apply', () => {
    const tally = new Tally();
    checkProperty('mutated policy files', 2, fc.property(mutatedText(realDocs), ({ text }) => checkAnyText(text, tally)), tally);
  });

  it('mutated generated documents (policies in every layout, and the differential grammar)', () => {
    const tally = new Tally();
    const bases = fc.oneof(policyDocument.map((d) => d.text), corpusDocs);
    checkProperty('mutated generated documents', 1, fc.property(mutatedText(bases), ({ text }) => checkAnyText(text, tally)), tally);
  });

  it('generated policy files are valid HCL, agree with hcl2-parser, and format without change of meaning', () => {
    const tally = new Tally();
    checkProperty('generated policy files vs hcl2-parser', 0.1, fc.property(policyDocument, (doc) => {
      const parsed = assertParseInvariants(doc.text);
      assert.deepEqual(parsed.diagnostics.map((d) => d.summary), [], `generated invalid HCL: ${show(doc.text)}`);
      const c = compareWithReference(doc.text, hclParse);
      assert.equal(c.failure, undefined, `${show(doc.text)}: ${c.failure}`);
      tally.add(c.compared ? 'values compared' : 'verdict compared');
      assert.deepEqual(analyzePolicies(doc.text).policies.map((p) => p.name), doc.names);
      checkAnyText(doc.text, tally);
    }), tally);
  });

  it('mutated policy files get the same verdict from hcl2-parser', () => {
    const tally = new Tally();
    const bases = fc.oneof(realDocs, policyDocument.map((d) => d.text));
    checkProperty('mutated policy files vs hcl2-parser', 0.1, fc.property(mutatedText(bases, 3).filter(({ text }) => encodable(text)), ({ text }) => {
      const c = compareWithReference(text, hclParse);
      assert.equal(c.failure, undefined, `${show(text)}: ${c.failure}`);
      tally.add(c.quirk ? `hcl2json quirk (${c.quirk})` : c.ourValid ? 'both valid' : 'both invalid');
    }), tally);
  });
});
