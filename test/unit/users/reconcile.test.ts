import assert from 'node:assert/strict';
import { reconcile } from '../../../proxy/users/reconcile';
import { mergeSources } from '../../../proxy/users/merge';
import { credentialFingerprint } from '../../../proxy/users/fingerprint';
import { parseUserEntry, type UserRecord } from '../../../proxy/users/userEntry';
import { scramVerifier } from '../../../proxy/auth/scramVerifier';
import { UserDirectory } from '../../../proxy/users/directory';
import type { SourceLoad, UserSource } from '../../../proxy/users/userSources';
import { createLogger } from '../../../proxy/log/logger';

function user(name: string, password: string, extra: Record<string, unknown> = {}): UserRecord {
  const r = parseUserEntry({ username: name, password, type: 'text', role: 'database', ...extra });
  if (typeof r === 'string') throw new Error(r);
  return r;
}

const map = (...rs: UserRecord[]) => new Map(rs.map((r) => [r.username, r]));

describe('reconcile and merge', () => {
  it('reports added, changed (with the old fingerprint) and removed users, and keeps unchanged records', async () => {
    const alice = user('alice', 'alice-pw-1');
    const bob = user('bob', 'bob-pw-1');
    const carol = user('carol', 'carol-pw-1');
    const before = map(alice, bob, carol);
    const aliceAgain = user('alice', 'alice-pw-1'); // a fresh parse of the same entry
    const bobRotated = user('bob', 'bob-pw-2');
    const dave = user('dave', 'dave-pw-1');
    const { users, changes } = await reconcile(before, map(aliceAgain, bobRotated, dave));
    assert.equal(users.get('alice'), alice, 'an unchanged user keeps its record object');
    assert.equal(users.get('bob'), bobRotated);
    assert.deepEqual(
      changes.map((c) => [c.kind, c.username]),
      [
        ['changed', 'bob'],
        ['added', 'dave'],
        ['removed', 'carol'],
      ],
    );
    const changed = changes[0]!;
    assert.ok(changed.kind === 'changed');
    assert.deepEqual(changed.fields, ['credential']);
    assert.equal(changed.oldFingerprint, credentialFingerprint(bob));
    assert.equal(changed.newFingerprint, credentialFingerprint(bobRotated));
    assert.notEqual(changed.oldFingerprint, changed.newFingerprint);
    const removed = changes[2]!;
    assert.ok(removed.kind === 'removed' && removed.fingerprint === credentialFingerprint(carol));
  });

  it('a type change with the same text is a credential change; role and policies are reported too', async () => {
    const verifier = scramVerifier('same-password');
    const a = parseUserEntry({ username: 'a', password: verifier, type: 'scram-sha-256', role: 'database' }) as UserRecord;
    const b = parseUserEntry({ username: 'a', password: verifier, type: 'scram-sha-256', role: 'database' }) as UserRecord;
    assert.equal((await reconcile(map(a), map(b))).changes.length, 0, 'equal verifiers are no change');
    const asText = user('a', verifier);
    assert.deepEqual(((await reconcile(map(a), map(asText))).changes[0] as { fields: string[] }).fields, ['credential']);
    const moved = user('x', 'pw-x-1', { role: 'replication', policies: ['p'] });
    assert.deepEqual(((await reconcile(map(user('x', 'pw-x-1')), map(moved))).changes[0] as { fields: string[] }).fields, ['role', 'policies']);
  });

  it('fingerprints depend on the user and the credential, and do not contain it', () => {
    const fp = credentialFingerprint(user('u', 'password-one'));
    assert.equal(fp, credentialFingerprint(user('u', 'password-one')));
    assert.notEqual(fp, credentialFingerprint(user('v', 'password-one')));
    assert.notEqual(fp, credentialFingerprint(user('u', 'password-two')));
    assert.ok(!fp.includes('password'));
  });

  it('the source given first wins a duplicate; the other is reported', () => {
    const { users, conflicts } = mergeSources([
      { label: 'file a.json', users: map(user('alice', 'from-file')) },
      { label: 'aws:shared', users: map(user('alice', 'from-aws'), user('bob', 'bob-pw')) },
    ]);
    assert.equal((users.get('alice')!.secret as { password: string }).password, 'from-file');
    assert.ok(users.has('bob'));
    assert.deepEqual(conflicts, [{ username: 'alice', kept: 'file a.json', ignored: 'aws:shared' }]);
  });
});

/** A source the test steers: its next load returns `next`, or throws `fail`. */
class ScriptedSource implements UserSource {
  loads = 0;
  next: SourceLoad = { users: new Map(), skipped: [] };
  fail?: Error;
  constructor(readonly label: string) {}
  async load(): Promise<SourceLoad> {
    this.loads++;
    if (this.fail) throw this.fail;
    return { users: new Map(this.next.users), skipped: [...this.next.skipped] };
  }
}

