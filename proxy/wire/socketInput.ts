/**
 * Incoming bytes of a socket, handed to whichever consumer currently owns the connection
 * (login, relay, reset, the idle pool), swapped without touching the socket's listeners.
 *
 * Why not 'data' events: for every read Node allocates a 64 KB buffer, shrinks it, wraps
 * it and pushes it through the Readable machinery. On a tight SELECT loop that is a large
 * part of the proxy's CPU per query. A plain TCP socket can instead read into one buffer
 * of its own, reused for every read — what `net.connect`'s public `onread` option does.
 * There is no public way to switch an already accepted socket to it, so this uses the
 * same internal fields that option sets, found by their descriptions on a probe socket
 * and checked once; where they are missing (another Node version, TLS sockets) the
 * consumer simply gets 'data' chunks. Either way the chunk is only valid during the call:
 * a consumer that keeps bytes copies them, and a consumer that writes the chunk on must
 * not read again until the write has left the process (see relay.ts).
 */
import net from 'node:net';
import tls from 'node:tls';

export type ChunkHandler = (chunk: Buffer) => void;

/**
 * Each socket's buffer (one read's worth), by default as large as Node's own reads.
 * Clients mostly send small messages, so their side can use less: with a thousand idle
 * clients these buffers are most of the proxy's memory.
 */
export const READ_BUFFER = 64 * 1024;

interface ReadFields {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

function probe(): ReadFields | undefined {
  const s = new net.Socket();
  const find = (d: string): symbol | undefined => Object.getOwnPropertySymbols(s).find((x) => x.description === d);
  const buffer = find('kBuffer');
  const callback = find('kBufferCb');
  const generator = find('kBufferGen');
  const ok = buffer && callback && generator && (s as unknown as Record<symbol, unknown>)[buffer] === null;
  s.destroy();
  return ok ? { buffer, callback, generator } : undefined;
}

const fields = probe();

interface StreamHandle {
  useUserBuffer?(buf: Uint8Array): void;
}

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
    const handle = (this.socket as unknown as { _handle?: StreamHandle })._handle;
    if (!fields || this.socket instanceof tls.TLSSocket || !handle || typeof handle.useUserBuffer !== 'function') return false;
    const own = this.socket as unknown as Record<symbol, unknown>;
    if (own[fields.buffer] !== null) return false;
    const buf = Buffer.allocUnsafe(size);
    own[fields.buffer] = buf;
    own[fields.generator] = null;
    own[fields.callback] = (n: number, b: Buffer): void => this.handler(b.subarray(0, n));
    handle.useUserBuffer(buf);
    return true;
  }
}

/** Whether this Node lets accepted sockets read into a reused buffer (for tests and benchmarks). */
export const reusableReads = fields !== undefined;
