/**
 * Startup-phase packets: StartupMessage (3.0, 3.2, newer minors), SSLRequest,
 * GSSENCRequest and CancelRequest. Parsing never throws; a bad packet is an error value
 * carrying the SQLSTATE and message the client gets in its FATAL ErrorResponse.
 */
import { CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, PROTOCOL_MAJOR, SQLSTATE, SSL_REQUEST_CODE } from './codes';

export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; pid: number; key: Buffer }
  | {
      kind: 'startup';
      major: number;
      minor: number;
      /** Every parameter, including `user` and `database` (which defaults to the user). */
      params: Map<string, string>;
      user: string;
      database: string;
      /** `_pq_.` protocol options the client asked for (we support none). */
      protocolOptions: string[];
    }
  | { kind: 'error'; code: string; message: string };

/** A parsed StartupMessage. */
export type Startup = Extract<StartupPacket, { kind: 'startup' }>;

const fail = (message: string, code: string = SQLSTATE.protocolViolation): StartupPacket => ({ kind: 'error', code, message });

/** `packet` is the whole frame, length word included. */
export function parseStartupPacket(packet: Buffer): StartupPacket {
  if (packet.length < 8 || packet.readInt32BE(0) !== packet.length) return fail('invalid length of startup packet');
  const code = packet.readInt32BE(4);
  if (code === SSL_REQUEST_CODE) return packet.length === 8 ? { kind: 'ssl' } : fail('invalid length of SSLRequest');
  if (code === GSSENC_REQUEST_CODE) return packet.length === 8 ? { kind: 'gssenc' } : fail('invalid length of GSSENCRequest');
  if (code === CANCEL_REQUEST_CODE) {
    // 3.0 keys are 4 bytes; 3.2 allows 4 to 256.
    const keyLen = packet.length - 12;
    if (keyLen < 4 || keyLen > 256) return fail('invalid length of CancelRequest');
    return { kind: 'cancel', pid: packet.readInt32BE(8), key: Buffer.from(packet.subarray(12)) };
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== PROTOCOL_MAJOR)
    return fail(`unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.2`, SQLSTATE.featureNotSupported);
  const params = new Map<string, string>();
  const protocolOptions: string[] = [];
  let at = 8;
  for (;;) {
    const keyEnd = packet.indexOf(0, at);
    if (keyEnd < 0) return fail('invalid startup packet layout: expected terminator as last byte');
    if (keyEnd === at) {
      if (keyEnd !== packet.length - 1) return fail('invalid startup packet layout: expected terminator as last byte');
      break;
    }
    const valEnd = packet.indexOf(0, keyEnd + 1);
    if (valEnd < 0) return fail('invalid startup packet layout: expected terminator as last byte');
    const key = packet.toString('utf8', at, keyEnd);
    const value = packet.toString('utf8', keyEnd + 1, valEnd);
    if (key.startsWith('_pq_.')) protocolOptions.push(key);
    else params.set(key, value);
    at = valEnd + 1;
  }
  const user = params.get('user');
  if (!user) return fail('no PostgreSQL user name specified in startup packet', SQLSTATE.invalidAuthorization);
  const database = params.get('database') || user;
  params.set('database', database);
  return { kind: 'startup', major, minor, params, user, database, protocolOptions };
}

/**
 * Splits a libpq `options` string into `-c name=value` / `--name=value` settings and the
 * words we did not understand. Backslash escapes a character, as in PostgreSQL.
 */
export function parseOptions(options: string): { settings: Map<string, string>; words: string[] } {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < options.length; i++) {
    const ch = options[i]!;
    if (ch === '\\' && i + 1 < options.length) {
      cur += options[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  const settings = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    let setting: string | undefined;
    if (w === '-c' && i + 1 < words.length) setting = words[++i];
    else if (w.startsWith('-c') && w.length > 2) setting = w.slice(2);
    else if (w.startsWith('--') && w.includes('=')) setting = w.slice(2);
    const eq = setting?.indexOf('=') ?? -1;
    if (setting !== undefined && eq > 0) settings.set(setting.slice(0, eq).replace(/-/g, '_'), setting.slice(eq + 1));
    else rest.push(w);
  }
  return { settings, words: rest };
}

/** Builds an `options` string back from settings (escaping spaces and backslashes). */
export function formatOptions(settings: Map<string, string>): string {
  const esc = (s: string): string => s.replace(/([\\\s])/g, '\\$1');
  return [...settings].map(([k, v]) => `-c ${esc(k)}=${esc(v)}`).join(' ');
}
