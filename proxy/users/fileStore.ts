/**
 * `--users FILE`: identities that may log in to the local proxy, in Springtail's secret
 * shape — a JSON array of {username, password, type, role} (see userEntry.ts).
 * A malformed entry is skipped with a logged reason and never breaks the others.
 */
import fs from 'node:fs';
import type { Logger } from '../log/logger';
import { parseJsonQuietly, parseUserArray, parseUserArrayAsync, type ParsedUsers, type UserRecord } from './userEntry';

export type { UserRecord, UserRole, UserSecret } from './userEntry';

export class UsersFileError extends Error {}

/** Parses the file's text; returns the valid users and a reason per skipped entry. */
export function parseUsers(text: string): ParsedUsers {
  return parseUserArray(entriesOf(text));
}

/** parseUsers in slices that let the event loop run (the user directory's refresh). */
export function parseUsersAsync(text: string): Promise<ParsedUsers> {
  return parseUserArrayAsync(entriesOf(text));
}

function entriesOf(text: string): unknown[] {
  const parsed = parseJsonQuietly(text);
  if (!parsed.ok) throw new UsersFileError(`the users file is ${parsed.reason}`);
  if (!Array.isArray(parsed.data)) throw new UsersFileError('the users file must hold a JSON array of {username, password, type, role}');
  return parsed.data;
}

/** Reads FILE, logging each skipped entry (by index and reason, never a password). */
export function loadUsersFile(file: string, log: Logger): Map<string, UserRecord> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsersFileError(`cannot read the users file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const { users, skipped } = parseUsers(text);
  for (const s of skipped) log.log('warn', 'users.skipped', { file, index: s.index, reason: s.reason });
  log.log('info', 'users.loaded', { file, users: users.size, skipped: skipped.length });
  return users;
}

/**
 * Re-reads FILE when it changes (polling, which survives editors that replace the file).
 * A file that fails to load leaves the last good user set in force. Returns a stop function.
 */
export function watchUsersFile(file: string, log: Logger, onChange: (users: Map<string, UserRecord>) => void, intervalMs = 1000): () => void {
  const listener = (cur: fs.Stats, prev: fs.Stats): void => {
    if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size) return;
    try {
      onChange(loadUsersFile(file, log));
    } catch (e) {
      log.log('error', 'users.reload-failed', { file, error: (e as Error).message });
    }
  };
  fs.watchFile(file, { interval: intervalMs, persistent: false }, listener);
  return () => fs.unwatchFile(file, listener);
}
