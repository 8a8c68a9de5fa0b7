/**
 * Failed logins per (user, source address) as token buckets: each failure takes a token,
 * tokens come back at a steady rate, and with none left the next attempt is refused
 * before any password is checked. Slows online guessing without locking anyone out for long.
 */
export class FailureRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  /** Size above which full buckets are dropped. */
  private pruneAt = 10_000;

  constructor(
    private readonly capacity = 10,
    private readonly refillPerSecond = 1 / 6,
    private readonly now: () => number = Date.now,
  ) {}

  private bucket(key: string): { tokens: number; at: number } {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.capacity, at: t };
    b.tokens = Math.min(this.capacity, b.tokens + ((t - b.at) / 1000) * this.refillPerSecond);
    b.at = t;
    return b;
  }

  /** True when `key` may try to authenticate now. */
  allowed(key: string): boolean {
    return this.bucket(key).tokens >= 1;
  }

  recordFailure(key: string): void {
    const b = this.bucket(key);
    b.tokens = Math.max(0, b.tokens - 1);
    this.buckets.set(key, b);
    // Full buckets carry no information; drop them so the map stays small. Client-chosen user
    // names can fill the map, so scan only when it doubled since the last scan (amortized O(1)).
    if (this.buckets.size > this.pruneAt) {
      const t = this.now();
      for (const [k, v] of this.buckets) if (v.tokens + ((t - v.at) / 1000) * this.refillPerSecond >= this.capacity) this.buckets.delete(k);
      this.pruneAt = Math.max(10_000, 2 * this.buckets.size);
    }
  }
}
