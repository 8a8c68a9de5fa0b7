/**
 * A Mayfly proxy process of its own for tests that measure the proxy (its memory): the
 * same MayflyApp as `mayfly proxy`, with pool limits from the environment. Bundled with
 * esbuild by the test, so it runs like dist/proxy.js (no TypeScript loader in memory).
 * Prints `listening PORT` when ready; SIGTERM stops it.
 */
import { MayflyApp } from '../../../proxy/app';
import { createLogger } from '../../../proxy/log/logger';

async function main(): Promise<void> {
  const env = process.env;
  const app = new MayflyApp({
    config: [`policy-config=path:${env.CHILD_POLICY_FILE}`, 'child-credentials=env:CHILD_DSN'],
    log: createLogger((line) => (line.includes(' error ') ? process.stderr.write(`${line}\n`) : undefined)),
  });
  const addr = await app.serveWire({
    listen: '127.0.0.1:0',
    users: [env.CHILD_USERS_FILE!],
    tls: false,
    pool: JSON.parse(env.CHILD_POOL ?? '{}'),
  });
  process.stdout.write(`listening ${addr.port}\n`);
  process.once('SIGTERM', () => {
    void app.close().then(() => process.exit(0));
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
