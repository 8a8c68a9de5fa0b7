/**
 * A raw protocol connection for the proxy fuzzer: write any bytes, read the one-byte
 * SSL/GSS answers and backend messages as they come, upgrade to TLS on `S`, and see
 * whether (and when) the proxy closed the connection.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface BackendMessage {
  type: string;
  body: Buffer;
}

export class RawConnection {
  private socket: net.Socket | tls.TLSSocket;
  private data = Buffer.alloc(0);
  private waiter?: () => void;
  /** Every byte the proxy sent, for failure messages. */
  received = Buffer.alloc(0);
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.listen(socket);
  }

  static connect(port: number, localAddress = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', localAddress });
      s.setNoDelay(true);
      s.once('connect', () => resolve(new RawConnection(s)));
      s.once('error', reject);
    });
  }

  private listen(s: net.Socket | tls.TLSSocket): void {
    s.on('data', (d: Buffer) => {
      this.data = Buffer.concat([this.data, d]);
      this.received = Buffer.concat([this.received, d]);
      this.wake();
    });
    s.on('close', () => {
      this.closed = true;
      this.wake();
    });
    s.on('error', () => undefined); // a reset by the proxy shows up as `closed`
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Resolves when `cond` holds; false when the connection closed first or time ran out. */
  private async until(cond: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (this.closed || Date.now() > deadline) return cond();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return true;
  }

  write(bytes: Buffer): void {
    if (!this.closed) this.socket.write(bytes);
  }

  /** Half-closes our side: the proxy sees the end of what we will send. */
  end(): void {
    if (!this.closed) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** One answer byte (`S`/`N` to an SSLRequest or GSSENCRequest), or undefined on close/timeout. */
  async byte(ms = 10_000): Promise<string | undefined> {
    if (!(await this.until(() => this.data.length >= 1, ms))) return undefined;
    const b = String.fromCharCode(this.data[0]!);
    this.data = this.data.subarray(1);
    return b;
  }

  /** The next whole backend message, or undefined when the connection closed (or time ran out) first. */
  async message(ms = 10_000): Promise<BackendMessage | undefined> {
    const whole = (): boolean => this.data.length >= 5 && this.data.readInt32BE(1) >= 4 && this.data.length >= 1 + this.data.readInt32BE(1);
    if (!(await this.until(whole, ms))) return undefined;
    const len = this.data.readInt32BE(1);
    const m = { type: String.fromCharCode(this.data[0]!), body: Buffer.from(this.data.subarray(5, 1 + len)) };
    this.data = this.data.subarray(1 + len);
    return m;
  }

  /** Bytes received and not yet read as answers or messages. */
  get unread(): Buffer {
    return this.data;
  }

  /** Waits for the proxy to close the connection; false if it is still open after `ms`. */
  waitClosed(ms = 10_000): Promise<boolean> {
    return this.until(() => this.closed, ms);
  }

  /** The DER certificate the proxy presented, once inside TLS. */
  peerCertificate(): Buffer | undefined {
    return this.socket instanceof tls.TLSSocket ? this.socket.getPeerCertificate().raw : undefined;
  }

  /** Continues inside TLS on the same connection (after the proxy answered `S`). */
  async startTls(): Promise<boolean> {
    const raw = this.socket as net.Socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false, servername: 'localhost' });
    const ok = await new Promise<boolean>((resolve) => {
      secure.once('secureConnect', () => resolve(true));
      secure.once('error', () => resolve(false));
      secure.once('close', () => resolve(false));
    });
    this.socket = secure;
    this.listen(secure);
    if (!ok) this.closed = true;
    return ok;
  }
}

/** The fields of an ErrorResponse: S (severity), C (SQLSTATE), M (message), ... */
export function errorFields(body: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const end = body.indexOf(0, at + 1);
    if (end < 0) break;
    fields.set(String.fromCharCode(body[at]!), body.toString('utf8', at + 1, end));
    at = end + 1;
  }
  return fields;
}
