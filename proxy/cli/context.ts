/**
 * How a CLI command reaches sessions: through a running proxy (the holder of live
 * passwords) when one answers on the control socket, otherwise directly with --config.
 */
import { ControlClient } from '../control/client';
import { defaultControlSocket } from '../control/paths';
import { MayflyApp } from '../app';
import { createLogger } from '../log/logger';
import type { Output } from './output';

export interface Target {
  kind: 'proxy' | 'direct';
  client?: ControlClient;
  app?: MayflyApp;
  close(): Promise<void>;
}

export async function connect(opts: { config?: string[]; control?: string; debug?: boolean }, out: Output): Promise<Target> {
  const client = new ControlClient(opts.control ?? defaultControlSocket());
  if (await client.available()) return { kind: 'proxy', client, close: async () => undefined };
  if (!opts.config?.length)
    throw new Error(
      'no Mayfly proxy is running and no --config was given: start one with `mayfly proxy --config ...` (or `npm start` for the demo), or pass --config here',
    );
  const log = createLogger((line) => out.err(line), { debug: opts.debug });
  const app = new MayflyApp({ config: opts.config, log });
  if (app.policies.loadError) throw new Error(app.policies.loadError);
  return { kind: 'direct', app, close: () => app.close() };
}
