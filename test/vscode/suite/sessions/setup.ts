/** Runs outside VS Code before the sessions suite: a real PostgreSQL with the demo data. */
import { startEmbeddedPostgres, stopAllPostgres } from '../../../support/postgres';
import { createSampleData } from '../../../../proxy/demo/sampleData';

export async function setup(): Promise<{ env: Record<string, string>; secrets: string[]; teardown: () => Promise<void> }> {
  const server = await startEmbeddedPostgres();
  await createSampleData(server.superuser);
  const s = server.superuser;
  const dsn = `postgres://${s.user}:${encodeURIComponent(s.password!)}@${s.host}:${s.port}/postgres?sslmode=disable`;
  return { env: { MAYFLY_TEST_DSN: dsn }, secrets: [s.password!], teardown: () => stopAllPostgres() };
}
