/**
 * Makes a server connection fit for its next client: `DISCARD ALL` (PgBouncer's
 * server_reset_query) closes cursors, drops prepared statements and temporary tables,
 * resets every setting to the session's defaults, unlistens and releases advisory locks.
 * Its answer is swallowed here, except the ParameterStatus messages it causes: those are
 * the values the next client must be told at login.
 */
import { FrameReader } from './frameReader';
import { FrameDecoder } from './protocol/frames';
import { message } from './protocol/backend';
import type { Upstream } from './upstream';

const DISCARD_ALL = message('Q', Buffer.from('DISCARD ALL\0'));
const IDLE = 'I';

/** Resolves true when the connection answered cleanly and is idle outside a transaction. */
export async function resetConnection(u: Upstream, timeoutMs: number): Promise<boolean> {
  if (u.rest.length) return false; // the server said something nobody asked for
  const reader = new FrameReader(u.input, new FrameDecoder('message', 1024 * 1024));
  // A server that does not answer is closed, which also ends the wait below.
  const timer = setTimeout(() => u.socket.destroy(), timeoutMs);
  try {
    u.socket.resume();
    u.socket.write(DISCARD_ALL);
    let completed = false;
    for (;;) {
      const f = await reader.next();
      if (f instanceof Error || f.kind !== 'message') return false;
      switch (f.type) {
        case 'C':
          completed = true;
          break;
        case 'S': {
          const [name, value] = f.body.toString('utf8').split('\0');
          if (name) u.params.set(name, value ?? '');
          u.paramBytes = undefined;
          break;
        }
        case 'N': // a notice about what was discarded
        case 'A': // a notification that was on its way before UNLISTEN
          break;
        case 'Z':
          return completed && f.body.toString('latin1') === IDLE && reader.pending === 0;
        default:
          return false; // 'E' (the reset failed) or anything unexpected
      }
    }
  } finally {
    clearTimeout(timer);
    reader.detach();
  }
}
