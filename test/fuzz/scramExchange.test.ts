/**
 * Fuzzing the client-facing authentication exchange through its public entry point,
 * `authenticate(user, credential, io, endPoint?)`: SCRAM-SHA-256 from stored keys, with
 * and without channel binding (SCRAM-SHA-256-PLUS, as over TLS), the mock exchange for
 * unknown users, and MD5. The client here is written from RFC 5802 / 7677 (not the
 * proxy's own ScramClient), answers whatever the server sends, and mutates its
 * client-first and client-final messages byte by byte.
 *
 * - a valid exchange always authenticates, recovers the ClientKey and proves the server;
 *   binding is enforced: `p` only with the server's own end-point data, `y` never when
 *   PLUS was offered (a downgrade);
 * - a mutated one never throws and never authenticates unless the server saw exactly the
 *   valid client-first message, the valid client-final message without its proof, and
 *   a proof that decodes to the right 32 bytes (for MD5: the right answer);
 * - the mock exchange for unknown users never authenticates, whatever is sent.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { saslPrep, scramKeys } from '../../proxy/auth/scramVerifier';
import { authenticate, type AuthOutcome } from '../../proxy/wire/auth/exchange';
import { md5Secret } from '../../proxy/wire/auth/md5';
import type { Credential } from '../../proxy/wire/identity';
import { MAX_AUTH_MESSAGE } from '../../proxy/wire/protocol/codes';
import { FrameDecoder, type Frame } from '../../proxy/wire/protocol/frames';
import { mutate, mutation, type Mutation } from './support/mutate';
import { md5Password, RfcScramClient, sameFrame, sameMd5Answer, sameScramFinal, type Gs2Flag } from './support/rfcClient';
import { checkAsyncProperty, Tally } from './support/settings';

interface Scenario {
  kind: 'scram' | 'mock' | 'md5';
  user: string;
  password: string;
  /** What the client believes the password is. */
  clientPassword: string;
  salt: Buffer;
  iterations: number;
  gs2: Gs2Flag;
  clientNonce: string;
  /** The server's `tls-server-end-point` data (a TLS connection), if any. */
  serverEndPoint?: Buffer;
  /** What the client binds to with `p`: the server's data, or another certificate's (a relay). */
  clientEndPoint: Buffer;
  mutateFirst?: Mutation;
  mutateFinal?: Mutation;
}

const password = fc.oneof(fc.string({ maxLength: 16 }), fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('pencil', 'ﬁ', 'fi', 'Ⅸ', 'IX', 'e\u0301', 'é'));

const scenario: fc.Arbitrary<Scenario> = fc
  .record({
    kind: fc.constantFrom<Scenario['kind']>('scram', 'scram', 'mock', 'md5'),
    user: fc.string({ unit: 'grapheme', maxLength: 12 }),
    password,
    wrong: fc.option(password, { freq: 3, nil: undefined }),
    salt: fc.uint8Array({ minLength: 1, maxLength: 24 }).map((b) => Buffer.from(b)),
    iterations: fc.integer({ min: 1, max: 64 }),
    gs2: fc.constantFrom<Gs2Flag>('n', 'y', 'p', 'p'),
    serverEndPoint: fc.option(fc.uint8Array({ minLength: 32, maxLength: 64 }).map((b) => Buffer.from(b)), { freq: 2, nil: undefined }),
    relayed: fc.constantFrom(false, false, true),
    clientNonce: fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).filter((c) => c !== 0x2c).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 32 }),
    mutateFirst: fc.option(mutation(), { freq: 2, nil: undefined }),
    mutateFinal: fc.option(mutation(), { freq: 2, nil: undefined }),
  })
  .map(({ wrong, relayed, ...s }) => ({
    ...s,
    clientPassword: wrong ?? s.password,
    clientEndPoint: relayed || !s.serverEndPoint ? Buffer.alloc(32, 7) : s.serverEndPoint,
  }));

interface Transcript {
  outcome: AuthOutcome;
  /** Frames the server read, in order. */
  consumed: Frame[];
  /** The valid client-first and client-final (or MD5 password) messages, before mutation. */
  valid: Buffer[];
  expectedClientKey?: Buffer;
  serverProved?: boolean;
}

