/**
 * Pull-style frames from a socket: `await next()` gives the next whole frame, an error
 * frame, or an Error when the peer went away. Decoding is lazy (one frame per call) so
 * the caller can switch from startup framing to message framing between frames, and
 * the socket is paused while unread bytes pile up, which bounds memory per connection.
 */
import type net from 'node:net';
import { FrameDecoder, type Frame } from './protocol/frames';

export class FrameReader {
  private waiter?: (f: Frame | Error) => void;
  private failure?: Error;
  private paused = false;

  constructor(
    private readonly socket: net.Socket,
    readonly decoder: FrameDecoder,
  ) {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.decoder.append(chunk);
    if (!this.waiter && this.decoder.buffered > this.decoder.maxLength + 5) {
      this.paused = true;
      this.socket.pause();
    }
    this.wake();
  };
  private readonly onError = (e: Error): void => this.fail(e);
  private readonly onClose = (): void => this.fail(new Error('the connection was closed'));

  private fail(e: Error): void {
    this.failure ??= e;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    if (!w) return;
    const f = this.decoder.next();
    if (f) {
      this.waiter = undefined;
      w(f);
    } else if (this.failure) {
      this.waiter = undefined;
      w(this.failure);
    }
  }

  /** Bytes received and not yet decoded. */
  get pending(): number {
    return this.decoder.buffered;
  }

  next(): Promise<Frame | Error> {
    return new Promise((resolve) => {
      this.waiter = resolve;
      if (this.paused) {
        this.paused = false;
        this.socket.resume();
      }
      this.wake();
    });
  }

  /** Stops reading and returns the undecoded bytes, for whoever takes over the socket. */
  detach(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    return this.decoder.take();
  }
}
