/**
 * The SCRAM-SHA-256 verifier of a new password, computed off the event loop: PBKDF2 with
 * 4096 iterations runs on libuv's thread pool (crypto.pbkdf2), so it overlaps the
 * pre-flight's network round trips instead of blocking them (and other requests). Same
 * output as proxy/auth/scramVerifier.ts's scramVerifier for the same salt.
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import { DEFAULT_ITERATIONS, formatVerifier, saslPrep } from '../auth/scramVerifier';

const pbkdf2 = promisify(crypto.pbkdf2);

function hmac(key: Buffer, data: string): Buffer {
  return crypto.createHmac('sha256', key).update(data).digest();
}

export async function scramVerifierAsync(password: string, salt: Buffer = crypto.randomBytes(16), iterations = DEFAULT_ITERATIONS): Promise<string> {
  const salted = await pbkdf2(saslPrep(password), salt, iterations, 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  return formatVerifier({
    iterations,
    salt,
    storedKey: crypto.createHash('sha256').update(clientKey).digest(),
    serverKey: hmac(salted, 'Server Key'),
  });
}
