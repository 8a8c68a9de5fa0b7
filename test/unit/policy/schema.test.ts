import assert from 'node:assert/strict';
import { analyzePolicies, type Diagnostic } from '../../../policy';
import { SEED_POLICY } from '../../support/policies';

const GOOD = SEED_POLICY;

function codes(text: string, knownEntries?: string[]): string[] {
  return analyzePolicies(text, { knownEntries }).diagnostics.map((d) => d.code);
}

function only(text: string, knownEntries?: string[]): Diagnostic {
  const ds = analyzePolicies(text, { knownEntries }).diagnostics;
  assert.equal(ds.length, 1, JSON.stringify(ds.map((d) => [d.code, d.detail])));
  return ds[0]!;
}

function covered(text: string, d: Diagnostic): string {
  return text.slice(d.span.start, d.span.end);
}

function applyFix(text: string, d: Diagnostic): string {
  const edits = [...d.fixes![0]!.edits].sort((a, b) => b.span.start - a.span.start);
  let out = text;
  for (const e of edits) out = out.slice(0, e.span.start) + e.newText + out.slice(e.span.end);
  return out;
}

describe('policy validation', () => {
  it('accepts the seed policy and derives its role', () => {
    const doc = analyzePolicies(GOOD);
    assert.deepEqual(doc.diagnostics, []);
    const [p] = doc.policies;
    assert.equal(p!.sessionUser, '_hoop_session_user_bb0465c4');
    assert.equal(p!.valid, true);
    assert.deepEqual(
      p!.instances.map((i) => [i.database, i.schema]),
      [
        ['dellstore', 'public'],
        ['dellstore', 'store'],
        ['testdb', 'public'],
      ],
    );
  });

  describe('arguments', () => {
    for (const arg of ['engine', 'plugin_config_entry', 'instances', 'grant_privileges']) {
      it(`requires ${arg}`, () => {
        const text = GOOD.split('\n').filter((l) => !l.trimStart().startsWith(arg + ' ')).join('\n');
        const d = only(text);
        assert.equal(d.code, 'policy.missing-argument');
        assert.match(d.detail, new RegExp(`"${arg}" is required`));
        assert.equal(covered(text, d), '"pg-homolog"');
      });
    }

    it('defaults expiration to 12h', () => {
      const text = GOOD.replace(/ {2}expiration.*\n/, '');
      const doc = analyzePolicies(text);
      assert.deepEqual(doc.diagnostics, []);
      assert.equal(doc.policies[0]!.expiration.text, '12h');
    });

    it('rejects unknown arguments with a did-you-mean fix', () => {
      const text = GOOD.replace('  expiration ', '  expiraton  ');
      const d = only(text);
      assert.equal(d.code, 'policy.unknown-argument');
      assert.equal(covered(text, d), 'expiraton');
      assert.match(d.detail, /Did you mean "expiration"/);
      assert.deepEqual(analyzePolicies(applyFix(text, d)).diagnostics, []);
    });

    it('rejects nested blocks, other block types and top-level arguments', () => {
      assert.deepEqual(codes(GOOD.replace('}\n', '  extra {\n  }\n}\n')), ['policy.nested-block']);
      assert.deepEqual(codes(GOOD + 'resource "x" {\n}\n'), ['policy.unexpected-block']);
      assert.deepEqual(codes(GOOD + 'policyy "x" {\n}\n'), ['policy.unexpected-block']);
      assert.deepEqual(codes('engine = "postgres"\n' + GOOD), ['policy.unexpected-argument']);
    });

    it('needs exactly one label', () => {
      assert.deepEqual(codes(GOOD.replace('policy "pg-homolog"', 'policy')), ['policy.missing-name']);
      assert.deepEqual(codes(GOOD.replace('policy "pg-homolog"', 'policy "a" "b"')), ['policy.extra-label']);
      assert.deepEqual(codes(GOOD.replace('policy "pg-homolog"', 'policy ""')), ['policy.empty-name']);
    });

    it('says "must be a literal" for references, calls and templates', () => {
      for (const expr of ['var.engine', 'lower("POSTGRES")', '"${var.x}"']) {
        const text = GOOD.replace('"postgres"', expr);
        const d = only(text);
        assert.equal(d.code, 'policy.not-literal', expr);
        assert.match(d.detail, /must be a literal/);
        assert.equal(covered(text, d), expr);
      }
      assert.deepEqual(codes(GOOD.replace('"testdb"]', 'local.db]')), ['policy.not-literal']);
    });

    it('checks value types', () => {
      assert.deepEqual(codes(GOOD.replace('"postgres"', '5')), ['policy.wrong-type']);
      const single = GOOD.replace('["dellstore", "dellstore.store", "testdb"]', '"dellstore"');
      const d = only(single);
      assert.equal(d.code, 'policy.wrong-type');
      assert.deepEqual(analyzePolicies(applyFix(single, d)).diagnostics, []);
      assert.deepEqual(codes(GOOD.replace('"UPDATE"]', '7]')), ['policy.wrong-type']);
    });
  });

  describe('engine', () => {
    it('must be exactly "postgres"', () => {
      for (const e of ['mysql', 'Postgres', 'postgresql']) {
        const text = GOOD.replace('"postgres"', `"${e}"`);
        const d = only(text);
        assert.equal(d.code, 'policy.engine');
        assert.equal(covered(text, d), `"${e}"`);
      }
      const d = only(GOOD.replace('"postgres"', '"postgresql"'));
      assert.equal(d.fixes?.[0]?.edits[0]?.newText, 'postgres');
    });
  });

  describe('expiration', () => {
    for (const ok of ['24h', '1440m', '1h30m', '1.5h', '90s', '1ns'])
      it(`accepts ${ok}`, () => assert.deepEqual(codes(GOOD.replace('"12h"', `"${ok}"`)), []));
    for (const [bad, code] of [
      ['1441m', 'policy.expiration-range'],
      ['25h', 'policy.expiration-range'],
      ['0s', 'policy.expiration-range'],
      ['-1h', 'policy.expiration-range'],
      ['1d', 'policy.expiration-invalid'],
      ['12', 'policy.expiration-invalid'],
      ['soon', 'policy.expiration-invalid'],
      ['', 'policy.expiration-invalid'],
    ] as const)
      it(`rejects ${JSON.stringify(bad)} (${code})`, () => {
        const text = GOOD.replace('"12h"', `"${bad}"`);
        const d = only(text);
        assert.equal(d.code, code);
        assert.equal(covered(text, d), `"${bad}"`);
      });
    it('normalises the duration', () => {
      assert.equal(analyzePolicies(GOOD.replace('"12h"', '"90m"')).policies[0]!.expiration.text, '1h30m');
    });
    it('fixes 1d to 24h', () => {
      const text = GOOD.replace('"12h"', '"1d"');
      assert.deepEqual(codes(applyFix(text, only(text))), []);
      assert.match(applyFix(text, only(text)), /"24h"/);
    });
  });

  describe('privileges', () => {
    it('are case-sensitive, with an upper-case fix', () => {
      const text = GOOD.replace('"SELECT"', '"select"');
      const d = only(text);
      assert.equal(d.code, 'policy.privilege-case');
      assert.equal(covered(text, d), '"select"');
      assert.deepEqual(codes(applyFix(text, d)), []);
    });
    it('come from the allowed set', () => {
      const d = only(GOOD.replace('"UPDATE"', '"EXECUTE"'));
      assert.equal(d.code, 'policy.privilege-unknown');
      assert.match(d.detail, /Allowed: SELECT, INSERT/);
    });
    it('accepts every allowed privilege', () => {
      const all = '["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "CREATE", "TEMPORARY"]';
      assert.deepEqual(codes(GOOD.replace('["SELECT", "UPDATE"]', all)), []);
    });
    it('reject repeats, pointing at the first, with a removal fix', () => {
      const text = GOOD.replace('"SELECT", "UPDATE"', '"SELECT", "UPDATE", "SELECT"');
      const d = only(text);
      assert.equal(d.code, 'policy.privilege-repeated');
      assert.equal(text.slice(d.related![0]!.span.start, d.related![0]!.span.end), '"SELECT"');
      assert.ok(d.related![0]!.span.start < d.span.start);
      assert.equal(applyFix(text, d), GOOD);
    });
    it('must not be empty', () => assert.deepEqual(codes(GOOD.replace('["SELECT", "UPDATE"]', '[]')), ['policy.privileges-empty']));
  });

  describe('instances', () => {
    it('allow 1 to 9', () => {
      const nine = JSON.stringify(Array.from({ length: 9 }, (_, i) => `db${i}`)).replace(/,/g, ', ');
      assert.deepEqual(codes(GOOD.replace('["dellstore", "dellstore.store", "testdb"]', nine)), []);
      const ten = JSON.stringify(Array.from({ length: 10 }, (_, i) => `db${i}`)).replace(/,/g, ', ');
      const d = only(GOOD.replace('["dellstore", "dellstore.store", "testdb"]', ten));
      assert.equal(d.code, 'policy.instances-count');
      assert.match(d.detail, /\(10\)/);
      assert.deepEqual(codes(GOOD.replace('["dellstore", "dellstore.store", "testdb"]', '[]')), ['policy.instances-count']);
    });
    it('match the name pattern', () => {
      for (const bad of ['1db', 'db-x', 'db x', '', '.db', 'db;drop'])
        assert.deepEqual(codes(GOOD.replace('"testdb"', JSON.stringify(bad))), ['policy.instance-name'], bad);
      for (const ok of ['_db', 'db$1', 'a.b.c', 'db.', 'Db.Schema'])
        assert.deepEqual(codes(GOOD.replace('"testdb"', JSON.stringify(ok))), [], ok);
    });
    it('split on the last dot', () => {
      const doc = analyzePolicies(GOOD.replace('"testdb"', '"a.b.c", "x."'));
      const inst = doc.policies[0]!.instances.map((i) => [i.database, i.schema]);
      assert.deepEqual(inst.slice(2), [
        ['a.b', 'c'],
        ['x', 'public'],
      ]);
    });
    it('reject repeats', () => {
      const text = GOOD.replace('"testdb"]', '"testdb", "dellstore"]');
      const d = only(text);
      assert.equal(d.code, 'policy.instance-repeated');
      assert.equal(applyFix(text, d), GOOD);
    });
  });

  describe('across policies', () => {
    it('rejects duplicate names with the first as related location', () => {
      const text = GOOD + GOOD.replace('"12h"', '"1h"');
      const d = analyzePolicies(text).diagnostics.find((x) => x.code === 'policy.duplicate-name')!;
      assert.ok(d);
      assert.ok(d.span.start > GOOD.length);
      assert.equal(d.related![0]!.span.start, GOOD.indexOf('"pg-homolog"'));
      assert.equal(analyzePolicies(text).policies[1]!.valid, false);
    });
    it('informs when two policies share one session role', () => {
      const text = GOOD + GOOD.replace('"pg-homolog"', '"twin"').replace('["SELECT", "UPDATE"]', '["UPDATE", "SELECT"]');
      const d = only(text);
      assert.equal(d.code, 'policy.shared-role');
      assert.equal(d.severity, 'information');
      assert.match(d.detail, /same password and grants/);
    });
    it('warns about unknown plugin config entries only when entries are known', () => {
      assert.deepEqual(codes(GOOD), []);
      const d = only(GOOD, ['pg-prod-credentials', 'pg-homolog-credential']);
      assert.equal(d.code, 'policy.unknown-entry');
      assert.equal(d.severity, 'warning');
      assert.match(d.detail, /did you mean "pg-homolog-credential"/);
      assert.deepEqual(codes(GOOD, ['pg-homolog-credentials']), []);
    });
  });

  it('keeps validating other policies when one is broken', () => {
    const broken = 'policy "a" {\n  engine = "postgres\n}\n';
    const text = broken + GOOD + GOOD.replace('"pg-homolog"', '"b"').replace('"SELECT"', '"SELEC"');
    const doc = analyzePolicies(text);
    const names = doc.policies.map((p) => [p.name, p.valid]);
    assert.deepEqual(names.slice(-2), [
      ['pg-homolog', true],
      ['b', false],
    ]);
    assert.ok(doc.diagnostics.some((d) => d.code === 'policy.privilege-unknown'));
    assert.ok(doc.diagnostics.some((d) => d.code.startsWith('hcl.')));
  });

  it('gives every diagnostic a stable code, a summary, a detail and a range inside the text', () => {
    const texts = [GOOD.replace('"12h"', '"1d"'), GOOD + GOOD, 'policy "x" {\n  engine = \n}\n', 'policy "x" { a = 1 b = 2 }\n'];
    for (const t of texts)
      for (const d of analyzePolicies(t).diagnostics) {
        assert.match(d.code, /^(hcl|policy)\.[a-z-]+$/);
        assert.ok(d.summary.length > 3 && d.detail.length > 10);
        assert.ok(d.span.start >= 0 && d.span.end <= t.length && d.span.start <= d.span.end);
      }
  });
});
