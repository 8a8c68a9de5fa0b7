// Other local users: the control API (which hands out credentials) is reachable only by
// the user who started Mayfly, the granter DSN is not in the process arguments, and a
// control folder planted by someone else is refused. Runs the other user's side as
// `nobody` through setpriv, so these tests need root (CI runs as root).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type PgServer } from '../../support/postgres';
import { createSampleData } from '../../../proxy/demo/sampleData';
import { runMayfly } from '../../support/cli';
import { startProxy, type RunningProxy } from '../../support/proxyProcess';
import { SEED_POLICY } from '../../support/policies';

const NOBODY = 65534;

/** Runs a Node snippet as `nobody`; returns what it printed. */
function asNobody(script: string, env: Record<string, string> = {}): { code: number | null; out: string } {
  const r = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, '-e', script], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
    cwd: '/',
    timeout: 20_000,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

describe('other local users', function () {
  let server: PgServer;
  let proxy: RunningProxy;
  let dsnPassword: string;
  let config: string[];

  before(async function () {
    assert.equal(process.getuid?.(), 0, 'these tests switch to the `nobody` user and need root');
    server = await startEmbeddedPostgres();
    await createSampleData(server.superuser);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-local-users-'));
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, 'config.hcl'), SEED_POLICY);
    const s = server.superuser;
    dsnPassword = s.password!;
    config = ['--config', `policy-config=path:${path.join(dir, 'config.hcl')}`, '--config', 'pg-homolog-credentials=env:MAYFLY_LOCAL_DSN'];
    proxy = await startProxy(config, { MAYFLY_LOCAL_DSN: `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable` });
    // Open the home folder to everyone: the control folder inside must still protect itself.
    fs.chmodSync(proxy.home, 0o755);
  });

  after(async () => {
    await runMayfly(['session', 'revoke', 'pg-homolog'], { env: proxy.env });
    assert.equal(await proxy.stop(), 0);
  });

  it('keeps the control socket in a 0700 folder, the socket itself 0600', () => {
    assert.equal(fs.statSync(path.dirname(proxy.socket)).mode & 0o777, 0o700);
    assert.equal(fs.statSync(proxy.socket).mode & 0o777, 0o600);
  });

  it('another user cannot connect to the control socket, so cannot open or read sessions', async () => {
    // The owner can: the same request works for us.
    const mine = await runMayfly(['session', 'open', 'pg-homolog', '--env'], { env: proxy.env });
    assert.equal(mine.code, 0, mine.stderr);
    assert.match(mine.stdout, /PGPASSWORD=/);
    const r = asNobody(
      `require('net').connect(${JSON.stringify(proxy.socket)}).on('connect', () => { console.log('CONNECTED'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(3); })`,
    );
    assert.equal(r.code, 3, r.out);
    assert.equal(r.out, 'EACCES');
  });

  it('the granter DSN is in neither the process arguments nor an environment others can read', () => {
    const pid = proxy.process.pid!;
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    assert.ok(!cmdline.includes(dsnPassword) && !cmdline.includes(encodeURIComponent(dsnPassword)), 'no password in argv');
    const r = asNobody(`try { require('fs').readFileSync('/proc/${pid}/environ'); console.log('READ'); } catch (e) { console.log(e.code); }`);
    assert.equal(r.out, 'EACCES');
  });

  it('refuses to serve from a control folder another user owns (a planted socket path)', async () => {
    const planted = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-planted-'));
    fs.chmodSync(planted, 0o777);
    const run = path.join(planted, 'run');
    fs.mkdirSync(run, { mode: 0o700 });
    fs.chownSync(run, NOBODY, NOBODY);
    const r = await runMayfly(['proxy', ...config, '--control', path.join(run, 'control.sock')], {
      env: { MAYFLY_LOCAL_DSN: 'postgres://x@127.0.0.1:1/postgres', MAYFLY_HOME: planted },
      timeoutMs: 20_000,
    });
    assert.equal(r.code, 1, 'exits at once with an error');
    assert.match(r.stderr, /belongs to another user/);
    assert.ok(!fs.existsSync(path.join(run, 'control.sock')));
  });
});
