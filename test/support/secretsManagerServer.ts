/**
 * A local AWS Secrets Manager for tests: an HTTP server speaking the service's JSON 1.1
 * protocol (POST /, `X-Amz-Target: secretsmanager.<Operation>`), so the REAL
 * `@aws-sdk/client-secrets-manager` talks to it through the endpoint override
 * (AWS_ENDPOINT_URL_SECRETS_MANAGER or the `endpoint` option) with static credentials.
 *
 * Operations: GetSecretValue, ListSecrets (MaxResults, NextToken, Filters on name,
 * description, tag-key, tag-value and `!` negation), BatchGetSecretValue (SecretIdList or
 * Filters). Errors have AWS's JSON shape (`__type`, `Message`). Tests mutate the secrets
 * (put/rotate/delete/tag), deny operations, throttle, simulate outages, and read a request
 * log. forkSecretsManagerServer() runs it in a child process, so a benchmark can measure
 * the client's CPU alone.
 */
import { fork } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';

export interface RecordedRequest {
  operation: string;
  body: Record<string, unknown>;
  /** From the SigV4 Authorization header's credential scope. */
  accessKeyId?: string;
  region?: string;
  status: number;
  errorType?: string;
}

interface Version {
  id: string;
  value: string;
  stages: string[];
  created: number;
}

interface StoredSecret {
  name: string;
  arn: string;
  description?: string;
  tags: Map<string, string>;
  versions: Version[];
  created: number;
  changed: number;
}

type Outage = false | 'refuse' | 'hang' | 500 | 503;

