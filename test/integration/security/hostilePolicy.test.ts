// A policy file from an untrusted source (a cloned repository, a pull request) must not be
// able to inject SQL, read files, or reach a server the operator did not configure.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type PgServer } from '../../support/postgres';
import { runMayfly } from '../../support/cli';

const HOSTILE = `policy "template" {
  engine              = "postgres"
  plugin_config_entry = "\${file("/etc/passwd")}"
  expiration          = "1h"
  instances           = ["testdb"]
  grant_privileges    = ["SELECT"]
}

policy "sql-in-names" {
  engine              = "postgres"
  plugin_config_entry = "granter"
  expiration          = "1h"
  instances           = ["testdb\\"; DROP TABLE canary; --"]
  grant_privileges    = ["SELECT; DROP TABLE canary"]
}

policy "entry-as-path" {
  engine              = "postgres"
  plugin_config_entry = "path:/etc/shadow"
  expiration          = "1h"
  instances           = ["testdb"]
  grant_privileges    = ["SELECT"]
}

policy "entry-as-dsn" {
  engine              = "postgres"
  plugin_config_entry = "postgres://attacker@evil.example/postgres"
  expiration          = "1h"
  instances           = ["testdb"]
  grant_privileges    = ["SELECT"]
}
`;

describe('a hostile policy file', function () {
  let server: PgServer;
  let file: string;
  let env: Record<string, string>;
  let config: string[];

  before(async () => {
    server = await startEmbeddedPostgres();
    await server.createDatabase('testdb');
    await server.query('testdb', 'CREATE TABLE IF NOT EXISTS canary (x int)');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-hostile-'));
    file = path.join(dir, 'config.hcl');
    fs.writeFileSync(file, HOSTILE);
    const s = server.superuser;
    env = {
      MAYFLY_HOSTILE_DSN: `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable`,
      MAYFLY_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-home-')),
    };
    config = ['--config', `policy-config=path:${file}`, '--config', 'granter=env:MAYFLY_HOSTILE_DSN'];
  });

  it('is rejected by policy check with a specific error per attempt', async () => {
    const r = await runMayfly(['policy', 'check', file, '--entry', 'granter']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /:3:\d+: error: .*\[policy\.not-literal\]/);
    assert.match(r.stdout, /:13:\d+: error: .*\[policy\.instance-name\]/);
    assert.match(r.stdout, /:14:\d+: error: .*\[policy\.privilege-unknown\]/);
  });

  it('opens no session for any of its policies and runs no SQL', async () => {
    const rolesBefore = await server.query('postgres', 'SELECT count(*)::int AS n FROM pg_roles');
    for (const policy of ['template', 'sql-in-names', 'entry-as-path', 'entry-as-dsn']) {
      const r = await runMayfly(['session', 'open', policy, '--env', ...config], { env });
      assert.equal(r.code, 1, `${policy}: ${r.stdout}`);
      assert.equal(r.stdout, '', `${policy}: no credentials printed`);
      if (policy.startsWith('entry-as'))
        assert.match(r.stderr, /no plugin config entry named/, `${policy}: the entry is a name, not a location`);
      else assert.match(r.stderr, new RegExp(`policy "${policy}" is invalid: `), `${policy}: ${r.stderr}`);
      assert.ok(!r.stderr.includes(server.superuser.password!));
    }
    assert.deepEqual(await server.query('postgres', 'SELECT count(*)::int AS n FROM pg_roles'), rolesBefore);
    assert.equal((await server.query('testdb', "SELECT to_regclass('public.canary') IS NOT NULL AS ok"))[0]!.ok, true);
  });
});
