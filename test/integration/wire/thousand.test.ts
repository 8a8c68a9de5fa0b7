// 1,000 clients connected at once through a Mayfly proxy process, each on a backend of its
// own (session pooling), on a PostgreSQL with room for them: the proxy's resident memory
// with them all idle, and every one of them answering a query correctly at the same time.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import pg from 'pg';
import { startDedicatedEmbeddedPostgres, type PgServer } from '../../support/postgres';
import { md5Secret } from '../../../proxy/wire/auth/md5';
import { sessionUserName } from '../../../policy/naming';
import { processMemory } from '../../../bench/wireIdle';

const CLIENTS = 1000;
const ROLE = sessionUserName(['thousand'], ['SELECT']);

describe('1,000 concurrent clients through the proxy process', function () {
  this.timeout(240_000);
  let server: PgServer;
  let child: ChildProcess;
  let port: number;
  let dir: string;

  before(async function () {
    server = await startDedicatedEmbeddedPostgres(['-c', `max_connections=${CLIENTS + 100}`]);
    await server.createDatabase('thousand');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-thousand-'));
    fs.writeFileSync(
      path.join(dir, 'config.hcl'),
      `policy "thousand" {
  engine              = "postgres"
  plugin_config_entry = "child-credentials"
  expiration          = "1h"
  instances           = ["thousand"]
  grant_privileges    = ["SELECT"]
}
`,
    );
    fs.writeFileSync(path.join(dir, 'users.json'), JSON.stringify([{ username: 'tess', password: md5Secret('tess', 'tess-secret'), type: 'md5', role: 'database', policy: 'thousand' }]));
    const bundle = path.join(dir, 'proxyChild.js');
    await build({ entryPoints: [path.join(__dirname, 'proxyChild.ts')], bundle: true, platform: 'node', target: 'node20', outfile: bundle, external: ['pg-native'], logLevel: 'warning' });
    const s = server.superuser;
    child = spawn(process.execPath, [bundle], {
      env: {
        PATH: process.env.PATH,
        MAYFLY_HOME: dir,
        CHILD_POLICY_FILE: path.join(dir, 'config.hcl'),
        CHILD_USERS_FILE: path.join(dir, 'users.json'),
        CHILD_DSN: `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable`,
        CHILD_POOL: JSON.stringify({ maxConnections: CLIENTS + 50 }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 30_000;
    while (!/listening (\d+)/.test(out)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the proxy did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    port = Number(/listening (\d+)/.exec(out)![1]);
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await server?.stop();
  });

  it(`holds ${CLIENTS.toLocaleString('en')} idle clients in at most 200 MB, and they all get correct answers at once`, async () => {
    const connect = async (): Promise<pg.Client> => {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'tess', password: 'tess-secret', database: 'thousand' });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    };
    // Warm up (the session is provisioned), then the baseline.
    await (await connect()).end();
    const before = processMemory(child.pid!);
    const clients = await Promise.all(Array.from({ length: CLIENTS }, connect));
    try {
      await new Promise((r) => setTimeout(r, 1000));
      const idle = processMemory(child.pid!);
      const [{ n }] = await server.query<{ n: number }>('thousand', 'select count(*)::int as n from pg_stat_activity where usename = $1', [ROLE]);
      assert.equal(n, CLIENTS, 'each client on its own backend');
      console.log(
        `      proxy RSS: ${before.rssMb.toFixed(0)} MB before, ${idle.rssMb.toFixed(0)} MB with ${CLIENTS} idle clients (peak ${idle.peakMb.toFixed(0)} MB)`,
      );
      assert.ok(idle.rssMb <= 200, `proxy RSS ${idle.rssMb.toFixed(0)} MB`);
      const answers = await Promise.all(clients.map((c, i) => c.query('select $1::int + 1 as v, pg_backend_pid() as pid', [i])));
      assert.ok(answers.every((r, i) => r.rows[0].v === i + 1), 'every client got its own answer');
      assert.equal(new Set(answers.map((r) => r.rows[0].pid)).size, CLIENTS);
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    }
    // When they leave, the pool keeps its per-key idle cap and closes the rest.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const [{ n }] = await server.query<{ n: number }>('thousand', 'select count(*)::int as n from pg_stat_activity where usename = $1', [ROLE]);
      if (n <= 20) break;
      if (Date.now() > deadline) throw new Error(`${n} backends still open`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });
});
