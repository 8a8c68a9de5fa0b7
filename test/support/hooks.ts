/**
 * Root hooks, loaded first by scripts/mocha-run.ts (or named first on a mocha command line).
 * The shared PostgreSQL servers start lazily in the tests that need them; a top-level
 * `after` is a root hook, so they are stopped once, after every file has run.
 */
import { stopAllPostgres } from './postgres';

after(async function () {
  this.timeout(60_000);
  await stopAllPostgres();
});
