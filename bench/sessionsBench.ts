/**
 * Session open latency through the real control API (Unix socket) of an in-process
 * Mayfly, against the embedded PostgreSQL with the seed's 3-instance policy:
 * a new role (absent on the server), an existing role (expired, so a new password is
 * issued) and the cached path (the role is live; no server round trip needed).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MayflyApp } from '../proxy/app';
import { ControlClient } from '../proxy/control/client';
import { createLogger } from '../proxy/log/logger';
import { createSampleData } from '../proxy/demo/sampleData';
import { dropRoleEverywhere, startEmbeddedPostgres, stopAllPostgres } from '../test/support/postgres';
import { ms, summarize } from './stats';

const PRIVILEGE_SETS = [
  ['SELECT'],
  ['SELECT', 'UPDATE'],
  ['SELECT', 'INSERT'],
  ['SELECT', 'DELETE'],
  ['INSERT'],
  ['UPDATE'],
  ['SELECT', 'INSERT', 'UPDATE'],
  ['SELECT', 'TRUNCATE'],
];

function policies(): string {
  return PRIVILEGE_SETS.map(
    (privs, i) => `policy "p${i}" {
  engine              = "postgres"
  plugin_config_entry = "granter"
  expiration          = "12h"
  instances           = ["dellstore", "dellstore.store", "testdb"]
  grant_privileges    = [${privs.map((p) => `"${p}"`).join(', ')}]
}
`,
  ).join('\n');
}

export interface SessionBenchRow {
  case: string;
  /** All requesters open the seed policy (one role) rather than one role each. */
  samePolicy: boolean;
  requesters: number;
  n: number;
  p50: number;
  p99: number;
  perSecond: number;
}

export async function runSessionBench(log: (line: string) => void, iterations = 40): Promise<SessionBenchRow[]> {
  const server = await startEmbeddedPostgres();
  await createSampleData(server.superuser);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mayfly-bench-'));
  fs.writeFileSync(path.join(dir, 'policies.hcl'), policies());
  const s = server.superuser;
  process.env.MAYFLY_BENCH_DSN = `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable`;
  const app = new MayflyApp({
    config: [`policy-config=path:${path.join(dir, 'policies.hcl')}`, 'granter=env:MAYFLY_BENCH_DSN'],
    log: createLogger(() => undefined),
  });
  const socket = path.join(dir, 'run', 'control.sock');
  await app.serveControl(socket);
  const client = new ControlClient(socket);
  const rows: SessionBenchRow[] = [];

  const roleOf = async (policy: string): Promise<string> => (await client.policies()).policies.find((p) => p.name === policy)!.sessionUser!;
  const roles = await Promise.all(PRIVILEGE_SETS.map((_, i) => roleOf(`p${i}`)));

  /**
   * `rounds` rounds; in each, `setup` runs for every requester first (untimed, one at a
   * time), then all requesters open at once and each open is timed.
   */
  async function measure(
    name: string,
    requesters: number,
    rounds: number,
    setup: (r: number) => Promise<void>,
    samePolicy = false,
  ): Promise<void> {
    const samples: number[] = [];
    let busy = 0;
    for (let k = 0; k < rounds; k++) {
      for (let r = 0; r < (samePolicy ? 1 : requesters); r++) await setup(r);
      const t0 = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: requesters }, async (_, r) => {
          const t = process.hrtime.bigint();
          await client.open({ policy: samePolicy ? 'p0' : `p${r}` });
          samples.push(Number(process.hrtime.bigint() - t) / 1e6);
        }),
      );
      busy += Number(process.hrtime.bigint() - t0) / 1e9;
    }
    const st = summarize(samples);
    const perSecond = samples.length / busy;
    rows.push({ case: name, samePolicy, requesters, n: st.n, p50: st.p50, p99: st.p99, perSecond });
    const who = requesters === 1 ? '1 requester' : samePolicy ? `${requesters} requesters, one policy` : `${requesters} requesters, ${requesters} roles`;
    log(`  ${name.padEnd(14)} ${who.padEnd(26)} n=${String(st.n).padEnd(5)} p50 ${ms(st.p50)} ms, p99 ${ms(st.p99)} ms, ${perSecond.toFixed(0)} opens/s`);
  }

  const forget = async (r: number): Promise<void> => {
    await client.revoke(`p${r}`).catch(() => undefined);
  };
  const drop = async (r: number): Promise<void> => {
    await forget(r);
    await dropRoleEverywhere(server, roles[r]!);
  };

  // Warm-up: the marker role, connections, JIT.
  for (let r = 0; r < 8; r++) await client.open({ policy: `p${r}` });

  await measure('new role', 1, iterations, drop);
  await measure('existing role', 1, iterations, forget);
  await measure('new role', 8, Math.ceil(iterations / 2), drop, true);
  await measure('existing role', 8, Math.ceil(iterations / 2), forget, true);
  await measure('new role', 8, Math.ceil(iterations / 4), drop);
  await measure('existing role', 8, Math.ceil(iterations / 4), forget);
  for (let r = 0; r < 8; r++) await client.open({ policy: `p${r}` });
  await measure('cached', 1, 1000, async () => undefined);
  await measure('cached', 8, 250, async () => undefined, true);

  await app.close();
  await stopAllPostgres();
  fs.rmSync(dir, { recursive: true, force: true });
  return rows;
}
