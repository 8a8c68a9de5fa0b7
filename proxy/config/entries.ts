/**
 * hoop-compatible plugin configuration: `--config NAME=VALUE`, repeatable.
 * `policy-config=path:FILE` names the policy file; every other entry is a plugin config
 * entry (a granter DSN) that policies name in `plugin_config_entry`.
 * A value is a DSN literal, `path:FILE`, `env:VAR` or (AWS Secrets Manager) `aws:SECRET_ID[#key]`,
 * whose secret holds a DSN or an RDS-style JSON object (proxy/config/awsSecretDsn.ts).
 * Values are secrets: messages name the entry and the kind of reference, never the value.
 */
import fs from 'node:fs';
import { parseDsn, DsnError, type ConnectionParams } from './dsn';
import { connectionFromSecret } from './awsSecretDsn';

export type EntryRef =
  | { kind: 'literal'; value: string }
  | { kind: 'path'; file: string }
  | { kind: 'env'; variable: string }
  | { kind: 'aws'; secretId: string; key?: string };

export interface PluginConfig {
  policyFile?: string;
  entries: Map<string, EntryRef>;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const POLICY_CONFIG = 'policy-config';

export function parseEntryRef(value: string): EntryRef {
  if (value.startsWith('path:')) return { kind: 'path', file: value.slice(5) };
  if (value.startsWith('env:')) return { kind: 'env', variable: value.slice(4) };
  if (value.startsWith('aws:')) {
    // Secret names and ARNs cannot contain '#', so the first one starts the key.
    const rest = value.slice(4);
    const hash = rest.indexOf('#');
    const secretId = hash >= 0 ? rest.slice(0, hash) : rest;
    if (!secretId) throw new ConfigError('aws: needs a secret name or ARN: aws:SECRET_ID or aws:SECRET_ID#key');
    if (hash >= 0 && hash === rest.length - 1) throw new ConfigError(`aws:${secretId}# names no key: write aws:${secretId}#KEY or drop the #`);
    return hash >= 0 ? { kind: 'aws', secretId, key: rest.slice(hash + 1) } : { kind: 'aws', secretId };
  }
  return { kind: 'literal', value };
}

/** Describes a reference without its secret part: `env:PG_DSN`, `path:./dsn`, `a literal DSN`. */
export function describeRef(ref: EntryRef): string {
  switch (ref.kind) {
    case 'literal':
      return 'a literal DSN';
    case 'path':
      return `path:${ref.file}`;
    case 'env':
      return `env:${ref.variable}`;
    case 'aws':
      return `aws:${ref.secretId}${ref.key ? `#${ref.key}` : ''}`;
  }
}

export function parsePluginConfig(pairs: readonly string[]): PluginConfig {
  const config: PluginConfig = { entries: new Map() };
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const name = eq > 0 ? pair.slice(0, eq).trim() : '';
    // Never echo the pair: its value may be a DSN.
    if (!name) throw new ConfigError('--config expects NAME=VALUE (e.g. pg-homolog-credentials=env:PG_DSN); one entry has no name');
    const ref = parseEntryRef(pair.slice(eq + 1));
    if (name === POLICY_CONFIG) {
      if (ref.kind !== 'path') throw new ConfigError(`--config ${POLICY_CONFIG} must be path:FILE (e.g. ${POLICY_CONFIG}=path:./config.hcl)`);
      config.policyFile = ref.file;
      continue;
    }
    if (config.entries.has(name)) throw new ConfigError(`--config entry "${name}" is given twice`);
    config.entries.set(name, ref);
  }
  return config;
}

/** Reads a secret's text (SecretString) from AWS Secrets Manager; see proxy/aws/secretFetcher.ts. */
export type SecretFetcher = (secretId: string) => Promise<string>;

/** Reads the DSN an entry points at. `aws:` entries need a fetcher. */
export async function resolveEntry(name: string, ref: EntryRef, fetchSecret?: SecretFetcher): Promise<ConnectionParams> {
  const where = `config entry "${name}" (${describeRef(ref)})`;
  let text: string;
  switch (ref.kind) {
    case 'literal':
      text = ref.value;
      break;
    case 'env': {
      const v = process.env[ref.variable];
      if (v === undefined || v === '') throw new ConfigError(`${where}: the environment variable ${ref.variable} is not set`);
      text = v;
      break;
    }
    case 'path':
      try {
        text = fs.readFileSync(ref.file, 'utf8');
      } catch (e) {
        throw new ConfigError(`${where}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      break;
    case 'aws':
      if (!fetchSecret) throw new ConfigError(`${where}: AWS Secrets Manager references are not configured`);
      try {
        text = await fetchSecret(ref.secretId);
      } catch (e) {
        throw new ConfigError(`${where}: ${(e as Error).message}`);
      }
      break;
  }
  try {
    return ref.kind === 'aws' ? connectionFromSecret(text, ref.key) : parseDsn(text.trim());
  } catch (e) {
    if (e instanceof DsnError) throw new ConfigError(`${where}: ${e.message}`);
    throw new ConfigError(`${where}: cannot parse the DSN`);
  }
}
