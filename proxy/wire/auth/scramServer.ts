/**
 * Server side of SCRAM-SHA-256 (RFC 5802/7677) verified from stored keys: the proxy never
 * needs a plaintext password. The client's proof yields its ClientKey (proof XOR
 * ClientSignature); SHA-256 of it must equal StoredKey, compared in constant time.
 *
 * Over TLS the exchange may be SCRAM-SHA-256-PLUS: the client's final message then carries
 * the `tls-server-end-point` hash of our certificate, which is part of what its proof signs,
 * so a proof relayed by someone who terminated TLS with another certificate fails. The
 * rules follow PostgreSQL's: `p=` only with the PLUS mechanism, `n`/`y` only without it,
 * and `y` ("I could bind, but you cannot") refused when PLUS was offered, since then a
 * man in the middle removed it from the list (downgrade).
 *
 * With no secret (unknown user) the exchange is a mock: the salt is derived from the user
 * name and a per-process secret, so repeated attempts look exactly like a real user's
 * (stable salt, same iteration count), and the proof always fails — the client sees the
 * same error as for a wrong password (PgBouncer's approach).
 */
import crypto from 'node:crypto';
import type { ScramKeys } from '../../auth/scramVerifier';
import { expectedChannelBinding, parseGs2Header, TLS_SERVER_END_POINT } from './channelBinding';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';
export const SCRAM_PLUS_MECHANISM = 'SCRAM-SHA-256-PLUS';
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

/** What the connection allows: which mechanism the client chose, and whether PLUS was offered. */
export interface ScramBinding {
  /** `tls-server-end-point` data when PLUS was offered (a TLS connection); absent in plaintext. */
  endPoint?: Buffer;
  /** The client selected SCRAM-SHA-256-PLUS (only valid with `endPoint`). */
  plus?: boolean;
}

export class ScramServer {
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private expectedCbind = '';
  private done = false;

  constructor(
    private readonly keys: ScramKeys,
    /** Tests pass the RFC's nonce; otherwise 18 random bytes, as PostgreSQL uses. */
    private readonly serverNonce: string = crypto.randomBytes(18).toString('base64'),
    private readonly binding: ScramBinding = {},
  ) {}

  /** SASLInitialResponse data -> server-first-message. */
  clientFirst(data: string): ScramStep<string> {
    if (this.serverFirst) return { ok: false, reason: 'unexpected SASL initial response' };
    const gs2 = parseGs2Header(data);
    if (!gs2) return { ok: false, reason: 'malformed SCRAM message (GS2 header)' };
    const plus = this.binding.plus === true && this.binding.endPoint !== undefined;
    if (gs2.flag !== 'p' && plus)
      return { ok: false, reason: 'the client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data' };
    if (gs2.flag === 'y' && this.binding.endPoint)
      return { ok: false, reason: 'SCRAM channel binding negotiation error: the client supports channel binding but thinks the server does not, yet this server offered it' };
    if (gs2.flag === 'p') {
      if (!this.binding.endPoint) return { ok: false, reason: 'channel binding is only offered over TLS (sslmode=require)' };
      if (!plus) return { ok: false, reason: 'the client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data' };
      if (gs2.type !== TLS_SERVER_END_POINT) return { ok: false, reason: `unsupported SCRAM channel-binding type "${gs2.type ?? ''}"` };
    }
    if (gs2.authzid !== '') return { ok: false, reason: 'client uses authorization identity, but it is not supported' };
    this.expectedCbind = expectedChannelBinding(gs2.header, gs2.flag === 'p' ? this.binding.endPoint : undefined);
    const bare = gs2.bare;
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
    // biws = "n,,", eSws = "y,,"; with PLUS the header plus our certificate's hash. Compared
    // as text, as PostgreSQL does: the client must send exactly the canonical base64.
    if (attrs[0].slice(2) !== this.expectedCbind) return { ok: false, reason: 'SCRAM channel binding check failed' };
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
