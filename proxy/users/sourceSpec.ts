/**
 * The `--users` and `--users-refresh` flags. `--users` may be given more than once:
 *   FILE                  a JSON file in Springtail's shape (watched for edits)
 *   aws:SECRET_ID         one secret holding that JSON array
 *   aws-prefix:PREFIX     one secret per user (RDS style), every secret whose name starts with PREFIX
 *   aws-tag:KEY=VALUE     one secret per user, every secret tagged KEY=VALUE
 */
import { formatDuration, parseGoDuration } from '../../policy/duration';

export type UserSourceSpec =
  | { kind: 'file'; file: string }
  | { kind: 'aws-secret'; secretId: string }
  | { kind: 'aws-prefix'; prefix: string }
  | { kind: 'aws-tag'; key: string; value: string };

export class UserSourceSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserSourceSpecError';
  }
}

// What ListSecrets accepts in a filter value (the leading `!` would negate: not ours to pass).
const FILTER_VALUE = /^[a-zA-Z0-9 :_@/+=.-]{1,512}$/;

export function parseUserSourceSpec(spec: string): UserSourceSpec {
  if (spec.startsWith('aws:')) {
    const secretId = spec.slice(4);
    if (!secretId) throw new UserSourceSpecError('--users aws: needs a secret name or ARN (e.g. --users aws:prod/mayfly/users)');
    return { kind: 'aws-secret', secretId };
  }
  if (spec.startsWith('aws-prefix:')) {
    const prefix = spec.slice('aws-prefix:'.length);
    if (!FILTER_VALUE.test(prefix))
      throw new UserSourceSpecError(
        `--users aws-prefix: needs a secret name prefix of 1 to 512 letters, digits, spaces or :_@/+=.- (e.g. --users aws-prefix:prod/db-users/)`,
      );
    return { kind: 'aws-prefix', prefix };
  }
  if (spec.startsWith('aws-tag:')) {
    const rest = spec.slice('aws-tag:'.length);
    const eq = rest.indexOf('=');
    const key = eq > 0 ? rest.slice(0, eq) : '';
    const value = eq > 0 ? rest.slice(eq + 1) : '';
    if (!FILTER_VALUE.test(key) || !FILTER_VALUE.test(value))
      throw new UserSourceSpecError('--users aws-tag: needs KEY=VALUE, a tag that marks the user secrets (e.g. --users aws-tag:mayfly-user=true)');
    return { kind: 'aws-tag', key, value };
  }
  if (!spec) throw new UserSourceSpecError('--users needs a FILE, aws:SECRET_ID, aws-prefix:PREFIX or aws-tag:KEY=VALUE');
  return { kind: 'file', file: spec };
}

/** How a source is named in logs and status (no secrets in any of these). */
export function describeUserSource(spec: UserSourceSpec): string {
  switch (spec.kind) {
    case 'file':
      return `file ${spec.file}`;
    case 'aws-secret':
      return `aws:${spec.secretId}`;
    case 'aws-prefix':
      return `aws-prefix:${spec.prefix}`;
    case 'aws-tag':
      return `aws-tag:${spec.key}=${spec.value}`;
  }
}

export const DEFAULT_REFRESH_MS = 15_000;
const MIN_REFRESH_MS = 100;
const MAX_REFRESH_MS = 24 * 3600_000;

/** `--users-refresh DURATION` (a Go duration such as 15s, 1m, 500ms) in milliseconds. */
export function parseRefreshInterval(text: string): number {
  const d = parseGoDuration(text.trim());
  if (!d.ok) throw new UserSourceSpecError(`--users-refresh: ${d.reason}`);
  const ms = d.ns / 1e6;
  if (ms < MIN_REFRESH_MS || ms > MAX_REFRESH_MS)
    throw new UserSourceSpecError(
      `--users-refresh: "${text}" is out of range: use ${formatDuration(MIN_REFRESH_MS * 1e6)} to ${formatDuration(MAX_REFRESH_MS * 1e6)} (default ${formatDuration(DEFAULT_REFRESH_MS * 1e6)})`,
    );
  return ms;
}
