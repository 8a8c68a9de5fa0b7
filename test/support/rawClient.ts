/** A raw protocol client for wire tests: send bytes, read framed messages. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { FrameDecoder, type Frame } from '../../proxy/wire/protocol/frames';
import { ScramClient } from '../../proxy/wire/auth/scramClient';
import * as wb from './wireBytes';

export type Message = Extract<Frame, { kind: 'message' }>;

export class RawClient {
  readonly socket: net.Socket;
  /** Received and not yet read, as chunks (joined only when read: large results stay linear). */
  private chunks: Buffer[] = [];
  private length = 0;
  closed = false;
  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.length += d.length;
    });
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('error', () => undefined);
  }
  /** Joins leading chunks until the first holds at least n bytes (n <= length). */
  private head(n: number): Buffer {
    if (this.chunks[0]!.length < n) {
      let have = 0;
      let k = 0;
      while (have < n) have += this.chunks[k++]!.length;
      this.chunks.splice(0, k, Buffer.concat(this.chunks.slice(0, k)));
    }
    return this.chunks[0]!;
  }
  private consume(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.head(n);
    if (first.length > n) this.chunks[0] = first.subarray(n);
    else this.chunks.shift();
    this.length -= n;
    return first.subarray(0, n);
  }
  async bytes(n: number): Promise<Buffer> {
    await this.until(() => this.length >= n || this.closed);
    return this.consume(Math.min(n, this.length));
  }
  /** Next message (type + body), or undefined when the connection closed. */
  async message(): Promise<Frame | undefined> {
    for (;;) {
      if (this.length >= 5) {
        const len = this.head(5).readInt32BE(1);
        if (this.length >= len + 1) return new FrameDecoder('message', 1 << 30).push(this.consume(len + 1))[0];
      }
      if (this.closed) return undefined;
      const have = this.length;
      await this.until(() => this.closed || this.length > have);
    }
  }
  async until(cond: () => boolean, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out waiting for the proxy');
      await new Promise((r) => setTimeout(r, 2));
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
  /** A simple Query; returns every message up to ReadyForQuery (or the close). */
  async query(sql: string): Promise<Message[]> {
    this.socket.write(wb.query(sql));
    const out: Message[] = [];
    for (;;) {
      const m = await this.message();
      if (!m || m.kind !== 'message') return out;
      out.push(m);
      if (m.type === 'Z') return out;
    }
  }
}

/** The text values of the DataRow messages of a result. */
export function rows(messages: Message[]): (string | null)[][] {
  return messages
    .filter((m) => m.type === 'D')
    .map((m) => {
      const out: (string | null)[] = [];
      let at = 2;
      for (let i = 0; i < m.body.readInt16BE(0); i++) {
        const len = m.body.readInt32BE(at);
        at += 4;
        out.push(len < 0 ? null : m.body.toString('utf8', at, at + len));
        if (len > 0) at += len;
      }
      return out;
    });
}

/** ParameterStatus messages of a login, as name -> value. */
export function parameterStatuses(messages: Frame[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of messages)
    if (m.kind === 'message' && m.type === 'S') {
      const [k, v] = m.body.toString('utf8').split('\0');
      out.set(k!, v!);
    }
  return out;
}
