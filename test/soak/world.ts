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

export interface World {
  server: DedicatedPgServer;
  proxy: RunningProxy;
  port: number;
  policyFile: string;
  /** Every secret the run must never print. */
  secrets: string[];
  clientConfig(policy: string): pg.ClientConfig;
  close(): Promise<void>;
}

export async function startWorld(extraProxyArgs: string[] = []): Promise<World> {
  const server = await startDedicatedEmbeddedPostgres();
  await createSampleData(server.superuser);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-soak-'));
  const policyFile = path.join(dir, 'config.hcl');
  fs.writeFileSync(policyFile, POLICIES);
  const users = path.join(dir, 'users.json');
  fs.writeFileSync(users, JSON.stringify([{ username: USER, password: USER_PASSWORD, type: 'text', role: 'database' }]));
  const s = server.superuser;
  const port = await freePort();
  const proxy = await startProxy(
    ['--config', `policy-config=path:${policyFile}`, '--config', 'soak-granter=env:MAYFLY_SOAK_DSN', '--listen', `127.0.0.1:${port}`, '--users', users, '--no-tls', ...extraProxyArgs],
    { MAYFLY_SOAK_DSN: `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable` },
  );
  return {
    server,
    proxy,
    port,
    policyFile,
    secrets: [s.password!, encodeURIComponent(s.password!), USER_PASSWORD],
    clientConfig: (policy) => ({ host: '127.0.0.1', port, user: `${USER}@${policy}`, password: USER_PASSWORD, database: 'testdb', connectionTimeoutMillis: 10_000 }),
    async close() {
      await proxy.stop();
      await server.stop();
    },
  };
}
