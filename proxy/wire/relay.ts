/**
 * Copies bytes both ways once both sides are logged in, following message boundaries
 * (never buffering messages) to know when a query is running, whether the server is idle
 * outside a transaction, and whether the server connection may go back to the pool when
 * the client leaves. The client's Terminate is kept from the server for that reason.
 *
 * Backpressure: a chunk read into a reused buffer (socketInput.ts) must leave the process
 * before the next read overwrites it, so its source pauses while any of it waits to be
 * written; a chunk of its own (TLS, 'data' events) pauses its source only past the usual
 * high-water mark. Either way a slow reader cannot make us buffer a large result. Writes
 * to plain TCP sockets go straight to the handle (directWrite.ts), which says at once
 * whether the kernel took the bytes.
 */
import type net from 'node:net';
import tls from 'node:tls';
import { BackendTracker, FrontendTracker } from './protocol/sessionTrackers';
import { directWriter, type DirectWrite } from './directWrite';
import type { SocketInput } from './socketInput';
import type { Upstream } from './upstream';

const IDLE = 0x49; // 'I'

/** One direction: writes chunks on and pauses the source while they are queued. */
class Pump {
  private waiting = false;
  /** Once the relay stopped, late write callbacks must not resume a socket someone else now owns. */
  stopped = false;
  private readonly limit: number;
  private readonly copy: boolean;
  private readonly direct?: DirectWrite;
  /** Direct writes that had to wait, and their bytes. */
  private queued = 0;
  private queuedBytes = 0;

  constructor(
    private readonly from: net.Socket,
    private readonly to: net.Socket,
    reusedSource: boolean,
  ) {
    this.limit = reusedSource ? 0 : to.writableHighWaterMark;
    // Encryption may hold on to cleartext beyond the write call; give it a copy.
    this.copy = reusedSource && to instanceof tls.TLSSocket;
    this.direct = directWriter(to, this.drained);
  }

  write(chunk: Buffer): void {
    if (this.to.destroyed) return;
    if (this.direct) {
      if (this.direct(chunk)) return;
      this.queued++;
      this.queuedBytes += chunk.length;
      if (!this.waiting && this.queuedBytes > this.limit) this.pauseSource();
      return;
    }
    this.to.write(this.copy ? Buffer.from(chunk) : chunk, this.flushed);
    if (!this.waiting && this.to.writableLength > this.limit) this.pauseSource();
  }

  private pauseSource(): void {
    this.waiting = true;
    this.from.pause();
  }

  private resumeSource(): void {
    this.waiting = false;
    this.from.resume();
  }

  private readonly drained = (): void => {
    // A failed write destroyed (or found destroyed) the socket; its 'error'/'close' ends the relay.
    this.queued--;
    if (this.queued === 0) this.queuedBytes = 0;
    if (this.waiting && !this.stopped && this.queued === 0) this.resumeSource();
  };

  private readonly flushed = (): void => {
    if (this.waiting && !this.stopped && this.to.writableLength <= this.limit) this.resumeSource();
  };
}

export type RelayEnd = (by: 'client' | 'server', error?: Error) => void;

export class Relay {
  readonly front = new FrontendTracker();
  readonly back = new BackendTracker();
  private done = false;
  private readonly toServer: Pump;
  private readonly toClient: Pump;

  constructor(
    private readonly client: net.Socket,
    private readonly clientInput: SocketInput,
    private readonly server: Upstream,
    private readonly onEnd: RelayEnd,
  ) {
    this.toServer = new Pump(client, server.socket, clientInput.reused);
    this.toClient = new Pump(server.socket, client, server.input.reused);
    client.on('error', this.clientError).on('close', this.clientClosed).on('end', this.clientClosed);
    server.socket.on('error', this.serverError).on('close', this.serverClosed).on('end', this.serverClosed);
    clientInput.handler = this.fromClient;
    server.input.handler = this.fromServer;
    if (server.rest.length) {
      const rest = server.rest;
      server.rest = Buffer.alloc(0);
      this.fromServer(rest);
    }
  }

  /** Queries the client still waits for (each Query, Sync and FunctionCall gets one ReadyForQuery). */
  get pending(): number {
    return this.front.requests - this.back.readies;
  }

  /**
   * True when the server connection could serve another client after a reset: no query
   * running, idle outside a transaction, nothing half-sent either way.
   */
  get reusable(): boolean {
    return (
      this.pending === 0 &&
      this.back.status === IDLE &&
      !this.front.unsynced &&
      this.front.atBoundary &&
      this.back.atBoundary &&
      !this.server.socket.destroyed &&
      this.server.socket.readyState === 'open'
    );
  }

  private readonly fromClient = (chunk: Buffer): void => {
    const n = this.front.feed(chunk);
    if (n > 0) this.toServer.write(n === chunk.length ? chunk : chunk.subarray(0, n));
    // The client said goodbye: the session is over, whether or not it closes the socket.
    if (this.front.terminated) this.finish('client');
  };

  private readonly fromServer = (chunk: Buffer): void => {
    this.back.feed(chunk);
    this.toClient.write(chunk);
    if (this.atServerBoundary && this.back.atBoundary) {
      const then = this.atServerBoundary;
      this.atServerBoundary = undefined;
      then();
    }
  };

  private atServerBoundary?: () => void;

  /**
   * Stops taking the client's messages and calls `then` as soon as the server's output
   * stands between two messages (at once if it does now): the moment a message of our own
   * (a FATAL) can be sent to the client without cutting one of the server's in half.
   */
  drain(then: () => void): void {
    this.clientInput.handler = () => undefined;
    if (this.back.atBoundary) then();
    else this.atServerBoundary = then;
  }

  private readonly clientError = (e: Error): void => this.finish('client', e);
  private readonly clientClosed = (): void => this.finish('client');
  private readonly serverError = (e: Error): void => this.finish('server', e);
  private readonly serverClosed = (): void => this.finish('server');

  private finish(by: 'client' | 'server', error?: Error): void {
    if (this.done) return;
    this.done = true;
    this.stop();
    this.onEnd(by, error);
  }

  /** Stops relaying; the sockets are left to the caller (the server one maybe to the pool). */
  stop(): void {
    this.done = true;
    this.toServer.stopped = true;
    this.toClient.stopped = true;
    this.client.off('error', this.clientError).off('close', this.clientClosed).off('end', this.clientClosed);
    this.server.socket.off('error', this.serverError).off('close', this.serverClosed).off('end', this.serverClosed);
    // Late bytes of this client must never reach a server connection someone else may get next.
    const ignore = (): void => undefined;
    this.clientInput.handler = ignore;
    this.server.input.handler = ignore;
  }
}
