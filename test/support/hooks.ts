/**
 * Root hooks, loaded first by scripts/mocha-run.ts (or named first on a mocha command line).
 * The shared PostgreSQL servers start lazily in the tests that need them; a top-level
 * `after` is a root hook, so they are stopped once, after every file has run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stopAllPostgres } from './postgres';

// Mayfly's home (control socket, session state, TLS certificate) for in-process apps: a
// private one per run, never the real ~/.mayfly. Child processes inherit it unless a test
// gives them their own.
process.env.MAYFLY_HOME ??= fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-test-home-'));

after(async function () {
  this.timeout(60_000);
  await stopAllPostgres();
});
