/**
 * Writes relayed bytes to a plain TCP socket straight through its libuv handle.
 *
 * Why: `socket.write` runs every chunk through the Writable state machine, allocates a
 * write request, and defers its completion to a nextTick even when the kernel took the
 * bytes at once — which it almost always does for the small messages of a query loop.
 * On a busy relay that bookkeeping is a large share of the proxy's own CPU per query, and
 * on a machine whose cores are shared with the database and its clients that CPU comes out
 * of their throughput. The handle's `writeBuffer` (what `socket.write` ends in) tries the
 * write synchronously and tells us whether any of it had to wait.
 *
 * Where the handle's API is missing or differs (streamInternals.ts; TLS sockets)
 * `directWriter` returns undefined and callers use `socket.write`. libuv keeps one ordered
 * write queue per socket, so bytes written here and later through `socket.write` (a FATAL,
 * the pool's reset, `end()`) stay in order.
 */
import net from 'node:net';
import tls from 'node:tls';
import { getSystemErrorName } from 'node:util';
import { handleOf, streamWrap } from './streamInternals';

/**
 * Called once a write that had to wait has left the process (`error` when it failed, e.g.
 * the socket was destroyed meanwhile).
 */
export type WriteDrained = (error?: Error) => void;

/** Writes a chunk; returns true when it left the process at once, false when `drained` will follow. */
export type DirectWrite = (chunk: Buffer) => boolean;

/**
 * A writer for `socket`, or undefined where only `socket.write` may be used. A write error
 * destroys the socket with it, as `socket.write` would; bytes for a destroyed socket are
 * dropped.
 */
export function directWriter(socket: net.Socket, drained: WriteDrained): DirectWrite | undefined {
  const handle = handleOf(socket);
  const writeBuffer = handle?.writeBuffer;
  if (!streamWrap || socket instanceof tls.TLSSocket || !handle || typeof writeBuffer !== 'function') return undefined;
  const { WriteWrap, streamBaseState, kLastWriteWasAsync } = streamWrap;
  const complete = (status: number): void => drained(status < 0 ? netError(status) : undefined);
  // A request that completed synchronously never became a native write request, so it can
  // serve the next write too; one that had to wait belongs to libuv until it completes.
  let req = new WriteWrap();
  return (chunk: Buffer): boolean => {
    // Bytes for a closed socket go nowhere, as with socket.write after destroy().
    if (socket.destroyed || (socket as unknown as { _handle?: unknown })._handle !== handle) return true;
    const status = writeBuffer.call(handle, req, chunk);
    if (status < 0) {
      socket.destroy(netError(status));
      return true;
    }
    if (streamBaseState[kLastWriteWasAsync] === 0) return true;
    req.buffer = chunk;
    req.oncomplete = complete;
    req = new WriteWrap();
    return false;
  };
}

function netError(status: number): Error {
  const code = getSystemErrorName(status);
  return Object.assign(new Error(`write failed: ${code}`), { errno: status, code });
}

/** Whether relayed writes bypass `socket.write` on this Node (for tests and benchmarks). */
export const directWrites = streamWrap !== undefined;
