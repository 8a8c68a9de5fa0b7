// Where Mayfly keeps its control socket and state: a folder of its own, never a shared one.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensurePrivateDir } from '../../../proxy/control/paths';

describe('ensurePrivateDir', () => {
  const base = () => fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-private-'));

  it('creates a missing folder as 0700 and tightens one of ours that others can read', () => {
    const made = path.join(base(), 'run');
    ensurePrivateDir(made);
    assert.equal(fs.statSync(made).mode & 0o7777, 0o700);
    const loose = base();
    fs.chmodSync(loose, 0o755);
    ensurePrivateDir(loose);
    assert.equal(fs.statSync(loose).mode & 0o7777, 0o700);
  });

  it('refuses a shared folder (sticky or world-writable) and leaves its mode alone', () => {
    for (const mode of [0o1777, 0o777]) {
      const shared = base();
      fs.chmodSync(shared, mode);
      assert.throws(() => ensurePrivateDir(shared), /is a shared directory/);
      assert.equal(fs.statSync(shared).mode & 0o7777, mode);
    }
    assert.throws(() => ensurePrivateDir(os.tmpdir()), /shared directory/);
    assert.equal(fs.statSync(os.tmpdir()).mode & 0o1000, 0o1000, 'the system temp folder keeps its sticky bit');
  });
});
