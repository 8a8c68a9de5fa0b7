/**
 * Where the control socket lives: a private directory (0700, owned by us) so only the
 * user who started the proxy can reach it; the socket itself is 0600 as well.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function mayflyHome(): string {
  return process.env.MAYFLY_HOME || path.join(os.homedir(), '.mayfly');
}

export function defaultControlSocket(): string {
  return process.env.MAYFLY_CONTROL_SOCKET || path.join(mayflyHome(), 'run', 'control.sock');
}

/**
 * Creates (or checks) a directory only its owner can enter. One of ours that others can
 * reach is tightened to 0700; a shared one (sticky or world-writable, like /tmp) is
 * refused rather than tightened, which would break everyone else using it.
 */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.statSync(dir);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid)
    throw new Error(`${dir} belongs to another user; Mayfly keeps its control socket and state only in a directory you own`);
  if ((st.mode & 0o1000) !== 0 || (st.mode & 0o002) !== 0)
    throw new Error(`${dir} is a shared directory; Mayfly keeps its control socket and state only in a private one (e.g. ~/.mayfly/run)`);
  if ((st.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
}
