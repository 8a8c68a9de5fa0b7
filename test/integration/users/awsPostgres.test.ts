/**
 * Secrets Manager meets a real PostgreSQL: `aws:` config entries that log in, and the map of
 * databases each user may CONNECT to, asked of the primary as the `replication` user whose
 * credential is re-read on every refresh.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { awsTestEnv, startSecretsManagerServer, withEnv, type SecretsManagerServer } from '../../support/secretsManagerServer';
import { freePort, startEmbeddedPostgres, withClient, type PgServer } from '../../support/postgres';
import { MayflyApp } from '../../../proxy/app';
import { SecretsReader } from '../../../proxy/aws/secretsReader';
import { cachedSecretFetcher } from '../../../proxy/aws/secretFetcher';
import { resolveEntry } from '../../../proxy/config/entries';
import { UserDirectory } from '../../../proxy/users/directory';
import { createUserSource } from '../../../proxy/users/userSources';
import { parseUserSourceSpec } from '../../../proxy/users/sourceSpec';
import type { AllowedChange } from '../../../proxy/users/allowedDatabases';
import { quoteIdent } from '../../../policy/sql';
import { eventually, rawLogger } from './helpers';

const P = 'mayfly_au_';
const ROLES = [`${P}alice`, `${P}bob`, `${P}repl`];
const DBS = [`${P}a`, `${P}b`];

describe('Secrets Manager with a real PostgreSQL', function () {
  this.timeout(120_000);
  let sm: SecretsManagerServer;
  let pg: PgServer;
  let restoreEnv: () => void;
  const log = rawLogger();
  const issued: string[] = [];
  const cleanup: (() => void | Promise<void>)[] = [];

  const secret = () => {
    const s = `${crypto.randomBytes(12).toString('base64url')}/?#%@'`;
    issued.push(s);
    return s;
  };

  before(async () => {
    sm = await startSecretsManagerServer();
    restoreEnv = withEnv(awsTestEnv(sm));
    pg = await startEmbeddedPostgres();
  });

  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  after(async () => {
    for (const r of ROLES) await pg?.query('postgres', `DROP ROLE IF EXISTS ${quoteIdent(r)}`).catch(() => undefined);
    restoreEnv?.();
    await sm?.stop();
    const all = log.lines.join('\n');
    for (const s of issued) assert.ok(!all.includes(s), 'no secret value in any log line');
  });

  describe('aws: config entries', () => {
    let app: MayflyApp;
    let dir: string;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-aws-entries-'));
      fs.writeFileSync(path.join(dir, 'config.hcl'), '');
      const s = pg.superuser;
      const dsn = `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable`;
      const rds = { engine: 'postgres', host: s.host, port: s.port, username: s.user, password: s.password, dbname: 'postgres', sslmode: 'disable' };
      issued.push(s.password!);
      sm.put('test/granter-dsn', dsn);
      sm.put('test/granter-rds', rds);
      sm.put('test/bundle', { granter: dsn, primary: rds, junk: 7 });
      app = new MayflyApp({
        config: [
          `policy-config=path:${path.join(dir, 'config.hcl')}`,
          'dsn=aws:test/granter-dsn',
          'rds=aws:test/granter-rds',
          'keyed-dsn=aws:test/bundle#granter',
          'keyed-rds=aws:test/bundle#primary',
          'keyed-junk=aws:test/bundle#junk',
          'missing=aws:test/nope',
        ],
        log,
        aws: { endpoint: sm.endpoint, region: 'eu-west-1', maxAttempts: 1 },
      });
    });

    after(async () => {
      await app?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    for (const entry of ['dsn', 'rds', 'keyed-dsn', 'keyed-rds']) {
      it(`${entry}: the secret resolves to parameters that log in`, async () => {
        const params = await app.granter(entry);
        const rows = await withClient(params, params.database, async (c) => (await c.query('select current_user as u')).rows);
        assert.equal(rows[0].u, 'postgres');
      });
    }

    it('a secret that is missing or holds no DSN is a clear error without the value', async () => {
      await assert.rejects(app.granter('missing'), /config entry "missing" \(aws:test\/nope\): AWS Secrets Manager: secret "test\/nope" not found in eu-west-1/);
      await assert.rejects(app.granter('keyed-junk'), (e: Error) => /aws:test\/bundle#junk\): invalid DSN: the key "junk" must hold a DSN string or an object/.test(e.message) && !e.message.includes(pg.superuser.password!));
    });

    it('the fetcher caches briefly and keeps the last value while the service is down', async () => {
      const reader = new SecretsReader({ endpoint: sm.endpoint, maxAttempts: 1 }, log);
      cleanup.push(() => reader.close());
      const fetch = cachedSecretFetcher(reader, log, 0);
      const ref = { kind: 'aws' as const, secretId: 'test/granter-rds' };
      const first = await resolveEntry('rds', ref, fetch);
      await sm.setOutage('refuse');
      cleanup.push(() => sm.setOutage(false));
      const during = await resolveEntry('rds', ref, fetch);
      assert.deepEqual(during, first);
      assert.ok(log.lines.some((l) => l.includes('aws.secret-stale') && l.includes('test/granter-rds')));
      await sm.setOutage(false);
      // A secret that is gone is an error at once, cache or not.
      sm.put('test/short-lived', 'postgres://u@h/db');
      await fetch('test/short-lived');
      sm.delete('test/short-lived');
      await assert.rejects(fetch('test/short-lived'), /not found/);
    });
  });

  describe('allowed databases (CONNECT), asked as the replication user', () => {
    const pw = { alice: '', bob: '', repl: '' };

    before(async () => {
      for (const r of ROLES) await pg.query('postgres', `DROP ROLE IF EXISTS ${quoteIdent(r)}`);
      for (const d of DBS) await pg.dropDatabase(d);
      pw.alice = secret();
      pw.bob = secret();
      pw.repl = secret();
      const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
      await pg.query('postgres', `CREATE ROLE ${P}alice LOGIN PASSWORD ${lit(pw.alice)}`);
      await pg.query('postgres', `CREATE ROLE ${P}bob LOGIN PASSWORD ${lit(pw.bob)}`);
      await pg.query('postgres', `CREATE ROLE ${P}repl LOGIN PASSWORD ${lit(pw.repl)}`);
      for (const d of DBS) {
        await pg.createDatabase(d);
        await pg.query('postgres', `REVOKE CONNECT ON DATABASE ${d} FROM PUBLIC`);
      }
      await pg.query('postgres', `GRANT CONNECT ON DATABASE ${P}a, ${P}b TO ${P}alice`);
      await pg.query('postgres', `GRANT CONNECT ON DATABASE ${P}a TO ${P}bob`);
    });

    after(async () => {
      for (const d of DBS) await pg.dropDatabase(d).catch(() => undefined);
    });

    function usersSecret(replPassword: string): object[] {
      return [
        { username: `${P}alice`, password: pw.alice, type: 'text', role: 'database' },
        { username: `${P}bob`, password: pw.bob, type: 'text', role: 'database' },
        { username: `${P}ghost`, password: secret(), type: 'text', role: 'database' },
        { username: `${P}repl`, password: replPassword, type: 'text', role: 'replication' },
      ];
    }

    function open(primaryPort?: number): UserDirectory {
      const reader = new SecretsReader({ maxAttempts: 1 }, log);
      const d = new UserDirectory({
        sources: [createUserSource(parseUserSourceSpec('aws:test/users'), { reader: () => reader })],
        log,
        refreshMs: 60_000,
        primary: async () => ({ ...pg.superuser, ...(primaryPort ? { port: primaryPort } : {}), user: 'ignored', password: 'ignored' }),
      });
      cleanup.push(() => {
        d.close();
        reader.close();
      });
      return d;
    }

    it('maps each database user to the databases it may CONNECT to; revoking CONNECT shows at the next refresh', async () => {
      sm.put('test/users', usersSecret(pw.repl));
      const d = open();
      const events: AllowedChange[][] = [];
      d.on('allowed', (c: AllowedChange[]) => events.push(c));
      await d.start({ strict: true });
      assert.equal(d.status().allowed?.error, undefined);
      assert.equal(d.allowed(`${P}alice`, `${P}a`), true);
      assert.equal(d.allowed(`${P}alice`, `${P}b`), true);
      assert.equal(d.allowed(`${P}bob`, `${P}a`), true);
      assert.equal(d.allowed(`${P}bob`, `${P}b`), false);
      assert.equal(d.allowed(`${P}alice`, 'postgres'), true, 'PUBLIC still has CONNECT on postgres');
      assert.equal(d.allowed(`${P}alice`, 'template0'), false, 'templates never count');
      assert.equal(d.allowed(`${P}ghost`, `${P}a`), false, 'a user that is no role may connect nowhere');
      assert.equal(d.allowed('somebody-else', `${P}a`), undefined, 'not a known user: no answer');

      await pg.query('postgres', `REVOKE CONNECT ON DATABASE ${P}a FROM ${P}alice`);
      await pg.query('postgres', `ALTER ROLE ${P}bob NOLOGIN`);
      cleanup.push(async () => {
        await pg.query('postgres', `GRANT CONNECT ON DATABASE ${P}a TO ${P}alice`);
        await pg.query('postgres', `ALTER ROLE ${P}bob LOGIN`);
      });
      await d.refreshNow();
      assert.equal(d.allowed(`${P}alice`, `${P}a`), false);
      assert.equal(d.allowed(`${P}alice`, `${P}b`), true);
      assert.equal(d.allowed(`${P}bob`, `${P}a`), false, 'a role that cannot log in may connect nowhere');
      // The shared server also holds other tests' databases: look at this test's and postgres.
      const ours = (db: string) => db.startsWith(P) || db === 'postgres';
      assert.deepEqual(
        events.at(-1)!.map((c) => [c.username, c.lost.filter(ours)]).sort(),
        [
          [`${P}alice`, [`${P}a`]],
          [`${P}bob`, [`${P}a`, 'postgres']],
        ],
      );
      assert.ok(log.lines.some((l) => l.includes('users.allowed-changed') && l.includes(`${P}alice`)));
    });

    it('the replication credential is re-read every refresh: a rotation needs no restart; until the secret follows, the last map stays', async () => {
      sm.put('test/users', usersSecret(pw.repl));
      const d = open();
      await d.start({ strict: true });
      assert.equal(d.allowed(`${P}alice`, `${P}a`), true);

      // The server's password changes first: the next query fails and the last map stays in force.
      const rotated = secret();
      await pg.query('postgres', `ALTER ROLE ${P}repl PASSWORD '${rotated.replace(/'/g, "''")}'`);
      cleanup.push(async () => {
        await pg.query('postgres', `ALTER ROLE ${P}repl PASSWORD '${pw.repl.replace(/'/g, "''")}'`);
      });
      await d.refreshNow();
      const st = d.status();
      assert.equal(st.allowed?.stale, true);
      assert.match(st.allowed!.error!, /cannot ask the primary as "mayfly_au_repl": password authentication failed/);
      assert.equal(st.consecutiveFailures, 1);
      assert.equal(d.allowed(`${P}alice`, `${P}a`), true, 'fail-static');

      // Then the secret: the next pass logs in with the new password.
      sm.rotate('test/users', usersSecret(rotated));
      await d.refreshNow();
      assert.equal(d.status().allowed?.stale, false);
      assert.equal(d.status().consecutiveFailures, 0);
      assert.ok(log.lines.some((l) => l.includes('users.allowed-recovered')));
    });

    it('a primary that is down keeps the last map and backs off; users still refresh', async () => {
      sm.put('test/users', usersSecret(pw.repl));
      const port = await freePort();
      let down = false;
      const reader = new SecretsReader({ maxAttempts: 1 }, log);
      const d = new UserDirectory({
        sources: [createUserSource(parseUserSourceSpec('aws:test/users'), { reader: () => reader })],
        log,
        refreshMs: 100,
        primary: async () => ({ ...pg.superuser, ...(down ? { port } : {}) }),
      });
      cleanup.push(() => {
        d.close();
        reader.close();
      });
      await d.start({ strict: true });
      assert.equal(d.allowed(`${P}bob`, `${P}a`), true);
      down = true;
      await d.refreshNow();
      await d.refreshNow();
      assert.equal(d.allowed(`${P}bob`, `${P}a`), true, 'the last map stays');
      assert.match(d.status().allowed!.error!, /ECONNREFUSED/);
      assert.ok(d.status().nextRefreshInMs! >= 200, 'backing off');
      assert.equal(d.status().stale, false, 'the users themselves are fresh');
      down = false;
      await eventually(() => d.status().allowed?.stale === false, 5000, 'the map to recover');
    });
  });
});
