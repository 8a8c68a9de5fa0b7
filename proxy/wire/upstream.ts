/**
 * Logs in to the real PostgreSQL as the session role, on the client's behalf. Returns the
 * open connection once the server said ReadyForQuery, together with what the client must
 * see (the server's ParameterStatus values and login notices) and the backend's cancel
 * key — or the server's own ErrorResponse, which the client then receives verbatim.
 */
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
import { FrameDecoder } from './protocol/frames';
import { FrameReader } from './frameReader';
import { SocketInput } from './socketInput';
import { AUTH_CLEARTEXT, AUTH_MD5, AUTH_OK, AUTH_SASL, AUTH_SASL_CONTINUE, AUTH_SASL_FINAL } from './protocol/codes';
import { message, parameterStatus, parseFields } from './protocol/backend';
import { passwordMessage, saslInitialResponse, saslResponse, sslRequest, startupMessage } from './protocol/frontend';
import { md5Response, md5Secret } from './auth/md5';
import { ScramClient } from './auth/scramClient';
import type { SslMode } from '../config/dsn';
import type { ScramKeys } from '../auth/scramVerifier';

/** What Mayfly logs in upstream with: a password, an MD5 secret, or a recovered SCRAM ClientKey. */
export type UpstreamCredential = { password: string } | { md5: string } | { scram: { clientKey: Buffer; keys: ScramKeys } };

export interface UpstreamTarget {
  host: string;
  port: number;
  user: string;
  credential: UpstreamCredential;
  database: string;
  /** Other startup parameters to pass on (application_name, options, client_encoding, ...). */
  params: Record<string, string>;
  sslmode: SslMode;
  sslrootcert?: string;
}

export interface Upstream {
  socket: net.Socket;
  /** The socket's incoming bytes; its handler says who owns the connection now. */
  input: SocketInput;
  /** The server's ParameterStatus values in the order it sent them (a reset updates them). */
  params: Map<string, string>;
  /** `params` encoded as ParameterStatus messages, once per change (see parameterStatusBytes). */
  paramBytes?: Buffer;
  /** NoticeResponse messages of the login, raw (only the first client sees them). */
  notices: Buffer[];
  backendPid: number;
  backendKey: Buffer;
  /** Bytes the server sent after ReadyForQuery that nobody consumed yet (normally none). */
  rest: Buffer;
}

/** Until a client takes over the connection, whatever the server sends is kept for it (a copy: the read buffer is reused). */
export const keepUnread =
  (u: Upstream) =>
  (chunk: Buffer): void => {
    u.rest = Buffer.concat([u.rest, chunk]);
  };

/** The ParameterStatus messages a client of this connection is shown at login. */
export function parameterStatusBytes(u: Upstream): Buffer {
  u.paramBytes ??= Buffer.concat([...u.params].map(([name, value]) => parameterStatus(name, value)));
  return u.paramBytes;
}

export type UpstreamResult =
  | { ok: true; upstream: Upstream }
  /** `error` is the server's ErrorResponse (raw); otherwise `message` describes a network failure. */
  | { ok: false; error?: Buffer; fields?: Map<string, string>; message: string };

function rawConnect(t: UpstreamTarget): net.Socket {
  // A host starting with "/" is a Unix-socket directory, as in libpq.
  return t.host.startsWith('/') ? net.connect({ path: `${t.host}/.s.PGSQL.${t.port}` }) : net.connect({ host: t.host, port: t.port });
}

