// A hostile client probing the listener for valid user names: an unknown user and a known
// user with a wrong password must get the same exchange (mechanisms, salt and iteration
// shape, error) and, within noise, the same response time.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startEmbeddedPostgres, freePort } from '../../support/postgres';
import { startProxy, type RunningProxy } from '../../support/proxyProcess';
import { RawClient } from '../../support/rawClient';
import { SEED_POLICY } from '../../support/policies';
import { scramVerifier } from '../../../proxy/auth/scramVerifier';
import { ScramClient } from '../../../proxy/wire/auth/scramClient';
import { parseFields } from '../../../proxy/wire/protocol/backend';
import * as wb from '../../support/wireBytes';

const KNOWN = 40;

interface Attempt {
  mechanisms: string;
  /** server-first-message with the nonce and salt values blanked: the shape only. */
  shape: string;
  saltBytes: number;
  error: { code: string; message: string };
  /** From sending the client-final-message to the server's answer. */
  ms: number;
}

async function attempt(port: number, user: string): Promise<Attempt> {
  const c = new RawClient(port);
  try {
    c.socket.write(wb.startup({ user, database: 'postgres' }));
    const sasl = await c.message();
    assert.ok(sasl?.kind === 'message' && sasl.type === 'R' && sasl.body.readInt32BE(0) === 10, 'AuthenticationSASL');
    const mechanisms = sasl.body.toString('utf8', 4);
    const client = new ScramClient('not-the-password');
    c.socket.write(wb.saslInitial('SCRAM-SHA-256', client.first()));
    const cont = await c.message();
    assert.ok(cont?.kind === 'message' && cont.type === 'R' && cont.body.readInt32BE(0) === 11, 'AuthenticationSASLContinue');
    const serverFirst = cont.body.toString('utf8', 4);
    const final = client.final(serverFirst);
    assert.ok(typeof final === 'string');
    // Time the server's verification only: from our write to its first byte back.
    const answered = new Promise<number>((resolve) => c.socket.once('data', () => resolve(performance.now())));
    const t0 = performance.now();
    c.socket.write(wb.msg('p', final));
    const ms = (await answered) - t0;
    const err = await c.message();
    assert.ok(err?.kind === 'message' && err.type === 'E', 'ErrorResponse');
    const fields = parseFields(err.body);
    const salt = /,s=([^,]+),/.exec(serverFirst)![1]!;
    return {
      mechanisms,
      shape: serverFirst.replace(/r=[^,]+/, 'r=*').replace(/s=[^,]+/, 's=*'),
      saltBytes: Buffer.from(salt, 'base64').length,
      error: { code: fields.get('C')!, message: fields.get('M')!.replace(user, 'USER') },
      ms,
    };
  } finally {
    c.socket.destroy();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

describe('unknown user vs wrong password on the listener', function () {
  let proxy: RunningProxy;
  let port: number;

  before(async () => {
    const server = await startEmbeddedPostgres();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-oracle-'));
    fs.writeFileSync(path.join(dir, 'config.hcl'), SEED_POLICY);
    // One attempt per name: the per-user failure limiter must not be what differs.
    const users = Array.from({ length: KNOWN }, (_, i) => ({ username: `known${i}`, password: scramVerifier(`pw-${i}`), type: 'scram-sha-256', role: 'database' }));
    fs.writeFileSync(path.join(dir, 'users.json'), JSON.stringify(users));
    const s = server.superuser;
    port = await freePort();
    proxy = await startProxy(
      ['--config', `policy-config=path:${path.join(dir, 'config.hcl')}`, '--config', 'pg-homolog-credentials=env:MAYFLY_ORACLE_DSN', '--listen', `127.0.0.1:${port}`, '--users', path.join(dir, 'users.json'), '--no-tls'],
      { MAYFLY_ORACLE_DSN: `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable` },
    );
  });

  after(async () => {
    assert.equal(await proxy.stop(), 0);
  });

  it('answers both with the same messages and, within noise, the same time', async () => {
    const known: Attempt[] = [];
    const unknown: Attempt[] = [];
    // Interleaved, so machine load affects both sides alike.
    for (let i = 0; i < KNOWN; i++) {
      known.push(await attempt(port, `known${i}`));
      unknown.push(await attempt(port, `nobody${i}`));
    }
    const same = (a: Attempt) => JSON.stringify([a.mechanisms, a.shape, a.saltBytes, a.error]);
    assert.deepEqual(new Set(known.map(same)), new Set([same(known[0]!)]));
    assert.deepEqual(new Set(unknown.map(same)), new Set([same(known[0]!)]), 'identical exchange and error for unknown users');
    assert.equal(known[0]!.error.code, '28P01');
    assert.equal(known[0]!.error.message, 'password authentication failed for user "USER"');
    const k = median(known.map((a) => a.ms));
    const u = median(unknown.map((a) => a.ms));
    console.log(`      median verification time: known ${k.toFixed(3)} ms, unknown ${u.toFixed(3)} ms`);
    assert.ok(Math.abs(k - u) < Math.max(1, 0.5 * Math.max(k, u)), `known ${k.toFixed(3)} ms vs unknown ${u.toFixed(3)} ms`);
  });

  it('logs both as the same failure event, without the proof or password', () => {
    const lines = proxy.output().split('\n').filter((l) => l.includes('auth.failure'));
    assert.ok(lines.length >= 2 * KNOWN, `${lines.length} failure events`);
    for (const l of lines) assert.doesNotMatch(l, /pw-|p=|not-the-password/);
  });
});
