import assert from 'node:assert/strict';
import { parseRefreshInterval, parseUserSourceSpec, describeUserSource } from '../../../proxy/users/sourceSpec';
import { usersFromSecret } from '../../../proxy/users/userSecret';
import { connectionFromSecret } from '../../../proxy/config/awsSecretDsn';
import { parseEntryRef, resolveEntry } from '../../../proxy/config/entries';
import { scramVerifier } from '../../../proxy/auth/scramVerifier';
import { secretsManagerSettings } from '../../../proxy/aws/config';
import { explainAwsError } from '../../../proxy/aws/errors';

const PW = 'S3cret-Value-42!';

describe('--users sources and --users-refresh', () => {
  it('parses FILE, aws:, aws-prefix: and aws-tag: specs', () => {
    assert.deepEqual(parseUserSourceSpec('./users.json'), { kind: 'file', file: './users.json' });
    assert.deepEqual(parseUserSourceSpec('aws:prod/mayfly/users'), { kind: 'aws-secret', secretId: 'prod/mayfly/users' });
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:users-AbCdEf';
    assert.deepEqual(parseUserSourceSpec(`aws:${arn}`), { kind: 'aws-secret', secretId: arn });
    assert.deepEqual(parseUserSourceSpec('aws-prefix:prod/db-users/'), { kind: 'aws-prefix', prefix: 'prod/db-users/' });
    assert.deepEqual(parseUserSourceSpec('aws-tag:mayfly-user=true'), { kind: 'aws-tag', key: 'mayfly-user', value: 'true' });
    assert.equal(describeUserSource(parseUserSourceSpec('aws-tag:team=data')), 'aws-tag:team=data');
  });

  it('rejects empty and unusable specs with the form expected', () => {
    assert.throws(() => parseUserSourceSpec('aws:'), /needs a secret name or ARN/);
    assert.throws(() => parseUserSourceSpec('aws-prefix:'), /aws-prefix: needs a secret name prefix/);
    assert.throws(() => parseUserSourceSpec('aws-prefix:!neg'), /aws-prefix:/);
    assert.throws(() => parseUserSourceSpec('aws-tag:novalue'), /KEY=VALUE/);
    assert.throws(() => parseUserSourceSpec('aws-tag:=v'), /KEY=VALUE/);
    assert.throws(() => parseUserSourceSpec(''), /FILE, aws:SECRET_ID/);
  });

  it('reads Go durations and refuses ones out of range', () => {
    assert.equal(parseRefreshInterval('15s'), 15_000);
    assert.equal(parseRefreshInterval('1m30s'), 90_000);
    assert.equal(parseRefreshInterval('250ms'), 250);
    assert.throws(() => parseRefreshInterval('15'), /--users-refresh: "15" has no unit/);
    assert.throws(() => parseRefreshInterval('1d'), /unknown unit "d"/);
    assert.throws(() => parseRefreshInterval('10ms'), /out of range: use 100ms to 24h/);
    assert.throws(() => parseRefreshInterval('0s'), /out of range/);
  });
});

