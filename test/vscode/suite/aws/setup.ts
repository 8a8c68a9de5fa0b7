/**
 * Runs in the runner (outside VS Code) before the aws suite, and stays up during it: a real
 * PostgreSQL with the demo data, the local Secrets Manager (test/support), and a small admin
 * HTTP endpoint beside it, since the tests in the extension host cannot reach this process's
 * server object: POST /put {name, value}, POST /outage {outage}, GET /requests.
 *
 * The extension host gets static AWS credentials but neither region nor endpoint: those
 * must come from the mayfly.aws.* settings the tests set, or nothing loads.
 */
import http from 'node:http';
import type net from 'node:net';
import { startEmbeddedPostgres, stopAllPostgres } from '../../../support/postgres';
import { awsTestEnv, startSecretsManagerServer, type SecretsManagerServer } from '../../../support/secretsManagerServer';
import { createSampleData } from '../../../../proxy/demo/sampleData';

type Outage = Parameters<SecretsManagerServer['setOutage']>[0];
const OUTAGES: unknown[] = [false, 'refuse', 'hang', 500, 503];

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
}

function startAdmin(sm: SecretsManagerServer): Promise<http.Server> {
  const admin = http.createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    void (async () => {
      const body = await readJson(req);
      if (req.method === 'POST' && req.url === '/put') {
        if (typeof body.name !== 'string' || body.value === undefined) return reply(400, { error: 'put needs {name, value}' });
        return reply(200, { versionId: sm.put(body.name, body.value as string | object) });
      }
      if (req.method === 'POST' && req.url === '/outage') {
        if (!OUTAGES.includes(body.outage)) return reply(400, { error: `outage must be one of ${JSON.stringify(OUTAGES)}` });
        await sm.setOutage(body.outage as Outage);
        return reply(200, { outage: body.outage });
      }
      if (req.method === 'GET' && req.url === '/requests')
        // What the SDK sent, without bodies: enough to see which region and key signed each call.
        return reply(200, sm.requests().map(({ operation, region, accessKeyId, status, errorType }) => ({ operation, region, accessKeyId, status, errorType })));
      return reply(404, { error: `no route ${req.method} ${req.url}` });
    })().catch((e: unknown) => reply(500, { error: (e as Error).message }));
  });
  return new Promise((resolve, reject) => {
    admin.once('error', reject);
    admin.listen(0, '127.0.0.1', () => resolve(admin));
  });
}

export async function setup(): Promise<{ env: Record<string, string>; secrets: string[]; teardown: () => Promise<void> }> {
  const server = await startEmbeddedPostgres();
  await createSampleData(server.superuser);
  const s = server.superuser;
  const dsn = `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable`;
  const sm = await startSecretsManagerServer();
  const admin = await startAdmin(sm);
  const aws = awsTestEnv(sm);
  const { AWS_ENDPOINT_URL_SECRETS_MANAGER: _endpoint, AWS_REGION: _region, ...credentials } = aws;
  return {
    env: {
      ...credentials,
      MAYFLY_TEST_DSN: dsn,
      MAYFLY_TEST_SM_ENDPOINT: sm.endpoint,
      MAYFLY_TEST_SM_ADMIN: `http://127.0.0.1:${(admin.address() as net.AddressInfo).port}`,
    },
    secrets: [s.password!, aws.AWS_SECRET_ACCESS_KEY!],
    teardown: async () => {
      await new Promise<void>((r) => admin.close(() => r()));
      await sm.stop();
      await stopAllPostgres();
    },
  };
}
