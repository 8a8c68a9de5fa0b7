// Programmatic mocha so we can total every tier and refuse pending (skipped) tests.
import Mocha from 'mocha';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..');
const allTiers = ['unit', 'lsp', 'cli', 'integration'];
const tiers = process.argv.slice(2).length ? process.argv.slice(2) : allTiers;

function findTests(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTests(p));
    else if (entry.name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

async function main(): Promise<void> {
  const mocha = new Mocha({ timeout: 120_000, reporter: 'spec', forbidOnly: true, forbidPending: true });
  const setup = path.join(root, 'test', 'support', 'hooks.ts');
  if (fs.existsSync(setup)) mocha.addFile(setup);
  for (const tier of tiers) for (const f of findTests(path.join(root, 'test', tier))) mocha.addFile(f);
  await mocha.loadFilesAsync();
  const runner = mocha.run(() => {
    const s = runner.stats!;
    const failed = s.failures + s.pending;
    console.log(`\n${s.passes} passed, ${failed} failed`);
    process.exitCode = failed > 0 ? 1 : 0;
  });
}

main().catch((err) => {
  console.error(err);
  console.log('\n0 passed, 1 failed');
  process.exitCode = 1;
});
