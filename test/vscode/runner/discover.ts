/**
 * Which suites test/vscode/suite holds:
 *  - "default": every *.test.ts outside the suite folders below; workspace
 *    test/vscode/fixtures/default, trusted.
 *  - one suite per top-level folder holding a suite.json, e.g. suite/untrusted/suite.json:
 *      { "workspace": "test/vscode/fixtures/untrusted", "trusted": false, "env": { "K": "V" } }
 *    (workspace relative to the repo root, default test/vscode/fixtures/<folder>;
 *    trusted default true; env default {}; setup: a module beside suite.json exporting
 *    setup(), run by the runner before the server, whose returned env is added).
 *    Its tests are the *.test.ts under that folder.
 * Every suite runs the same compiled index.js; MAYFLY_VSCODE_SUITE tells it which files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fixturesDir, repoRoot, suiteSourceDir } from './paths';
import type { SuiteSpec } from './runSuites';

interface SuiteJson {
  workspace?: string;
  trusted?: boolean;
  env?: Record<string, string>;
  /** Module (relative to the suite folder) exporting setup(); see SuiteSpec.setup. */
  setup?: string;
}

function hasTests(dir: string, skip: (p: string) => boolean): boolean {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!skip(p) && hasTests(p, () => false)) return true;
    } else if (/\.test\.(ts|js)$/.test(e.name)) return true;
  }
  return false;
}

export function discoverSuites(suiteIndex: string, srcDir = suiteSourceDir): SuiteSpec[] {
  const suites: SuiteSpec[] = [];
  const folders = fs
    .readdirSync(srcDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(srcDir, e.name, 'suite.json')))
    .map((e) => e.name)
    .sort();
  const isSuiteFolder = (p: string): boolean => folders.includes(path.relative(srcDir, p));
  if (hasTests(srcDir, isSuiteFolder)) {
    suites.push({
      name: 'default',
      suiteIndex,
      workspace: path.join(fixturesDir, 'default'),
      trusted: true,
      env: { MAYFLY_VSCODE_SUITE: 'default' },
    });
  }
  for (const name of folders) {
    if (name === 'default') throw new Error(`test/vscode/suite/default: "default" is reserved for the top-level tests`);
    const file = path.join(srcDir, name, 'suite.json');
    let cfg: SuiteJson;
    try {
      cfg = JSON.parse(fs.readFileSync(file, 'utf8')) as SuiteJson;
    } catch (err) {
      throw new Error(`${file}: ${(err as Error).message}`);
    }
    const workspace = cfg.workspace ? path.resolve(repoRoot, cfg.workspace) : path.join(fixturesDir, name);
    if (!fs.existsSync(workspace)) throw new Error(`${file}: workspace ${workspace} does not exist`);
    const setup = cfg.setup ? path.resolve(srcDir, name, cfg.setup) : undefined;
    if (setup && !fs.existsSync(setup)) throw new Error(`${file}: setup module ${setup} does not exist`);
    suites.push({
      name,
      suiteIndex,
      workspace,
      trusted: cfg.trusted !== false,
      env: { ...cfg.env, MAYFLY_VSCODE_SUITE: name },
      setup,
    });
  }
  return suites;
}
