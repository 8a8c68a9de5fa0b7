/**
 * The system under fault: a PostgreSQL of its own (so it can be stopped and started), the
 * demo data, and `mayfly proxy` as a real process listening for Postgres clients.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { startDedicatedEmbeddedPostgres, freePort, type DedicatedPgServer } from '../support/postgres';
import { startProxy, type RunningProxy } from '../support/proxyProcess';
import { createSampleData } from '../../proxy/demo/sampleData';
import { awsTestEnv, startSecretsManagerServer, type SecretsManagerServer } from '../support/secretsManagerServer';

export const POLICIES = `policy "soak" {
  engine              = "postgres"
  plugin_config_entry = "soak-granter"
  expiration          = "1h"
  instances           = ["testdb"]
  grant_privileges    = ["SELECT"]
}

policy "soak-short" {
  engine              = "postgres"
  plugin_config_entry = "soak-granter"
  expiration          = "8s"
  instances           = ["testdb"]
  grant_privileges    = ["SELECT", "INSERT"]
}
`;

export const USER = 'soaker';
export const USER_PASSWORD = 'soak-user-password';

export const USERS_SECRET = 'mayfly/soak-users';

export interface World {
  server: DedicatedPgServer;
  /** With `aws`: the local Secrets Manager holding the users (secret USERS_SECRET). */
  secretsManager?: SecretsManagerServer;
  proxy: RunningProxy;
  port: number;
  policyFile: string;
  /** Every secret the run must never print. */
  secrets: string[];
  clientConfig(policy: string): pg.ClientConfig;
  close(): Promise<void>;
}

export async function startWorld(options: { aws?: boolean; maxConnections?: number } = {}): Promise<World> {
  // Session pooling gives every connected client a server connection: room for all of them.
  const max = options.maxConnections ?? 200;
  const server = await startDedicatedEmbeddedPostgres(['-c', `max_connections=${max}`]);
  await createSampleData(server.superuser);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-soak-'));
  const policyFile = path.join(dir, 'config.hcl');
  fs.writeFileSync(policyFile, POLICIES);
  const userList = [{ username: USER, password: USER_PASSWORD, type: 'text', role: 'database' }];
  const users = path.join(dir, 'users.json');
  fs.writeFileSync(users, JSON.stringify(userList));
  // With aws, the users come from Secrets Manager (refreshed every second) instead of the file.
  const secretsManager = options.aws ? await startSecretsManagerServer() : undefined;
  secretsManager?.put(USERS_SECRET, userList);
  const usersArgs = secretsManager ? ['--users', `aws:${USERS_SECRET}`, '--users-refresh', '1s'] : ['--users', users];
  const s = server.superuser;
  const port = await freePort();
  const proxy = await startProxy(
    ['--config', `policy-config=path:${policyFile}`, '--config', 'soak-granter=env:MAYFLY_SOAK_DSN', '--listen', `127.0.0.1:${port}`, ...usersArgs, '--no-tls', '--max-upstream', String(max - 20)],
    {
      MAYFLY_SOAK_DSN: `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable`,
      ...(secretsManager ? awsTestEnv(secretsManager) : {}),
    },
  );
  return {
    server,
    ...(secretsManager ? { secretsManager } : {}),
    proxy,
    port,
    policyFile,
    secrets: [s.password!, encodeURIComponent(s.password!), USER_PASSWORD],
    clientConfig: (policy) => ({ host: '127.0.0.1', port, user: `${USER}@${policy}`, password: USER_PASSWORD, database: 'testdb', connectionTimeoutMillis: 10_000 }),
    async close() {
      await proxy.stop();
      await secretsManager?.stop();
      await server.stop();
    },
  };
}
