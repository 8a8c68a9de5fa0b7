/**
 * What one Secrets Manager secret says about users. Two shapes are accepted:
 * - Springtail's: a JSON array of {username, password, type, role} (many users);
 * - AWS's per-user shape, as RDS and RDS Proxy store it: a JSON object
 *   {engine, host, port, username, password, dbname} — one `database` user whose password
 *   is plaintext; optional `type`, `role`, `policies`, `policy` keys override that.
 */
import { parseJsonQuietly, parseUserArray, parseUserArrayAsync, type ParsedUsers } from './userEntry';

const POSTGRES_ENGINES = ['postgres', 'postgresql', 'aurora-postgresql'];

/** Throws an Error whose message is safe to log when the whole secret is unusable. */
export async function usersFromSecret(text: string): Promise<ParsedUsers> {
  const parsed = parseJsonQuietly(text);
  if (!parsed.ok) throw new Error(`the secret is ${parsed.reason}`);
  const data = parsed.data;
  if (Array.isArray(data)) return parseUserArrayAsync(data);
  if (!data || typeof data !== 'object')
    throw new Error('the secret must hold a JSON array of {username, password, type, role} or an object {username, password, ...}');
  const engine = (data as Record<string, unknown>).engine;
  if (engine !== undefined && !(typeof engine === 'string' && POSTGRES_ENGINES.includes(engine)))
    return { users: new Map(), skipped: [{ index: 0, reason: `engine must be one of ${POSTGRES_ENGINES.join(', ')}` }] };
  return parseUserArray([data], { type: 'text', role: 'database' });
}
