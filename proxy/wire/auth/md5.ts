/**
 * MD5 password authentication. The stored secret is `md5` + hex(md5(password + user));
 * the client answers `md5` + hex(md5(storedHex + salt)). A fresh random salt per
 * connection keeps a captured answer from being replayed (Springtail used one per user).
 */
import crypto from 'node:crypto';

const md5hex = (data: Buffer | string): string => crypto.createHash('md5').update(data).digest('hex');

export function md5Secret(user: string, password: string): string {
  return `md5${md5hex(password + user)}`;
}

export const md5Salt = (): Buffer => crypto.randomBytes(4);

/** What a client sends for this stored secret and salt. */
export function md5Response(secret: string, salt: Buffer): string {
  return `md5${md5hex(Buffer.concat([Buffer.from(secret.slice(3)), salt]))}`;
}

export function md5Verify(secret: string, salt: Buffer, answer: string): boolean {
  const expected = Buffer.from(md5Response(secret, salt));
  const got = Buffer.from(answer);
  return got.length === expected.length && crypto.timingSafeEqual(got, expected);
}
