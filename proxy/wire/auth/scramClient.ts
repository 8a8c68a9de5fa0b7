/**
 * Client side of SCRAM-SHA-256, for logging in upstream as the session role. Verifies the
 * server's signature too, so a spoofed server cannot claim success.
 */
import crypto from 'node:crypto';
import { saslPrep, type ScramKeys } from '../../auth/scramVerifier';

/**
 * A password, or a ClientKey recovered from the client's own proof plus the verifier it
 * matched ("SCRAM pass-through"): that logs in only to a server holding the identical
 * verifier (same salt and iterations), and is kept in memory only.
 */
export type ScramSecret = string | { clientKey: Buffer; keys: ScramKeys };

const hmac = (key: Buffer, data: string | Buffer): Buffer => crypto.createHmac('sha256', key).update(data).digest();

/**
 * ClientKey and ServerKey per (password, salt, iterations). PBKDF2 at 4096 iterations
 * blocks the event loop for milliseconds, and a session role logs in with the same
 * password and salt every time; keyed by a hash so the map holds no password. Bounded.
 */
const derived = new Map<string, { clientKey: Buffer; serverKey: Buffer }>();
const DERIVED_MAX = 256;

function deriveKeys(password: string, salt: string, iterations: number): { clientKey: Buffer; serverKey: Buffer } {
  const id = crypto.createHash('sha256').update(`${iterations}\0${salt}\0${password}`).digest('base64');
  let keys = derived.get(id);
  if (!keys) {
    const salted = crypto.pbkdf2Sync(saslPrep(password), Buffer.from(salt, 'base64'), iterations, 32, 'sha256');
    keys = { clientKey: hmac(salted, 'Client Key'), serverKey: hmac(salted, 'Server Key') };
    derived.set(id, keys);
    if (derived.size > DERIVED_MAX) derived.delete(derived.keys().next().value!);
  }
  return keys;
}

export class ScramClient {
  private readonly clientNonce = crypto.randomBytes(18).toString('base64');
  private clientFirstBare = '';
  private serverSignature?: Buffer;

  constructor(
    private readonly secret: ScramSecret,
    /** GS2 flag: "n" (no channel binding); "y" (client could bind, believes the server cannot). */
    private readonly gs2: 'n' | 'y' = 'n',
  ) {}

  first(): string {
    this.clientFirstBare = `n=*,r=${this.clientNonce}`;
    return `${this.gs2},,${this.clientFirstBare}`;
  }

  /** server-first-message -> client-final-message, or an error text. */
  final(serverFirst: string): string | Error {
    const attrs = new Map(serverFirst.split(',').map((a) => [a.slice(0, 1), a.slice(2)] as const));
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (!nonce || !nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length)
      return new Error('SCRAM: the server nonce does not extend ours');
    if (!salt || !Number.isInteger(iterations) || iterations < 1) return new Error('SCRAM: malformed server-first-message');
    let clientKey: Buffer;
    let serverKey: Buffer;
    if (typeof this.secret === 'string') ({ clientKey, serverKey } = deriveKeys(this.secret, salt, iterations));
    else {
      const k = this.secret.keys;
      if (Buffer.from(salt, 'base64').toString('base64') !== k.salt.toString('base64') || iterations !== k.iterations)
        return new Error('the server holds a different SCRAM verifier for this user than the users file (salt or iterations differ)');
      clientKey = this.secret.clientKey;
      serverKey = k.serverKey;
    }
    const storedKey = crypto.createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=${Buffer.from(`${this.gs2},,`).toString('base64')},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    this.serverSignature = hmac(serverKey, authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** True when server-final-message carries the signature we expect. */
  verify(serverFinal: string): boolean {
    const m = /(?:^|,)v=([A-Za-z0-9+/=]+)/.exec(serverFinal);
    if (!m || !this.serverSignature) return false;
    const got = Buffer.from(m[1]!, 'base64');
    return got.length === 32 && crypto.timingSafeEqual(got, this.serverSignature);
  }
}