const ACCOUNT = '123456789012';

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export class SecretsManagerServer {
  private readonly secrets = new Map<string, StoredSecret>();
  private readonly log: RecordedRequest[] = [];
  private readonly denied = new Map<string, Set<string> | 'all'>();
  private readonly sockets = new Set<net.Socket>();
  private server?: http.Server;
  private throttleLeft = 0;
  private outage: Outage = false;
  private region = 'eu-west-1';
  /** Largest ListSecrets page, whatever MaxResults asks (AWS's own limit is 100). */
  maxPageSize = 100;
  port = 0;

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // --- the secrets -------------------------------------------------------------------

  /** Creates the secret, or adds a new AWSCURRENT version (the old one becomes AWSPREVIOUS). */
  put(name: string, value: string | object, options: { tags?: Record<string, string>; description?: string } = {}): string {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    const now = Date.now() / 1000;
    let s = this.secrets.get(name);
    if (!s) {
      s = {
        name,
        arn: `arn:aws:secretsmanager:${this.region}:${ACCOUNT}:secret:${name}-${crypto.randomBytes(3).toString('hex')}`,
        tags: new Map(),
        versions: [],
        created: now,
        changed: now,
      };
      this.secrets.set(name, s);
    }
    for (const v of s.versions) v.stages = v.stages.includes('AWSCURRENT') ? ['AWSPREVIOUS'] : [];
    s.versions = s.versions.filter((v) => v.stages.length);
    const id = crypto.randomUUID();
    s.versions.push({ id, value: text, stages: ['AWSCURRENT'], created: now });
    s.changed = now;
    for (const [k, v] of Object.entries(options.tags ?? {})) s.tags.set(k, v);
    if (options.description !== undefined) s.description = options.description;
    return id;
  }

  /** Rotation as the service does it: a new AWSCURRENT version. */
  rotate(name: string, value: string | object): string {
    if (!this.secrets.has(name)) throw new Error(`no secret ${name} to rotate`);
    return this.put(name, value);
  }

  delete(name: string): void {
    this.secrets.delete(name);
  }

  clear(): void {
    this.secrets.clear();
  }

  tag(name: string, tags: Record<string, string>): void {
    const s = this.secrets.get(name);
    if (!s) throw new Error(`no secret ${name} to tag`);
    for (const [k, v] of Object.entries(tags)) s.tags.set(k, v);
  }

  untag(name: string, keys: string[]): void {
    for (const k of keys) this.secrets.get(name)?.tags.delete(k);
  }

  arnOf(name: string): string | undefined {
    return this.secrets.get(name)?.arn;
  }

  // --- failure switches --------------------------------------------------------------

  /** AccessDeniedException for an operation, on every secret or only the named ones. */
  deny(operation: string, secretNames?: string[]): void {
    this.denied.set(operation, secretNames ? new Set(secretNames) : 'all');
  }

  allow(operation?: string): void {
    if (operation) this.denied.delete(operation);
    else this.denied.clear();
  }

  /** The next `requests` requests get ThrottlingException (Infinity: until throttle(0)). */
  throttle(requests: number): void {
    this.throttleLeft = requests;
  }

  /**
   * 'refuse': the port stops listening (connection refused), and listens again on the same
   * port when the outage ends; 'hang': requests are read and never answered (a black hole);
   * 500/503: every request gets that status.
   */
  async setOutage(outage: Outage): Promise<void> {
    const was = this.outage;
    this.outage = outage;
    if (outage === 'refuse' && was !== 'refuse') await this.stop();
    if (was === 'refuse' && outage !== 'refuse') await this.start(this.port);
  }

  // --- the request log ---------------------------------------------------------------

  requests(operation?: string): RecordedRequest[] {
    return operation ? this.log.filter((r) => r.operation === operation) : [...this.log];
  }

  clearLog(): void {
    this.log.length = 0;
  }

  // --- protocol ----------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : target;
    const scope = /Credential=([^/,\s]+)\/\d{8}\/([^/]+)\/secretsmanager\//.exec(String(req.headers.authorization ?? ''));
    const entry: RecordedRequest = { operation, body: {}, status: 200 };
    if (scope) {
      entry.accessKeyId = scope[1];
      entry.region = scope[2];
    }
    this.log.push(entry);
    if (this.outage === 'hang') return;
    let status = 200;
    let payload: unknown;
    try {
      if (this.outage === 500 || this.outage === 503)
        throw new AwsError(this.outage === 500 ? 'InternalServiceError' : 'ServiceUnavailable', 'simulated outage', this.outage);
      if (this.throttleLeft > 0) {
        this.throttleLeft--;
        throw new AwsError('ThrottlingException', 'Rate exceeded');
      }
      if (req.method !== 'POST' || !target.startsWith('secretsmanager.'))
        throw new AwsError('UnknownOperationException', 'expected POST with X-Amz-Target: secretsmanager.<Operation>');
      if (!String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-1.1'))
        throw new AwsError('SerializationException', 'expected Content-Type application/x-amz-json-1.1');
      if (!scope) throw new AwsError('IncompleteSignature', 'the request is not signed with SigV4');
      let body: Record<string, unknown>;
      try {
        body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
      } catch {
        throw new AwsError('SerializationException', 'the body is not JSON');
      }
      entry.body = body;
      if (this.denied.get(operation) === 'all') throw this.accessDenied(operation, '*');
      payload = this.dispatch(operation, body);
    } catch (e) {
      const err = e instanceof AwsError ? e : new AwsError('InternalServiceError', (e as Error).message, 500);
      status = err.status;
      entry.errorType = err.type;
      payload = { __type: err.type, Message: err.message };
      res.setHeader('x-amzn-ErrorType', err.type);
    }
    entry.status = status;
    const text = JSON.stringify(payload);
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': crypto.randomUUID(),
    });
    res.end(text);
  }

  private dispatch(operation: string, body: Record<string, unknown>): unknown {
    switch (operation) {
      case 'GetSecretValue':
        return this.getSecretValue(body);
      case 'ListSecrets':
        return this.listSecrets(body);
      case 'BatchGetSecretValue':
        return this.batchGetSecretValue(body);
      default:
        throw new AwsError('UnknownOperationException', `operation ${operation} is not supported by this test server`);
    }
  }

  private accessDenied(operation: string, resource: string): AwsError {
    return new AwsError(
      'AccessDeniedException',
      `User: arn:aws:iam::${ACCOUNT}:user/test is not authorized to perform: secretsmanager:${operation} on resource: ${resource} because no identity-based policy allows the secretsmanager:${operation} action`,
    );
  }

  private find(id: unknown): StoredSecret {
    if (typeof id !== 'string' || !id) throw new AwsError('InvalidParameterException', 'SecretId must be a non-empty string');
    const s = this.secrets.get(id) ?? [...this.secrets.values()].find((x) => x.arn === id);
    if (!s) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return s;
  }

  private valueOf(s: StoredSecret, body: Record<string, unknown> = {}): Record<string, unknown> {
    const v =
      typeof body.VersionId === 'string'
        ? s.versions.find((x) => x.id === body.VersionId)
        : s.versions.find((x) => x.stages.includes(typeof body.VersionStage === 'string' ? body.VersionStage : 'AWSCURRENT'));
    if (!v) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for the requested version.");
    return { ARN: s.arn, Name: s.name, VersionId: v.id, SecretString: v.value, VersionStages: v.stages, CreatedDate: v.created };
  }

  private checkAllowed(operation: string, s: StoredSecret): void {
    const d = this.denied.get(operation);
    if (d && d !== 'all' && d.has(s.name)) throw this.accessDenied(operation, s.arn);
  }

  private getSecretValue(body: Record<string, unknown>): unknown {
    const s = this.find(body.SecretId);
    this.checkAllowed('GetSecretValue', s);
    return this.valueOf(s, body);
  }

  private filtered(filters: unknown): StoredSecret[] {
    const all = [...this.secrets.values()];
    if (filters === undefined) return all;
    if (!Array.isArray(filters)) throw new AwsError('InvalidParameterException', 'Filters must be a list');
    const checks = filters.map((f: unknown) => {
      const { Key: key, Values: values } = (f ?? {}) as { Key?: unknown; Values?: unknown };
      if (!['name', 'description', 'tag-key', 'tag-value', 'all'].includes(String(key)))
        throw new AwsError('InvalidParameterException', `unsupported filter key ${String(key)}`);
      if (!Array.isArray(values) || values.length < 1 || values.length > 10 || !values.every((v) => typeof v === 'string'))
        throw new AwsError('InvalidParameterException', 'filter Values must be 1 to 10 strings');
      return { key: key as string, values: values as string[] };
    });
    // Values of one filter are ORed, filters are ANDed; `!` negates a value.
    return all.filter((s) =>
      checks.every(({ key, values }) => {
        const positive = values.filter((v) => !v.startsWith('!'));
        const negative = values.filter((v) => v.startsWith('!')).map((v) => v.slice(1));
        const fields = (): string[] => {
          switch (key) {
            case 'name':
              return [s.name];
            case 'description':
              return s.description ? [s.description.toLowerCase()] : [];
            case 'tag-key':
              return [...s.tags.keys()];
            case 'tag-value':
              return [...s.tags.values()];
            default:
              return [s.name, s.description ?? '', ...s.tags.keys(), ...s.tags.values()].map((x) => x.toLowerCase());
          }
        };
        const norm = (v: string) => (key === 'description' || key === 'all' ? v.toLowerCase() : v);
        const match = (v: string) => fields().some((f) => (key === 'all' ? f.includes(norm(v)) : f.startsWith(norm(v))));
        return (positive.length === 0 || positive.some(match)) && !negative.some(match);
      }),
    );
  }

  private page<T>(items: T[], body: Record<string, unknown>, limit: number): { items: T[]; next?: string } {
    let start = 0;
    if (body.NextToken !== undefined) {
      const m = typeof body.NextToken === 'string' ? /^page:(\d+)$/.exec(Buffer.from(body.NextToken, 'base64').toString()) : null;
      if (!m) throw new AwsError('InvalidNextTokenException', 'The NextToken value is invalid.');
      start = Number(m[1]);
    }
    const max = body.MaxResults === undefined ? limit : Number(body.MaxResults);
    if (!Number.isInteger(max) || max < 1 || max > limit) throw new AwsError('InvalidParameterException', `MaxResults must be 1 to ${limit}`);
    const size = Math.min(max, this.maxPageSize);
    const slice = items.slice(start, start + size);
    const end = start + slice.length;
    return end < items.length ? { items: slice, next: Buffer.from(`page:${end}`).toString('base64') } : { items: slice };
  }

  private listSecrets(body: Record<string, unknown>): unknown {
    let matched = this.filtered(body.Filters).sort((a, b) => a.created - b.created || a.name.localeCompare(b.name));
    if (body.SortOrder === 'desc') matched = matched.reverse();
    const { items, next } = this.page(matched, body, 100);
    return {
      SecretList: items.map((s) => ({
        ARN: s.arn,
        Name: s.name,
        ...(s.description !== undefined ? { Description: s.description } : {}),
        Tags: [...s.tags].map(([Key, Value]) => ({ Key, Value })),
        SecretVersionsToStages: Object.fromEntries(s.versions.map((v) => [v.id, v.stages])),
        CreatedDate: s.created,
        LastChangedDate: s.changed,
      })),
      ...(next ? { NextToken: next } : {}),
    };
  }

  private batchGetSecretValue(body: Record<string, unknown>): unknown {
    const ids = body.SecretIdList;
    if ((ids === undefined) === (body.Filters === undefined))
      throw new AwsError('InvalidParameterException', 'Specify either SecretIdList or Filters, not both.');
    const values: unknown[] = [];
    const errors: unknown[] = [];
    if (ids !== undefined) {
      if (!Array.isArray(ids) || ids.length < 1 || ids.length > 20)
        throw new AwsError('InvalidParameterException', 'SecretIdList must hold 1 to 20 secret ids');
      if (body.MaxResults !== undefined || body.NextToken !== undefined)
        throw new AwsError('InvalidParameterException', 'MaxResults and NextToken need Filters');
      for (const id of ids) {
        try {
          const s = this.find(id);
          this.checkAllowed('GetSecretValue', s);
          values.push(this.valueOf(s));
        } catch (e) {
          const err = e as AwsError;
          errors.push({ SecretId: id, ErrorCode: err.type, Message: err.message });
        }
      }
      return { SecretValues: values, Errors: errors };
    }
    const { items, next } = this.page(this.filtered(body.Filters), body, 20);
    for (const s of items) {
      try {
        this.checkAllowed('GetSecretValue', s);
        values.push(this.valueOf(s));
      } catch (e) {
        const err = e as AwsError;
        errors.push({ SecretId: s.name, ErrorCode: err.type, Message: err.message });
      }
    }
    return { SecretValues: values, Errors: errors, ...(next ? { NextToken: next } : {}) };
  }
}

