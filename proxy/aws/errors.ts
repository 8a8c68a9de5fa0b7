/**
 * AWS SDK failures turned into messages that name the cause and the fix. They mention the
 * secret id, the region and the IAM action, never a secret value (AWS's own messages
 * carry none either, but we do not rely on that for the ones we write).
 */

export type AwsFailureKind =
  /** No region, a bad profile: fix the configuration. */
  | 'config'
  /** No credentials, or AWS rejected them. */
  | 'credentials'
  | 'access-denied'
  | 'not-found'
  /** The secret exists but cannot be read (KMS key, marked for deletion, binary). */
  | 'unreadable'
  | 'throttled'
  /** Unreachable, timed out or a 5xx: try again later. */
  | 'unavailable'
  | 'other';

export class AwsSecretsError extends Error {
  constructor(
    message: string,
    readonly kind: AwsFailureKind,
    readonly secretId?: string,
  ) {
    super(message);
    this.name = 'AwsSecretsError';
  }

  /**
   * Failures about one secret (it is gone, denied or unreadable), as opposed to the service
   * or the configuration failing: a user source skips that secret and keeps the others.
   */
  get aboutTheSecret(): boolean {
    return this.kind === 'access-denied' || this.kind === 'not-found' || this.kind === 'unreadable';
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);
const THROTTLING = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded', 'ProvisionedThroughputExceededException']);
const BAD_CREDENTIALS = new Set(['UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredTokenException', 'InvalidClientTokenId', 'IncompleteSignature']);

interface SdkErrorLike {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: string;
}

export interface FailureContext {
  /** The Secrets Manager API action, e.g. GetSecretValue. */
  action: string;
  secretId?: string;
  region?: string;
  endpoint?: string;
}

/** Wraps any error thrown by an SDK call (or by client construction) in an AwsSecretsError. */
export function explainAwsError(error: unknown, ctx: FailureContext): AwsSecretsError {
  if (error instanceof AwsSecretsError) return error;
  const e = (error ?? {}) as SdkErrorLike;
  const name = e.name ?? '';
  const message = e.message ?? String(error);
  const what = ctx.secretId ? `secret "${ctx.secretId}"` : 'secrets';
  const where = ctx.region ? ` in ${ctx.region}` : '';
  const mk = (text: string, kind: AwsFailureKind) => new AwsSecretsError(`AWS Secrets Manager: ${text}`, kind, ctx.secretId);

  if (/Region is missing/i.test(message))
    return mk(
      'no AWS region is configured: set AWS_REGION (or AWS_DEFAULT_REGION), add "region" to your AWS profile, or pass --aws-region REGION',
      'config',
    );
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message))
    return mk(
      'no AWS credentials found: configure them as for the AWS CLI (aws configure, AWS_PROFILE, aws sso login, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance or task role)',
      'credentials',
    );
  if (/profile .* (could not be found|not found)|Profile .* not found/i.test(message))
    return mk(`the AWS profile could not be loaded (${message}): check AWS_PROFILE / --aws-profile and ~/.aws/config`, 'config');
  if (BAD_CREDENTIALS.has(name))
    return mk(`AWS rejected the credentials (${name}): refresh them (aws sso login, new access keys) or check AWS_PROFILE`, 'credentials');
  if (name === 'AccessDeniedException' || name === 'AccessDenied')
    return mk(
      `access denied to ${what}${where}: the IAM identity Mayfly runs as needs secretsmanager:${ctx.action}${ctx.secretId ? ' on that secret' : ''}`,
      'access-denied',
    );
  if (name === 'ResourceNotFoundException')
    return mk(`${what} not found${where}: check the secret name or ARN and the region`, 'not-found');
  if (name === 'DecryptionFailure')
    return mk(`cannot decrypt ${what}: allow kms:Decrypt on the secret's KMS key for the IAM identity Mayfly runs as`, 'unreadable');
  if (name === 'InvalidRequestException' && ctx.secretId)
    return mk(`${what} cannot be read now (${message}): it may be marked for deletion`, 'unreadable');
  if (THROTTLING.has(name)) return mk(`requests are being throttled (${name}) by ${ctx.action}: retrying with backoff`, 'throttled');
  const status = e.$metadata?.httpStatusCode;
  if (NETWORK_CODES.has(e.code ?? '') || NETWORK_CODES.has(name) || name === 'TimeoutError' || (status !== undefined && status >= 500) || e.$fault === 'server')
    return mk(
      `the service is unavailable (${e.code ?? (name || `HTTP ${status}`)})${ctx.endpoint ? ` at ${ctx.endpoint}` : ''}: retrying with backoff`,
      'unavailable',
    );
  return mk(`${ctx.action} failed for ${what}: ${name ? `${name}: ` : ''}${message}`, 'other');
}
