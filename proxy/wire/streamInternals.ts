/**
 * The parts of Node's socket internals the relay uses to move bytes with less overhead per
 * read and write (socketInput.ts, directWrite.ts), found and checked once at load.
 *
 * Nothing public offers them: `net.connect`'s `onread` option reads into a reused buffer
 * but only for sockets we connect (not accepted ones), and no API writes without the
 * Writable machinery. So these are looked up by description — the socket's own symbols
 * for its user buffer, and `process.binding('stream_wrap')` (deprecated in the
 * documentation only, no runtime warning) for the write request type and the shared state
 * array through which the native side reports read sizes and whether a write had to wait.
 * Each is undefined where missing or different (another Node or Electron build), and
 * callers then use the public API.
 */
import net from 'node:net';

export interface WriteReq {
  oncomplete?: (status: number) => void;
  /** Keeps the chunk alive while libuv still points at it. */
  buffer?: Buffer | null;
}

export interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  /** Written by the native side before each read callback and after each write call. */
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
}

/** What a plain TCP socket's `_handle` offers. */
export interface StreamHandle {
  writeBuffer?(req: WriteReq, chunk: Uint8Array): number;
  useUserBuffer?(buf: Uint8Array): void;
  /** The function the native side calls for every read (Node's onStreamRead). */
  onread?: (this: StreamHandle, arrayBuffer: unknown) => unknown;
}

function loadBinding(): StreamWrapBinding | undefined {
  try {
    const b = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding('stream_wrap');
    const ok =
      typeof b.WriteWrap === 'function' &&
      b.streamBaseState instanceof Int32Array &&
      typeof b.kReadBytesOrError === 'number' &&
      typeof b.kLastWriteWasAsync === 'number';
    return ok ? (b as StreamWrapBinding) : undefined;
  } catch {
    return undefined;
  }
}

export const streamWrap = loadBinding();

/** The symbols behind `net.connect`'s `onread` option, on a socket of our own. */
export interface UserBufferFields {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

function probeUserBuffer(): UserBufferFields | undefined {
  const s = new net.Socket();
  const find = (d: string): symbol | undefined => Object.getOwnPropertySymbols(s).find((x) => x.description === d);
  const buffer = find('kBuffer');
  const callback = find('kBufferCb');
  const generator = find('kBufferGen');
  const ok = buffer && callback && generator && (s as unknown as Record<symbol, unknown>)[buffer] === null;
  s.destroy();
  return ok ? { buffer, callback, generator } : undefined;
}

export const userBufferFields = probeUserBuffer();

export function handleOf(socket: net.Socket): StreamHandle | undefined {
  return (socket as unknown as { _handle?: StreamHandle | null })._handle ?? undefined;
}
