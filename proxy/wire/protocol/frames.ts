/**
 * Streaming framing. Startup-phase packets are `Int32 length` + body (no type byte);
 * every later message is `Byte1 type` + `Int32 length` + body. One TCP chunk may hold
 * several messages or a fragment of one, so the decoder buffers only until a whole frame
 * is there, and refuses a length beyond the limit before buffering it (bounded memory).
 * Bad input produces an error value, never an exception: a hostile client must not be
 * able to throw inside our data handler.
 */
import { SQLSTATE } from './codes';

export type Frame =
  | { kind: 'startup'; packet: Buffer }
  | { kind: 'message'; type: string; body: Buffer }
  | { kind: 'error'; code: string; message: string };

export type FrameMode = 'startup' | 'message';

export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private failed = false;

  constructor(
    public mode: FrameMode,
    /** Largest frame accepted, counting the length word (and not the type byte). */
    public maxLength: number,
  ) {}

  /** Bytes received but not yet returned as a frame. */
  get buffered(): number {
    return this.buf.length;
  }

  /** Appends a chunk and returns every complete frame; after an error, nothing more. */
  push(chunk: Buffer): Frame[] {
    if (this.failed) return [];
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Frame[] = [];
    for (;;) {
      const f = this.next();
      if (!f) break;
      out.push(f);
      if (f.kind === 'error') break;
    }
    return out;
  }

  /** Appends without decoding, so the caller can switch modes between frames. */
  append(chunk: Buffer): void {
    if (!this.failed) this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
  }

  /** One frame from the buffer, or undefined when it is incomplete. */
  next(): Frame | undefined {
    if (this.failed) return undefined;
    const header = this.mode === 'startup' ? 4 : 5;
    if (this.buf.length < header) return undefined;
    const len = this.buf.readInt32BE(header - 4);
    const min = this.mode === 'startup' ? 8 : 4;
    if (len < min || len > this.maxLength) {
      this.failed = true;
      return {
        kind: 'error',
        code: SQLSTATE.protocolViolation,
        message: this.mode === 'startup' ? `invalid length of startup packet (${len})` : `invalid message length (${len})`,
      };
    }
    const total = header - 4 + len;
    if (this.buf.length < total) return undefined;
    const frame = this.buf.subarray(0, total);
    this.buf = this.buf.subarray(total);
    if (this.mode === 'startup') return { kind: 'startup', packet: Buffer.from(frame) };
    return { kind: 'message', type: String.fromCharCode(frame[0]!), body: Buffer.from(frame.subarray(5)) };
  }

  /** Hands over the unread bytes (e.g. to the relay) and empties the decoder. */
  take(): Buffer {
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    return rest;
  }
}

/**
 * Follows message boundaries in a relayed byte stream without buffering bodies, so
 * large DataRow/CopyData messages stream through. Reports each message type as its
 * header passes by (the relay uses it to know when a query is running).
 */
export class MessageBoundaryTracker {
  private remaining = 0;
  private header = Buffer.alloc(5);
  private headerHave = 0;

  /** True between messages: injecting a message of our own here keeps the stream valid. */
  get atBoundary(): boolean {
    return this.remaining === 0 && this.headerHave === 0;
  }

  feed(chunk: Buffer, onType: (type: number) => void): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i);
        this.remaining -= n;
        i += n;
        continue;
      }
      const n = Math.min(5 - this.headerHave, chunk.length - i);
      chunk.copy(this.header, this.headerHave, i, i + n);
      this.headerHave += n;
      i += n;
      if (this.headerHave === 5) {
        this.headerHave = 0;
        onType(this.header[0]!);
        // A bogus length only confuses our bookkeeping; the server judges the bytes.
        this.remaining = Math.max(0, this.header.readInt32BE(1) - 4);
      }
    }
  }
}
