/**
 * The relay's view of a session, kept while bytes stream through: message boundaries are
 * followed from the headers alone (bodies are never buffered), which is enough to know
 * whether a query is running, whether the server is idle outside a transaction, and
 * whether the client left the connection in a state that cannot be handed to someone else.
 * One pass per chunk with no callback per message: this runs for every packet relayed.
 */

const Q = 0x51; // Query
const S = 0x53; // Sync
const F = 0x46; // FunctionCall
const X = 0x58; // Terminate
const Z = 0x5a; // ReadyForQuery
/** Extended-protocol messages whose effects are pending until the next Sync. */
const EXTENDED = new Uint8Array(256);
for (const c of 'PBDECH') EXTENDED[c.charCodeAt(0)] = 1;

/** Header bookkeeping shared by both directions. */
abstract class StreamTracker {
  /** Body bytes of the current message still to come. */
  protected remaining = 0;
  /** Header bytes of the next message seen so far (0 = at a boundary). */
  private headerHave = 0;
  private headerType = 0;
  private headerLength = 0;

  /** True between messages: a message of our own injected here keeps the stream valid. */
  get atBoundary(): boolean {
    return this.remaining === 0 && this.headerHave === 0;
  }

  /**
   * A complete header went by; `at` is the offset just after it in the chunk (may equal
   * its length); `split` when it began in an earlier chunk (already forwarded). Returns
   * -1 to stop forwarding at the header's start.
   */
  protected abstract header(type: number, chunk: Buffer, at: number, split: boolean): number;

  /**
   * Follows one chunk. Returns the offset where the stream should stop being forwarded
   * (a header's handler may cut it), or the chunk's length.
   */
  protected scan(chunk: Buffer): number {
    const end = chunk.length;
    let i = 0;
    while (i < end) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, end - i);
        this.remaining -= n;
        i += n;
        continue;
      }
      if (this.headerHave === 0 && end - i >= 5) {
        // The common case: the whole header is in this chunk.
        const type = chunk[i]!;
        const length = chunk.readInt32BE(i + 1);
        // A bogus length only confuses our bookkeeping; the receiving side judges the bytes.
        this.remaining = length > 4 ? length - 4 : 0;
        if (this.header(type, chunk, i + 5, false) < 0) return i;
        i += 5;
        continue;
      }
      const b = chunk[i++]!;
      if (this.headerHave === 0) {
        this.headerType = b;
        this.headerLength = 0;
      } else this.headerLength = (this.headerLength << 8) | b;
      if (++this.headerHave === 5) {
        this.headerHave = 0;
        this.remaining = this.headerLength > 4 ? this.headerLength - 4 : 0;
        // Such a header always began in an earlier chunk: this one starts with its tail.
        if (this.header(this.headerType, chunk, i, true) < 0) return 0;
      }
    }
    return end;
  }
}

/** Client -> server. */
export class FrontendTracker extends StreamTracker {
  /** Query, Sync and FunctionCall messages sent: each is answered by one ReadyForQuery. */
  requests = 0;
  /** Extended-protocol messages sent since the last Sync: the server holds unfinished work. */
  unsynced = false;
  /** The client said goodbye (Terminate); nothing after it is forwarded. */
  terminated = false;

  /**
   * Follows a chunk; returns how many of its bytes to forward: all of them, or those
   * before a Terminate (which Mayfly keeps, so the server connection can be reused).
   */
  feed(chunk: Buffer): number {
    if (this.terminated) return 0;
    return this.scan(chunk);
  }

  protected header(type: number, _chunk: Buffer, _at: number, split: boolean): number {
    if (type === Q || type === F) this.requests++;
    else if (type === S) {
      this.requests++;
      this.unsynced = false;
    } else if (type === X) {
      this.terminated = true;
      // Part of the Terminate already reached the server: it now waits for the rest.
      if (split) this.unsynced = true;
      return -1;
    } else if (EXTENDED[type]) this.unsynced = true;
    return 0;
  }
}

/** Server -> client. */
export class BackendTracker extends StreamTracker {
  /** ReadyForQuery messages received. */
  readies = 0;
  /** Transaction status of the last ReadyForQuery: `I` idle, `T` in a transaction, `E` failed one. */
  status = 0x49; // 'I'
  private statusNext = false;

  feed(chunk: Buffer): void {
    // ReadyForQuery's status byte may arrive in the next chunk.
    if (this.statusNext && chunk.length > 0) {
      this.statusNext = false;
      this.status = chunk[0]!;
    }
    this.scan(chunk);
  }

  protected header(type: number, chunk: Buffer, at: number): number {
    if (type === Z) {
      this.readies++;
      if (at < chunk.length) this.status = chunk[at]!;
      else this.statusNext = true;
    }
    return 0;
  }
}
