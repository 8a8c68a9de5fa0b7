import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { parseVerifier, scramKeys, scramVerifier } from '../../../proxy/auth/scramVerifier';
import { mockKeys, parseSaslInitial, ScramServer } from '../../../proxy/wire/auth/scramServer';
import { ScramClient } from '../../../proxy/wire/auth/scramClient';
import { md5Response, md5Salt, md5Secret, md5Verify } from '../../../proxy/wire/auth/md5';
import { VerifierCache } from '../../../proxy/wire/auth/verifierCache';
import { FailureRateLimiter } from '../../../proxy/wire/auth/rateLimiter';
import { authenticate } from '../../../proxy/wire/auth/exchange';
import { FrameDecoder, type Frame } from '../../../proxy/wire/protocol/frames';
import * as wb from '../../support/wireBytes';

// RFC 7677 section 3.
const RFC = {
  salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};
const rfcKeys = () => scramKeys('pencil', RFC.salt, 4096);

describe('wire auth: SCRAM-SHA-256 server from stored keys', () => {
  it('completes the RFC 7677 example exchange and recovers the ClientKey', () => {
    const s = new ScramServer(rfcKeys(), RFC.serverNonce);
    const first = s.clientFirst(RFC.clientFirst);
    assert.deepEqual(first, { ok: true, value: RFC.serverFirst });
    const final = s.clientFinal(RFC.clientFinal);
    assert.ok(final.ok);
    assert.equal(final.value.serverFinal, RFC.serverFinal);
    const salted = crypto.pbkdf2Sync('pencil', RFC.salt, 4096, 32, 'sha256');
    assert.deepEqual(final.value.clientKey, crypto.createHmac('sha256', salted).update('Client Key').digest());
  });

  it('works from a PostgreSQL verifier string alone (no plaintext)', () => {
    const keys = parseVerifier(scramVerifier('pencil', RFC.salt, 4096))!;
    const s = new ScramServer(keys, RFC.serverNonce);
    s.clientFirst(RFC.clientFirst);
    assert.ok(s.clientFinal(RFC.clientFinal).ok);
  });

  it('rejects a wrong proof, a wrong nonce, a channel-binding header mismatch, a= and p=', () => {
    const wrongPw = new ScramServer(scramKeys('other', RFC.salt, 4096), RFC.serverNonce);
    wrongPw.clientFirst(RFC.clientFirst);
    assert.deepEqual(wrongPw.clientFinal(RFC.clientFinal), { ok: false, reason: 'password does not match' });

    const nonce = new ScramServer(rfcKeys(), 'different');
    nonce.clientFirst(RFC.clientFirst);
    assert.deepEqual(nonce.clientFinal(RFC.clientFinal), { ok: false, reason: 'SCRAM nonce mismatch' });

    // Client said "y,," (supports binding, thinks server does not) but sends c=biws ("n,,").
    const cb = new ScramServer(rfcKeys(), RFC.serverNonce);
    cb.clientFirst('y,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    assert.deepEqual(cb.clientFinal(RFC.clientFinal), { ok: false, reason: 'SCRAM channel binding check failed' });

    assert.equal(new ScramServer(rfcKeys()).clientFirst('n,a=admin,n=user,r=abc').ok, false);
    assert.equal(new ScramServer(rfcKeys()).clientFirst('p=tls-server-end-point,,n=,r=abc').ok, false);
    assert.equal(new ScramServer(rfcKeys()).clientFirst('n,,m=ext,n=user,r=abc').ok, false);
    assert.equal(new ScramServer(rfcKeys()).clientFirst('garbage').ok, false);
    const twice = new ScramServer(rfcKeys(), RFC.serverNonce);
    twice.clientFirst(RFC.clientFirst);
    twice.clientFinal(RFC.clientFinal);
    assert.equal(twice.clientFinal(RFC.clientFinal).ok, false, 'no second try on one exchange');
  });

  it('accepts y,, with c=eSws (and the header binds: eSws after n,, fails)', () => {
    const keys = scramKeys('pw');
    const c = new ScramClient('pw', 'y');
    const s = new ScramServer(keys);
    const sf = s.clientFirst(c.first());
    assert.ok(sf.ok);
    const cf = c.final(sf.value) as string;
    assert.match(cf, /^c=eSws,/);
    assert.ok(s.clientFinal(cf).ok);
  });

  it('the mock exchange for unknown users has a stable salt per name and the usual iterations, and always fails', () => {
    const a = mockKeys('mallory');
    const b = mockKeys('mallory');
    assert.deepEqual(a.salt, b.salt);
    assert.notDeepEqual(a.salt, mockKeys('eve').salt);
    assert.equal(a.iterations, 4096);
    assert.equal(a.salt.length, 16);
    const c = new ScramClient('anything');
    const s = new ScramServer(a);
    const sf = s.clientFirst(c.first());
    assert.ok(sf.ok);
    assert.match(sf.value, /^r=[^,]+,s=[A-Za-z0-9+/]{22}==,i=4096$/);
    assert.equal(s.clientFinal(c.final(sf.value) as string).ok, false);
  });

  it('our SCRAM client and server agree, and the client checks the server signature', () => {
    const keys = scramKeys('s3cret');
    const c = new ScramClient('s3cret');
    const s = new ScramServer(keys);
    const sf = s.clientFirst(c.first());
    assert.ok(sf.ok);
    const fin = s.clientFinal(c.final(sf.value) as string);
    assert.ok(fin.ok);
    assert.ok(c.verify(fin.value.serverFinal));
    assert.ok(!c.verify('v=' + Buffer.alloc(32).toString('base64')));
    assert.ok(new ScramClient('x').final('r=notours,s=AAAA,i=4096') instanceof Error);
  });

  it('SCRAM pass-through: the ClientKey recovered by the server logs in to a server with the identical verifier only', () => {
    const keys = scramKeys('pw');
    // 1. The client proves itself to the proxy; the proxy recovers its ClientKey.
    const client = new ScramClient('pw');
    const proxyServer = new ScramServer(keys);
    const sf = proxyServer.clientFirst(client.first());
    assert.ok(sf.ok);
    const fin = proxyServer.clientFinal(client.final(sf.value) as string);
    assert.ok(fin.ok);
    // 2. The proxy logs in upstream with that ClientKey (no password anywhere).
    const upstream = new ScramServer(keys);
    const pt = new ScramClient({ clientKey: fin.value.clientKey, keys });
    const usf = upstream.clientFirst(pt.first());
    assert.ok(usf.ok);
    const ufin = upstream.clientFinal(pt.final(usf.value) as string);
    assert.ok(ufin.ok);
    assert.ok(pt.verify(ufin.value.serverFinal));
    // 3. A server with another verifier (other salt) is refused before any proof is sent.
    const other = new ScramServer(scramKeys('pw'));
    const osf = other.clientFirst(new ScramClient({ clientKey: fin.value.clientKey, keys }).first());
    assert.ok(osf.ok);
    assert.ok(new ScramClient({ clientKey: fin.value.clientKey, keys }).final(osf.value) instanceof Error);
  });

  it('parses SASLInitialResponse bodies and rejects inconsistent lengths', () => {
    const body = wb.saslInitial('SCRAM-SHA-256', 'n,,n=*,r=x').subarray(5);
    assert.deepEqual(parseSaslInitial(body), { mechanism: 'SCRAM-SHA-256', data: 'n,,n=*,r=x' });
    assert.equal(parseSaslInitial(Buffer.from('SCRAM\0\0\0\0\x09ab')), undefined);
    assert.equal(parseSaslInitial(Buffer.from('nonul')), undefined);
  });
});

describe('wire auth: MD5, verifier cache, rate limiter', () => {
  it('MD5: the PostgreSQL formula, a fresh salt each time, constant-time verify', () => {
    // md5('pw' + 'u') — PostgreSQL stores md5 of password then user name.
    assert.equal(md5Secret('u', 'pw'), 'md5' + crypto.createHash('md5').update('pwu').digest('hex'));
    const secret = md5Secret('bob', 'bob-secret');
    const salt = md5Salt();
    assert.ok(md5Verify(secret, salt, md5Response(secret, salt)));
    assert.ok(!md5Verify(secret, salt, md5Response(md5Secret('bob', 'x'), salt)));
    assert.ok(!md5Verify(secret, salt, 'short'));
    const salts = new Set(Array.from({ length: 50 }, () => md5Salt().toString('hex')));
    assert.ok(salts.size > 45, 'salts are random per connection');
  });

  it('caches one verifier per (user, password) and recomputes after a change', () => {
    const cache = new VerifierCache(2);
    const a = cache.get('u', 'p1');
    assert.equal(cache.get('u', 'p1'), a);
    assert.notEqual(cache.get('u', 'p2'), a);
    cache.get('v', 'p');
    assert.equal(cache.size, 2, 'bounded');
  });

  it('rate limits failures per key with a token bucket', () => {
    let t = 0;
    const rl = new FailureRateLimiter(3, 1, () => t);
    for (let i = 0; i < 3; i++) {
      assert.ok(rl.allowed('alice|127.0.0.1'));
      rl.recordFailure('alice|127.0.0.1');
    }
    assert.ok(!rl.allowed('alice|127.0.0.1'));
    assert.ok(rl.allowed('bob|127.0.0.1'), 'other keys unaffected');
    t += 1000;
    assert.ok(rl.allowed('alice|127.0.0.1'), 'tokens come back');
  });
});

describe('wire auth: the exchange over messages', () => {
  function io(clientMessages: (sent: Buffer[]) => Buffer | undefined) {
    const sent: Buffer[] = [];
    return {
      sent,
      write: (b: Buffer) => void sent.push(b),
      next: async (): Promise<Frame | Error> => {
        const m = clientMessages(sent);
        if (!m) return new Error('closed');
        return new FrameDecoder('message', 10_000).push(m)[0]!;
      },
    };
  }

  it('MD5 exchange accepts the right answer for the salt it sent', async () => {
    const secret = md5Secret('bob', 'pw');
    const t = io((sent) => wb.password(md5Response(secret, sent[0]!.subarray(9, 13))));
    assert.deepEqual(await authenticate('bob', { method: 'md5', secret }, t), { ok: true, method: 'md5' });
  });

  it('a client that hangs up is "abandoned", not a failure; a non-password message is a protocol error', async () => {
    const r = await authenticate('a', { method: 'mock' }, io(() => undefined));
    assert.ok(!r.ok && r.abandoned);
    const q = await authenticate('a', { method: 'mock' }, io(() => wb.query('select 1')));
    assert.ok(!q.ok && q.protocol);
  });

  it('SCRAM with a real client: right password ok, unknown user fails like a wrong password', async () => {
    const run = async (cred: Parameters<typeof authenticate>[1], pw: string) => {
      const c = new ScramClient(pw);
      let step = 0;
      return authenticate('u', cred, io((sent) => {
        step++;
        if (step === 1) return wb.saslInitial('SCRAM-SHA-256', c.first());
        const last = sent[sent.length - 1]!;
        return wb.msg('p', c.final(last.subarray(9).toString()) as string);
      }));
    };
    const keys = scramKeys('pw');
    const ok = await run({ method: 'scram', keys }, 'pw');
    assert.ok(ok.ok && ok.method === 'scram' && ok.clientKey?.length === 32);
    const wrong = await run({ method: 'scram', keys }, 'nope');
    const unknown = await run({ method: 'mock' }, 'nope');
    assert.ok(!wrong.ok && !unknown.ok && !wrong.protocol && !unknown.protocol);
  });
});
