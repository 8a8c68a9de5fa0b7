/**
 * The extension's pure user-store logic: settings → proxy flags (checked, by setting name)
 * and the status words. The real thing (settings reaching a real proxy, the status bar
 * following a real outage) is test/vscode/suite/aws/.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkUserStoreSettings, userStoreFlags, type UserStoreSettingValues } from '../../../extension/proxy/userStoreFlags';
import { span, summarizeUserStore, userStoreReport } from '../../../extension/userStoreText';
import type { DirectoryStatus } from '../../../proxy/users/directory';

const none = { region: '', profile: '', endpoint: '' };
const values = (v: Partial<UserStoreSettingValues>): UserStoreSettingValues => ({ userSources: [], usersRefresh: '15s', aws: none, ...v });

describe('extension: user-store settings to proxy flags', () => {
  it('passes sources, refresh and AWS settings as the proxy flags, FILE sources made absolute', () => {
    const launch = checkUserStoreSettings(
      values({
        userSources: ['aws:prod/users', ' aws-prefix:prod/db-users/ ', 'aws-tag:mayfly-user=true', 'users.json', '~/u.json'],
        usersRefresh: '1m30s',
        aws: { region: 'eu-central-1', profile: 'dev', endpoint: 'http://127.0.0.1:4566' },
      }),
      '/ws',
    );
    assert.deepEqual(userStoreFlags(launch), [
      '--users', 'aws:prod/users',
      '--users', 'aws-prefix:prod/db-users/',
      '--users', 'aws-tag:mayfly-user=true',
      '--users', '/ws/users.json',
      '--users', path.join(os.homedir(), 'u.json'),
      '--users-refresh', '1m30s',
      '--aws-region', 'eu-central-1',
      '--aws-profile', 'dev',
      '--aws-endpoint', 'http://127.0.0.1:4566',
    ]);
  });

  it('without sources: no --users flags (and the refresh setting is not used), AWS flags still', () => {
    assert.deepEqual(userStoreFlags(checkUserStoreSettings(values({ usersRefresh: 'nonsense', aws: { ...none, region: 'us-east-1' } }))), [
      '--aws-region',
      'us-east-1',
    ]);
    assert.deepEqual(userStoreFlags(checkUserStoreSettings(values({}))), []);
  });

  it('every setting that shapes the proxy is ignored in an untrusted workspace until trusted', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as {
      contributes: { configuration: { properties: Record<string, unknown> } };
      capabilities: { untrustedWorkspaces: { restrictedConfigurations: string[] } };
    };
    const proxySettings = Object.keys(manifest.contributes.configuration.properties).filter((k) => /^mayfly\.(users|aws)\./.test(k));
    assert.deepEqual(proxySettings.sort(), ['mayfly.aws.endpoint', 'mayfly.aws.profile', 'mayfly.aws.region', 'mayfly.users.refresh', 'mayfly.users.sources']);
    const restricted = manifest.capabilities.untrustedWorkspaces.restrictedConfigurations;
    for (const k of proxySettings) assert.ok(restricted.includes(k), `${k} is not in restrictedConfigurations`);
  });

  it('refuses bad settings by name, with what to write instead', () => {
    const bad = (v: Partial<UserStoreSettingValues>, message: RegExp) => assert.throws(() => checkUserStoreSettings(values(v), '/ws'), message);
    bad({ userSources: ['aws:'] }, /^SettingError: mayfly\.users\.sources: "aws:": aws: needs a secret name or ARN \(e\.g\. aws:prod\/mayfly\/users\)$/);
    bad({ userSources: ['aws-tag:novalue'] }, /^SettingError: mayfly\.users\.sources: "aws-tag:novalue": aws-tag: needs KEY=VALUE/);
    bad({ userSources: ['aws-prefix:!x'] }, /mayfly\.users\.sources: "aws-prefix:!x": aws-prefix: needs a secret name prefix/);
    bad({ userSources: ['aws:a', '  '] }, /mayfly\.users\.sources: item 2 is empty: use FILE, aws:SECRET_ID/);
    bad({ userSources: [42] }, /mayfly\.users\.sources: item 1 is not a string \(42\)/);
    bad({ userSources: ['aws:a', 'aws:a'] }, /mayfly\.users\.sources: "aws:a" is listed twice/);
    bad({ userSources: ['aws:a'], usersRefresh: '10ms' }, /^SettingError: mayfly\.users\.refresh: "10ms" is out of range: use 100ms to 24h \(default 15s\)$/);
    bad({ userSources: ['aws:a'], usersRefresh: 'soon' }, /^SettingError: mayfly\.users\.refresh: /);
    bad({ userSources: ['aws:a'], usersRefresh: 15 }, /mayfly\.users\.refresh: must be a duration/);
    bad({ aws: { ...none, region: 'EU West' } }, /mayfly\.aws\.region: the AWS region "EU West" is not a region name/);
    bad({ aws: { ...none, endpoint: 'localhost:4566' } }, /mayfly\.aws\.endpoint: the Secrets Manager endpoint must be an http:\/\/ or https:\/\/ URL/);
    bad({ aws: { ...none, endpoint: 'https://AKIA:hunter2@sm.example' } }, /mayfly\.aws\.endpoint: must not contain a user name or password/);
    bad({ aws: { ...none, profile: 7 } }, /mayfly\.aws\.profile: must be a string/);
  });
});

describe('extension: user-store status words', () => {
  const now = Date.parse('2025-01-01T12:00:00Z');
  const at = (secondsAgo: number) => new Date(now - secondsAgo * 1000).toISOString();
  const base: DirectoryStatus = {
    users: 12,
    refreshMs: 15_000,
    lastRefreshAt: at(8),
    lastSuccessAt: at(8),
    stale: false,
    consecutiveFailures: 0,
    nextRefreshAt: at(-7),
    sources: [{ source: 'aws:prod/users', users: 12, skipped: 1, lastSuccessAt: at(8) }],
  };

  it('fresh: the count and how long ago it was refreshed', () => {
    assert.deepEqual(summarizeUserStore(base, now), { text: '12 users', tooltip: 'Users: 12 (refreshed 8 s ago, every 15 s)', stale: false });
    assert.equal(summarizeUserStore({ ...base, users: 1 }, now).text, '1 user');
  });

  it('stale: says the last good users stay, since when, the next try and the error', () => {
    const stale: DirectoryStatus = {
      ...base,
      stale: true,
      lastRefreshAt: at(2),
      lastSuccessAt: at(185),
      consecutiveFailures: 3,
      nextRefreshAt: at(-40),
      error: 'aws:prod/users: cannot reach Secrets Manager',
      sources: [{ ...base.sources[0]!, lastSuccessAt: at(185), error: 'cannot reach Secrets Manager' }],
    };
    assert.deepEqual(summarizeUserStore(stale, now), {
      text: 'users stale',
      tooltip: 'Users: 12, stale: the last good users stay in force (last full refresh 3 min ago, next try in 40 s)\naws:prod/users: cannot reach Secrets Manager',
      stale: true,
    });
    assert.deepEqual(userStoreReport(stale, now), [
      'user store: 12 users, STALE, last refresh 2 s ago, last success 3 min ago, every 15 s, next in 40 s, 3 failed refreshes in a row',
      '  aws:prod/users: 12 users, 1 skipped, last success 3 min ago; failing: cannot reach Secrets Manager',
    ]);
    const never = summarizeUserStore({ ...stale, users: 0, lastSuccessAt: undefined }, now);
    assert.match(never.tooltip, /^Users: 0, stale: not every source has loaded yet \(next try in 40 s\)/);
  });

  it('reports the CONNECT map when the proxy keeps one', () => {
    const lines = userStoreReport({ ...base, allowed: { users: 11, stale: false, lastSuccessAt: at(8) } }, now);
    assert.equal(lines[2], '  allowed databases: 11 users, fresh, last success 8 s ago');
  });

  it('spans read naturally', () => {
    assert.deepEqual([0, 8_400, 119_000, 600_000, 3 * 3600_000, 3 * 86400_000].map(span), ['0 s', '8 s', '119 s', '10 min', '3 h', '3 d']);
  });
});
