/**
 * Debian's PgBouncer as the reference pooler: session pooling, SCRAM-SHA-256 against an
 * auth_file holding the same verifier the server and Mayfly's users file hold, so PgBouncer
 * logs in upstream with the client key recovered from each client's proof, as Mayfly does.
 * PgBouncer refuses to run as root, so as root it runs as the `postgres` OS user.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../proxy/demo/embeddedPostgres';

export const PGBOUNCER_BIN = '/usr/sbin/pgbouncer';

/** e.g. "PgBouncer 1.18.0", for the report. */
export function pgbouncerVersion(): string {
  try {
    return execFileSync(PGBOUNCER_BIN, ['--version']).toString().split('\n')[0]!.trim();
  } catch {
    return 'PgBouncer (version unknown)';
  }
}

export interface PgbouncerOptions {
  upstreamPort: number;
  database: string;
  user: string;
  verifier: string;
  /** Server connections per (user, database): at least the most concurrent clients, so none waits. */
  poolSize: number;
  maxClients: number;
}

export interface RunningPgbouncer {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

function postgresOsUser(): { uid: number; gid: number } {
  try {
    return {
      uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
      gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
    };
  } catch {
    throw new Error('running as root, PgBouncer needs the "postgres" OS user (install postgresql-15, which creates it)');
  }
}

/** auth_file lines are `"user" "secret"` with `"` doubled inside. */
const authFileField = (s: string): string => `"${s.replace(/"/g, '""')}"`;

function config(o: PgbouncerOptions, port: number, dir: string): string {
  return `[databases]
${o.database} = host=127.0.0.1 port=${o.upstreamPort} dbname=${o.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = ${path.join(dir, 'userlist.txt')}
pool_mode = session
default_pool_size = ${o.poolSize}
max_client_conn = ${o.maxClients}
`;
}

async function waitForPort(port: number, exited: () => string | undefined, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const gone = exited();
    if (gone !== undefined) throw new Error(gone);
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`PgBouncer did not listen on port ${port} within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startPgbouncer(o: PgbouncerOptions): Promise<RunningPgbouncer> {
  if (!fs.existsSync(PGBOUNCER_BIN)) throw new Error(`${PGBOUNCER_BIN} not found: install it with "apt-get install -y pgbouncer"`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-pgbouncer-'));
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'pgbouncer.ini'), config(o, port, dir), { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'userlist.txt'), `${authFileField(o.user)} ${authFileField(o.verifier)}\n`, { mode: 0o600 });
  const owner = process.getuid?.() === 0 ? postgresOsUser() : undefined;
  if (owner) for (const f of ['', 'pgbouncer.ini', 'userlist.txt']) fs.chownSync(path.join(dir, f), owner.uid, owner.gid);
  // In the foreground (no -d), so this pid is PgBouncer's own and its memory can be read.
  const child = spawn(PGBOUNCER_BIN, [path.join(dir, 'pgbouncer.ini')], {
    ...(owner ?? {}),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  let spawnError: Error | undefined;
  child.on('error', (e) => (spawnError = e));
  const exited = () =>
    spawnError ? `cannot start PgBouncer: ${spawnError.message}` : child.exitCode !== null ? `PgBouncer exited ${child.exitCode}: ${log.trim()}` : undefined;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, exited);
  } catch (e) {
    await stop();
    throw e;
  }
  return { port, pid: child.pid!, stop };
}