describe('UserDirectory (scripted sources)', () => {
  const lines: string[] = [];
  const log = createLogger((l) => lines.push(l));
  let dir: UserDirectory | undefined;
  afterEach(() => {
    dir?.close();
    dir = undefined;
    lines.length = 0;
  });

  it('keeps the last good set while a source fails, backs off with jitter, and recovers', async () => {
    const src = new ScriptedSource('aws:users');
    src.next = { users: map(user('alice', 'alice-pw-1')), skipped: [] };
    dir = new UserDirectory({ sources: [src], log, refreshMs: 1000, maxBackoffMs: 8000, random: () => 0.5 });
    await dir.start();
    assert.equal(dir.status().stale, false);
    src.fail = new Error('AWS Secrets Manager: the service is unavailable (ECONNREFUSED)');
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      await dir.refreshNow();
      assert.equal(dir.users().get('alice')!.username, 'alice', 'fail-static');
      delays.push(dir.status().nextRefreshInMs!);
    }
    // ceilings 2 s, 4 s, 8 s, 8 s (capped); with jitter 0.5 the delay is 3/4 of each.
    assert.deepEqual(delays, [1500, 3000, 6000, 6000]);
    const st = dir.status();
    assert.equal(st.stale, true);
    assert.equal(st.consecutiveFailures, 4);
    assert.match(st.error!, /aws:users: AWS Secrets Manager: the service is unavailable/);
    assert.ok(lines.some((l) => l.includes('users.source-failed') && l.includes('keeping') && l.includes('last good 1 users')));
    src.fail = undefined;
    src.next = { users: map(user('alice', 'alice-pw-1'), user('bob', 'bob-pw-1')), skipped: [] };
    await dir.refreshNow();
    assert.equal(dir.status().stale, false);
    assert.equal(dir.status().consecutiveFailures, 0);
    // Back to the interval, counted from the start of the pass that just ran.
    const next = dir.status().nextRefreshInMs!;
    assert.ok(next <= 1000 && next > 900, `next refresh in ${next} ms`);
    assert.ok(dir.users().has('bob'));
    assert.ok(lines.some((l) => l.includes('users.source-recovered')));
  });

  it('an empty set waits a full interval between passes (no spinning)', async () => {
    const src = new ScriptedSource('aws-prefix:none/');
    dir = new UserDirectory({ sources: [src], log, refreshMs: 100 });
    await dir.start();
    await new Promise((r) => setTimeout(r, 550));
    assert.equal(dir.users().size, 0);
    // start + one pass per 100 ms: about 6 in 550 ms, never hundreds.
    assert.ok(src.loads >= 2 && src.loads <= 7, `loads: ${src.loads}`);
  });

  it('emits one batch of changes per pass, logs standing skips and conflicts once', async () => {
    const a = new ScriptedSource('file a.json');
    const b = new ScriptedSource('aws:b');
    a.next = { users: map(user('alice', 'alice-pw-1')), skipped: [{ where: 'index 1', reason: 'user "x": type must be text, md5 or scram-sha-256' }] };
    b.next = { users: map(user('alice', 'alice-pw-b'), user('bob', 'bob-pw-1')), skipped: [] };
    dir = new UserDirectory({ sources: [a, b], log, refreshMs: 60_000 });
    const batches: { kind: string; username: string }[][] = [];
    dir.on('changes', (c) => batches.push(c));
    await dir.start();
    await dir.refreshNow();
    b.next = { users: map(user('alice', 'alice-pw-b'), user('bob', 'bob-pw-2')), skipped: [] };
    await dir.refreshNow();
    assert.deepEqual(
      batches.map((bs) => bs.map((c) => `${c.kind} ${c.username}`)),
      [['added alice', 'added bob'], ['changed bob']],
    );
    assert.equal(lines.filter((l) => l.includes('users.skipped')).length, 1);
    assert.equal(lines.filter((l) => l.includes('users.conflict')).length, 1);
    assert.ok(lines.some((l) => l.includes('users.changed') && l.includes('"bob"') && l.includes('credential')));
    assert.ok(!lines.join('\n').includes('bob-pw-2'), 'no password in the log');
  });

  it('strict start throws when a source cannot load; otherwise it starts stale and keeps trying', async () => {
    const src = new ScriptedSource('file missing.json');
    src.fail = new Error('cannot read the users file missing.json: ENOENT');
    await assert.rejects(new UserDirectory({ sources: [src], log }).start({ strict: true }), /file missing.json: cannot read the users file/);
    dir = new UserDirectory({ sources: [src], log, refreshMs: 60_000 });
    const st = await dir.start();
    assert.equal(st.stale, true);
    assert.equal(st.users, 0);
  });
});
