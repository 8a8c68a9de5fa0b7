/**
 * Client settings for AWS Secrets Manager, resolved the way AWS CLI users expect: explicit
 * options first, then the environment, then the shared config files (which the SDK reads
 * itself, honouring AWS_PROFILE). Credentials always come from the SDK's default chain
 * (environment, shared files / profile, SSO, web identity, container and instance roles).
 */

export interface AwsOptions {
  /** Overrides AWS_REGION / AWS_DEFAULT_REGION / the profile's region. */
  region?: string;
  /** A profile from ~/.aws/config and ~/.aws/credentials; overrides AWS_PROFILE. */
  profile?: string;
  /** Overrides AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL / the profile's endpoint_url. */
  endpoint?: string;
  /** SDK attempts per call (default: the SDK's, 3, or AWS_MAX_ATTEMPTS). */
  maxAttempts?: number;
  /** Per HTTP request (default 10 s; connecting: at most 5 s of it). */
  requestTimeoutMs?: number;
}

export interface SecretsManagerSettings {
  region?: string;
  profile?: string;
  endpoint?: string;
  maxAttempts?: number;
  requestHandler: { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: true };
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export class AwsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AwsConfigError';
  }
}

/**
 * The SDK client settings for `options`. AWS_DEFAULT_REGION is applied here because the
 * JavaScript SDK (unlike the CLI) ignores it; everything else the SDK resolves on its own.
 */
export function secretsManagerSettings(options: AwsOptions = {}, env: NodeJS.ProcessEnv = process.env): SecretsManagerSettings {
  // The SDK waits forever by default: a black-holed endpoint would hang every refresh.
  const timeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (!Number.isFinite(timeout) || timeout <= 0) throw new AwsConfigError('the AWS request timeout must be a positive number of milliseconds');
  const out: SecretsManagerSettings = {
    requestHandler: { connectionTimeout: Math.min(5000, timeout), requestTimeout: timeout, throwOnRequestTimeout: true },
  };
  const region = options.region ?? (env.AWS_REGION || undefined) ?? (env.AWS_DEFAULT_REGION || undefined);
  if (region !== undefined) {
    if (!/^[a-z0-9-]+$/.test(region)) throw new AwsConfigError(`the AWS region "${region}" is not a region name (e.g. eu-west-1)`);
    out.region = region;
  }
  if (options.profile !== undefined) {
    if (!options.profile) throw new AwsConfigError('the AWS profile name is empty');
    out.profile = options.profile;
  }
  if (options.endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(options.endpoint);
    } catch {
      throw new AwsConfigError('the Secrets Manager endpoint must be a URL such as https://secretsmanager.eu-west-1.amazonaws.com');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new AwsConfigError('the Secrets Manager endpoint must be an http:// or https:// URL');
    out.endpoint = options.endpoint;
  }
  if (options.maxAttempts !== undefined) {
    if (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1)
      throw new AwsConfigError('the AWS maximum attempts must be a whole number of at least 1');
    out.maxAttempts = options.maxAttempts;
  }
  return out;
}

/** Where a request will go, for messages: the explicit endpoint or the environment's override. */
export function describeEndpoint(settings: SecretsManagerSettings, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return settings.endpoint ?? (env.AWS_ENDPOINT_URL_SECRETS_MANAGER || undefined) ?? (env.AWS_ENDPOINT_URL || undefined);
}
