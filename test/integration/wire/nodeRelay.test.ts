// The wire benchmark's floor (bench/nodeRelay.ts) must really relay: a login and queries
// through it reach PostgreSQL, large results arrive whole, and its CPU can be read.
import assert from 'node:assert/strict';
import pg from 'pg';
import { startEmbeddedPostgres, type PgServer } from '../../support/postgres';
import { startNodeRelay, type RunningNodeRelay } from '../../../bench/wireNodeRelay';
import { processCpuSeconds } from '../../../bench/wireIdle';

describe('wire benchmark: the bare Node relay (harness check)', function () {
  this.timeout(60_000);
  let server: PgServer;
  let relay: RunningNodeRelay;

  before(async () => {
    server = await startEmbeddedPostgres();
    relay = await startNodeRelay(server.port);
  });
  after(async () => {
    await relay?.stop();
  });

  it('relays a SCRAM login and queries both ways, big results included', async () => {
    const su = server.superuser;
    const client = new pg.Client({ host: '127.0.0.1', port: relay.port, user: su.user, password: su.password, database: 'postgres' });
    await client.connect();
    try {
      const { rows } = await client.query<{ who: string; port: number }>('select current_user as who, inet_server_port() as port');
      assert.deepEqual(rows[0], { who: su.user, port: server.port }, 'answered by the server itself, as the client');
      // 4 MB in one result: many reads, writes that may have to wait.
      const big = await client.query<{ n: string; s: string }>("select count(*)::text as n, md5(string_agg(repeat('x', 100) || g, '')) as s from generate_series(1, 40000) g");
      const expected = await server.query<{ s: string }>('postgres', "select md5(string_agg(repeat('x', 100) || g, '')) as s from generate_series(1, 40000) g");
      assert.equal(big.rows[0]!.s, expected[0]!.s);
      const wide = await client.query<{ t: string }>("select repeat('y', 4 * 1024 * 1024) as t");
      assert.equal(wide.rows[0]!.t.length, 4 * 1024 * 1024);
    } finally {
      await client.end();
    }
    assert.ok(processCpuSeconds(relay.pid) > 0, 'the relay used CPU of its own');
  });

  it('keeps running after a client vanishes mid-session', async () => {
    const su = server.superuser;
    const gone = new pg.Client({ host: '127.0.0.1', port: relay.port, user: su.user, password: su.password, database: 'postgres' });
    gone.on('error', () => undefined);
    await gone.connect();
    (gone as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    const next = new pg.Client({ host: '127.0.0.1', port: relay.port, user: su.user, password: su.password, database: 'postgres' });
    await next.connect();
    assert.equal((await next.query<{ one: number }>('select 1 as one')).rows[0]!.one, 1);
    await next.end();
  });
});
