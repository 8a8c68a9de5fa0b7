// Starting `mayfly proxy` wrongly says what is wrong and what to do, and starts nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runMayfly } from '../support/cli';
import { SEED_POLICY } from '../support/policies';

describe('mayfly proxy: refusals and help', () => {
  let dir: string;
  let config: string[];
  const env = () => ({ MAYFLY_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-cli-home-')), PG_DSN: 'postgres://granter@127.0.0.1:1/postgres' });

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-cli-proxy-'));
    fs.writeFileSync(path.join(dir, 'config.hcl'), SEED_POLICY);
    config = ['--config', `policy-config=path:${path.join(dir, 'config.hcl')}`, '--config', 'pg-homolog-credentials=env:PG_DSN'];
  });

  it('names a taken port and the flag to change it', async () => {
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const r = await runMayfly(['proxy', ...config, '--listen', `127.0.0.1:${port}`], { env: env(), timeoutMs: 20_000 });
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port} is already in use .*pass --listen 127\\.0\\.0\\.1:PORT`));
    } finally {
      holder.close();
    }
  });

  it('refuses --replica without --primary, an unknown replica entry, and a bad --users spec', async () => {
    const noPrimary = await runMayfly(['proxy', ...config, '--listen', '127.0.0.1:0', '--replica', 'pg-homolog-credentials'], { env: env(), timeoutMs: 20_000 });
    assert.equal(noPrimary.code, 1);
    assert.match(noPrimary.stderr, /--replica needs --primary/);
    const unknown = await runMayfly(['proxy', ...config, '--listen', '127.0.0.1:0', '--primary', 'pg-homolog-credentials', '--replica', 'nope'], { env: env(), timeoutMs: 20_000 });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /--replica nope: no plugin config entry of that name/);
    const spec = await runMayfly(['proxy', ...config, '--listen', '127.0.0.1:0', '--users', 'aws-tag:novalue'], { env: env(), timeoutMs: 20_000 });
    assert.equal(spec.code, 1);
    assert.match(spec.stderr, /aws-tag/);
  });

  it('--help on any command prints the usage and exits 0', async () => {
    for (const args of [['--help'], ['proxy', '--help'], ['session', 'open', '-h'], ['policy', 'check', '--help']]) {
      const r = await runMayfly(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /usage: mayfly <command>/);
      assert.match(r.stdout, /--users SPEC/);
    }
  });
});
