/**
 * Users from AWS Secrets Manager through the REAL @aws-sdk/client-secrets-manager, pointed
 * at test/support/secretsManagerServer.ts with AWS_ENDPOINT_URL_SECRETS_MANAGER and static
 * credentials from the environment: both secret shapes, pagination, filters, malformed
 * secrets, rotation, removal, outage and throttling, configuration errors.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { awsTestEnv, startSecretsManagerServer, withEnv, type SecretsManagerServer } from '../../support/secretsManagerServer';
import { SecretsReader } from '../../../proxy/aws/secretsReader';
import { UserDirectory } from '../../../proxy/users/directory';
import { createUserSource } from '../../../proxy/users/userSources';
import { parseUserSourceSpec } from '../../../proxy/users/sourceSpec';
import { credentialFingerprint } from '../../../proxy/users/fingerprint';
import type { UserChange } from '../../../proxy/users/reconcile';
import { md5Secret } from '../../../proxy/wire/auth/md5';
import { scramVerifier } from '../../../proxy/auth/scramVerifier';
import { eventually, rawLogger } from './helpers';

const issued: string[] = [];
function pw(): string {
  const p = `pw-${crypto.randomBytes(9).toString('base64url')}`;
  issued.push(p);
  return p;
}

function rdsSecret(username: string, password: string): object {
  return { engine: 'postgres', host: 'db.internal', port: 5432, username, password, dbname: 'app', dbInstanceIdentifier: 'db-1' };
}

describe('users from AWS Secrets Manager (real SDK, local service)', function () {
  this.timeout(60_000);
  let sm: SecretsManagerServer;
  let restoreEnv: () => void;
  const log = rawLogger();
  const directories: UserDirectory[] = [];
  const readers: SecretsReader[] = [];

  function reader(options: ConstructorParameters<typeof SecretsReader>[0] = {}): SecretsReader {
    const r = new SecretsReader({ maxAttempts: 1, ...options }, log);
    readers.push(r);
    return r;
  }

  function directory(specs: string[], options: { refreshMs?: number; reader?: SecretsReader } = {}): UserDirectory {
    const r = options.reader ?? reader();
    const d = new UserDirectory({
      sources: specs.map((s) => createUserSource(parseUserSourceSpec(s), { reader: () => r })),
      log,
      refreshMs: options.refreshMs ?? 60_000,
      random: () => 0,
    });
    directories.push(d);
    return d;
  }

  before(async () => {
    sm = await startSecretsManagerServer();
    restoreEnv = withEnv(awsTestEnv(sm));
  });

  afterEach(() => {
    for (const d of directories.splice(0)) d.close();
    for (const r of readers.splice(0)) r.close();
    sm.clear();
    sm.clearLog();
    sm.allow();
    sm.throttle(0);
    sm.maxPageSize = 100;
  });

  after(async () => {
    restoreEnv?.();
    await sm?.stop();
    const all = log.lines.join('\n');
    for (const p of issued) assert.ok(!all.includes(p), 'no secret value in any log line');
  });

  it("one secret in Springtail's shape (aws:ID): every type and role load, malformed entries are skipped", async () => {
    const [a, b, c, r] = [pw(), pw(), pw(), pw()];
    sm.put('prod/mayfly/users', [
      { username: 'alice', password: a, type: 'text', role: 'database', policy: 'pg-homolog' },
      { username: 'bob', password: md5Secret('bob', b), type: 'md5', role: 'database' },
      { username: 'carol', password: scramVerifier(c), type: 'scram-sha-256', role: 'database' },
      { username: 'repl', password: r, type: 'text', role: 'replication' },
      { username: 'fdw', password: pw(), type: 'text', role: 'proxy_to_fdw' },
      { username: 'root', password: pw(), type: 'text', role: 'fdw_superuser' },
      { username: 'eve', password: pw(), type: 'sha1', role: 'database' },
      { username: 'mallory', password: `md5${pw()}`, type: 'md5', role: 'database' },
      'not an object',
    ]);
    const d = directory(['aws:prod/mayfly/users']);
    const st = await d.start({ strict: true });
    assert.deepEqual([...d.users().keys()], ['alice', 'bob', 'carol', 'repl', 'fdw']);
    assert.equal(d.users().get('alice')!.policy, 'pg-homolog');
    assert.equal(d.replication()!.username, 'repl');
    assert.equal(d.fdw()!.username, 'fdw');
    assert.deepEqual(st.sources, [{ source: 'aws:prod/mayfly/users', users: 5, skipped: 4, lastSuccessAt: st.sources[0]!.lastSuccessAt }]);
    const skips = log.lines.filter((l) => l.includes('users.skipped') && l.includes('prod/mayfly/users'));
    assert.equal(skips.length, 4);
    assert.ok(skips.some((l) => l.includes('role must be one of database, replication, proxy_to_fdw')));
    assert.ok(skips.some((l) => l.includes('an md5 password must be')));
    const req = sm.requests('GetSecretValue')[0]!;
    assert.equal(req.body.SecretId, 'prod/mayfly/users');
    assert.equal(req.accessKeyId, 'AKIAMAYFLYTEST000001', 'static credentials from the environment');
    assert.equal(req.region, 'eu-west-1');
  });

  it('per-user RDS secrets by prefix: 250 secrets over 3 pages of 100, values in batches of at most 20', async () => {
    const passwords = new Map<string, string>();
    for (let i = 0; i < 250; i++) {
      const name = `u${String(i).padStart(3, '0')}`;
      passwords.set(name, pw());
      sm.put(`prod/db-users/${name}`, rdsSecret(name, passwords.get(name)!));
    }
    sm.put('prod/db-usersx/intruder', rdsSecret('intruder', pw()));
    sm.put('staging/db-users/other', rdsSecret('other', pw()));
    const d = directory(['aws-prefix:prod/db-users/']);
    await d.start({ strict: true });
    assert.equal(d.users().size, 250);
    const u042 = d.users().get('u042')!;
    assert.ok(u042.role === 'database' && u042.secret.type === 'text' && u042.secret.password === passwords.get('u042'));
    assert.ok(!d.users().has('intruder') && !d.users().has('other'));
    const lists = sm.requests('ListSecrets');
    assert.equal(lists.length, 3);
    assert.deepEqual(lists[0]!.body.Filters, [{ Key: 'name', Values: ['prod/db-users/'] }]);
    assert.equal(lists[0]!.body.MaxResults, 100);
    assert.equal(lists[0]!.body.NextToken, undefined);
    assert.ok(lists[1]!.body.NextToken && lists[2]!.body.NextToken, 'pages follow NextToken');
    const batches = sm.requests('BatchGetSecretValue');
    assert.equal(batches.length, 13);
    assert.ok(batches.every((b) => (b.body.SecretIdList as string[]).length <= 20));
    assert.equal(sm.requests('GetSecretValue').length, 0);

    // Unchanged versions are not read again: a second pass lists and reads nothing else.
    sm.clearLog();
    await d.refreshNow();
    assert.equal(sm.requests('ListSecrets').length, 3);
    assert.equal(sm.requests('BatchGetSecretValue').length, 0);
    assert.equal(d.users().size, 250);
  });

  it('aws-tag:KEY=VALUE takes the secrets carrying exactly that tag', async () => {
    sm.put('a', rdsSecret('tagged', pw()), { tags: { 'mayfly-user': 'true' } });
    sm.put('b', rdsSecret('wrong-value', pw()), { tags: { 'mayfly-user': 'false' } });
    // Both filters match (some key, some value) but not as one tag: filtered out client-side.
    sm.put('c', rdsSecret('split-pair', pw()), { tags: { 'mayfly-user-x': 'no', team: 'true' } });
    sm.put('d', rdsSecret('untagged', pw()));
    const d = directory(['aws-tag:mayfly-user=true']);
    await d.start({ strict: true });
    assert.deepEqual([...d.users().keys()], ['tagged']);
    assert.deepEqual(sm.requests('ListSecrets')[0]!.body.Filters, [
      { Key: 'tag-key', Values: ['mayfly-user'] },
      { Key: 'tag-value', Values: ['true'] },
    ]);
  });

  it('malformed or unreadable per-user secrets are skipped with a reason; the rest load', async () => {
    const good = pw();
    sm.put('users/good', rdsSecret('good', good));
    sm.put('users/bad-json', `{"username": "x", "password": "${pw()}"`);
    sm.put('users/no-password', { engine: 'postgres', username: 'nopw', host: 'h' });
    sm.put('users/mysql', { ...rdsSecret('my', pw()), engine: 'mysql' });
    sm.put('users/denied', rdsSecret('denied', pw()));
    sm.put('users/array', [
      { username: 'arr1', password: pw(), type: 'text', role: 'database' },
      { username: 'arr2', password: pw(), type: 'text', role: 'superuser' },
    ]);
    sm.deny('GetSecretValue', ['users/denied']);
    const d = directory(['aws-prefix:users/']);
    await d.start({ strict: true });
    assert.deepEqual([...d.users().keys()].sort(), ['arr1', 'good']);
    const skipped = log.lines.filter((l) => l.includes('users.skipped') && l.includes('aws-prefix:users/')).join('\n');
    assert.match(skipped, /secret \\"users\/bad-json\\".*not valid JSON/);
    assert.match(skipped, /secret \\"users\/no-password\\".*password must be a non-empty string/);
    assert.match(skipped, /secret \\"users\/mysql\\".*engine must be one of/);
    assert.match(skipped, /secret \\"users\/denied\\".*access denied to secret \\"users\/denied\\".*needs secretsmanager:GetSecretValue/);
    assert.match(skipped, /secret \\"users\/array\\" index 1.*role must be one of/);
    assert.equal(d.status().stale, false, 'skipped secrets do not make the set stale');
  });

  it('rotation gives a changed event with the old fingerprint; removal a removed event', async () => {
    const [p1, p2, q] = [pw(), pw(), pw()];
    sm.put('users/alice', rdsSecret('alice', p1));
    sm.put('users/bob', rdsSecret('bob', q));
    const d = directory(['aws-prefix:users/']);
    const batches: UserChange[][] = [];
    d.on('changes', (c: UserChange[]) => batches.push(c));
    await d.start({ strict: true });
    const before = d.users().get('alice')!;
    sm.rotate('users/alice', rdsSecret('alice', p2));
    sm.delete('users/bob');
    sm.clearLog();
    await d.refreshNow();
    const changes = batches[1]!;
    const changed = changes.find((c) => c.username === 'alice');
    assert.ok(changed && changed.kind === 'changed');
    assert.deepEqual(changed.fields, ['credential']);
    assert.equal(changed.oldFingerprint, credentialFingerprint(before));
    assert.equal(changed.newFingerprint, credentialFingerprint(d.users().get('alice')!));
    const alice = d.users().get('alice')!;
    assert.ok(alice.secret.type === 'text' && alice.secret.password === p2);
    const removed = changes.find((c) => c.username === 'bob');
    assert.ok(removed && removed.kind === 'removed');
    assert.ok(!d.users().has('bob'));
    // Only the rotated secret was read again.
    assert.deepEqual(sm.requests('BatchGetSecretValue').map((r) => r.body.SecretIdList), [['users/alice']]);
    assert.ok(log.lines.some((l) => l.includes('users.changed') && l.includes('"alice"')));
    assert.ok(log.lines.some((l) => l.includes('users.removed') && l.includes('"bob"')));
  });

  for (const outage of ['refuse', 503] as const) {
    it(`an outage (${outage === 'refuse' ? 'connection refused' : 'HTTP 503'}) keeps the last set, backs off visibly, and recovers`, async () => {
      const p = pw();
      sm.put('prod/users', [{ username: 'alice', password: p, type: 'text', role: 'database' }]);
      const d = directory(['aws:prod/users'], { refreshMs: 150 });
      await d.start({ strict: true });
      await sm.setOutage(outage);
      await d.refreshNow();
      await d.refreshNow();
      const st = d.status();
      assert.equal(st.stale, true);
      assert.equal(st.consecutiveFailures, 2);
      assert.ok(st.nextRefreshInMs! >= 300, `backoff: ${st.nextRefreshInMs}`);
      assert.match(st.error!, /aws:prod\/users: AWS Secrets Manager: the service is unavailable/);
      assert.equal(d.users().get('alice')!.username, 'alice', 'the last known set stays in force');
      sm.put('prod/users', [
        { username: 'alice', password: p, type: 'text', role: 'database' },
        { username: 'bob', password: pw(), type: 'text', role: 'database' },
      ]);
      await sm.setOutage(false);
      // Recovery by the timer, not by a manual refresh.
      await eventually(() => !d.status().stale && d.users().has('bob'), 5000, 'recovery after the outage');
      assert.equal(d.status().consecutiveFailures, 0);
      // Back to the normal interval (counted from the start of the pass that recovered).
      const next = d.status().nextRefreshInMs!;
      assert.ok(next <= 150 && next >= 15, `next refresh in ${next} ms`);
    });
  }

  it('a black-holed endpoint times out and counts as an outage instead of hanging the refresh', async () => {
    sm.put('prod/users', [{ username: 'alice', password: pw(), type: 'text', role: 'database' }]);
    const d = directory(['aws:prod/users'], { reader: reader({ requestTimeoutMs: 300 }) });
    await d.start({ strict: true });
    await sm.setOutage('hang');
    const t0 = Date.now();
    await d.refreshNow();
    await sm.setOutage(false);
    assert.ok(Date.now() - t0 < 3000, `the pass ended after ${Date.now() - t0} ms`);
    assert.match(d.status().error!, /the service is unavailable \(ETIMEDOUT\)/);
    assert.ok(d.users().has('alice'));
  });

  it('throttling keeps the last set and backs off; the pass after it succeeds', async () => {
    sm.put('users/alice', rdsSecret('alice', pw()));
    const d = directory(['aws-prefix:users/'], { refreshMs: 100 });
    await d.start({ strict: true });
    sm.throttle(Infinity);
    await d.refreshNow();
    await d.refreshNow();
    await d.refreshNow();
    const st = d.status();
    assert.equal(st.consecutiveFailures, 3);
    assert.ok(st.nextRefreshInMs! >= 400, `backoff grows: ${st.nextRefreshInMs}`);
    assert.match(st.error!, /throttled \(ThrottlingException\) by ListSecrets/);
    assert.ok(d.users().has('alice'));
    sm.throttle(0);
    await eventually(() => !d.status().stale, 5000, 'recovery after throttling');
    assert.ok(d.users().has('alice'));
    assert.ok(sm.requests().some((r) => r.errorType === 'ThrottlingException'));
  });

  it('falls back to GetSecretValue per secret when BatchGetSecretValue is denied', async () => {
    for (let i = 0; i < 30; i++) sm.put(`users/u${i}`, rdsSecret(`u${i}`, pw()));
    sm.deny('BatchGetSecretValue');
    const d = directory(['aws-prefix:users/']);
    await d.start({ strict: true });
    assert.equal(d.users().size, 30);
    assert.equal(sm.requests('BatchGetSecretValue').length, 1, 'tried once, then remembered');
    assert.equal(sm.requests('GetSecretValue').length, 30);
    assert.ok(log.lines.some((l) => l.includes('aws.batch-denied') && l.includes('secretsmanager:BatchGetSecretValue')));
  });

  it('several --users sources merge; the first given wins a duplicate and the conflict is logged', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-users-merge-'));
    const file = path.join(dir, 'users.json');
    const local = pw();
    fs.writeFileSync(file, JSON.stringify([{ username: 'alice', password: local, type: 'text', role: 'database' }]));
    sm.put('shared/users', [
      { username: 'alice', password: pw(), type: 'text', role: 'database' },
      { username: 'bob', password: pw(), type: 'text', role: 'database' },
    ]);
    const d = directory([file, 'aws:shared/users']);
    await d.start({ strict: true });
    const alice = d.users().get('alice')!;
    assert.ok(alice.secret.type === 'text' && alice.secret.password === local);
    assert.ok(d.users().has('bob'));
    assert.ok(log.lines.some((l) => l.includes('users.conflict') && l.includes(`file ${file}`) && l.includes('aws:shared/users')));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('configuration as AWS CLI users expect', () => {
    it('no region: the error says where to set one', async () => {
      const restore = withEnv({ AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined });
      try {
        sm.put('x', 'postgres://u@h/db');
        await assert.rejects(reader().getSecret('x'), /no AWS region is configured: set AWS_REGION \(or AWS_DEFAULT_REGION\)/);
      } finally {
        restore();
      }
    });

    it('AWS_DEFAULT_REGION is honoured, and an explicit region wins over the environment', async () => {
      sm.put('x', 'postgres://u@h/db');
      const restore = withEnv({ AWS_REGION: undefined, AWS_DEFAULT_REGION: 'ap-south-1' });
      try {
        await reader().getSecret('x');
        await reader({ region: 'sa-east-1' }).getSecret('x');
      } finally {
        restore();
      }
      assert.deepEqual(
        sm.requests('GetSecretValue').map((r) => r.region),
        ['ap-south-1', 'sa-east-1'],
      );
    });

    it('no credentials: the error lists the usual ways to provide them', async () => {
      const restore = withEnv({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined, AWS_PROFILE: undefined });
      try {
        await assert.rejects(reader().getSecret('x'), /no AWS credentials found: configure them as for the AWS CLI/);
      } finally {
        restore();
      }
      assert.equal(sm.requests().length, 0, 'nothing was sent unsigned');
    });

    it('AWS_PROFILE and --aws-profile read region, keys and endpoint_url from the shared files', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-aws-profile-'));
      fs.writeFileSync(
        path.join(dir, 'config'),
        `[profile ops]\nregion = eu-central-1\nendpoint_url = ${sm.endpoint}\n\n[profile audit]\nregion = us-east-2\nendpoint_url = ${sm.endpoint}\n`,
      );
      fs.writeFileSync(
        path.join(dir, 'credentials'),
        '[ops]\naws_access_key_id = AKIAOPSPROFILE000001\naws_secret_access_key = ops-secret\n\n[audit]\naws_access_key_id = AKIAAUDITPROFILE0001\naws_secret_access_key = audit-secret\n',
      );
      const restore = withEnv({
        AWS_CONFIG_FILE: path.join(dir, 'config'),
        AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials'),
        AWS_PROFILE: 'ops',
        AWS_REGION: undefined,
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: undefined,
      });
      try {
        sm.put('x', 'postgres://u@h/db');
        await reader().getSecret('x');
        await reader({ profile: 'audit' }).getSecret('x');
      } finally {
        restore();
        fs.rmSync(dir, { recursive: true, force: true });
      }
      assert.deepEqual(
        sm.requests('GetSecretValue').map((r) => [r.accessKeyId, r.region]),
        [
          ['AKIAOPSPROFILE000001', 'eu-central-1'],
          ['AKIAAUDITPROFILE0001', 'us-east-2'],
        ],
      );
    });

    it('an explicit endpoint wins over AWS_ENDPOINT_URL_SECRETS_MANAGER', async () => {
      const other = await startSecretsManagerServer();
      try {
        other.put('only-here', 'postgres://u@h/db');
        const v = await reader({ endpoint: other.endpoint }).getSecret('only-here');
        assert.equal(v.name, 'only-here');
        assert.equal(sm.requests().length, 0);
        assert.equal(other.requests('GetSecretValue').length, 1);
      } finally {
        await other.stop();
      }
    });

    it('access denied names the secret and the IAM action; not found names the id', async () => {
      sm.put('prod/granter', 'postgres://u@h/db');
      sm.deny('GetSecretValue', ['prod/granter']);
      await assert.rejects(
        reader().getSecret('prod/granter'),
        /access denied to secret "prod\/granter" in eu-west-1: the IAM identity Mayfly runs as needs secretsmanager:GetSecretValue on that secret/,
      );
      sm.deny('ListSecrets');
      await assert.rejects(reader().listSecrets([{ Key: 'name', Values: ['p'] }]), /needs secretsmanager:ListSecrets/);
      await assert.rejects(reader().getSecret('prod/missing'), /secret "prod\/missing" not found in eu-west-1/);
    });
  });
});
