/**
 * Copies bytes both ways once both sides are logged in. Backpressure: when a write
 * returns false the reading side pauses until the writer drains, so a slow client cannot
 * make us buffer a large result. Message boundaries are tracked (not buffered) to know
 * when a query is running and whether an error of our own can be injected cleanly.
 */
import type net from 'node:net';
import { MessageBoundaryTracker } from './protocol/frames';

export interface RelayHooks {
  fromClient(type: number): void;
  fromServer(type: number): void;
  /** `by` says which side ended first; called once. */
  closed(by: 'client' | 'server', error?: Error): void;
}

function pump(from: net.Socket, to: net.Socket, tracker: MessageBoundaryTracker, onType: (t: number) => void): void {
  from.on('data', (chunk: Buffer) => {
    tracker.feed(chunk, onType);
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
}

export function relay(client: net.Socket, server: net.Socket, hooks: RelayHooks): { serverTracker: MessageBoundaryTracker } {
  const clientTracker = new MessageBoundaryTracker();
  const serverTracker = new MessageBoundaryTracker();
  let done = false;
  const finish = (by: 'client' | 'server', error?: Error): void => {
    if (done) return;
    done = true;
    hooks.closed(by, error);
  };
  pump(client, server, clientTracker, hooks.fromClient);
  pump(server, client, serverTracker, hooks.fromServer);
  client.on('error', (e) => finish('client', e));
  server.on('error', (e) => finish('server', e));
  client.on('close', () => finish('client'));
  server.on('close', () => finish('server'));
  client.on('end', () => finish('client'));
  server.on('end', () => finish('server'));
  return { serverTracker };
}
