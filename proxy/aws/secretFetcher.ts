/**
 * The fetcher behind `aws:` config entries. Granter DSNs are read at every provisioning and
 * the primary's at every pass-through login, so values are cached briefly (a rotation is
 * seen within the TTL) and, fail-static, the last value stays in use while Secrets
 * Manager is unreachable or throttling. A secret that is gone or denied is an error at once.
 */
import type { SecretFetcher } from '../config/entries';
import type { Logger } from '../log/logger';
import type { AwsOptions } from './config';
import type { AwsSecretsError } from './errors';
import { SecretsReader } from './secretsReader';

export const SECRET_CACHE_TTL_MS = 15_000;

export function cachedSecretFetcher(reader: SecretsReader, log?: Logger, ttlMs = SECRET_CACHE_TTL_MS): SecretFetcher {
  const cache = new Map<string, { text: string; at: number }>();
  const inFlight = new Map<string, Promise<string>>();
  return (secretId) => {
    const hit = cache.get(secretId);
    if (hit && Date.now() - hit.at < ttlMs) return Promise.resolve(hit.text);
    let p = inFlight.get(secretId);
    if (!p) {
      p = reader
        .getSecret(secretId)
        .then((v) => {
          cache.set(secretId, { text: v.text, at: Date.now() });
          return v.text;
        })
        .catch((e: AwsSecretsError) => {
          if (!hit || e.aboutTheSecret) {
            cache.delete(secretId);
            throw e;
          }
          log?.log('warn', 'aws.secret-stale', { secret: secretId, error: e.message, since: new Date(hit.at).toISOString() });
          return hit.text;
        })
        .finally(() => inFlight.delete(secretId));
      inFlight.set(secretId, p);
    }
    return p;
  };
}

const shared = new Map<string, SecretFetcher>();

/** One reader and cache per AWS configuration in the process, for config entries. */
export function awsSecretFetcher(options: AwsOptions = {}, log?: Logger): SecretFetcher {
  const key = JSON.stringify([options.region, options.profile, options.endpoint, options.maxAttempts, options.requestTimeoutMs]);
  let f = shared.get(key);
  if (!f) {
    f = cachedSecretFetcher(new SecretsReader(options, log), log);
    shared.set(key, f);
  }
  return f;
}
