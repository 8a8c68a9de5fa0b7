// Identities without a policy are passed through to the primary (`--primary ENTRY`), logging
// in as themselves: plaintext users with their password, SCRAM users with the ClientKey
// recovered from their own proof (only when the server holds the identical verifier).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type PgServer } from '../../support/postgres';
import { MayflyApp } from '../../../proxy/app';
import { createLogger } from '../../../proxy/log/logger';
import { scramVerifier } from '../../../proxy/auth/scramVerifier';
import { md5Secret } from '../../../proxy/wire/auth/md5';
import { psql } from '../../support/psql';

const ROLES = ['mayfly_pt_scram', 'mayfly_pt_text', 'mayfly_pt_diff', 'mayfly_pt_md5'];


describe('wire proxy pass-through to the primary (identities without a policy)', function () {
  let server: PgServer;
  let app: MayflyApp;
  let port: number;
  const logLines: string[] = [];

  before(async function () {
    server = await startEmbeddedPostgres();
    for (const r of ROLES) {
      await server.query('postgres', `drop role if exists ${r}`);
      await server.query('postgres', `create role ${r} login password '${r}-secret'`);
    }
    // The server's own verifier, copied into the users file: SCRAM pass-through works.
    const [row] = await server.query<{ p: string }>('postgres', "select rolpassword as p from pg_authid where rolname = 'mayfly_pt_scram'");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-wire-pt-'));
    fs.writeFileSync(path.join(dir, 'config.hcl'), '');
    fs.writeFileSync(
      path.join(dir, 'users.json'),
      JSON.stringify([
        { username: 'mayfly_pt_scram', password: row!.p, type: 'scram-sha-256', role: 'database' },
        { username: 'mayfly_pt_text', password: 'mayfly_pt_text-secret', type: 'text', role: 'database' },
        // Same password, but a verifier with another salt than the server's.
        { username: 'mayfly_pt_diff', password: scramVerifier('mayfly_pt_diff-secret'), type: 'scram-sha-256', role: 'database' },
        { username: 'mayfly_pt_md5', password: md5Secret('mayfly_pt_md5', 'mayfly_pt_md5-secret'), type: 'md5', role: 'database' },
      ]),
    );
    const s = server.superuser;
    process.env.MAYFLY_WIRE_PT_DSN = `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable`;
    app = new MayflyApp({
      config: [`policy-config=path:${path.join(dir, 'config.hcl')}`, 'primary=env:MAYFLY_WIRE_PT_DSN'],
      log: createLogger((l) => logLines.push(l)),
    });
    port = (await app.serveWire({ listen: '127.0.0.1:0', users: [path.join(dir, 'users.json')], primary: 'primary', tls: false })).port;
  });

  after(async () => {
    await app?.close();
    for (const r of ROLES) await server.query('postgres', `drop role if exists ${r}`).catch(() => undefined);
    assert.ok(!logLines.join('\n').includes('-secret'), 'no password in the log');
  });

  const env = (user: string): Record<string, string> => ({ PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: user, PGPASSWORD: `${user}-secret`, PGDATABASE: 'postgres' });

  it('a SCRAM user logs in as itself with the ClientKey from its own proof', async () => {
    const r = await psql(env('mayfly_pt_scram'), 'select current_user');
    assert.equal(r.out, 'mayfly_pt_scram', r.err);
  });

  it('a plaintext user logs in as itself with its password', async () => {
    const r = await psql(env('mayfly_pt_text'), 'select current_user');
    assert.equal(r.out, 'mayfly_pt_text', r.err);
  });

  it('pass-through logins are pooled per identity: the next login of the same user reuses its backend, another user does not', async () => {
    const pidOf = async (user: string): Promise<number> => {
      const r = await psql(env(user), 'select pg_backend_pid()');
      assert.equal(r.code, 0, r.err);
      return Number(r.out);
    };
    const first = await pidOf('mayfly_pt_scram');
    // The reset runs after the client left: wait until the connection is back in the pool.
    for (let i = 0; i < 100; i++) {
      const [a] = await server.query<{ query: string }>('postgres', 'select query from pg_stat_activity where pid = $1', [first]);
      if (a?.query === 'DISCARD ALL') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await pidOf('mayfly_pt_scram'), first);
    const other = await pidOf('mayfly_pt_text');
    assert.notEqual(other, first);
    const [who] = await server.query<{ u: string }>('postgres', 'select usename as u from pg_stat_activity where pid = $1', [first]);
    assert.equal(who?.u, 'mayfly_pt_scram');
  });

  it('a verifier that differs from the server\'s is refused with a clear FATAL', async () => {
    const r = await psql(env('mayfly_pt_diff'), 'select 1');
    assert.notEqual(r.code, 0);
    assert.match(r.err, /different SCRAM verifier/);
  });

  it('an MD5 secret cannot answer a SCRAM server: a clear FATAL', async () => {
    const r = await psql(env('mayfly_pt_md5'), 'select 1');
    assert.notEqual(r.code, 0);
    assert.match(r.err, /MD5 secret cannot answer/);
  });

  it('a wrong password is still refused by the proxy itself', async () => {
    const r = await psql({ ...env('mayfly_pt_scram'), PGPASSWORD: 'wrong' }, 'select 1');
    assert.match(r.err, /password authentication failed for user "mayfly_pt_scram"/);
  });
});
