/**
 * Incoming bytes of a socket, handed to whichever consumer currently owns the connection
 * (login, relay, reset, the idle pool), swapped without touching the socket's listeners.
 *
 * Why not 'data' events: for every read Node allocates a 64 KB buffer, shrinks it, wraps
 * it and pushes it through the Readable machinery. On a tight SELECT loop that is a large
 * part of the proxy's CPU per query. A plain TCP socket can instead read into one buffer
 * of its own, reused for every read — what `net.connect`'s public `onread` option does.
 * There is no public way to switch an already accepted socket to it, so this sets the
 * same internal fields that option sets (streamInternals.ts), and the handle's read
 * callback hands a read's bytes straight to the consumer (end of stream and errors still
 * go through Node's own callback). Where the internals are missing (another Node version,
 * TLS sockets) the consumer simply gets 'data' chunks. Either way the chunk is only valid
 * during the call: a consumer that keeps bytes copies them, and a consumer that writes
 * the chunk on must not read again until the write has left the process (see relay.ts).
 */
import net from 'node:net';
import tls from 'node:tls';
import { handleOf, streamWrap, userBufferFields as fields } from './streamInternals';

export type ChunkHandler = (chunk: Buffer) => void;

/**
 * Each socket's buffer (one read's worth), by default as large as Node's own reads.
 * Clients mostly send small messages, so their side can use less: with a thousand idle
 * clients these buffers are most of the proxy's memory.
 */
export const READ_BUFFER = 64 * 1024;

export class SocketInput {
  /** True when chunks live in a reused buffer (copy what you keep). */
  readonly reused: boolean;

  constructor(
    readonly socket: net.Socket,
    /** Receives every chunk from now on; reassign to hand the connection over. */
    public handler: ChunkHandler,
    options: { reuseBuffer?: boolean; bufferSize?: number } = {},
  ) {
    this.reused = options.reuseBuffer !== false && this.install(options.bufferSize ?? READ_BUFFER);
  }

  /** Starts delivering: first what Node read before we took over (normally nothing). */
  begin(): this {
    if (this.socket.readableLength > 0) {
      let c: Buffer | null;
      while ((c = this.socket.read() as Buffer | null) !== null) this.handler(c);
    }
    if (!this.reused) this.socket.on('data', (chunk: Buffer) => this.handler(chunk));
    this.socket.resume();
    return this;
  }

  private install(size: number): boolean {
    const handle = handleOf(this.socket);
    if (!fields || this.socket instanceof tls.TLSSocket || !handle || typeof handle.useUserBuffer !== 'function') return false;
    const own = this.socket as unknown as Record<symbol, unknown>;
    if (own[fields.buffer] !== null) return false;
    const buf = Buffer.allocUnsafe(size);
    // Set like the onread option does: pause() then stops the handle at once, which the
    // relay relies on while a chunk of this buffer waits to be written.
    own[fields.buffer] = buf;
    own[fields.generator] = null;
    own[fields.callback] = (n: number, b: Buffer): void => this.handler(this.view(b, n));
    handle.useUserBuffer(buf);
    const nodeOnread = handle.onread;
    if (streamWrap && typeof nodeOnread === 'function') {
      const { streamBaseState, kReadBytesOrError } = streamWrap;
      const socket = this.socket;
      handle.onread = (arrayBuffer: unknown): unknown => {
        const n = streamBaseState[kReadBytesOrError]!;
        if (n > 0 && !socket.destroyed) {
          this.handler(this.view(buf, n));
          return undefined;
        }
        return nodeOnread.call(handle, arrayBuffer);
      };
    }
    return true;
  }

  private lastView?: Buffer;

  /** The first `n` bytes of the buffer; reads of one size (a query loop's) share one view. */
  private view(buf: Buffer, n: number): Buffer {
    const v = this.lastView;
    if (v !== undefined && v.length === n && v.buffer === buf.buffer) return v;
    return (this.lastView = buf.subarray(0, n));
  }
}

/** Whether this Node lets accepted sockets read into a reused buffer (for tests and benchmarks). */
export const reusableReads = fields !== undefined;

/** Whether reads also skip Node's own read callback. */
export const directReads = fields !== undefined && streamWrap !== undefined;
