/**
 * SCRAM keys for identities whose plaintext password we hold (session roles, `text`
 * users). PBKDF2 at 4096 iterations costs milliseconds of CPU; computing it once per
 * password rather than per login keeps connection storms cheap. Keyed by a hash of
 * (user, password) so a changed password gets fresh keys and the key itself reveals
 * nothing; bounded so it cannot grow without limit.
 */
import crypto from 'node:crypto';
import { scramKeys, type ScramKeys } from '../../auth/scramVerifier';

export class VerifierCache {
  private readonly map = new Map<string, ScramKeys>();

  constructor(private readonly max = 1000) {}

  get(user: string, password: string): ScramKeys {
    const key = crypto.createHash('sha256').update(`${user}\0${password}`).digest('base64');
    const hit = this.map.get(key);
    if (hit) {
      // Refresh recency (Map iteration order is insertion order).
      this.map.delete(key);
      this.map.set(key, hit);
      return hit;
    }
    const keys = scramKeys(password);
    this.map.set(key, keys);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
    return keys;
  }

  get size(): number {
    return this.map.size;
  }
}
