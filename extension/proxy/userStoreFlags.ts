/**
 * The proxy flags from the user-store and AWS settings (`--users`, `--users-refresh`,
 * `--aws-region`, `--aws-profile`, `--aws-endpoint`). They are checked here, with the
 * proxy's own parsers, so a mistyped setting is reported under its setting's name before
 * anything starts, instead of as a proxy that exits and is restarted with backoff forever.
 * No vscode import: unit tests run it as plain logic.
 */
import os from 'node:os';
import path from 'node:path';
import { secretsManagerSettings } from '../../proxy/aws/config';
import { parseRefreshInterval, parseUserSourceSpec } from '../../proxy/users/sourceSpec';

/** The settings as read, unchecked (a hand-edited settings.json may hold anything). */
export interface UserStoreSettingValues {
  userSources: unknown[];
  usersRefresh: unknown;
  aws: { region: unknown; profile: unknown; endpoint: unknown };
}

/** Checked settings, ready to become flags. */
export interface UserStoreLaunch {
  /** `--users` specs; FILE ones made absolute. Empty: no user store. */
  sources: string[];
  /** `--users-refresh`, a valid Go duration. */
  refresh: string;
  aws: { region?: string; profile?: string; endpoint?: string };
}

export class SettingError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
    this.name = 'SettingError';
  }
}

/** Throws a SettingError naming the first bad setting; relative FILE sources are taken from `workspaceDir`. */
export function checkUserStoreSettings(values: UserStoreSettingValues, workspaceDir?: string): UserStoreLaunch {
  const sources: string[] = [];
  values.userSources.forEach((raw, i) => {
    const where = `mayfly.users.sources`;
    if (typeof raw !== 'string' || !raw.trim())
      throw new SettingError(where, `item ${i + 1} is ${typeof raw === 'string' ? 'empty' : `not a string (${JSON.stringify(raw)})`}: use FILE, aws:SECRET_ID, aws-prefix:PREFIX or aws-tag:KEY=VALUE`);
    const text = raw.trim();
    let spec: ReturnType<typeof parseUserSourceSpec>;
    try {
      spec = parseUserSourceSpec(text);
    } catch (e) {
      // The parser speaks in flags ("--users aws: needs ..."); here the user typed a setting.
      throw new SettingError(where, `"${text}": ${(e as Error).message.replace(/--users /g, '')}`);
    }
    const resolved = spec.kind === 'file' ? resolveFile(spec.file, workspaceDir) : text;
    if (sources.includes(resolved)) throw new SettingError(where, `"${text}" is listed twice`);
    sources.push(resolved);
  });

  let refresh = '15s';
  if (sources.length) {
    if (typeof values.usersRefresh !== 'string') throw new SettingError('mayfly.users.refresh', 'must be a duration such as "15s" or "1m"');
    try {
      parseRefreshInterval(values.usersRefresh);
    } catch (e) {
      throw new SettingError('mayfly.users.refresh', (e as Error).message.replace(/^--users-refresh: /, ''));
    }
    refresh = values.usersRefresh.trim();
  }

  const aws: UserStoreLaunch['aws'] = {};
  for (const key of ['region', 'profile', 'endpoint'] as const) {
    const raw = values.aws[key];
    const setting = `mayfly.aws.${key}`;
    if (raw === undefined || raw === null || raw === '') continue;
    if (typeof raw !== 'string') throw new SettingError(setting, 'must be a string');
    const value = raw.trim();
    if (!value) continue;
    if (key === 'endpoint' && /^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(value))
      // The proxy's arguments are visible to every local user (ps); credentials come from the AWS chain.
      throw new SettingError(setting, 'must not contain a user name or password: credentials come from the AWS credential chain');
    try {
      secretsManagerSettings({ [key]: value }, {});
    } catch (e) {
      throw new SettingError(setting, (e as Error).message);
    }
    aws[key] = value;
  }
  return { sources, refresh, aws };
}

function resolveFile(file: string, workspaceDir?: string): string {
  if (file === '~' || file.startsWith('~/')) return path.join(os.homedir(), file.slice(1));
  return workspaceDir ? path.resolve(workspaceDir, file) : path.resolve(file);
}

export function userStoreFlags(launch: UserStoreLaunch): string[] {
  const args: string[] = [];
  for (const spec of launch.sources) args.push('--users', spec);
  if (launch.sources.length) args.push('--users-refresh', launch.refresh);
  if (launch.aws.region) args.push('--aws-region', launch.aws.region);
  if (launch.aws.profile) args.push('--aws-profile', launch.aws.profile);
  if (launch.aws.endpoint) args.push('--aws-endpoint', launch.aws.endpoint);
  return args;
}
