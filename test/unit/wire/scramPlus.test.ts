// SCRAM-SHA-256-PLUS with tls-server-end-point channel binding: the GS2 header and c=
// parsing, the certificate hash choice (RFC 5929 §4.1) on real openssl certificates, and
// the exchange against node-postgres's independent SCRAM client.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scramKeys } from '../../../proxy/auth/scramVerifier';
import { endPointHashName, expectedChannelBinding, parseGs2Header, tlsServerEndPoint } from '../../../proxy/wire/auth/channelBinding';
import { authenticate } from '../../../proxy/wire/auth/exchange';
import { mockKeys, ScramServer } from '../../../proxy/wire/auth/scramServer';
import { FrameDecoder, type Frame } from '../../../proxy/wire/protocol/frames';
import { certKinds, makeCert, rsaKeyFile, type CertFiles, type CertKind } from '../../support/certAlgorithms';
import { PgScram, type CertSource } from '../../support/pgScram';
import * as wb from '../../support/wireBytes';

const pgCertSignatures = require('pg/lib/crypto/cert-signatures') as { signatureAlgorithmHashFromCertificate(der: Buffer): string };

describe('wire auth: SCRAM-SHA-256-PLUS and channel binding', function () {
  this.timeout(60_000);
  let dir: string;
  let certs: { kind: CertKind; files: CertFiles }[];
  const der = (name: string): Buffer => certs.find((c) => c.kind.name === name)!.files.der;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-cb-'));
    const key = rsaKeyFile(dir);
    certs = certKinds(key).map((kind) => ({ kind, files: makeCert(dir, kind) }));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('channel binding parsing', () => {
    it('parses the GS2 header: n, y, p=TYPE, the authzid and the bare message', () => {
      assert.deepEqual(parseGs2Header('n,,n=*,r=abc'), { flag: 'n', authzid: '', header: 'n,,', bare: 'n=*,r=abc' });
      assert.deepEqual(parseGs2Header('y,,n=*,r=abc'), { flag: 'y', authzid: '', header: 'y,,', bare: 'n=*,r=abc' });
      assert.deepEqual(parseGs2Header('p=tls-server-end-point,,n=*,r=abc'), {
        flag: 'p',
        type: 'tls-server-end-point',
        authzid: '',
        header: 'p=tls-server-end-point,,',
        bare: 'n=*,r=abc',
      });
      assert.equal(parseGs2Header('n,a=admin,n=*,r=abc')?.authzid, 'a=admin');
      for (const bad of ['', 'x,,n=*,r=a', 'p,,n=*,r=a', 'p=,,n=*,r=a', 'p=a b,,n=*', 'n,n=*,r=a', 'nn,,n=*'])
        assert.equal(parseGs2Header(bad), undefined, JSON.stringify(bad));
    });

    it('the expected c= value: biws for n, eSws for y, header plus certificate hash for p', () => {
      assert.equal(expectedChannelBinding('n,,'), 'biws');
      assert.equal(expectedChannelBinding('y,,'), 'eSws');
      const hash = Buffer.alloc(32, 7);
      const c = Buffer.from(expectedChannelBinding('p=tls-server-end-point,,', hash), 'base64');
      assert.deepEqual(c, Buffer.concat([Buffer.from('p=tls-server-end-point,,'), hash]));
    });

    describe('the certificate hash (RFC 5929 §4.1) on openssl certificates', () => {
      it("uses the signature's hash, SHA-256 instead of MD5/SHA-1, none for Ed25519", () => {
        for (const { kind, files } of certs) {
          const got = endPointHashName(files.der);
          if (kind.endPointHash) assert.equal(got, kind.endPointHash, kind.name);
          else assert.ok(got instanceof Error, `${kind.name}: no binding`);
          const data = tlsServerEndPoint(files.der);
          if (kind.endPointHash) assert.deepEqual(data, crypto.createHash(kind.endPointHash).update(files.der).digest(), kind.name);
          else assert.ok(data instanceof Error);
        }
      });

      it("agrees with node-postgres's reading of the signature algorithm", () => {
        let compared = 0;
        for (const { kind, files } of certs) {
          if (!kind.endPointHash) continue;
          let theirs: string;
          try {
            theirs = pgCertSignatures.signatureAlgorithmHashFromCertificate(files.der);
          } catch {
            continue; // pg cannot read RSASSA-PSS with default (SHA-1) parameters
          }
          const mapped = theirs === 'MD5' || theirs === 'SHA-1' ? 'sha256' : theirs.replace('-', '').toLowerCase();
          assert.equal(endPointHashName(files.der), mapped, kind.name);
          compared++;
        }
        assert.ok(compared >= 5, `compared ${compared} certificates`);
      });

      it('refuses truncated or mutated certificates with an error, never an exception', () => {
        const der = certs[0]!.files.der;
        for (let n = 0; n < der.length; n += 7) assert.ok(endPointHashName(der.subarray(0, n)) instanceof Error, `truncated at ${n}`);
        for (let i = 0; i < 2000; i++) {
          const m = Buffer.from(der);
          m[crypto.randomInt(0, 40)] = crypto.randomInt(0, 256);
          const r = endPointHashName(m);
          assert.ok(typeof r === 'string' || r instanceof Error);
        }
        assert.ok(endPointHashName(Buffer.from('not a certificate')) instanceof Error);
      });
    });
  });

  describe('the PLUS server', () => {
    let endPoint: Buffer;
    before(() => (endPoint = tlsServerEndPoint(der('ecdsa-sha256')) as Buffer));
    const ourCert: CertSource = { getPeerCertificate: () => ({ raw: der('ecdsa-sha256') }) };
    // The certificate a man in the middle would present to the client instead of ours.
    const otherCert: CertSource = { getPeerCertificate: () => ({ raw: der('ecdsa-sha384') }) };
    const keys = scramKeys('pw');
    const BOTH = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'];

    async function exchange(client: PgScram, offered: string[], binding: { endPoint?: Buffer }, k = keys) {
      const [mechanism, first] = client.first(offered);
      const server = new ScramServer(k, undefined, { ...binding, plus: mechanism === 'SCRAM-SHA-256-PLUS' });
      const sf = server.clientFirst(first);
      if (!sf.ok) return { mechanism, first, step: 'first', result: sf };
      const fin = server.clientFinal(await client.final(sf.value));
      return { mechanism, first, step: 'final', result: fin };
    }

    it("node-postgres binds to our certificate's hash and the exchange succeeds", async () => {
      const client = new PgScram('pw', ourCert);
      const r = await exchange(client, BOTH, { endPoint });
      assert.equal(r.mechanism, 'SCRAM-SHA-256-PLUS');
      assert.match(r.first, /^p=tls-server-end-point,,n=\*,r=/);
      assert.ok(r.result.ok, JSON.stringify(r.result));
      client.verify((r.result.value as { serverFinal: string }).serverFinal);
    });

    it('a proof bound to another certificate fails, as does a wrong password with the right binding', async () => {
      const mitm = await exchange(new PgScram('pw', otherCert), BOTH, { endPoint });
      assert.deepEqual(mitm.result, { ok: false, reason: 'SCRAM channel binding check failed' });
      const wrong = await exchange(new PgScram('nope', ourCert), BOTH, { endPoint });
      assert.deepEqual(wrong.result, { ok: false, reason: 'password does not match' });
    });

    it('downgrade: y (client could bind, thinks we cannot) is refused when PLUS was offered', async () => {
      // A man in the middle removed PLUS from the list the client saw.
      const r = await exchange(new PgScram('pw', ourCert), ['SCRAM-SHA-256'], { endPoint });
      assert.match(r.first, /^y,,/);
      assert.equal(r.step, 'first');
      assert.ok(!r.result.ok && /channel binding negotiation error/.test(r.result.reason));
      // Over TLS with a certificate we cannot bind to (PLUS not offered), y is fine.
      const noPlus = await exchange(new PgScram('pw', ourCert), ['SCRAM-SHA-256'], {});
      assert.ok(noPlus.result.ok);
    });

    it('n (no binding support) is accepted over TLS; p= without PLUS, or in plaintext, is refused', async () => {
      assert.ok((await exchange(new PgScram('pw'), BOTH, { endPoint })).result.ok);
      const s = new ScramServer(keys, undefined, { endPoint, plus: false });
      const r = s.clientFirst('p=tls-server-end-point,,n=*,r=abc');
      assert.ok(!r.ok && /includes channel binding data/.test(r.reason));
      const plain = new ScramServer(keys).clientFirst('p=tls-server-end-point,,n=*,r=abc');
      assert.ok(!plain.ok && /only offered over TLS/.test(plain.reason));
    });

    it('PLUS chosen but n/y sent, or another binding type, is refused', () => {
      for (const first of ['n,,n=*,r=abc', 'y,,n=*,r=abc']) {
        const r = new ScramServer(keys, undefined, { endPoint, plus: true }).clientFirst(first);
        assert.ok(!r.ok && /does not include channel binding data/.test(r.reason), first);
      }
      const unique = new ScramServer(keys, undefined, { endPoint, plus: true }).clientFirst('p=tls-unique,,n=*,r=abc');
      assert.deepEqual(unique, { ok: false, reason: 'unsupported SCRAM channel-binding type "tls-unique"' });
    });

    it('the c= value must be the canonical base64 of header and hash', () => {
      const s = new ScramServer(keys, 'srv', { endPoint, plus: true });
      const sf = s.clientFirst('p=tls-server-end-point,,n=*,r=cli');
      assert.ok(sf.ok);
      // Right bytes, but base64 without padding: not what a correct client sends.
      const c = expectedChannelBinding('p=tls-server-end-point,,', endPoint).replace(/=+$/, '');
      const r = s.clientFinal(`c=${c},r=clisrv,p=${Buffer.alloc(32).toString('base64')}`);
      assert.deepEqual(r, { ok: false, reason: 'SCRAM channel binding check failed' });
    });
  });

  describe('the exchange offers PLUS over TLS only', () => {
    /** Runs authenticate() with a client; returns the messages we sent and the outcome. */
    async function run(credential: Parameters<typeof authenticate>[1], client: PgScram, endPoint?: Buffer) {
      const sent: Buffer[] = [];
      const frames = (b: Buffer): Frame => new FrameDecoder('message', 10_000).push(b)[0]!;
      let step = 0;
      const outcome = await authenticate(
        'someone',
        credential,
        {
          write: (b) => void sent.push(b),
          next: async () => {
            step++;
            const last = frames(sent[sent.length - 1]!);
            if (last.kind !== 'message') return new Error('no message');
            if (step === 1) {
              const list = last.body.subarray(4).toString().split('\0').filter(Boolean);
              const [mech, data] = client.first(list);
              return frames(wb.saslInitial(mech, data));
            }
            return frames(wb.msg('p', await client.final(last.body.subarray(4).toString())));
          },
        },
        endPoint,
      );
      const mechanisms = frames(sent[0]!);
      return { outcome, mechanisms: mechanisms.kind === 'message' ? mechanisms.body.subarray(4).toString().split('\0').filter(Boolean) : [], sent };
    }
    let endPoint: Buffer;
    before(() => (endPoint = tlsServerEndPoint(der('rsa-sha512')) as Buffer));
    const tlsClient = (pw: string) => new PgScram(pw, { getPeerCertificate: () => ({ raw: der('rsa-sha512') }) });

    it('advertises SCRAM-SHA-256-PLUS first over TLS, only SCRAM-SHA-256 in plaintext', async () => {
      const keys = scramKeys('pw');
      const overTls = await run({ method: 'scram', keys }, tlsClient('pw'), endPoint);
      assert.deepEqual(overTls.mechanisms, ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']);
      assert.ok(overTls.outcome.ok && overTls.outcome.method === 'scram-plus' && overTls.outcome.clientKey?.length === 32);
      const plain = await run({ method: 'scram', keys }, new PgScram('pw'));
      assert.deepEqual(plain.mechanisms, ['SCRAM-SHA-256']);
      assert.ok(plain.outcome.ok && plain.outcome.method === 'scram');
    });

    it('a client choosing PLUS in plaintext gets a protocol error', async () => {
      const sent: Buffer[] = [];
      const r = await authenticate('u', { method: 'scram', keys: scramKeys('pw') }, {
        write: (b) => void sent.push(b),
        next: async () => new FrameDecoder('message', 10_000).push(wb.saslInitial('SCRAM-SHA-256-PLUS', 'p=tls-server-end-point,,n=*,r=abc'))[0]!,
      });
      assert.deepEqual(r, { ok: false, reason: 'client selected an invalid SASL authentication mechanism', protocol: true });
    });

    it('an unknown user over TLS gets the same offer and the same failure as a wrong password', async () => {
      const keys = scramKeys('pw');
      const wrong = await run({ method: 'scram', keys }, tlsClient('nope'), endPoint);
      const unknown = await run({ method: 'mock' }, tlsClient('nope'), endPoint);
      assert.deepEqual(unknown.mechanisms, wrong.mechanisms);
      assert.equal(unknown.sent.length, wrong.sent.length, 'same number of messages');
      const serverFirst = (s: Buffer[]) => s[1]!.subarray(9).toString().replace(/r=[^,]+/, 'r=N').replace(/s=[^,]+/, 's=S');
      assert.equal(serverFirst(unknown.sent), serverFirst(wrong.sent));
      assert.ok(!wrong.outcome.ok && !unknown.outcome.ok);
      assert.equal(wrong.outcome.protocol, unknown.outcome.protocol);
      assert.equal(wrong.outcome.abandoned, unknown.outcome.abandoned);
      // The mock's salt has the length of a real one.
      const salt = (s: Buffer[]) => /s=([^,]+)/.exec(s[1]!.subarray(9).toString())![1]!.length;
      assert.equal(salt(unknown.sent), salt(wrong.sent));
      assert.equal(mockKeys('someone').salt.length, keys.salt.length);
    });

    it('a downgraded client (y over TLS) is refused alike for known and unknown users', async () => {
      const downgraded = (pw: string) => {
        const c = tlsClient(pw);
        const first = c.first.bind(c);
        c.first = () => first(['SCRAM-SHA-256']);
        return c;
      };
      const known = await run({ method: 'scram', keys: scramKeys('pw') }, downgraded('pw'), endPoint);
      const unknown = await run({ method: 'mock' }, downgraded('pw'), endPoint);
      assert.ok(!known.outcome.ok && known.outcome.protocol && /negotiation error/.test(known.outcome.reason));
      assert.deepEqual(unknown.outcome, known.outcome);
    });
  });
});
