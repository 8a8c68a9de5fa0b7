/** Encoders for frontend messages Mayfly sends upstream when it logs in as the session role. */
import { CANCEL_REQUEST_CODE, SSL_REQUEST_CODE } from './codes';
import { message } from './backend';

const cstr = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);

/** Startup packet: Int32 length + Int32 version + name/value pairs + NUL (no type byte). */
export function startupMessage(params: Record<string, string>, minor = 0): Buffer {
  const body = Buffer.concat([...Object.entries(params).flatMap(([k, v]) => [cstr(k), cstr(v)]), Buffer.from([0])]);
  const out = Buffer.allocUnsafe(8 + body.length);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE((3 << 16) | minor, 4);
  body.copy(out, 8);
  return out;
}

export function sslRequest(): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeInt32BE(8, 0);
  out.writeInt32BE(SSL_REQUEST_CODE, 4);
  return out;
}

export function cancelRequest(pid: number, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(12 + key.length);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  out.writeInt32BE(pid, 8);
  key.copy(out, 12);
  return out;
}

export const passwordMessage = (password: string): Buffer => message('p', cstr(password));
export function saslInitialResponse(mechanism: string, data: string): Buffer {
  const d = Buffer.from(data, 'utf8');
  const len = Buffer.allocUnsafe(4);
  len.writeInt32BE(d.length, 0);
  return message('p', Buffer.concat([cstr(mechanism), len, d]));
}
export const saslResponse = (data: string): Buffer => message('p', Buffer.from(data, 'utf8'));
export const terminate = (): Buffer => message('X');
