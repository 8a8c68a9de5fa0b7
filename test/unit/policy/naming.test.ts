import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { crc32, sessionUserName, sessionUserSeed } from '../../../policy/naming';

describe('session role naming', () => {
  it("derives the seed's example name", () => {
    assert.equal(sessionUserName(['dellstore', 'dellstore.store', 'testdb'], ['SELECT', 'UPDATE']), '_hoop_session_user_bb0465c4');
  });

  it('sorts both lists before hashing', () => {
    assert.equal(sessionUserName(['testdb', 'dellstore.store', 'dellstore'], ['UPDATE', 'SELECT']), '_hoop_session_user_bb0465c4');
    assert.equal(sessionUserSeed(['b', 'a'], ['UPDATE', 'SELECT']), 'a,b:SELECT,UPDATE');
  });

  it('sorts by bytes like Go, not by locale', () => {
    // Upper case sorts before lower case in byte order; '_' (0x5f) sorts between them.
    assert.equal(sessionUserSeed(['b', 'B', '_a', 'a'], ['SELECT']), 'B,_a,a,b:SELECT');
    // A supplementary-plane character sorts after U+FFFD in UTF-8 byte order but before it in UTF-16.
    assert.equal(sessionUserSeed(['\u{1F600}', '\uFFFD'], ['SELECT']), '\uFFFD,\u{1F600}:SELECT');
  });

  it('pads the checksum to 8 hex digits', () => {
    // Search a small space for a checksum below 0x10000000 to exercise padding.
    let found = '';
    for (let i = 0; i < 5000 && !found; i++) {
      const name = sessionUserName([`db${i}`], ['SELECT']);
      if (name.endsWith('0') || /_0/.test(name)) found = name;
      if (crc32(sessionUserSeed([`db${i}`], ['SELECT'])) < 0x10000000) found = name;
    }
    assert.match(found, /^_hoop_session_user_0[0-9a-f]{7}$/);
  });

  it('matches the IEEE CRC-32 of zlib for random inputs', function () {
    const zcrc = (zlib as unknown as { crc32?: (d: Buffer) => number }).crc32;
    // Reference values from the standard check string and from zlib's implementation when present.
    assert.equal(crc32('123456789'), 0xcbf43926);
    assert.equal(crc32(''), 0);
    if (zcrc) for (let i = 0; i < 100; i++) {
      const s = Buffer.from(`x${i * 7919}y`.repeat(i));
      assert.equal(crc32(s), zcrc(s));
    }
    assert.equal(crc32('The quick brown fox jumps over the lazy dog'), 0x414fa339);
  });
});
