/**
 * AWS user sources loaded in the loader thread (proxy/users/worker/), as the proxy runs
 * them: the REAL AWS SDK in the worker against test/support/secretsManagerServer.ts. The
 * same users as the in-thread sources for every shape, errors with their messages, a thread
 * that dies mid-load, close, and a process that ends with an idle thread.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { once } from 'node:events';
import path from 'node:path';
import { awsTestEnv, startSecretsManagerServer, withEnv, type SecretsManagerServer } from '../../support/secretsManagerServer';
import { SecretsReader } from '../../../proxy/aws/secretsReader';
import { UserDirectory } from '../../../proxy/users/directory';
import { createUserSource } from '../../../proxy/users/userSources';
import { parseUserSourceSpec } from '../../../proxy/users/sourceSpec';
import { UserLoader } from '../../../proxy/users/worker/userLoader';
import { WorkerUserSource, createProxyUserSources } from '../../../proxy/users/worker/workerSource';
import type { AwsUserSourceSpec } from '../../../proxy/users/worker/protocol';
import { md5Secret } from '../../../proxy/wire/auth/md5';
import { scramVerifier } from '../../../proxy/auth/scramVerifier';
import { eventually, rawLogger } from './helpers';

const issued: string[] = [];
function pw(): string {
  const p = `pw-${crypto.randomBytes(9).toString('base64url')}`;
  issued.push(p);
  return p;
}

const rds = (username: string, password: string, extra: object = {}) => ({ engine: 'postgres', host: 'db.internal', port: 5432, username, password, dbname: 'app', ...extra });

describe('AWS user sources in the loader thread (real SDK, local service)', function () {
  this.timeout(60_000);
  let sm: SecretsManagerServer;
  let restoreEnv: () => void;
  const log = rawLogger();
  const loaders: UserLoader[] = [];
  const readers: SecretsReader[] = [];
  const directories: UserDirectory[] = [];

  const loader = () => {
    const l = new UserLoader({ aws: { maxAttempts: 1 }, log });
    loaders.push(l);
    return l;
  };
  const spec = (text: string) => parseUserSourceSpec(text) as AwsUserSourceSpec;
  const inThread = (text: string) => {
    const r = new SecretsReader({ maxAttempts: 1 }, log);
    readers.push(r);
    return createUserSource(spec(text), { reader: () => r });
  };

  before(async () => {
    sm = await startSecretsManagerServer();
    restoreEnv = withEnv(awsTestEnv(sm));
  });

  afterEach(async () => {
    for (const d of directories.splice(0)) d.close();
    for (const l of loaders.splice(0)) l.close();
    for (const r of readers.splice(0)) r.close();
    await sm.setOutage(false);
    sm.clear();
    sm.clearLog();
    sm.allow();
  });

  after(async () => {
    restoreEnv?.();
    await sm?.stop();
    const all = log.lines.join('\n');
    for (const p of issued) assert.ok(!all.includes(p), 'no secret value in any log line');
  });

  it('loads the same users and skips as the in-thread sources, for both secret shapes and by tag', async () => {
    sm.put('shapes/all', [
      { username: 'alice', password: pw(), type: 'text', role: 'database', policies: ['p1', 'p2'], policy: 'p1' },
      { username: 'bob', password: md5Secret('bob', pw()), type: 'md5', role: 'database' },
      { username: 'carol', password: scramVerifier(pw()), type: 'scram-sha-256', role: 'replication' },
      { username: 'eve', password: pw(), type: 'sha1', role: 'database' },
      'not an object',
    ]);
    for (let i = 0; i < 45; i++) sm.put(`shapes/per-user/u${String(i).padStart(2, '0')}`, rds(`u${i}`, pw()), i % 3 ? {} : { tags: { team: 'data' } });
    sm.put('shapes/per-user/scram', rds('s1', scramVerifier(pw()), { type: 'scram-sha-256' }));
    sm.put('shapes/per-user/broken', `{"username": "x", "password": "${pw()}"`);
    sm.put('shapes/per-user/array', [
      { username: 'arr1', password: pw(), type: 'text', role: 'database' },
      { username: 'u1', password: pw(), type: 'text', role: 'database' },
    ]);
    const l = loader();
    for (const text of ['aws:shapes/all', 'aws-prefix:shapes/per-user/', 'aws-tag:team=data']) {
      const expected = await inThread(text).load();
      const got = await new WorkerUserSource(l, spec(text)).load();
      // Strict: a SCRAM key that came back as a Uint8Array instead of a Buffer fails here.
      assert.deepStrictEqual(got, expected, text);
      assert.ok(got.users.size > 0, text);
    }
    const viaWorker = await new WorkerUserSource(l, spec('aws:shapes/all')).load();
    assert.deepEqual([...viaWorker.users.keys()], ['alice', 'bob', 'carol']);
    assert.equal(viaWorker.skipped.length, 2);
    const carol = viaWorker.users.get('carol')!;
    assert.ok(carol.secret.type === 'scram-sha-256' && Buffer.isBuffer(carol.secret.keys.storedKey));
    const s1 = (await new WorkerUserSource(l, spec('aws-prefix:shapes/per-user/')).load()).users.get('s1')!;
    assert.ok(s1.secret.type === 'scram-sha-256' && Buffer.isBuffer(s1.secret.keys.serverKey));
    assert.equal(l.thread !== undefined, true, 'one thread served every source');
  });

  it("keeps each source's version cache in the thread: an unchanged refresh reads no value again", async () => {
    for (let i = 0; i < 30; i++) sm.put(`cache/u${i}`, rds(`u${i}`, pw()));
    const l = loader();
    const source = new WorkerUserSource(l, spec('aws-prefix:cache/'));
    assert.equal((await source.load()).users.size, 30);
    assert.deepEqual(l.calls, { ListSecrets: 1, BatchGetSecretValue: 2, GetSecretValue: 0 });
    sm.rotate('cache/u7', rds('u7', pw()));
    const again = await source.load();
    assert.equal(again.users.size, 30);
    assert.deepEqual(l.calls, { ListSecrets: 2, BatchGetSecretValue: 3, GetSecretValue: 0 }, 'only the rotated secret is read');
    assert.deepEqual((sm.requests('BatchGetSecretValue').at(-1)!.body.SecretIdList as string[]), ['cache/u7']);
  });

  it('an unchanged refresh hands back the users already held (nothing to decode); a change sends them again', async () => {
    const p1 = pw();
    sm.put('same/users', [{ username: 'alice', password: p1, type: 'text', role: 'database' }, { username: 'bob', password: scramVerifier(pw()), type: 'scram-sha-256', role: 'database' }]);
    const source = new WorkerUserSource(loader(), spec('aws:same/users'));
    const first = await source.load();
    const second = await source.load();
    assert.equal(second, first, 'the same SourceLoad object: the secret was re-read and re-parsed in the thread, and found equal');
    sm.rotate('same/users', [{ username: 'alice', password: pw(), type: 'text', role: 'database' }, { username: 'bob', password: scramVerifier(pw()), type: 'scram-sha-256', role: 'database' }]);
    const third = await source.load();
    assert.notEqual(third, first);
    assert.notDeepEqual(third.users.get('alice'), first.users.get('alice'));
    assert.equal(sm.requests('GetSecretValue').length, 3);
  });

  it('a failed load reaches the caller with the message the in-thread source gives', async () => {
    const l = loader();
    const missing = await inThread('aws:nowhere/users').load().then(
      () => assert.fail('the in-thread load should fail'),
      (e: Error) => e.message,
    );
    assert.match(missing, /not found/);
    await assert.rejects(new WorkerUserSource(l, spec('aws:nowhere/users')).load(), (e: Error) => e.message === missing);
    sm.put('broken/users', '[{"username": ');
    await assert.rejects(new WorkerUserSource(l, spec('aws:broken/users')).load(), /^Error: secret "broken\/users": the secret is not valid JSON/);
    sm.throttle(Infinity);
    await assert.rejects(new WorkerUserSource(l, spec('aws-prefix:any/')).load(), /throttl/i);
    sm.throttle(0);
  });

  it('the SDK warning about BatchGetSecretValue, logged in the thread, reaches the main logger', async () => {
    for (let i = 0; i < 3; i++) sm.put(`denied/u${i}`, rds(`u${i}`, pw()));
    sm.deny('BatchGetSecretValue');
    const l = loader();
    assert.equal((await new WorkerUserSource(l, spec('aws-prefix:denied/')).load()).users.size, 3);
    const line = log.lines.find((x) => x.includes('aws.batch-denied'));
    assert.ok(line, 'forwarded log event');
    assert.match(line!, /"level":"warn".*fallback/);
  });

  it('a thread that dies mid-load fails that load clearly; the next load starts a new thread', async () => {
    sm.put('crash/u1', rds('u1', pw()));
    const l = loader();
    const source = new WorkerUserSource(l, spec('aws-prefix:crash/'));
    assert.equal((await source.load()).users.size, 1);
    const first = l.thread!;
    await sm.setOutage('hang');
    sm.clearLog();
    const pending = source.load();
    await eventually(() => sm.requests('ListSecrets').length > 0, 10_000, 'the load to reach the service');
    await first.terminate();
    await assert.rejects(pending, /^Error: the user-loading worker stopped \(exit code 1\); the next refresh starts a new one$/);
    assert.ok(log.lines.some((x) => x.includes('users.worker-exited') && x.includes('"pendingLoads":1')));
    await sm.setOutage(false);
    assert.equal((await source.load()).users.size, 1);
    assert.ok(l.thread && l.thread !== first, 'a new thread');
  });

  it('a directory keeps its last users while the thread is gone, and recovers with a new one', async () => {
    const p = pw();
    sm.put('dir/alice', rds('alice', p));
    const sources = createProxyUserSources([parseUserSourceSpec('aws-prefix:dir/')], { aws: { maxAttempts: 1 }, log });
    const d = new UserDirectory({ sources, log, refreshMs: 60_000, random: () => 0 });
    directories.push(d);
    await d.start({ strict: true });
    const thread = (sources[0] as WorkerUserSource).loader.thread!;
    await sm.setOutage('hang');
    sm.clearLog();
    const pass = d.refreshNow();
    await eventually(() => sm.requests('ListSecrets').length > 0, 10_000, 'the pass to reach the service');
    await thread.terminate();
    await pass;
    const st = d.status();
    assert.equal(st.stale, true);
    assert.match(st.error!, /aws-prefix:dir\/: the user-loading worker stopped/);
    assert.equal(d.users().get('alice')!.secret.type, 'text', 'the last good set stays in force');
    await sm.setOutage(false);
    await d.refreshNow();
    assert.equal(d.status().stale, false);
    assert.ok(log.lines.some((x) => x.includes('users.source-recovered')));
  });

  it('close ends the thread; a pending load fails and later loads fail at once', async () => {
    sm.put('close/u1', rds('u1', pw()));
    const linesBefore = log.lines.length;
    const sources = createProxyUserSources([parseUserSourceSpec('aws-prefix:close/'), parseUserSourceSpec('aws:close/none')], { log });
    const d = new UserDirectory({ sources, log, refreshMs: 60_000 });
    await d.start();
    const thread = (sources[0] as WorkerUserSource).loader.thread!;
    assert.ok(thread);
    await sm.setOutage('hang');
    const pending = sources[0]!.load();
    const exited = once(thread, 'exit');
    d.close();
    await assert.rejects(pending, /^Error: the user directory is closed$/);
    await exited;
    assert.equal((sources[0] as WorkerUserSource).loader.thread, undefined);
    await assert.rejects(sources[1]!.load(), /the user directory is closed/);
    assert.ok(!log.lines.slice(linesBefore).some((x) => x.includes('users.worker-exited')), 'closing is not reported as a crash');
  });

  it('a process whose only work was a load gets its answer and then ends with the thread idle', async () => {
    for (let i = 0; i < 5; i++) sm.put(`once/u${i}`, rds(`u${i}`, pw()));
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', 'loadOnce.ts'), 'aws-prefix:once/'], {
      env: { ...process.env, ...awsTestEnv(sm) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    clearTimeout(timer);
    assert.equal(signal, null, `the process ended by itself (it was killed after 30 s): ${out}`);
    assert.equal(code, 0, out);
    assert.deepEqual(JSON.parse(out.trim()), { users: 5 });
  });
});