describe('users in a secret', () => {
  it("reads Springtail's array and the RDS per-user object", async () => {
    const array = await usersFromSecret(
      JSON.stringify([
        { username: 'alice', password: PW, type: 'text', role: 'database' },
        { username: 'repl', password: PW, type: 'text', role: 'replication' },
        { username: 'sup', password: PW, type: 'text', role: 'fdw_superuser' },
      ]),
    );
    assert.deepEqual([...array.users.keys()], ['alice', 'repl']);
    assert.match(array.skipped[0]!.reason, /role must be one of database, replication, proxy_to_fdw/);
    const rds = await usersFromSecret(JSON.stringify({ engine: 'postgres', host: 'db', port: 5432, username: 'bob', password: PW, dbname: 'app' }));
    const bob = rds.users.get('bob')!;
    assert.equal(bob.role, 'database');
    assert.ok(bob.secret.type === 'text' && bob.secret.password === PW);
    const scram = await usersFromSecret(JSON.stringify({ username: 'carol', password: scramVerifier(PW), type: 'scram-sha-256', role: 'replication' }));
    assert.equal(scram.users.get('carol')!.secret.type, 'scram-sha-256');
    assert.equal(scram.users.get('carol')!.role, 'replication');
  });

  it('skips other engines and refuses non-JSON without quoting the value', async () => {
    const mysql = await usersFromSecret(JSON.stringify({ engine: 'mysql', username: 'x', password: PW }));
    assert.equal(mysql.users.size, 0);
    assert.match(mysql.skipped[0]!.reason, /engine must be one of/);
    await assert.rejects(usersFromSecret(`not json ${PW}`), (e: Error) => /not valid JSON/.test(e.message) && !e.message.includes(PW));
    await assert.rejects(usersFromSecret('"a string"'), /JSON array of \{username/);
  });
});

describe('aws: config entries', () => {
  it('parses aws:SECRET_ID and aws:SECRET_ID#key, ARNs included', () => {
    assert.deepEqual(parseEntryRef('aws:prod/granter'), { kind: 'aws', secretId: 'prod/granter' });
    assert.deepEqual(parseEntryRef('aws:arn:aws:secretsmanager:eu-west-1:1:secret:g-Ab#dsn'), {
      kind: 'aws',
      secretId: 'arn:aws:secretsmanager:eu-west-1:1:secret:g-Ab',
      key: 'dsn',
    });
    assert.throws(() => parseEntryRef('aws:'), /needs a secret name or ARN/);
    assert.throws(() => parseEntryRef('aws:x#'), /names no key/);
  });

  it('turns a DSN, an RDS object and a #key into connection parameters', () => {
    const dsn = connectionFromSecret(`postgres://granter:${encodeURIComponent(PW)}@db.internal:6543/postgres?sslmode=require`);
    assert.deepEqual([dsn.host, dsn.port, dsn.user, dsn.password, dsn.sslmode], ['db.internal', 6543, 'granter', PW, 'require']);
    const rds = connectionFromSecret(JSON.stringify({ engine: 'postgres', host: 'h.rds.amazonaws.com', port: '5433', username: 'master', password: PW, dbname: 'app' }));
    assert.deepEqual([rds.host, rds.port, rds.user, rds.password, rds.database, rds.sslmode], ['h.rds.amazonaws.com', 5433, 'master', PW, 'app', 'prefer']);
    const noDb = connectionFromSecret(JSON.stringify({ host: 'h', username: 'u', password: PW, sslmode: 'verify-full' }));
    assert.deepEqual([noDb.port, noDb.database, noDb.sslmode], [5432, 'postgres', 'verify-full']);
    const keyed = JSON.stringify({ granter: `postgres://g:${PW}@h/postgres`, primary: { host: 'p', username: 'r', password: PW } });
    assert.equal(connectionFromSecret(keyed, 'granter').user, 'g');
    assert.equal(connectionFromSecret(keyed, 'primary').host, 'p');
  });

  it('says what is wrong with a secret and never quotes it', () => {
    const cases: [string, string | undefined, RegExp][] = [
      [`{"oops": "${PW}"`, undefined, /neither a postgres:\/\/ DSN nor valid JSON/],
      [JSON.stringify({ dsn: `x${PW}` }), undefined, /JSON object without "host": name the key/],
      [JSON.stringify({ dsn: `x${PW}` }), 'other', /no key "other"/],
      [JSON.stringify({ dsn: 42 }), 'dsn', /must hold a DSN string or an object/],
      [JSON.stringify({ host: 'h', username: 'u', password: PW, port: 'x' }), undefined, /"port" must be a number/],
      [JSON.stringify({ engine: 'mysql', host: 'h', username: 'u', password: PW }), undefined, /"engine" must be one of/],
      [JSON.stringify({ host: 'h', password: PW }), undefined, /"username" must be a non-empty string/],
      [`mysql://u:${PW}@h/db`, undefined, /must start with postgres:\/\//],
    ];
    for (const [text, key, re] of cases)
      assert.throws(() => connectionFromSecret(text, key), (e: Error) => re.test(e.message) && !e.message.includes(PW), `${re}`);
  });

  it('resolveEntry names the entry and passes fetch failures through without a value', async () => {
    await assert.rejects(resolveEntry('g', { kind: 'aws', secretId: 's' }), /config entry "g" \(aws:s\): AWS Secrets Manager references are not configured/);
    await assert.rejects(
      resolveEntry('g', { kind: 'aws', secretId: 's', key: 'k' }, async () => JSON.stringify({ k: `bad${PW}` })),
      (e: Error) => /config entry "g" \(aws:s#k\): invalid DSN/.test(e.message) && !e.message.includes(PW),
    );
    await assert.rejects(
      resolveEntry('g', { kind: 'aws', secretId: 's' }, async () => {
        throw new Error('AWS Secrets Manager: secret "s" not found');
      }),
      /config entry "g" \(aws:s\): AWS Secrets Manager: secret "s" not found/,
    );
  });
});

describe('AWS client settings and errors', () => {
  it('takes the region from the option, AWS_REGION, then AWS_DEFAULT_REGION (which the JS SDK ignores)', () => {
    assert.equal(secretsManagerSettings({ region: 'eu-north-1' }, { AWS_REGION: 'us-east-1' }).region, 'eu-north-1');
    assert.equal(secretsManagerSettings({}, { AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'us-west-2' }).region, 'us-east-1');
    assert.equal(secretsManagerSettings({}, { AWS_DEFAULT_REGION: 'us-west-2' }).region, 'us-west-2');
    assert.equal(secretsManagerSettings({}, {}).region, undefined);
    assert.deepEqual(secretsManagerSettings({ profile: 'ops', endpoint: 'https://vpce.example:443', maxAttempts: 2, requestTimeoutMs: 3000 }, {}), {
      profile: 'ops',
      endpoint: 'https://vpce.example:443',
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 3000, requestTimeout: 3000, throwOnRequestTimeout: true },
    });
    assert.equal(secretsManagerSettings({}, {}).requestHandler.requestTimeout, 10_000, 'never wait forever');
    assert.throws(() => secretsManagerSettings({ endpoint: 'not a url' }, {}), /endpoint must be a URL/);
    assert.throws(() => secretsManagerSettings({ endpoint: 'ftp://x' }, {}), /http:\/\/ or https:\/\//);
    assert.throws(() => secretsManagerSettings({ region: 'EU West' }, {}), /not a region name/);
  });

  it('names the cause and the fix for each kind of SDK failure', () => {
    const ctx = { action: 'GetSecretValue', secretId: 'prod/users', region: 'eu-west-1' };
    const region = explainAwsError(new Error('Region is missing'), ctx);
    assert.equal(region.kind, 'config');
    assert.match(region.message, /no AWS region is configured: set AWS_REGION/);
    const creds = explainAwsError(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }), ctx);
    assert.equal(creds.kind, 'credentials');
    const denied = explainAwsError({ name: 'AccessDeniedException', message: 'User: x is not authorized' }, ctx);
    assert.equal(denied.kind, 'access-denied');
    assert.match(denied.message, /access denied to secret "prod\/users" in eu-west-1: .* needs secretsmanager:GetSecretValue on that secret/);
    assert.ok(denied.aboutTheSecret);
    const missing = explainAwsError({ name: 'ResourceNotFoundException', message: "can't find" }, ctx);
    assert.match(missing.message, /secret "prod\/users" not found in eu-west-1: check the secret name or ARN and the region/);
    assert.equal(explainAwsError({ name: 'ThrottlingException', message: 'Rate exceeded' }, ctx).kind, 'throttled');
    assert.equal(explainAwsError({ name: 'Error', code: 'ECONNREFUSED', message: 'connect' }, ctx).kind, 'unavailable');
    assert.equal(explainAwsError({ name: 'InternalServiceError', message: 'x', $metadata: { httpStatusCode: 500 } }, ctx).kind, 'unavailable');
    assert.equal(explainAwsError({ name: 'DecryptionFailure', message: 'kms' }, ctx).kind, 'unreadable');
    assert.ok(!explainAwsError({ name: 'ThrottlingException' }, ctx).aboutTheSecret);
  });
});
