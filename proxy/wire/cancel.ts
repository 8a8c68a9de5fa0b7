/**
 * Cancel keys. Each client gets its own random process id and secret key (never the
 * upstream's), so a client cannot cancel anyone else's query by guessing, and a cancel
 * reaches the upstream backend only while that client has a query running there
 * (pgbouncer#717: a late cancel must not hit the next query on a reused connection).
 */
import crypto from 'node:crypto';

export interface Cancellable {
  /** True while the client waits for ReadyForQuery from the upstream. */
  busy(): boolean;
  /** Sends a CancelRequest for the upstream backend on a new connection. */
  cancelUpstream(): void;
}

export type CancelOutcome = 'forwarded' | 'idle' | 'unknown';

/**
 * Keys from the CSPRNG, drawn 4 KB at a time: a synchronous randomBytes call per login
 * costs tens of microseconds. Each byte is handed out once.
 */
class RandomPool {
  private buf = Buffer.alloc(0);
  private at = 0;

  take(n: number): Buffer {
    if (this.at + n > this.buf.length) {
      this.buf = crypto.randomBytes(Math.max(4096, n));
      this.at = 0;
    }
    const out = Buffer.from(this.buf.subarray(this.at, this.at + n));
    this.buf.fill(0, this.at, this.at + n);
    this.at += n;
    return out;
  }
}

export class CancelRegistry {
  private readonly entries = new Map<number, { key: Buffer; target: Cancellable }>();
  private readonly random = new RandomPool();

  /** A fresh (pid, key) for a client; 3.2 clients get a 32-byte key, 3.0 clients 4 bytes. */
  register(target: Cancellable, keyLength: number): { pid: number; key: Buffer } {
    let pid: number;
    do pid = crypto.randomInt(1, 2 ** 31 - 1);
    while (this.entries.has(pid));
    const key = this.random.take(keyLength);
    this.entries.set(pid, { key, target });
    return { pid, key };
  }

  unregister(pid: number): void {
    this.entries.delete(pid);
  }

  cancel(pid: number, key: Buffer): CancelOutcome {
    const e = this.entries.get(pid);
    if (!e || e.key.length !== key.length || !crypto.timingSafeEqual(e.key, key)) return 'unknown';
    if (!e.target.busy()) return 'idle';
    e.target.cancelUpstream();
    return 'forwarded';
  }

  get size(): number {
    return this.entries.size;
  }
}