/** Runs one exchange: the server's messages go to the client, the client's bytes to the server's decoder. */
async function exchange(s: Scenario): Promise<Transcript> {
  const keys = scramKeys(s.password, s.salt, s.iterations);
  const credential: Credential =
    s.kind === 'scram' ? { method: 'scram', keys } : s.kind === 'md5' ? { method: 'md5', secret: md5Secret(s.user, s.password) } : { method: 'mock' };
  const fromServer = new FrameDecoder('message', 1 << 20);
  const toServer = new FrameDecoder('message', MAX_AUTH_MESSAGE);
  const t: Transcript = { outcome: { ok: false, reason: 'not run' }, consumed: [], valid: [] };
  const client = new RfcScramClient(s.user, s.clientPassword, s.gs2, s.clientNonce, s.clientEndPoint);

  const send = (valid: Buffer, m: Mutation | undefined): void => {
    t.valid.push(valid);
    toServer.append(m ? mutate(valid, m.edits, m.fixLength, 1).bytes : valid);
  };

  const onServerMessage = (f: Frame): void => {
    assert.ok(f.kind === 'message' && f.type === 'R', `the server sent ${JSON.stringify(f)}`);
    const code = f.body.readInt32BE(0);
    const data = f.body.subarray(4);
    if (code === 10) {
      const offered = data.toString().split('\0').filter(Boolean);
      assert.deepEqual(offered, s.serverEndPoint ? ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] : ['SCRAM-SHA-256']);
      send(client.first(), s.mutateFirst);
    } else if (code === 11) {
      send(client.final(data.toString('utf8')), s.mutateFinal);
      t.expectedClientKey = client.clientKey;
    } else if (code === 12) {
      t.serverProved = client.verify(data.toString('utf8'));
    } else if (code === 5) {
      send(md5Password(s.user, s.clientPassword, data.subarray(0, 4)), s.mutateFirst);
    } else assert.fail(`unexpected authentication request ${code}`);
  };

  t.outcome = await authenticate(s.user, credential, {
    write: (data) => {
      for (const f of fromServer.push(data)) onServerMessage(f);
    },
    // The client has said all it will: an incomplete message means it hung up.
    next: async () => {
      const f = toServer.next();
      if (!f) return new Error('the connection was closed');
      t.consumed.push(f);
      return f;
    },
  }, s.serverEndPoint);
  return t;
}

describe('fuzz: the authentication exchange (SCRAM-SHA-256 and -PLUS, mock, MD5)', function () {
  this.timeout(30 * 60_000);

  it('valid exchanges always authenticate; mutated ones never throw and never authenticate without the right proof', async () => {
    const tally = new Tally();
    await checkAsyncProperty('auth exchanges', 2, fc.asyncProperty(scenario, async (s) => {
      const t = await exchange(s);
      const rightPassword = s.kind === 'md5' ? s.clientPassword === s.password : saslPrep(s.clientPassword) === saslPrep(s.password);
      const exact = !s.mutateFirst && !s.mutateFinal;
      // Binding as PostgreSQL allows it: `n` always; `y` only when PLUS was not offered; `p` only to our own certificate.
      const bindingOk = s.kind === 'md5' || (s.gs2 === 'n' ? true : s.gs2 === 'y' ? !s.serverEndPoint : !!s.serverEndPoint && s.clientEndPoint.equals(s.serverEndPoint));
      if (!t.outcome.ok) assert.ok(t.outcome.reason.length > 0);

      if (s.kind === 'mock') {
        assert.equal(t.outcome.ok, false, 'the mock exchange never authenticates');
        tally.add('mock refused');
        return;
      }
      // The server read the messages it needed and nothing else: identical, or equivalent where it may be.
      const firstSeen = sameFrame(t.consumed[0], t.valid[0]!);
      const equivalent = s.kind === 'md5'
        ? t.consumed.length === 1 && sameMd5Answer(t.consumed[0], t.valid[0]!)
        : t.consumed.length === 2 && firstSeen && sameScramFinal(t.consumed[1], t.valid[1]!);
      if (t.outcome.ok) {
        assert.ok(rightPassword && equivalent, `authenticated with ${rightPassword ? 'a mutated exchange' : 'the wrong password'}`);
        assert.ok(bindingOk, `authenticated with channel binding ${s.gs2} though the server ${s.serverEndPoint ? 'offered PLUS' : 'is not on TLS'}`);
        if (s.kind === 'scram') {
          assert.equal(t.outcome.method, s.gs2 === 'p' ? 'scram-plus' : 'scram');
          assert.ok(t.outcome.clientKey?.equals(t.expectedClientKey!), 'the recovered ClientKey is the client\'s');
          assert.equal(t.serverProved, true, 'the server-final message proves the server knows the ServerKey');
        } else assert.equal(t.outcome.method, 'md5');
        const canonical = t.consumed.every((f, i) => sameFrame(f, t.valid[i]!));
        // Equivalent but not identical: extra bytes the server ignores (see the report in the README's tests section).
        tally.add(canonical ? `${s.kind === 'scram' && s.gs2 === 'p' ? 'scram-plus' : s.kind} authenticated` : `${s.kind} authenticated, ${s.kind === 'md5' ? 'bytes after the answer ignored' : 'proof in non-canonical base64'}`);
      } else {
        assert.ok(!(exact && rightPassword && bindingOk), `a valid exchange failed: ${t.outcome.reason}`);
        tally.add(`${s.kind} refused (${t.outcome.reason.replace(/\(-?\d+\)/g, '(N)').replace(/message type [^]*$/, 'message type X')})`);
      }
    }), tally);
    assert.ok(tally.get('scram authenticated') > 0 && tally.get('md5 authenticated') > 0, `no valid exchange ran: ${tally}`);
  });
});