async function negotiateTls(socket: net.Socket, t: UpstreamTarget): Promise<net.Socket | Error> {
  if (t.sslmode === 'disable' || t.sslmode === 'allow') return socket;
  socket.write(sslRequest());
  const answer = await new Promise<Buffer | Error>((resolve) => {
    socket.once('data', resolve);
    socket.once('error', resolve);
    socket.once('close', () => resolve(new Error('the server closed the connection')));
  });
  socket.removeAllListeners('data').removeAllListeners('error').removeAllListeners('close');
  if (answer instanceof Error) return answer;
  if (answer.length !== 1) return new Error('unexpected answer to SSLRequest');
  if (answer[0] === 0x4e /* N */) return t.sslmode === 'prefer' ? socket : new Error('the server does not support TLS, but sslmode requires it');
  if (answer[0] !== 0x53 /* S */) return new Error('unexpected answer to SSLRequest');
  const verify = t.sslmode === 'verify-ca' || t.sslmode === 'verify-full';
  const secure = tls.connect({
    socket,
    rejectUnauthorized: verify,
    ...(t.sslrootcert ? { ca: fs.readFileSync(t.sslrootcert, 'utf8') } : {}),
    ...(t.sslmode === 'verify-full' && !net.isIP(t.host) ? { servername: t.host } : {}),
    ...(t.sslmode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
  });
  return new Promise((resolve) => {
    secure.once('secureConnect', () => resolve(secure));
    secure.once('error', resolve);
  });
}

export async function connectUpstream(t: UpstreamTarget, timeoutMs = 15_000): Promise<UpstreamResult> {
  const raw = rawConnect(t);
  const timer = setTimeout(() => raw.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  try {
    const connected = await new Promise<Error | undefined>((resolve) => {
      raw.once('connect', () => resolve(undefined));
      raw.once('error', resolve);
    });
    raw.removeAllListeners('error');
    if (connected) return { ok: false, message: connected.message };
    const socket = await negotiateTls(raw, t);
    if (socket instanceof Error) {
      raw.destroy();
      return { ok: false, message: socket.message };
    }
    socket.setNoDelay(true);
    return await login(socket, new SocketInput(socket, () => undefined).begin(), t);
  } finally {
    clearTimeout(timer);
  }
}

async function login(socket: net.Socket, input: SocketInput, t: UpstreamTarget): Promise<UpstreamResult> {
  // The server is trusted to frame correctly; its messages can be large (notices with detail).
  const reader = new FrameReader(input, new FrameDecoder('message', 64 * 1024 * 1024));
  const failWith = (msg: string): UpstreamResult => {
    reader.detach();
    socket.destroy();
    return { ok: false, message: msg };
  };
  socket.write(startupMessage({ user: t.user, database: t.database, ...t.params }));
  const params = new Map<string, string>();
  const notices: Buffer[] = [];
  let scram: ScramClient | undefined;
  let backendPid = 0;
  let backendKey = Buffer.alloc(0);
  for (;;) {
    const f = await reader.next();
    if (f instanceof Error) return failWith(f.message);
    if (f.kind !== 'message') return failWith(f.kind === 'error' ? f.message : 'unexpected frame');
    switch (f.type) {
      case 'R': {
        if (f.body.length < 4) return failWith('malformed authentication request');
        const code = f.body.readInt32BE(0);
        if (code === AUTH_OK) break;
        const c = t.credential;
        if (code === AUTH_CLEARTEXT) {
          if (!('password' in c)) return failWith('the server asks for a cleartext password, which Mayfly does not hold for this user');
          socket.write(passwordMessage(c.password));
        } else if (code === AUTH_MD5) {
          const secret = 'password' in c ? md5Secret(t.user, c.password) : 'md5' in c ? c.md5 : undefined;
          if (!secret) return failWith('the server asks for MD5, which needs the password or its MD5 secret');
          socket.write(passwordMessage(md5Response(secret, f.body.subarray(4, 8))));
        } else if (code === AUTH_SASL) {
          const mechs = f.body.toString('utf8', 4).split('\0');
          if (!mechs.includes('SCRAM-SHA-256')) return failWith('the server offers no SASL mechanism Mayfly supports');
          if ('md5' in c) return failWith('the server asks for SCRAM-SHA-256, which an MD5 secret cannot answer');
          scram = new ScramClient('password' in c ? c.password : c.scram);
          socket.write(saslInitialResponse('SCRAM-SHA-256', scram.first()));
        } else if (code === AUTH_SASL_CONTINUE && scram) {
          const final = scram.final(f.body.toString('utf8', 4));
          if (final instanceof Error) return failWith(final.message);
          socket.write(saslResponse(final));
        } else if (code === AUTH_SASL_FINAL && scram) {
          if (!scram.verify(f.body.toString('utf8', 4))) return failWith('the server failed SCRAM verification');
        } else return failWith(`the server asked for an unsupported authentication method (${code})`);
        break;
      }
      case 'S': {
        const [name, value] = f.body.toString('utf8').split('\0');
        if (name) params.set(name, value ?? '');
        break;
      }
      case 'N':
        // Notices during login are normal (PostgreSQL 19 warns after MD5 logins).
        notices.push(message(f.type, f.body));
        break;
      case 'K':
        if (f.body.length < 8) return failWith('malformed BackendKeyData');
        backendPid = f.body.readInt32BE(0);
        backendKey = Buffer.from(f.body.subarray(4));
        break;
      case 'E': {
        const fields = parseFields(f.body);
        reader.detach();
        socket.destroy();
        return { ok: false, error: message('E', f.body), fields, message: fields.get('M') ?? 'the server refused the login' };
      }
      case 'Z': {
        const upstream: Upstream = { socket, input, params, notices, backendPid, backendKey, rest: reader.detach() };
        input.handler = keepUnread(upstream);
        return { ok: true, upstream };
      }
      default:
        return failWith(`unexpected message "${f.type}" during login`);
    }
  }
}
