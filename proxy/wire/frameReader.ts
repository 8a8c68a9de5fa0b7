/**
 * Pull-style frames from a socket: `await next()` gives the next whole frame, an error
 * frame, or an Error when the peer went away. Decoding is lazy (one frame per call) so
 * the caller can switch from startup framing to message framing between frames, and
 * the socket is paused while unread bytes pile up, which bounds memory per connection.
 */
import type net from 'node:net';
import { FrameDecoder, type Frame } from './protocol/frames';
import { SocketInput, type ChunkHandler } from './socketInput';

export class FrameReader {
  private waiter?: (f: Frame | Error) => void;
  private failure?: Error;
  private paused = false;
  private readonly socket: net.Socket;
  private readonly input?: SocketInput;
  /** When reading through a SocketInput: its handler before us, restored on detach. */
  private previous?: ChunkHandler;

  constructor(
    source: net.Socket | SocketInput,
    readonly decoder: FrameDecoder,
  ) {
    if (source instanceof SocketInput) {
      this.socket = source.socket;
      this.input = source;
      this.previous = source.handler;
      // A reused read buffer is overwritten by the next read: keep a copy.
      source.handler = source.reused ? (chunk) => this.onData(Buffer.from(chunk)) : this.onData;
    } else {
      this.socket = source;
      source.on('data', this.onData);
    }
    this.socket.on('error', this.onError);
    this.socket.on('close', this.onClose);
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
    if (this.input && this.previous) this.input.handler = this.previous;
    else this.socket.off('data', this.onData);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    return this.decoder.take();
  }
}