export async function startSecretsManagerServer(): Promise<SecretsManagerServer> {
  return new SecretsManagerServer().start();
}

/** Environment that points the AWS SDK at `server` with static test credentials and no shared config files. */
export function awsTestEnv(server: { endpoint: string }, region = 'eu-west-1'): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: server.endpoint,
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: 'AKIAMAYFLYTEST000001',
    AWS_SECRET_ACCESS_KEY: 'mayfly-test-secret-access-key',
    // Never let a credential provider reach for an instance metadata service or real config.
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent/mayfly-test-aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/mayfly-test-aws-credentials',
  };
}

/** Sets `vars` in process.env and returns a function that restores what was there. */
export function withEnv(vars: Record<string, string | undefined>): () => void {
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(vars)) {
    saved.set(k, process.env[k]);
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/**
 * The server in a child process (for benchmarks that measure the client's CPU alone).
 * `put` stores secrets (a new version for existing names) and resolves once they are in.
 */
export async function forkSecretsManagerServer(): Promise<{
  endpoint: string;
  put(secrets: [string, string | object][]): Promise<void>;
  stop(): Promise<void>;
}> {
  const child = fork(__filename, ['--serve'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the Secrets Manager server process exited (${code})`)));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    put: (secrets) =>
      new Promise<void>((resolve) => {
        child.once('message', () => resolve());
        child.send({ put: secrets });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

if (require.main === module && process.argv.includes('--serve') && process.send) {
  const server = new SecretsManagerServer();
  process.on('message', (m: { put?: [string, string | object][] }) => {
    for (const [name, value] of m.put ?? []) server.put(name, value);
    process.send!({ ok: true });
  });
  void server.start().then(() => process.send!({ port: server.port }));
  process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
  process.on('disconnect', () => void server.stop().then(() => process.exit(0)));
}
