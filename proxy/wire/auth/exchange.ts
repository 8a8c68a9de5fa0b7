/**
 * Runs the client-facing authentication exchange over a connection in message framing:
 * SCRAM-SHA-256 (real or mock) or MD5. Returns whether the client proved its identity;
 * unknown users and wrong passwords take the identical path and get the identical answer.
 * Over TLS, SCRAM-SHA-256-PLUS is offered first, for every SCRAM exchange alike (real or
 * mock), so the offer reveals nothing about the user.
 */
import { authenticationMD5, authenticationSASL, authenticationSASLContinue, authenticationSASLFinal } from '../protocol/backend';
import type { Credential } from '../identity';
import { md5Salt, md5Verify } from './md5';
import { mockKeys, parseSaslInitial, SCRAM_MECHANISM, SCRAM_PLUS_MECHANISM, ScramServer } from './scramServer';
import type { Frame } from '../protocol/frames';

export type AuthOutcome =
  /**
   * `clientKey`: recovered from a SCRAM proof, for pass-through logins (memory only).
   * `scram-plus`: SCRAM-SHA-256-PLUS, the proof covered our TLS certificate.
   */
  | { ok: true; method: 'scram' | 'scram-plus' | 'md5'; clientKey?: Buffer }
  /** `abandoned`: the client hung up before answering (psql does this to prompt for a password). */
  | { ok: false; reason: string; abandoned?: boolean; protocol?: boolean };

export interface AuthIo {
  write(data: Buffer): void;
  next(): Promise<Frame | Error>;
}

async function password(io: AuthIo): Promise<Buffer | AuthOutcome> {
  const f = await io.next();
  if (f instanceof Error) return { ok: false, reason: 'client disconnected during authentication', abandoned: true };
  if (f.kind === 'error') return { ok: false, reason: f.message, protocol: true };
  if (f.kind !== 'message' || f.type !== 'p')
    return { ok: false, reason: `expected password response, got message type ${f.kind === 'message' ? f.type : f.kind}`, protocol: true };
  return f.body;
}

/**
 * `endPoint`: the `tls-server-end-point` binding data of this TLS connection (see
 * channelBinding.ts); absent in plaintext, or when our certificate cannot be bound to.
 */
export async function authenticate(user: string, credential: Credential, io: AuthIo, endPoint?: Buffer): Promise<AuthOutcome> {
  if (credential.method === 'md5') {
    const salt = md5Salt();
    io.write(authenticationMD5(salt));
    const body = await password(io);
    if (!Buffer.isBuffer(body)) return body;
    const end = body.indexOf(0);
    const answer = body.toString('utf8', 0, end < 0 ? body.length : end);
    return md5Verify(credential.secret, salt, answer) ? { ok: true, method: 'md5' } : { ok: false, reason: 'password does not match' };
  }
  const keys = credential.method === 'scram' ? credential.keys : mockKeys(user);
  const mechanisms = endPoint ? [SCRAM_PLUS_MECHANISM, SCRAM_MECHANISM] : [SCRAM_MECHANISM];
  io.write(authenticationSASL(mechanisms));
  const first = await password(io);
  if (!Buffer.isBuffer(first)) return first;
  const initial = parseSaslInitial(first);
  if (!initial) return { ok: false, reason: 'malformed SASLInitialResponse', protocol: true };
  if (!mechanisms.includes(initial.mechanism)) return { ok: false, reason: 'client selected an invalid SASL authentication mechanism', protocol: true };
  const server = new ScramServer(keys, undefined, { ...(endPoint ? { endPoint } : {}), plus: initial.mechanism === SCRAM_PLUS_MECHANISM });
  const serverFirst = server.clientFirst(initial.data);
  if (!serverFirst.ok) return { ok: false, reason: serverFirst.reason, protocol: true };
  io.write(authenticationSASLContinue(serverFirst.value));
  const final = await password(io);
  if (!Buffer.isBuffer(final)) return final;
  const result = server.clientFinal(final.toString('utf8'));
  if (!result.ok) return { ok: false, reason: credential.method === 'mock' ? 'unknown user' : result.reason };
  io.write(authenticationSASLFinal(result.value.serverFinal));
  return { ok: true, method: initial.mechanism === SCRAM_PLUS_MECHANISM ? 'scram-plus' : 'scram', clientKey: result.value.clientKey };
}
