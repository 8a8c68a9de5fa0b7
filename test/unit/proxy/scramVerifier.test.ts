import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { generatePassword, parseVerifier, scramVerifier } from '../../../proxy/auth/scramVerifier';
import { verifierLiteral } from '../../../policy/sql';

describe('SCRAM verifiers', () => {
  it('produces keys that verify the RFC 7677 example exchange', () => {
    // RFC 7677 section 3: password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
    const v = scramVerifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
    const k = parseVerifier(v)!;
    const authMessage =
      'n=user,r=rOprNGfwEbeRWgbNEkqO,' +
      'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,' +
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
    const clientSignature = crypto.createHmac('sha256', k.storedKey).update(authMessage).digest();
    const clientKey = Buffer.from(proof.map((b, i) => b ^ clientSignature[i]!));
    assert.deepEqual(crypto.createHash('sha256').update(clientKey).digest(), k.storedKey);
    const serverSignature = crypto.createHmac('sha256', k.serverKey).update(authMessage).digest('base64');
    assert.equal(serverSignature, '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });

  it('is accepted by the SQL literal guard, which refuses plaintext', () => {
    assert.match(verifierLiteral(scramVerifier(generatePassword())), /^'SCRAM-SHA-256\$4096:/);
    assert.throws(() => verifierLiteral("plain'; DROP ROLE x; --"), /not a SCRAM-SHA-256 verifier/);
  });

  it('generates long, distinct, URL-safe passwords', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = generatePassword();
      assert.match(p, /^[A-Za-z0-9_-]{43}$/);
      seen.add(p);
    }
    assert.equal(seen.size, 200);
  });
});
