import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runMayfly } from '../support/cli';
import { SEED_POLICY } from '../support/policies';

const GOOD = SEED_POLICY;

describe('mayfly policy check / show', () => {
  let dir: string;
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-cli-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('exits 0 and prints nothing on stdout for a valid file', async () => {
    const r = await runMayfly(['policy', 'check', write('good.hcl', GOOD)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /1 file checked: 0 errors, 0 warnings/);
  });

  it('prints FILE:LINE:COL: error: MESSAGE [CODE] and exits 1', async () => {
    const file = write('bad.hcl', GOOD.replace('"SELECT"', '"select"'));
    const r = await runMayfly(['policy', 'check', file]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.trim(), `${file}:6:26: error: Privilege must be upper case: Privileges are case-sensitive: write "SELECT" instead of "select". [policy.privilege-case]`);
  });

  it('checks several files and reports warnings without failing', async () => {
    const a = write('a.hcl', GOOD);
    const b = write('b.hcl', GOOD.replace('"pg-homolog-credentials"', '"other"'));
    const r = await runMayfly(['policy', 'check', a, b, '--entry', 'pg-homolog-credentials']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /b\.hcl:3:25: warning: Unknown plugin config entry: .*\[policy\.unknown-entry\]/);
    assert.match(r.stderr, /2 files checked: 0 errors, 1 warning/);
  });

  it('reports the seed one-liner as HCL would', async () => {
    const one = write('one.hcl', GOOD.replace(/\n {2}/g, ' ').replace(/ +=/g, ' =').replace(/\n}/, ' }'));
    const r = await runMayfly(['policy', 'check', one]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /one\.hcl:1:\d+: error: Invalid single-argument block definition: .*\[hcl\.single-line-block\]/);
  });

  it('fails clearly for a missing file', async () => {
    const r = await runMayfly(['policy', 'check', path.join(dir, 'nope.hcl')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nope\.hcl: error: cannot read the file: ENOENT/);
  });

  it('shows roles and grants, and --json as data', async () => {
    const file = write('show.hcl', GOOD + GOOD.replace('"pg-homolog"', '"ro"').replace('["SELECT", "UPDATE"]', '["SELECT"]').replace('"12h"', '"90m"'));
    const text = await runMayfly(['policy', 'show', file]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /policy "pg-homolog"\n {2}session role: _hoop_session_user_bb0465c4\n {2}expiration: {3}12h/);
    assert.match(text.stdout, /dellstore\.store: SELECT, UPDATE/);
    const json = await runMayfly(['policy', 'show', file, '--json']);
    const data = JSON.parse(json.stdout) as { name: string; sessionUser: string; expiration: string; grants: unknown[] }[];
    assert.equal(data.length, 2);
    assert.deepEqual(
      { name: data[0]!.name, sessionUser: data[0]!.sessionUser, expiration: data[0]!.expiration, grants: data[0]!.grants },
      {
        name: 'pg-homolog',
        sessionUser: '_hoop_session_user_bb0465c4',
        expiration: '12h',
        grants: [
          { database: 'dellstore', schema: 'public', privileges: ['SELECT', 'UPDATE'] },
          { database: 'dellstore', schema: 'store', privileges: ['SELECT', 'UPDATE'] },
          { database: 'testdb', schema: 'public', privileges: ['SELECT', 'UPDATE'] },
        ],
      },
    );
    assert.equal(data[1]!.expiration, '1h30m');
  });

  it('prints usage for unknown commands and options', async () => {
    const r = await runMayfly(['policy', 'frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command/);
    const r2 = await runMayfly(['policy', 'check', '--bogus']);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /Unknown option '--bogus'/);
  });
});
