// A restarted proxy (a reloaded VS Code window, a crash) takes up the sessions the previous
// one issued: same passwords, nothing rotated, nothing refused, and open terminals keep working.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dropRoleEverywhere, startEmbeddedPostgres } from '../../support/postgres';
import { createSampleData } from '../../../proxy/demo/sampleData';
import { runMayfly } from '../../support/cli';
import { startProxy } from '../../support/proxyProcess';
import { DEMO_POLICIES } from '../../support/policies';

describe('a restarted proxy', function () {
  it('keeps the sessions and passwords the previous run issued', async () => {
    const server = await startEmbeddedPostgres();
    await createSampleData(server.superuser);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-restart-'));
    fs.writeFileSync(path.join(dir, 'config.hcl'), DEMO_POLICIES);
    const s = server.superuser;
    const dsnEnv = { MAYFLY_RESTART_DSN: `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable` };
    const config = ['--config', `policy-config=path:${path.join(dir, 'config.hcl')}`, '--config', 'pg-homolog-credentials=env:MAYFLY_RESTART_DSN'];
    const first = await startProxy(config, dsnEnv);
    // Both proxies share one home, as every run of the same user does.
    const home = first.home;
    const opened = JSON.parse((await runMayfly(['session', 'open', 'store-readonly', '--json'], { env: first.env })).stdout) as { id: string; PGPASSWORD: string; PGUSER: string };
    // Killed, not stopped: a crash must not lose the state either.
    first.process.kill('SIGKILL');
    await new Promise((r) => first.process.once('exit', r));
    const state = path.join(home, 'state', 'sessions.json');
    assert.equal(fs.statSync(state).mode & 0o777, 0o600);
    assert.ok(!fs.readFileSync(state, 'utf8').includes(s.password!), 'the granter DSN is not in the state file');

    const second = await startProxy(config, { ...dsnEnv, MAYFLY_HOME: home });
    try {
      const list = JSON.parse((await runMayfly(['session', 'list', '--json'], { env: second.env })).stdout) as { id: string }[];
      assert.deepEqual(list.map((x) => x.id), [opened.id]);
      const again = await runMayfly(['session', 'open', 'store-readonly', '--json'], { env: second.env });
      assert.equal(again.code, 0, again.stderr);
      assert.equal((JSON.parse(again.stdout) as { PGPASSWORD: string }).PGPASSWORD, opened.PGPASSWORD, 'no rotation');
      const q = spawnSync('psql', ['-XAtc', 'select current_user'], {
        env: { PATH: process.env.PATH, PGHOST: s.host, PGPORT: String(s.port), PGUSER: opened.PGUSER, PGPASSWORD: opened.PGPASSWORD, PGDATABASE: 'dellstore' },
        encoding: 'utf8',
      });
      assert.equal(q.stdout.trim(), opened.PGUSER, q.stderr);
      assert.match(second.output(), /sessions\.restored/);
      assert.ok(!second.output().includes(opened.PGPASSWORD));
    } finally {
      await runMayfly(['session', 'revoke', 'store-readonly'], { env: second.env });
      assert.equal(await second.stop(), 0);
      // Whatever happened above, leave no live role whose password only this test knew.
      await dropRoleEverywhere(server, opened.PGUSER);
    }
  });
});
