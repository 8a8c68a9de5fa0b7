/**
 * Byte fixtures for wire-protocol tests, built by hand (not with the encoders under test)
 * so a bug in an encoder cannot hide the same bug in the decoder.
 */
const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
};
const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');

/** Int32 length (counting itself) + body: a startup-phase packet. */
export function startupPacket(body: Buffer): Buffer {
  return Buffer.concat([int32(body.length + 4), body]);
}

export function startup(params: Record<string, string>, major = 3, minor = 0): Buffer {
  return startupPacket(Buffer.concat([int32((major << 16) | minor), ...Object.entries(params).flatMap(([k, v]) => [cstr(k), cstr(v)]), Buffer.from([0])]));
}

export const ssl = (): Buffer => startupPacket(int32(80877103));
export const gssenc = (): Buffer => startupPacket(int32(80877104));
export const cancel = (pid: number, key: Buffer): Buffer => startupPacket(Buffer.concat([int32(80877102), int32(pid), key]));

/** Type byte + Int32 length + body: a regular message. */
export function msg(type: string, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const b = Buffer.from(body);
  return Buffer.concat([Buffer.from(type), int32(b.length + 4), b]);
}

export const password = (p: string): Buffer => msg('p', cstr(p));
export const saslInitial = (mech: string, data: string): Buffer =>
  msg('p', Buffer.concat([cstr(mech), int32(Buffer.byteLength(data)), Buffer.from(data)]));
export const query = (sql: string): Buffer => msg('Q', cstr(sql));

/** Splits a buffer into chunks at the given offsets (to test partial reads). */
export function chunks(buf: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    if (c <= at || c >= buf.length) continue;
    out.push(buf.subarray(at, c));
    at = c;
  }
  out.push(buf.subarray(at));
  return out;
}
