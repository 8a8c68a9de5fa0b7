// `npm run package`: an offline .vsix with the esbuild bundles only.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../support/cli';

describe('npm run package', function () {
  it('builds a small .vsix holding the bundles, not sources or node_modules', () => {
    const vsix = path.join(ROOT, 'mayfly.vsix');
    fs.rmSync(vsix, { force: true });
    execFileSync('npm', ['run', '--silent', 'package'], { cwd: ROOT, stdio: 'pipe' });
    const size = fs.statSync(vsix).size;
    assert.ok(size < 5 * 1024 * 1024, `${size} bytes`);
    const listing = execFileSync('python3', ['-m', 'zipfile', '-l', vsix], { encoding: 'utf8' });
    for (const f of ['extension/dist/extension.js', 'extension/dist/server.js', 'extension/dist/proxy.js', 'extension/package.json', 'extension/syntaxes/mayfly-policy.tmLanguage.json'])
      assert.ok(listing.includes(f), `missing ${f}`);
    assert.doesNotMatch(listing, /node_modules|\.ts\s|\.map\s|test\//);
  });
});
