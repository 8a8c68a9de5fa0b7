/**
 * Several `--users` sources make one user set. On a duplicate name the source given first
 * on the command line wins (so a local file listed first can override a shared secret);
 * the other entry is ignored and reported as a conflict.
 */
import type { UserRecord } from './userEntry';

export interface Conflict {
  username: string;
  kept: string;
  ignored: string;
}

export function mergeSources(sources: readonly { label: string; users: ReadonlyMap<string, UserRecord> }[]): {
  users: Map<string, UserRecord>;
  conflicts: Conflict[];
} {
  const users = new Map<string, UserRecord>();
  const from = new Map<string, string>();
  const conflicts: Conflict[] = [];
  for (const s of sources) {
    for (const [name, record] of s.users) {
      const kept = from.get(name);
      if (kept !== undefined) {
        conflicts.push({ username: name, kept, ignored: s.label });
        continue;
      }
      users.set(name, record);
      from.set(name, s.label);
    }
  }
  return { users, conflicts };
}
