import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseUsers, UsersFileError } from '../../../proxy/users/fileStore';
import { FileUserSource } from '../../../proxy/users/userSources';
import { scramVerifier } from '../../../proxy/auth/scramVerifier';
import { md5Secret } from '../../../proxy/wire/auth/md5';
import { resolveIdentity, splitOptions } from '../../../proxy/wire/identity';
import { VerifierCache } from '../../../proxy/wire/auth/verifierCache';
import { isLoopback, parseListen } from '../../../proxy/wire/listener';
import { CancelRegistry } from '../../../proxy/wire/cancel';

describe('users file (--users FILE)', () => {
  const good = [
    { username: 'alice', password: 'pw', type: 'text', role: 'database' },
    { username: 'bob', password: md5Secret('bob', 'pw'), type: 'md5', role: 'database', policy: 'p1' },
    { username: 'carol', password: scramVerifier('pw'), type: 'scram-sha-256', role: 'database', policies: ['p1', 'p2'] },
    { username: 'repl', password: 'pw', type: 'text', role: 'replication' },
    { username: 'fdw', password: 'pw', type: 'text', role: 'proxy_to_fdw' },
  ];

  it("reads the seed's shape: text, md5 and scram-sha-256; database, replication and proxy_to_fdw", () => {
    const { users, skipped } = parseUsers(JSON.stringify(good));
    assert.deepEqual(skipped, []);
    assert.deepEqual([...users.keys()], ['alice', 'bob', 'carol', 'repl', 'fdw']);
    assert.equal(users.get('bob')!.secret.type, 'md5');
    assert.equal(users.get('bob')!.policy, 'p1');
    assert.deepEqual(users.get('carol')!.policies, ['p1', 'p2']);
    const c = users.get('carol')!.secret;
    assert.ok(c.type === 'scram-sha-256' && c.keys.iterations === 4096);
  });

  it('skips each malformed entry with a reason and keeps the rest', () => {
    const bad = [
      null,
      'alice',
      { username: '', password: 'pw', type: 'text', role: 'database' },
      { username: 'x', password: 'pw', type: 'sha1', role: 'database' },
      { username: 'y', password: 'pw', type: 'text', role: 'admin' },
      { username: 'z', password: 'md5nothex', type: 'md5', role: 'database' },
      { username: 'w', password: 'SCRAM-SHA-256$bad', type: 'scram-sha-256', role: 'database' },
      { username: 'v', type: 'text', role: 'database' },
      { username: 'alice', password: 'again', type: 'text', role: 'database' },
      { username: 'u', password: 'pw', type: 'text', role: 'database', policies: 'p1' },
    ];
    const { users, skipped } = parseUsers(JSON.stringify([...good, ...bad]));
    assert.equal(users.size, 5);
    assert.equal(skipped.length, bad.length);
    assert.match(skipped.find((s) => s.index === 8)!.reason, /type must be text, md5 or scram-sha-256/);
    assert.match(skipped.find((s) => s.index === 13)!.reason, /duplicate username "alice"/);
    for (const s of skipped) assert.ok(!s.reason.includes('md5nothex') && !s.reason.includes('SCRAM-SHA-256$bad'), 'secrets are never echoed');
  });

  it('a file that is not a JSON array is an error; malformed entries are skipped with a reason', async () => {
    assert.throws(() => parseUsers('{'), UsersFileError);
    assert.throws(() => parseUsers('{}'), /JSON array/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-users-'));
    const file = path.join(dir, 'users.json');
    fs.writeFileSync(file, JSON.stringify([good[0], { username: 'q', password: 'hunter22', type: 'nope', role: 'database' }]));
    const { users, skipped } = await new FileUserSource(file).load();
    assert.equal(users.size, 1);
    assert.deepEqual(skipped.map((k) => k.where), ['index 1']);
    assert.ok(!JSON.stringify(skipped).includes('hunter22'), 'a skip reason never carries the password');
    await assert.rejects(new FileUserSource(path.join(dir, 'missing.json')).load(), /ENOENT/);
  });
});

describe('wire identities and policy choice', () => {
  const { users } = parseUsers(
    JSON.stringify([
      { username: 'alice', password: 'pw', type: 'text', role: 'database' },
      { username: 'bob', password: md5Secret('bob', 'pw'), type: 'md5', role: 'database', policy: 'dflt' },
      { username: 'me@corp', password: 'pw', type: 'text', role: 'database' },
      { username: 'repl', password: 'pw', type: 'text', role: 'replication' },
    ]),
  );
  const src = { users: () => users, verifiers: new VerifierCache(), roleLogin: () => undefined };

  it('user@policy, then options, then the per-user default', () => {
    const a = resolveIdentity('alice@p1', 'p2', src);
    assert.ok(a.kind === 'user' && a.name === 'alice' && a.policy === 'p1');
    const b = resolveIdentity('alice', 'p2', src);
    assert.ok(b.kind === 'user' && b.policy === 'p2');
    const c = resolveIdentity('bob', undefined, src);
    assert.ok(c.kind === 'user' && c.policy === 'dflt' && c.credential.method === 'md5');
    const d = resolveIdentity('alice', undefined, src);
    assert.ok(d.kind === 'user' && d.policy === undefined && d.credential.method === 'scram');
  });

  it('an exact name with @ wins over the split; unknown and non-database entries are unknown', () => {
    const e = resolveIdentity('me@corp', undefined, src);
    assert.ok(e.kind === 'user' && e.name === 'me@corp' && e.policy === undefined);
    assert.equal(resolveIdentity('mallory', 'p', src).kind, 'unknown');
    assert.equal(resolveIdentity('repl@p1', undefined, src).kind, 'unknown');
    assert.equal(resolveIdentity('mallory', 'p', src).credential.method, 'mock');
  });

  it('a session role with a live password is a session identity', () => {
    const login = { granter: { host: 'h', port: 1, user: 'g', database: 'postgres', sslmode: 'disable' as const, params: {} }, password: 'live', databases: ['db'] };
    const id = resolveIdentity('_hoop_session_user_1', undefined, { ...src, roleLogin: (r: string) => (r === '_hoop_session_user_1' ? login : undefined) });
    assert.equal(id.kind, 'session');
  });

  it('takes mayfly.policy out of options and keeps the rest for the server', () => {
    assert.deepEqual(splitOptions('-c mayfly.policy=p1 -c work_mem=7MB'), { policy: 'p1', upstreamOptions: '-c work_mem=7MB' });
    assert.deepEqual(splitOptions('--mayfly.policy=p1'), { policy: 'p1' });
    assert.deepEqual(splitOptions(undefined), {});
  });
});

describe('wire listener addresses and cancel keys', () => {
  it('parses --listen and defaults the port to 6432', () => {
    assert.deepEqual(parseListen('127.0.0.1:7000'), { host: '127.0.0.1', port: 7000 });
    assert.deepEqual(parseListen('127.0.0.1'), { host: '127.0.0.1', port: 6432 });
    assert.deepEqual(parseListen('[::1]:5'), { host: '::1', port: 5 });
    assert.throws(() => parseListen('127.0.0.1:99999'));
    assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost'));
    assert.ok(!isLoopback('0.0.0.0') && !isLoopback('10.0.0.1'));
    assert.ok(isLoopback('::ffff:127.0.0.1'), 'IPv4-mapped source addresses');
    assert.ok(!isLoopback('::ffff:10.0.0.1'));
  });

  it('forwards a cancel only with the right key and only while a query runs', () => {
    const reg = new CancelRegistry();
    let busy = false;
    let sent = 0;
    const { pid, key } = reg.register({ busy: () => busy, cancelUpstream: () => void sent++ }, 4);
    assert.equal(key.length, 4);
    assert.equal(reg.register({ busy: () => false, cancelUpstream: () => undefined }, 32).key.length, 32);
    assert.equal(reg.cancel(pid, key), 'idle');
    busy = true;
    assert.equal(reg.cancel(pid, Buffer.alloc(4)), 'unknown');
    assert.equal(reg.cancel(pid, Buffer.alloc(32)), 'unknown');
    assert.equal(reg.cancel(pid, key), 'forwarded');
    assert.equal(sent, 1);
    reg.unregister(pid);
    assert.equal(reg.cancel(pid, key), 'unknown');
  });
});
