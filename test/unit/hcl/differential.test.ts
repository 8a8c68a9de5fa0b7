/**
 * Differential test: our parser against hcl2-parser (HashiCorp's HCL v2.10 + hcl2json,
 * compiled to JavaScript with GopherJS) on thousands of generated documents.
 *
 * For every document the verdict (valid / invalid) must be the same, and for valid
 * documents whose values are all literal, toPlain() must equal hcl2json's object.
 * The reference, the comparison and the hcl2json quirks it excludes (each documented
 * there) live in test/support/hclReference.ts, shared with the fuzzer in test/fuzz.
 */
import assert from 'node:assert/strict';
import { parseHcl } from '../../../policy/hcl';
import { generateCorpus } from '../../support/hclGenerator';
import { compareWithReference, conversionQuirk, loadHclParseConfig, reference } from '../../support/hclReference';

const SEED = 20240611;
const COUNT = 2400;

// ------------------------------------------------------------------ tests

describe('hcl differential against hcl2-parser', function () {
  this.timeout(120_000);
  const hclParse = loadHclParseConfig();

  it(`agrees on ${COUNT} generated documents (seed ${SEED})`, () => {
    const docs = generateCorpus(SEED, COUNT);
    const failures: string[] = [];
    const quirks = new Map<string, number>();
    let valid = 0;
    let invalid = 0;
    let compared = 0;
    let summaryChecked = 0;
    let summarySame = 0;
    const started = Date.now();
    docs.forEach((doc, i) => {
      const c = compareWithReference(doc.text, hclParse);
      if (c.refValid) valid++;
      else invalid++;
      if (c.quirk) {
        quirks.set(c.quirk, (quirks.get(c.quirk) ?? 0) + 1);
        return;
      }
      if (c.compared) compared++;
      if (c.failure) {
        failures.push(`#${i} (${doc.recipe}) ${JSON.stringify(doc.text)}: ${c.failure}`);
        return;
      }
      // HCL's own diagnostics cost as much as the reference itself: sample 400 documents.
      if (!c.ourValid && hclParse && summaryChecked < 400) {
        const theirs = hclParse(doc.text);
        if (theirs.length) {
          summaryChecked++;
          if (parseHcl(doc.text).diagnostics.some((d) => d.summary === theirs[0].summary)) summarySame++;
        }
      }
    });
    const excluded = [...quirks].map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
    const summaries = summaryChecked
      ? `, HCL's first error summary among ours in ${Math.round((100 * summarySame) / summaryChecked)}% of invalid`
      : '';
    console.log(`      hcl differential: ${docs.length} documents, ${valid} valid, ${invalid} invalid, ${compared} value-compared, ` +
      `${failures.length} disagreements, hcl2json quirks excluded: ${excluded}${summaries} (${Date.now() - started} ms)`);
    assert.ok(valid >= 1000 && invalid >= 500 && compared >= 700, 'the corpus should exercise both verdicts and values');
    assert.deepEqual(failures.slice(0, 10), []);
  });

  it('generates the same corpus for the same seed', () => {
    const a = generateCorpus(7, 50).map((d) => d.text);
    const b = generateCorpus(7, 50).map((d) => d.text);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, generateCorpus(8, 50).map((d) => d.text));
  });

  it('can reach HCL\'s own parser inside the hcl2-parser bundle (for the quirk exclusions)', () => {
    assert.ok(hclParse, 'hcl2-parser bundle changed shape');
    assert.deepEqual(hclParse('a = 1 b = 2\n').map((d) => d.summary), ['Missing newline after argument']);
    assert.deepEqual(hclParse('b "x" {\n}\nb {\n}\n'), []);
  });

  it('documents the excluded hcl2json quirks: HCL accepts these, hcl2-parser does not', () => {
    const cases = [
      'b "x" {\n}\nb {\n}\n', 'b {\n}\nb "x" {\n}\n', 'a = -true\n', 'a = [!1]\n', 'a = "${-null}"\n', 'a = {null = 1}\n', 'a = 1e999999999\n',
    ];
    for (const t of cases) {
      const ours = parseHcl(t);
      assert.deepEqual(ours.diagnostics, [], t);
      assert.ok(conversionQuirk(ours.body), `quirk not recognised in ${JSON.stringify(t)}`);
      assert.equal(reference(t).valid, false, t);
      if (hclParse) assert.deepEqual(hclParse(t), [], t);
    }
    assert.deepEqual(reference('a = 1e400\n').value, { a: Infinity }); // not a quirk: same as ours
  });

  // Disagreements found while building the parser, each fixed, kept as regressions.
  describe('regressions', () => {
    const agree = (text: string): void => {
      const c = compareWithReference(text, null);
      assert.equal(c.failure, undefined, `${JSON.stringify(text)}: ${c.failure}`);
    };

    it('normalizes string values to NFC (HCL strings are cty strings)', () => {
      agree('a = "e\u0301"\nb = <<EOT\nA\u030a\nEOT\nc = { "k" = "o\u0308" }\n');
      // Labels and names are not cty values and stay as written.
      agree('b "e\u0301" {\n}\n');
    });

    it('treats `<<` at the end of input as two less-than tokens, not a heredoc', () => {
      agree('a = <<');
      agree('a = <<EOT');
      agree('a = <<EOT x\nEOT\n');
    });

    it('keeps going after a token that cannot start an item at the start of a line', () => {
      agree('a = 1\n=i1.97E-9\nb = 2\n');
    });

    it('accepts the scanner\'s number forms: 1.e5 and leading zeros, but not 1.2.3 or 1e5e5', () => {
      agree('a = 1.e5\nb = 007\nc = 5E-2\n');
      agree('a = 1.2.3\n');
      agree('a = 1e5e5\n');
      agree('a = 1.\n');
    });

    it('requires a newline after a heredoc closing marker, even at the end of the file', () => {
      agree('a = <<EOT\nx\nEOT');
      agree('a = <<EOT\nx\nEOT\n');
      agree('a = <<-EOT\n  x\n  EOT  \n');
    });

    it('does not support function namespaces (`::`) in this HCL version', () => {
      agree('a = x::y(1)\n');
    });

    it('does not end a one-line block at a comment', () => {
      agree('b { a = 1 # c\n}\n');
      agree('b { # c\n}\n');
      agree('b {/* c */}\n');
    });

    it('treats a multi-line /* */ comment as whitespace, not as a newline', () => {
      agree('a = 1 /* x\n */ b = 2\n');
      agree('a = 1 /* x\n */\nb = 2\n');
    });

    it('allows newlines inside ${} of a quoted string', () => {
      agree('a = "${\n1\n}"\n');
    });

    it('strips a byte order mark and accepts tabs as spaces', () => {
      agree('\ufeffa\t=\t1\n');
    });
  });
});
