/** `mayfly proxy`: runs until Ctrl-C / SIGTERM, serving the control API. */
import { MayflyApp } from '../app';
import { defaultControlSocket } from '../control/paths';
import { createLogger } from '../log/logger';
import type { Output } from './output';

export interface ProxyOptions {
  config: string[];
  control?: string;
  json?: boolean;
  debug?: boolean;
}

export async function proxyCommand(opts: ProxyOptions, out: Output): Promise<number> {
  const log = createLogger((line) => out.err(line), { json: opts.json, debug: opts.debug });
  const app = new MayflyApp({ config: opts.config, log, watch: true });
  const socket = opts.control ?? defaultControlSocket();
  await app.serveControl(socket);
  log.log('info', 'proxy.started', { pid: process.pid, control: socket, policyFile: app.policies.file, policies: app.policies.list().length });
  // Tell a parent (the extension, `npm start`) we are ready.
  process.send?.({ type: 'ready', control: socket, pid: process.pid });
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
  return 0;
}
