/**
 * Server side of SCRAM-SHA-256 (RFC 5802/7677) verified from stored keys: the proxy never
 * needs a plaintext password. The client's proof yields its ClientKey (proof XOR
 * ClientSignature); SHA-256 of it must equal StoredKey, compared in constant time.
 *
 * With no secret (unknown user) the exchange is a mock: the salt is derived from the user
 * name and a per-process secret, so repeated attempts look exactly like a real user's
 * (stable salt, same iteration count), and the proof always fails — the client sees the
 * same error as for a wrong password (PgBouncer's approach).
 */
import crypto from 'node:crypto';
import type { ScramKeys } from '../../auth/scramVerifier';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';
const MOCK_ITERATIONS = 4096;
const mockSecret = crypto.randomBytes(32);

const hmac = (key: Buffer, data: string | Buffer): Buffer => crypto.createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer): Buffer => crypto.createHash('sha256').update(data).digest();

export type ScramStep<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Keys of a user nobody knows: a stable fake salt per name, keys no proof can match. */
export function mockKeys(user: string): ScramKeys {
  return {
    iterations: MOCK_ITERATIONS,
    salt: hmac(mockSecret, `salt:${user}`).subarray(0, 16),
    storedKey: crypto.randomBytes(32),
    serverKey: crypto.randomBytes(32),
  };
}

export class ScramServer {
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private gs2Header = '';
  private done = false;

  constructor(
    private readonly keys: ScramKeys,
    /** Tests pass the RFC's nonce; otherwise 18 random bytes, as PostgreSQL uses. */
    private readonly serverNonce: string = crypto.randomBytes(18).toString('base64'),
  ) {}

  /** SASLInitialResponse data -> server-first-message. */
  clientFirst(data: string): ScramStep<string> {
    if (this.serverFirst) return { ok: false, reason: 'unexpected SASL initial response' };
    // gs2-header: cbind-flag "," [authzid] ","
    const m = /^([ny]),(.*?),(.*)$/s.exec(data);
    if (!m) {
      if (data.startsWith('p=')) return { ok: false, reason: 'channel binding is not supported by this proxy' };
      return { ok: false, reason: 'malformed SCRAM message (GS2 header)' };
    }
    if (m[2] !== '') return { ok: false, reason: 'client uses authorization identity, but it is not supported' };
    this.gs2Header = `${m[1]},,`;
    const bare = m[3]!;
    const attrs = bare.split(',');
    if (attrs[0]?.startsWith('m=')) return { ok: false, reason: 'client requires an unsupported SCRAM extension' };
    if (!attrs[0]?.startsWith('n=')) return { ok: false, reason: 'malformed SCRAM message (expected n=)' };
    const r = attrs[1];
    if (!r?.startsWith('r=') || r.length < 3 || !/^[\x21-\x2b\x2d-\x7e]+$/.test(r.slice(2)))
      return { ok: false, reason: 'malformed SCRAM message (nonce)' };
    this.clientFirstBare = bare;
    this.nonce = r.slice(2) + this.serverNonce;
    this.serverFirst = `r=${this.nonce},s=${this.keys.salt.toString('base64')},i=${this.keys.iterations}`;
    return { ok: true, value: this.serverFirst };
  }

  /** SASLResponse data -> server-final-message and the recovered ClientKey. */
  clientFinal(data: string): ScramStep<{ serverFinal: string; clientKey: Buffer }> {
    if (!this.serverFirst || this.done) return { ok: false, reason: 'unexpected SASL response' };
    this.done = true;
    const proofAt = data.lastIndexOf(',p=');
    if (proofAt < 0) return { ok: false, reason: 'malformed SCRAM message (missing proof)' };
    const withoutProof = data.slice(0, proofAt);
    const attrs = withoutProof.split(',');
    if (!attrs[0]?.startsWith('c=')) return { ok: false, reason: 'malformed SCRAM message (expected c=)' };
    const cbind = Buffer.from(attrs[0].slice(2), 'base64').toString('latin1');
    // biws = "n,,", eSws = "y,,": the header must be the one the client sent first.
    if (cbind !== this.gs2Header) return { ok: false, reason: 'SCRAM channel binding check failed' };
    if (attrs[1] !== `r=${this.nonce}`) return { ok: false, reason: 'SCRAM nonce mismatch' };
    const proof = Buffer.from(data.slice(proofAt + 3), 'base64');
    if (proof.length !== 32) return { ok: false, reason: 'malformed SCRAM proof' };
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const signature = hmac(this.keys.storedKey, authMessage);
    const clientKey = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) clientKey[i] = proof[i]! ^ signature[i]!;
    if (!crypto.timingSafeEqual(sha256(clientKey), this.keys.storedKey)) return { ok: false, reason: 'password does not match' };
    const serverSignature = hmac(this.keys.serverKey, authMessage);
    return { ok: true, value: { serverFinal: `v=${serverSignature.toString('base64')}`, clientKey } };
  }
}

/** Parses SASLInitialResponse: mechanism NUL, Int32 length (-1 = none), data. */
export function parseSaslInitial(body: Buffer): { mechanism: string; data: string } | undefined {
  const end = body.indexOf(0);
  if (end < 0 || body.length < end + 5) return undefined;
  const len = body.readInt32BE(end + 1);
  const data = body.subarray(end + 5);
  if (len !== data.length) return undefined;
  return { mechanism: body.toString('utf8', 0, end), data: data.toString('utf8') };
}
