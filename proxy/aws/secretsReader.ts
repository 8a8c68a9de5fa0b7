/**
 * Reads secrets from AWS Secrets Manager with the real SDK: one secret, a filtered listing
 * (every page), and many values at once (BatchGetSecretValue in chunks of 20, falling back
 * to GetSecretValue per secret when the identity may not call BatchGetSecretValue).
 * Every failure is an AwsSecretsError that names the cause and the fix.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

type SdkModule = typeof import('@aws-sdk/client-secrets-manager');

/** The SDK, loaded on first use (once: a dynamic import per call costs real CPU), so a proxy without AWS sources never pays for it. */
function sdkModule(): Promise<SdkModule> {
  return (sdkModulePromise ??= import('@aws-sdk/client-secrets-manager'));
}
let sdkModulePromise: Promise<SdkModule> | undefined;
import type { Logger } from '../log/logger';
import { describeEndpoint, secretsManagerSettings, type AwsOptions, type SecretsManagerSettings } from './config';
import { AwsSecretsError, explainAwsError } from './errors';

export interface SecretValue {
  /** The name or ARN it was asked for. */
  id: string;
  name: string;
  versionId?: string;
  text: string;
}

export interface ListedSecret {
  name: string;
  arn?: string;
  /** The AWSCURRENT version: unchanged means the value is unchanged. */
  currentVersionId?: string;
  tags: Map<string, string>;
}

export interface SecretFilter {
  Key: 'name' | 'description' | 'tag-key' | 'tag-value' | 'all';
  Values: string[];
}

/** AWS's limit for one BatchGetSecretValue call. */
export const BATCH_LIMIT = 20;
const LIST_PAGE = 100;
const FALLBACK_CONCURRENCY = 8;

export type SecretsOperation = 'GetSecretValue' | 'ListSecrets' | 'BatchGetSecretValue';

export class SecretsReader {
  readonly settings: SecretsManagerSettings;
  /** Calls made, per operation (pages and chunks count one each). */
  readonly calls: Record<SecretsOperation, number> = { GetSecretValue: 0, ListSecrets: 0, BatchGetSecretValue: 0 };
  /** Set once BatchGetSecretValue was denied: from then on values come one by one. */
  batchDenied = false;
  private client?: Promise<SecretsManagerClient>;
  private readonly env: NodeJS.ProcessEnv;

  constructor(
    options: AwsOptions = {},
    private readonly log?: Logger,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.env = env;
    this.settings = secretsManagerSettings(options, env);
  }

