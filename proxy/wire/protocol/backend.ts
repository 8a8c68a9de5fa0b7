/** Encoders for backend messages Mayfly sends itself (auth, errors, session start). */
import {
  AUTH_CLEARTEXT,
  AUTH_MD5,
  AUTH_OK,
  AUTH_SASL,
  AUTH_SASL_CONTINUE,
  AUTH_SASL_FINAL,
} from './codes';

/** `type` + Int32 length (counting itself) + body. */
export function message(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type.charCodeAt(0);
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

const int32 = (n: number): Buffer => {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n, 0);
  return b;
};
const cstr = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);

export const authenticationOk = (): Buffer => message('R', int32(AUTH_OK));
export const authenticationCleartext = (): Buffer => message('R', int32(AUTH_CLEARTEXT));
export const authenticationMD5 = (salt: Buffer): Buffer => message('R', Buffer.concat([int32(AUTH_MD5), salt]));
export const authenticationSASL = (mechanisms: string[]): Buffer =>
  message('R', Buffer.concat([int32(AUTH_SASL), ...mechanisms.map(cstr), Buffer.from([0])]));
export const authenticationSASLContinue = (data: string | Buffer): Buffer =>
  message('R', Buffer.concat([int32(AUTH_SASL_CONTINUE), Buffer.from(data)]));
export const authenticationSASLFinal = (data: string | Buffer): Buffer =>
  message('R', Buffer.concat([int32(AUTH_SASL_FINAL), Buffer.from(data)]));

export interface ErrorFields {
  severity: 'FATAL' | 'ERROR' | 'WARNING' | 'NOTICE' | 'LOG' | 'INFO' | 'DEBUG' | 'PANIC';
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

function fields(f: ErrorFields): Buffer {
  const parts: Buffer[] = [];
  const add = (tag: string, value: string | undefined): void => {
    if (value !== undefined) parts.push(Buffer.from(tag), cstr(value));
  };
  add('S', f.severity);
  add('V', f.severity); // non-localized severity, as PostgreSQL 9.6+ sends
  add('C', f.code);
  add('M', f.message);
  add('D', f.detail);
  add('H', f.hint);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export const errorResponse = (f: ErrorFields): Buffer => message('E', fields(f));
export const noticeResponse = (f: ErrorFields): Buffer => message('N', fields(f));
export const fatal = (code: string, msg: string, hint?: string): Buffer =>
  errorResponse({ severity: 'FATAL', code, message: msg, ...(hint ? { hint } : {}) });

export const parameterStatus = (name: string, value: string): Buffer => message('S', Buffer.concat([cstr(name), cstr(value)]));
export const backendKeyData = (pid: number, key: Buffer): Buffer => message('K', Buffer.concat([int32(pid), key]));
export const readyForQuery = (status: 'I' | 'T' | 'E'): Buffer => message('Z', Buffer.from(status));
export const negotiateProtocolVersion = (newestMinor: number, unsupported: string[]): Buffer =>
  message('v', Buffer.concat([int32((3 << 16) | newestMinor), int32(unsupported.length), ...unsupported.map(cstr)]));

/** Parses an ErrorResponse/NoticeResponse body into its fields (tag letter -> value). */
export function parseFields(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const tag = String.fromCharCode(body[at]!);
    const end = body.indexOf(0, at + 1);
    if (end < 0) break;
    out.set(tag, body.toString('utf8', at + 1, end));
    at = end + 1;
  }
  return out;
}
