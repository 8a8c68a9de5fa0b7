/**
 * A credential's fingerprint: equal for the same credential, different after a rotation,
 * so the wire pool can key server connections by it and evict those using an old one.
 * It is an HMAC under a key drawn at process start, so it reveals nothing outside this
 * process (a plain hash of a weak password could be brute-forced from a log line).
 */
import crypto from 'node:crypto';
import { formatVerifier } from '../auth/scramVerifier';
import type { UserRecord, UserSecret } from './userEntry';

const KEY = crypto.randomBytes(32);

function material(secret: UserSecret): string {
  switch (secret.type) {
    case 'text':
      return secret.password;
    case 'md5':
      return secret.hash;
    case 'scram-sha-256':
      return formatVerifier(secret.keys);
  }
}

const memo = new WeakMap<UserSecret, Map<string, string>>();

export function credentialFingerprint(record: Pick<UserRecord, 'username' | 'secret'>): string {
  let byUser = memo.get(record.secret);
  const hit = byUser?.get(record.username);
  if (hit) return hit;
  const fp = crypto
    .createHmac('sha256', KEY)
    .update(`${record.username}\0${record.secret.type}\0${material(record.secret)}`)
    .digest('base64url')
    .slice(0, 22);
  if (!byUser) memo.set(record.secret, (byUser = new Map()));
  byUser.set(record.username, fp);
  return fp;
}
