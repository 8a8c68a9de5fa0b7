// Runs every test tier with mocha and ends with the plain "N passed, N failed" line CI reads.
// Usage: node scripts/test.mjs [tier...]   (tiers: unit lsp integration; default all)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const tiers = process.argv.slice(2);
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', path.join(root, 'scripts', 'mocha-run.ts'), ...tiers],
  { stdio: 'inherit', cwd: root },
);
process.exit(result.status ?? 1);
