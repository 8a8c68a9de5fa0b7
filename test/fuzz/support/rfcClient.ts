/**
 * The client side of SCRAM-SHA-256 (RFC 5802 / 7677) and of MD5 password authentication,
 * written from the RFCs and PostgreSQL's documentation rather than taken from the proxy
 * (its ScramClient logs in upstream), so the fuzzers do not check the server against
 * its own arithmetic. Plus the equivalence the fuzzers judge a mutated message by.
 */
import crypto from 'node:crypto';
import { saslPrep } from '../../../proxy/auth/scramVerifier';
import type { Frame } from '../../../proxy/wire/protocol/frames';
import * as wb from '../../support/wireBytes';

const hmac = (key: Buffer, data: string | Buffer): Buffer => crypto.createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer): Buffer => crypto.createHash('sha256').update(data).digest();
const md5hex = (data: string | Buffer): string => crypto.createHash('md5').update(data).digest('hex');

/** RFC 5802 saslname: `,` and `=` escaped. */
const saslName = (user: string): string => user.replace(/=/g, '=3D').replace(/,/g, '=2C');

const salted = new Map<string, Buffer>();
/** PBKDF2 once per (password, salt, iterations): a fuzz run repeats them. */
function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  const key = `${iterations}:${salt.toString('base64')}:${password}`;
  let s = salted.get(key);
  if (!s) {
    s = crypto.pbkdf2Sync(saslPrep(password), salt, iterations, 32, 'sha256');
    if (salted.size > 1000) salted.clear();
    salted.set(key, s);
  }
  return s;
}

/**
 * The GS2 flag: `n` (cannot bind), `y` (could bind, believes the server cannot), or `p`
 * (SCRAM-SHA-256-PLUS, binding to the `tls-server-end-point` data given).
 */
export type Gs2Flag = 'n' | 'y' | 'p';

export class RfcScramClient {
  readonly clientFirstBare: string;
  private readonly gs2Header: string;
  private authMessage = '';
  private serverKey = Buffer.alloc(0) as Buffer;
  /** The ClientKey of the password used for the proof (the server should recover it). */
  clientKey?: Buffer;

  constructor(
    user: string,
    private readonly password: string,
    private readonly gs2: Gs2Flag = 'n',
    nonce: string = crypto.randomBytes(18).toString('base64'),
    private readonly endPoint: Buffer = Buffer.alloc(0),
  ) {
    this.clientFirstBare = `n=${saslName(user)},r=${nonce}`;
    this.gs2Header = gs2 === 'p' ? 'p=tls-server-end-point,,' : `${gs2},,`;
  }

  /** SASLInitialResponse carrying client-first-message. */
  first(): Buffer {
    return wb.saslInitial(this.gs2 === 'p' ? 'SCRAM-SHA-256-PLUS' : 'SCRAM-SHA-256', `${this.gs2Header}${this.clientFirstBare}`);
  }

  /** SASLResponse carrying client-final-message, for the server-first-message received. */
  final(serverFirst: string): Buffer {
    const attrs = new Map(serverFirst.split(',').map((a) => [a[0], a.slice(2)] as const));
    const s = saltedPassword(this.password, Buffer.from(attrs.get('s') ?? '', 'base64'), Number(attrs.get('i')) || 1);
    const clientKey = hmac(s, 'Client Key');
    this.clientKey = clientKey;
    this.serverKey = hmac(s, 'Server Key');
    const cbind = Buffer.concat([Buffer.from(this.gs2Header), this.gs2 === 'p' ? this.endPoint : Buffer.alloc(0)]);
    const withoutProof = `c=${cbind.toString('base64')},r=${attrs.get('r')}`;
    this.authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(sha256(clientKey), this.authMessage);
    const proof = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    return wb.msg('p', `${withoutProof},p=${proof.toString('base64')}`);
  }

  /** True when server-final-message carries the ServerSignature for this exchange. */
  verify(serverFinal: string): boolean {
    const v = /^v=(.*)$/.exec(serverFinal)?.[1];
    return v !== undefined && Buffer.from(v, 'base64').equals(hmac(this.serverKey, this.authMessage));
  }
}

/** PasswordMessage answering AuthenticationMD5Password: md5(md5(password + user) + salt). */
export function md5Password(user: string, password: string, salt: Buffer): Buffer {
  return wb.msg('p', `md5${md5hex(Buffer.concat([Buffer.from(md5hex(password + user)), salt]))}\0`);
}

/** The server read exactly these bytes as one message. */
export function sameFrame(f: Frame | undefined, bytes: Buffer): boolean {
  return f?.kind === 'message' && f.body.length === bytes.length - 5 && Buffer.concat([Buffer.from(f.type, 'latin1'), bytes.subarray(1, 5), f.body]).equals(bytes);
}

/**
 * What a server may accept as the valid client-final message: the same text without the
 * proof (every byte of it is signed) and a proof that decodes to the same 32 bytes.
 */
export function sameScramFinal(f: Frame | undefined, valid: Buffer): boolean {
  if (f?.kind !== 'message' || f.type !== 'p') return false;
  const got = f.body.toString('utf8');
  const want = valid.subarray(5).toString('utf8');
  const [g, w] = [got.lastIndexOf(',p='), want.lastIndexOf(',p=')];
  return g >= 0 && got.slice(0, g) === want.slice(0, w) && Buffer.from(got.slice(g + 3), 'base64').equals(Buffer.from(want.slice(w + 3), 'base64'));
}

/** What a server may accept as the valid MD5 answer: the same string up to its terminator. */
export function sameMd5Answer(f: Frame | undefined, valid: Buffer): boolean {
  return f?.kind === 'message' && f.type === 'p' && f.body.toString('utf8').split('\0')[0] === valid.subarray(5).toString('utf8').split('\0')[0];
}
