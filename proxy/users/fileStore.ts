/**
 * The users file's format (`--users FILE`, read by userSources.ts): Springtail's secret
 * shape, a JSON array of {username, password, type, role} (see userEntry.ts). A malformed
 * entry is skipped with a reason and never breaks the others.
 */
import { parseJsonQuietly, parseUserArray, parseUserArrayAsync, type ParsedUsers } from './userEntry';

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
