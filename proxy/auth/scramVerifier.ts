/**
 * SCRAM-SHA-256 verifiers as PostgreSQL stores them, computed here so the plaintext
 * password never travels in DDL (where it could land in server logs).
 * Format: SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64>.
 */
import crypto from 'node:crypto';

export const DEFAULT_ITERATIONS = 4096;

export interface ScramKeys {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

function hmac(key: Buffer, data: string | Buffer): Buffer {
  return crypto.createHmac('sha256', key).update(data).digest();
}

/**
 * Passwords Mayfly generates are ASCII, for which SASLprep is the identity; for other
 * input we apply NFKC, the part of SASLprep that changes real passwords.
 */
export function saslPrep(password: string): string {
  return /^[\x21-\x7e]*$/.test(password) ? password : password.normalize('NFKC');
}

export function scramKeys(password: string, salt: Buffer = crypto.randomBytes(16), iterations = DEFAULT_ITERATIONS): ScramKeys {
  const salted = crypto.pbkdf2Sync(saslPrep(password), salt, iterations, 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  return {
    iterations,
    salt,
    storedKey: crypto.createHash('sha256').update(clientKey).digest(),
    serverKey: hmac(salted, 'Server Key'),
  };
}

export function formatVerifier(k: ScramKeys): string {
  return `SCRAM-SHA-256$${k.iterations}:${k.salt.toString('base64')}$${k.storedKey.toString('base64')}:${k.serverKey.toString('base64')}`;
}

export function scramVerifier(password: string, salt?: Buffer, iterations?: number): string {
  return formatVerifier(scramKeys(password, salt, iterations));
}

export function parseVerifier(text: string): ScramKeys | undefined {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(text);
  if (!m) return undefined;
  return {
    iterations: Number(m[1]),
    salt: Buffer.from(m[2]!, 'base64'),
    storedKey: Buffer.from(m[3]!, 'base64'),
    serverKey: Buffer.from(m[4]!, 'base64'),
  };
}

/** 32 random bytes as URL-safe base64: 256 bits from the CSPRNG, safe in env vars and DSNs. */
export function generatePassword(): string {
  return crypto.randomBytes(32).toString('base64url');
}
