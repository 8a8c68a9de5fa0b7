/** A raw Postgres protocol client for wire tests: send exact bytes, read framed messages. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { ScramClient } from '../../proxy/wire/auth/scramClient';
import { FrameDecoder, type Frame } from '../../proxy/wire/protocol/frames';
import * as wb from './wireBytes';

/** A raw protocol client: send bytes, read framed messages. */
export class RawClient {
  readonly socket: net.Socket;
  private data = Buffer.alloc(0);
  closed = false;
  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => (this.data = Buffer.concat([this.data, d])));
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('error', () => undefined);
  }
  async bytes(n: number): Promise<Buffer> {
    await this.until(() => this.data.length >= n || this.closed);
    const out = this.data.subarray(0, n);
    this.data = this.data.subarray(n);
    return out;
  }
  /** Next message (type + body), or undefined when the connection closed. */
  async message(): Promise<Frame | undefined> {
    for (;;) {
      if (this.data.length >= 5) {
        const len = this.data.readInt32BE(1);
        if (this.data.length >= len + 1) {
          const f = new FrameDecoder('message', 1 << 30).push(this.data.subarray(0, len + 1))[0];
          this.data = this.data.subarray(len + 1);
          return f;
        }
      }
      if (this.closed) return undefined;
      await this.until(() => this.closed || this.data.length >= 5);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  async until(cond: () => boolean, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out waiting for the proxy');
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  /** SCRAM login; returns the messages after AuthenticationSASLFinal up to ReadyForQuery. */
  async login(password: string): Promise<Frame[]> {
    const c = new ScramClient(password);
    let m = await this.message();
    assert.ok(m?.kind === 'message' && m.type === 'R' && m.body.readInt32BE(0) === 10, 'SASL request');
    this.socket.write(wb.saslInitial('SCRAM-SHA-256', c.first()));
    m = await this.message();
    assert.ok(m?.kind === 'message' && m.type === 'R');
    this.socket.write(wb.msg('p', c.final(m.body.subarray(4).toString()) as string));
    const out: Frame[] = [];
    for (;;) {
      const f = await this.message();
      assert.ok(f, 'connection closed during login');
      out.push(f);
      if (f.kind === 'message' && (f.type === 'Z' || f.type === 'E')) return out;
    }
  }
}
