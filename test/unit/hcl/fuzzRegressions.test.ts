// Parser problems the fuzzer (test/fuzz/hcl.test.ts) found, each fixed, kept as regressions.
import assert from 'node:assert/strict';
import { parseHcl, type Attribute, type Block, type TupleValue } from '../../../policy/hcl';
import { assertNested, assertParseInvariants } from '../../support/hclInvariants';

describe('hcl parser: regressions found by fuzzing', () => {
  it('a tuple cut short by a missing item still covers the placeholder for that item', () => {
    // The placeholder sits at the `=` the parser failed on; the tuple used to end at the comma.
    const text = 'instances = ["dellstore",          = "dellstore.store"]\n';
    const r = assertParseInvariants(text);
    assert.equal(r.diagnostics[0]!.code, 'hcl.invalid-expression');
    const tuple = (r.body.items[0] as Attribute).value as TupleValue;
    const eq = text.indexOf('= "');
    assert.deepEqual(tuple.items.map((i) => i.span), [{ start: 13, end: 24 }, { start: eq, end: eq }]);
    assert.ok(tuple.span.end >= eq, `tuple ${JSON.stringify(tuple.span)} ends before its item at ${eq}`);
  });

  it('an unclosed tuple followed by a block header, and objects and unclosed blocks likewise', () => {
    for (const text of [
      'policy "a" {\n  grant_privileges = [\npolicy "b" {\n    "SELECT"\n  ]\n}\n',
      'a = { k = 1, j = = 2 }\n',
      'a = { k = }\n',
      'b {\n  a = [1,\n',
      'b {\n  c {\n    a = \n',
      'b {\n  a = {k = \n',
    ]) {
      const r = parseHcl(text);
      assert.ok(r.diagnostics.length > 0, text);
      assertNested(text, r.body);
    }
    const unclosed = parseHcl('b {\n  a = [1,\n');
    const block = unclosed.body.items[0] as Block;
    assert.equal(block.closeBrace, undefined);
    assert.ok(block.span.end >= block.body.items[0]!.span.end);
  });
});
