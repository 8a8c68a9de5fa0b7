import assert from 'node:assert/strict';
import { once } from 'node:events';
import { MessageChannel } from 'node:worker_threads';
import { parseUserArray, type UserRecord } from '../../../proxy/users/userEntry';
import { decodeUsers, encodeUsers, reviveUserRecord, sameSourceLoad } from '../../../proxy/users/transfer';
import { reconcile } from '../../../proxy/users/reconcile';
import { credentialFingerprint } from '../../../proxy/users/fingerprint';
import { formatVerifier, scramVerifier } from '../../../proxy/auth/scramVerifier';
import type { SourceLoad } from '../../../proxy/users/source';

/** Through a real MessagePort: the same structured clone a worker's postMessage applies. */
async function transfer<T>(value: T): Promise<T> {
  const { port1, port2 } = new MessageChannel();
  try {
    const received = once(port2, 'message');
    port1.postMessage(value);
    return (await received)[0] as T;
  } finally {
    port1.close();
    port2.close();
  }
}

const VERIFIER = scramVerifier('users-transfer-pw', Buffer.from('0123456789abcdef'), 4096);

function load(): SourceLoad {
  const parsed = parseUserArray([
    { username: 'scram', password: VERIFIER, type: 'scram-sha-256', role: 'database', policies: ['a', 'b'], policy: 'a' },
    { username: 'plain', password: 'plain-pw-1', type: 'text', role: 'replication' },
    { username: 'hashed', password: `md5${'0'.repeat(32)}`, type: 'md5', role: 'database' },
    { username: 'broken' },
  ]);
  return { users: parsed.users, skipped: parsed.skipped.map((s) => ({ where: `index ${s.index}`, reason: s.reason })) };
}

/** What a plain structured clone of a load gives, revived record by record. */
const revived = (l: SourceLoad): SourceLoad => ({ users: new Map([...l.users].map(([k, r]) => [k, reviveUserRecord(r)])), skipped: l.skipped });

describe('user records from the loader thread (transfer, revive, unchanged check)', () => {
  it('structured clone turns SCRAM keys into plain Uint8Arrays, which the SCRAM code cannot use', async () => {
    const cloned = await transfer(load().users.get('scram')!);
    assert.ok(cloned.secret.type === 'scram-sha-256');
    const keys = cloned.secret.keys;
    assert.equal(Buffer.isBuffer(keys.storedKey), false);
    assert.equal((keys.storedKey as Partial<Buffer>).equals, undefined, 'reconcile compares keys with Buffer#equals');
    assert.notEqual(formatVerifier(keys), VERIFIER, 'Uint8Array#toString ignores the base64 encoding');
  });

  it('revives SCRAM keys as Buffers equal to the originals; other records pass through as they are', async () => {
    const original = load();
    const back = revived(await transfer(original));
    assert.deepStrictEqual(back, original, 'deepStrictEqual tells a Buffer from a Uint8Array');
    const scram = back.users.get('scram')!;
    assert.ok(scram.secret.type === 'scram-sha-256');
    for (const k of ['salt', 'storedKey', 'serverKey'] as const) assert.ok(Buffer.isBuffer(scram.secret.keys[k]), k);
    assert.equal(formatVerifier(scram.secret.keys), VERIFIER);
    assert.deepEqual([...back.users.keys()], ['scram', 'plain', 'hashed'], 'the order of the source is kept');
    assert.deepEqual(back.skipped, [{ where: 'index 3', reason: 'user "broken": password must be a non-empty string' }]);
    const text: UserRecord = original.users.get('plain')!;
    assert.equal(reviveUserRecord(text), text, 'a record without bytes is not copied');
  });

  it('a revived set reconciles against the one it was cloned from as no change, with the same fingerprints', async () => {
    const before = load().users;
    const after = revived(await transfer({ users: before, skipped: [] })).users;
    const { users, changes } = await reconcile(before, after);
    assert.deepEqual(changes, []);
    assert.equal(users.get('scram'), before.get('scram'), 'the old record object stays');
    assert.equal(credentialFingerprint(after.get('scram')!), credentialFingerprint(before.get('scram')!));
  });

  it('a revived key is a view of the received bytes, not a copy', async () => {
    const cloned = await transfer(load().users.get('scram')!);
    const revived = reviveUserRecord(cloned);
    assert.ok(cloned.secret.type === 'scram-sha-256' && revived.secret.type === 'scram-sha-256');
    assert.equal(revived.secret.keys.salt.buffer, cloned.secret.keys.salt.buffer);
    assert.notEqual(revived, cloned, 'the received record itself is left as it was');
  });

  it('encodes users in slices of 100 that decode, through a MessagePort, to equal records in the same order', async () => {
    const many = new Map<string, UserRecord>();
    const parsed = parseUserArray(
      Array.from({ length: 250 }, (_, i) =>
        i % 2 ? { username: `u${i}`, password: VERIFIER, type: 'scram-sha-256', role: 'database' } : { username: `u${i}`, password: `pw-${i}-xyz`, type: 'text', role: 'database' },
      ),
    );
    for (const [k, r] of parsed.users) many.set(k, r);
    const slices = encodeUsers(many);
    assert.equal(slices.length, 3);
    const decoded = await decodeUsers(await transfer(slices));
    assert.deepStrictEqual(decoded, many);
    assert.deepEqual([...decoded.keys()], [...many.keys()]);
    assert.deepStrictEqual(await decodeUsers(encodeUsers(new Map())), new Map());
  });

  it('tells an unchanged load (a fresh parse of the same entries) from one with any difference', () => {
    const a = load();
    assert.equal(sameSourceLoad(a, load()), true, 'fresh objects, same values');
    const rotated = load();
    rotated.users.set('plain', { ...rotated.users.get('plain')!, secret: { type: 'text', password: 'plain-pw-2' } });
    assert.equal(sameSourceLoad(a, rotated), false, 'a rotated password');
    const reordered = load();
    const plain = reordered.users.get('plain')!;
    reordered.users.delete('plain');
    reordered.users.set('plain', plain);
    assert.equal(sameSourceLoad(a, reordered), false, 'the same users in another order');
    const fewer = load();
    fewer.users.delete('hashed');
    assert.equal(sameSourceLoad(a, fewer), false, 'a removed user');
    const moreSkips = load();
    moreSkips.skipped.push({ where: 'index 9', reason: 'x' });
    assert.equal(sameSourceLoad(a, moreSkips), false, 'another skip');
    const otherReason = load();
    otherReason.skipped[0] = { ...otherReason.skipped[0]!, reason: 'y' };
    assert.equal(sameSourceLoad(a, otherReason), false, 'a skip for another reason');
    const policies = load();
    policies.users.set('scram', { ...policies.users.get('scram')!, policies: ['a'] });
    assert.equal(sameSourceLoad(a, policies), false, 'other policies');
  });
});
