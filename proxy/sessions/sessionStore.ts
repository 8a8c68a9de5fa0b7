/**
 * Live roles and sessions kept on disk, so a restarted Mayfly (a reloaded VS Code window,
 * a proxy that crashed, the next CLI call) knows the passwords it issued and can keep
 * sharing them — instead of refusing to open the policy until the role expires, or
 * rotating the password under the feet of every open terminal.
 *
 * The file holds session passwords in plaintext, like ~/.pgpass: mode 0600 in a 0700
 * folder of the user who runs Mayfly (who already holds the granter DSNs). Granter DSNs are
 * never written; a role records the config entry it came from and is resolved again.
 * Writes go to a temporary file renamed into place, so a reader never sees half a file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ensurePrivateDir } from '../control/paths';
import type { SessionInfo } from './types';

export interface StoredRole {
  key: string;
  role: string;
  entry: string;
  password: string;
  validUntil: string;
}

export interface StoredSession extends SessionInfo {
  roleKey: string;
}

export interface StoredState {
  roles: StoredRole[];
  sessions: StoredSession[];
}

const EMPTY: StoredState = { roles: [], sessions: [] };

export class SessionStore {
  constructor(readonly file: string) {}

  /** What the file holds, or nothing when it is missing or unreadable (never fatal). */
  load(): StoredState {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return EMPTY;
    }
    try {
      const v = JSON.parse(text) as Partial<StoredState>;
      return { roles: Array.isArray(v.roles) ? v.roles.filter(isRole) : [], sessions: Array.isArray(v.sessions) ? v.sessions.filter(isSession) : [] };
    } catch {
      return EMPTY;
    }
  }

  save(state: StoredState): void {
    ensurePrivateDir(path.dirname(this.file));
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
    this.ownWrite = this.stamp();
  }

  /** What the file was when this process last wrote it (inode, size, mtime). */
  private ownWrite?: string;

  private stamp(): string | undefined {
    try {
      const st = fs.statSync(this.file);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return undefined;
    }
  }

  /** True unless the file is exactly as this process last wrote it (a stat, not a read). */
  changedSinceOwnWrite(): boolean {
    return this.ownWrite === undefined || this.stamp() !== this.ownWrite;
  }
}

function isRole(r: unknown): r is StoredRole {
  const x = r as StoredRole;
  return !!x && [x.key, x.role, x.entry, x.password, x.validUntil].every((v) => typeof v === 'string') && !Number.isNaN(Date.parse(x.validUntil));
}

function isSession(s: unknown): s is StoredSession {
  const x = s as StoredSession;
  return !!x && [x.id, x.policy, x.role, x.roleKey, x.expiresAt, x.password].every((v) => typeof v === 'string') && Array.isArray(x.databases);
}