  private sdk(): Promise<SecretsManagerClient> {
    // The SDK's notice that future SDK releases will need Node 22 is for us (package.json pins the
    // version), not for the person reading the proxy's output.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client ??= sdkModule().then(({ SecretsManagerClient: Client }) => {
      const client = new Client({ ...this.settings });
      // The SDK's logger step copies every response (SecretString masked) for a logger we do
      // not have: on a 100-secret ListSecrets page that is most of the client's CPU.
      client.middlewareStack.remove('loggerMiddleware');
      return client;
    });
    return this.client;
  }

  private fail(e: unknown, action: SecretsOperation, secretId?: string): AwsSecretsError {
    return explainAwsError(e, {
      action,
      ...(secretId !== undefined ? { secretId } : {}),
      ...(this.settings.region ? { region: this.settings.region } : {}),
      ...(describeEndpoint(this.settings, this.env) ? { endpoint: describeEndpoint(this.settings, this.env)! } : {}),
    });
  }

  async getSecret(secretId: string): Promise<SecretValue> {
    const { GetSecretValueCommand } = await sdkModule();
    this.calls.GetSecretValue++;
    let out;
    try {
      out = await (await this.sdk()).send(new GetSecretValueCommand({ SecretId: secretId }));
    } catch (e) {
      throw this.fail(e, 'GetSecretValue', secretId);
    }
    return this.valueOf(secretId, out);
  }

  private valueOf(id: string, out: { Name?: string; VersionId?: string; SecretString?: string; SecretBinary?: unknown }): SecretValue {
    if (typeof out.SecretString !== 'string')
      throw new AwsSecretsError(
        `AWS Secrets Manager: secret "${id}" holds binary data (SecretBinary); Mayfly reads SecretString: store the value as text`,
        'unreadable',
        id,
      );
    return { id, name: out.Name ?? id, ...(out.VersionId ? { versionId: out.VersionId } : {}), text: out.SecretString };
  }

  /** Every secret matching the filters, following NextToken through all pages. */
  async listSecrets(filters: SecretFilter[]): Promise<ListedSecret[]> {
    const { ListSecretsCommand } = await sdkModule();
    const client = await this.sdk();
    const out: ListedSecret[] = [];
    let token: string | undefined;
    do {
      this.calls.ListSecrets++;
      let page;
      try {
        page = await client.send(new ListSecretsCommand({ Filters: filters, MaxResults: LIST_PAGE, ...(token ? { NextToken: token } : {}) }));
      } catch (e) {
        throw this.fail(e, 'ListSecrets');
      }
      for (const s of page.SecretList ?? []) {
        if (!s.Name) continue;
        const current = Object.entries(s.SecretVersionsToStages ?? {}).find(([, stages]) => stages?.includes('AWSCURRENT'))?.[0];
        out.push({
          name: s.Name,
          ...(s.ARN ? { arn: s.ARN } : {}),
          ...(current ? { currentVersionId: current } : {}),
          tags: new Map((s.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key!, t.Value ?? ''])),
        });
      }
      token = page.NextToken;
      if (token) await nextTurn();
    } while (token);
    return out;
  }

  /**
   * The values of `ids`. A secret that is gone, denied or unreadable is reported in
   * `failures` and the others still come; a service failure (throttling, outage) throws.
   */
  async getSecrets(ids: readonly string[]): Promise<{ values: SecretValue[]; failures: AwsSecretsError[] }> {
    const values: SecretValue[] = [];
    const failures: AwsSecretsError[] = [];
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += BATCH_LIMIT) chunks.push(ids.slice(i, i + BATCH_LIMIT));
    // One batch at a time: a refresh is background work, and concurrent responses would be
    // parsed back to back while a login waits.
    const pending: string[][] = [];
    await forEachLimited(chunks, 1, async (chunk) => {
      const r = this.batchDenied ? 'denied' : await this.batch(chunk);
      if (r === 'denied') pending.push(chunk);
      else {
        values.push(...r.values);
        failures.push(...r.failures);
      }
    });
    const one = pending.flat();
    await forEachLimited(one, FALLBACK_CONCURRENCY, async (id) => {
      try {
        values.push(await this.getSecret(id));
      } catch (e) {
        const err = e as AwsSecretsError;
        if (!err.aboutTheSecret) throw err;
        failures.push(err);
      }
    });
    return { values, failures };
  }

  private async batch(ids: string[]): Promise<{ values: SecretValue[]; failures: AwsSecretsError[] } | 'denied'> {
    const { BatchGetSecretValueCommand } = await sdkModule();
    this.calls.BatchGetSecretValue++;
    let out;
    try {
      out = await (await this.sdk()).send(new BatchGetSecretValueCommand({ SecretIdList: ids }));
    } catch (e) {
      const err = this.fail(e, 'BatchGetSecretValue');
      if (err.kind !== 'access-denied') throw err;
      this.batchDenied = true;
      this.log?.log('warn', 'aws.batch-denied', {
        reason: err.message,
        fallback: 'reading each secret with GetSecretValue; allow secretsmanager:BatchGetSecretValue for fewer calls',
      });
      return 'denied';
    }
    const values: SecretValue[] = [];
    const failures: AwsSecretsError[] = [];
    for (const v of out.SecretValues ?? []) {
      const id = ids.find((x) => x === v.Name || x === v.ARN) ?? v.Name ?? '';
      try {
        values.push(this.valueOf(id, v));
      } catch (e) {
        failures.push(e as AwsSecretsError);
      }
    }
    for (const err of out.Errors ?? []) {
      const e = this.fail({ name: err.ErrorCode, message: err.Message }, 'GetSecretValue', err.SecretId);
      // Throttled or failing inside the batch: the whole read is unreliable, like a failed call.
      if (!e.aboutTheSecret) throw e;
      failures.push(e);
    }
    return { values, failures };
  }

  close(): void {
    void this.client?.then((c) => c.destroy()).catch(() => undefined);
    this.client = undefined;
  }
}

async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failed ??= e;
      }
      await nextTurn();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

/**
 * A turn of the event loop between SDK calls: otherwise the promise chains of several calls
 * (sign, send, parse) run back to back as microtasks and a login waits for all of them.
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
