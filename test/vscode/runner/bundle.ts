/**
 * Compiles test/vscode/suite into out/vscode-tests/suite with esbuild, because the extension
 * host loads plain JS: index.ts bundled with mocha, and every *.test.ts / *.test.js bundled
 * on its own (its imports inlined, `vscode` and `mocha` left to the host), keeping the folder
 * layout so index.js finds them beside itself. suite.json files are copied along.
 */
import { build, type BuildOptions } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { suiteOutDir, suiteSourceDir } from './paths';

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out.sort();
}

export interface BuiltSuites {
  outDir: string;
  /** Compiled extensionTestsPath. */
  indexJs: string;
  /** Compiled test files, relative to outDir. */
  testFiles: string[];
}

export async function buildSuites(srcDir = suiteSourceDir, outDir = suiteOutDir): Promise<BuiltSuites> {
  const files = walk(srcDir);
  const tests = files.filter((f) => /\.test\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'));
  // Start clean so a deleted test does not linger in out/.
  fs.rmSync(outDir, { recursive: true, force: true });
  const common: BuildOptions = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'linked',
    logLevel: 'warning',
    outbase: srcDir,
    outdir: outDir,
  };
  await build({
    ...common,
    entryPoints: [path.join(srcDir, 'index.ts')],
    external: ['vscode'],
    // mocha's parallel mode (unused here) require.resolve()s its worker files.
    logOverride: { 'require-resolve-not-external': 'silent' },
  });
  if (tests.length) await build({ ...common, entryPoints: tests, external: ['vscode', 'mocha'] });
  for (const f of files.filter((f) => path.basename(f) === 'suite.json')) {
    const dest = path.join(outDir, path.relative(srcDir, f));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(f, dest);
  }
  return {
    outDir,
    indexJs: path.join(outDir, 'index.js'),
    testFiles: tests.map((t) => path.relative(srcDir, t).replace(/\.ts$/, '.js')),
  };
}
