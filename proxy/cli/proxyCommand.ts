/** `mayfly proxy`: runs until Ctrl-C / SIGTERM, serving the control API. */
import { MayflyApp } from '../app';
import { defaultControlSocket } from '../control/paths';
import { createLogger } from '../log/logger';
import type { Output } from './output';
import { parseRefreshInterval, parseUserSourceSpec } from '../users/sourceSpec';
import { parsePoolFlags, type PoolFlags } from '../wire/poolFlags';

export interface ProxyOptions extends PoolFlags {
  config: string[];
  control?: string;
  json?: boolean;
  debug?: boolean;
  /** HOST:PORT of the local Postgres proxy (off unless given). */
  listen?: string;
  /** User stores for the local Postgres proxy: FILE, aws:SECRET_ID, aws-prefix:PREFIX, aws-tag:KEY=VALUE. */
  users?: string[];
  /** How often user stores are re-read (a Go duration; default 15s). */
  usersRefresh?: string;
  awsRegion?: string;
  awsProfile?: string;
  awsEndpoint?: string;
  /** Config entry naming the server identities without a policy are passed through to. */
  primary?: string;
  /** Config entries naming read replicas (read-only pass-through sessions). */
  replicas?: string[];
  tlsCert?: string;
  tlsKey?: string;
  noTls?: boolean;
  allowRemote?: boolean;
}

export async function proxyCommand(opts: ProxyOptions, out: Output): Promise<number> {
  if ((opts.users?.length || opts.primary || opts.usersRefresh) && !opts.listen)
    throw new Error(`${opts.users?.length ? '--users' : opts.primary ? '--primary' : '--users-refresh'} needs --listen HOST:PORT (the local Postgres proxy)`);
  // Bad specs and durations are refused before anything starts.
  for (const spec of opts.users ?? []) parseUserSourceSpec(spec);
  const usersRefreshMs = opts.usersRefresh ? parseRefreshInterval(opts.usersRefresh) : undefined;
  const pool = parsePoolFlags(opts);
  if (Object.keys(pool).length && !opts.listen) throw new Error('the --pool-* and --max-upstream flags need --listen HOST:PORT (the local Postgres proxy)');
  const aws = { ...(opts.awsRegion ? { region: opts.awsRegion } : {}), ...(opts.awsProfile ? { profile: opts.awsProfile } : {}), ...(opts.awsEndpoint ? { endpoint: opts.awsEndpoint } : {}) };
  if (!!opts.tlsCert !== !!opts.tlsKey) throw new Error('--tls-cert and --tls-key go together');
  const log = createLogger((line) => out.err(line), { json: opts.json, debug: opts.debug });
  const app = new MayflyApp({ config: opts.config, log, watch: true, aws });
  const socket = opts.control ?? defaultControlSocket();
  // A refused control socket (e.g. a folder another user owns) must not leave the policy
  // watcher holding the process open.
  await app.serveControl(socket).catch(async (e: unknown) => {
    await app.close();
    throw e;
  });
  let wire: Awaited<ReturnType<MayflyApp['serveWire']>> | undefined;
  try {
    if (opts.listen)
      wire = await app.serveWire({
        listen: opts.listen,
        ...(opts.users?.length ? { users: opts.users } : {}),
        ...(usersRefreshMs ? { usersRefreshMs } : {}),
        ...(opts.primary ? { primary: opts.primary } : {}),
        ...(opts.replicas?.length ? { replicas: opts.replicas } : {}),
        ...(opts.noTls ? { tls: false as const } : opts.tlsCert && opts.tlsKey ? { tls: { cert: opts.tlsCert, key: opts.tlsKey } } : {}),
        ...(opts.allowRemote ? { allowRemote: true } : {}),
        ...(Object.keys(pool).length ? { pool } : {}),
      });
  } catch (e) {
    // Stop the control server too, or the process would linger without its proxy.
    await app.close();
    throw e;
  }
  log.log('info', 'proxy.started', {
    pid: process.pid,
    control: socket,
    policyFile: app.policies.file,
    policies: app.policies.list().length,
    ...(wire ? { listen: `${wire.host.includes(':') ? `[${wire.host}]` : wire.host}:${wire.port}` } : {}),
  });
  // Tell a parent (the extension, `npm start`) we are ready.
  process.send?.({ type: 'ready', control: socket, pid: process.pid, ...(wire ? { listen: wire } : {}) });
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log.log('info', 'proxy.stopping', { signal });
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('disconnect', () => stop('parent-exited'));
  });
  await app.close();
  log.log('info', 'proxy.stopped', {});
  // A forked proxy (the extension's) would otherwise wait on its IPC channel to the parent.
  if (process.connected) process.disconnect();
  return 0;
}
