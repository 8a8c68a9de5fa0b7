// `npm start` as a new user runs it: embedded PostgreSQL, demo data, proxy, printed commands that work.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, runMayfly } from '../../support/cli';

interface Started {
  child: ChildProcess;
  out: () => string;
}

async function start(env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn('npm', ['start', '--silent'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 90_000;
  while (!/proxy\.started/.test(out)) {
    if (child.exitCode !== null) throw new Error(`npm start exited ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) throw new Error(`npm start did not get ready:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, out: () => out };
}

/** Ctrl-C; resolves true when npm ended as it does on Ctrl-C (exit 0, or re-raised SIGINT). */
async function stop(s: Started): Promise<boolean> {
  return new Promise((resolve) => {
    if (s.child.exitCode !== null) return resolve(s.child.exitCode === 0);
    const t = setTimeout(() => (process.kill(-s.child.pid!, 'SIGKILL'), resolve(false)), 30_000);
    s.child.once('exit', (code, signal) => (clearTimeout(t), resolve(code === 0 || signal === 'SIGINT')));
    // Ctrl-C in a terminal signals the whole process group.
    process.kill(-s.child.pid!, 'SIGINT');
  });
}

describe('npm start (the main job on an embedded default)', function () {
  let demo: string;
  let home: string;
  before(() => {
    demo = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-demo-'));
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-demo-home-'));
  });
  after(() => {
    fs.rmSync(demo, { recursive: true, force: true });
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('starts, prints commands that work, stops on Ctrl-C, and reuses its data next time', async () => {
    const env = { MAYFLY_DEMO_DIR: demo, MAYFLY_HOME: home };
    const first = await start(env);
    try {
      assert.match(first.out(), /npx mayfly exec pg-homolog -- psql -c 'select current_user'/);
      const r = await runMayfly(['exec', 'pg-homolog', '--', 'psql', '-c', 'select current_user'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /_hoop_session_user_bb0465c4/);
      const ro = await runMayfly(['exec', 'store-readonly', '--', 'psql', '-XAtc', 'select count(*) > 0 from store.products'], { env });
      assert.equal(ro.stdout.trim(), 't', ro.stderr);
      // The printed DB-tool command, run as printed: psql through the local Postgres proxy.
      const printed = /PGPASSFILE=(\S+) psql -h 127\.0\.0\.1 -p (\d+) -U alice@pg-homolog testdb/.exec(first.out());
      assert.ok(printed, first.out());
      const viaProxy = spawnSync('psql', ['-h', '127.0.0.1', '-p', printed[2]!, '-U', 'alice@pg-homolog', '-XAtc', 'select current_user', 'testdb'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, PGPASSFILE: path.resolve(ROOT, printed[1]!) },
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(viaProxy.status, 0, viaProxy.stderr);
      assert.equal(viaProxy.stdout.trim(), '_hoop_session_user_bb0465c4');
      assert.equal(fs.statSync(path.resolve(ROOT, printed[1]!)).mode & 0o777, 0o600);
      assert.ok(!first.out().includes(fs.readFileSync(path.join(demo, 'alice-password'), 'utf8')), "alice's password is not printed");
      const password = fs.readFileSync(path.join(demo, 'superuser-password'), 'utf8');
      assert.ok(!first.out().includes(password), 'the superuser password is never printed');
      assert.equal(fs.statSync(path.join(demo, 'superuser-password')).mode & 0o777, 0o600);
    } finally {
      assert.ok(await stop(first), first.out());
    }
    assert.match(first.out(), /proxy\.stopped/);
    assert.ok(!fs.existsSync(path.join(demo, 'postgres', 'data', 'postmaster.pid')), 'PostgreSQL stopped with Mayfly');
    const second = await start(env);
    try {
      assert.doesNotMatch(second.out(), /initdb|creating database/i);
      const r = await runMayfly(['exec', 'pg-homolog', '--', 'psql', '-XAtc', 'select count(*) from public.customers'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout.trim(), /^\d+$/);
    } finally {
      assert.ok(await stop(second), second.out());
    }
  });
});
