import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { directWriter, directWrites } from '../../../proxy/wire/directWrite';
import { directReads, SocketInput } from '../../../proxy/wire/socketInput';
import fs from 'node:fs';
import { makeTestPki } from '../../support/certs';

/** Runs `fn` with a connected pair of plain TCP sockets on loopback (accepted, connecting), then closes them. */
async function withTcpPair(fn: (a: net.Socket, b: net.Socket) => Promise<void>): Promise<void> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  const [peer] = await accepted;
  try {
    await fn(peer, client);
  } finally {
    peer.destroy();
    client.destroy();
    server.close();
  }
}

function collect(socket: net.Socket): () => Buffer {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks);
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('wire relay: direct reads and writes on plain TCP sockets', () => {
  it('this Node offers both, so the relay tests exercise the fast path (not the fallback)', async () => {
    assert.equal(directWrites, true);
    assert.equal(directReads, true);
    await withTcpPair(async (a) => {
      assert.ok(directWriter(a, () => undefined), 'a plain TCP socket takes direct writes');
    });
  });

  it('a TLS socket never takes direct writes (its handle encrypts)', async () => {
    const pki = makeTestPki(['127.0.0.1']);
    const server = tls.createServer({ key: fs.readFileSync(pki.key), cert: fs.readFileSync(pki.cert) }, (s) => s.end());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const c = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false });
    await once(c, 'secureConnect');
    try {
      assert.equal(directWriter(c, () => undefined), undefined);
    } finally {
      c.destroy();
      server.close();
      fs.rmSync(pki.dir, { recursive: true, force: true });
    }
  });

  it('writes that must wait report it, are drained once the reader catches up, and keep their order with socket.write', async () => {
    await withTcpPair(async (a, b) => {
      let drained = 0;
      const errors: Error[] = [];
      const write = directWriter(a, (e) => (e ? errors.push(e) : drained++))!;
      b.pause(); // the reader stops: the kernel's buffers fill up
      const parts: Buffer[] = [];
      let waited = 0;
      for (let i = 0; i < 64; i++) {
        const part = crypto.randomBytes(256 * 1024);
        parts.push(part);
        if (!write(part)) waited++;
      }
      const tail = Buffer.from('written through socket.write last');
      a.write(tail);
      assert.ok(waited > 0, 'with the reader paused, some of 16 MB had to wait');
      const received = collect(b);
      b.resume();
      const total = 64 * 256 * 1024 + tail.length;
      await until('every byte', () => received().length >= total);
      assert.equal(received().length, total);
      assert.ok(received().equals(Buffer.concat([...parts, tail])), 'bytes arrive intact and in order');
      await until('the drained callbacks', () => drained === waited);
      assert.deepEqual(errors, []);
    });
  });

  it('a waiting write on a socket destroyed meanwhile reports an error; writes after destroy are dropped', async () => {
    await withTcpPair(async (a, b) => {
      const errors: Error[] = [];
      const write = directWriter(a, (e) => e && errors.push(e))!;
      b.pause();
      let waiting = false;
      for (let i = 0; i < 256 && !waiting; i++) waiting = !write(crypto.randomBytes(256 * 1024));
      assert.ok(waiting, 'a write had to wait');
      a.destroy();
      await until('the cancelled write', () => errors.length > 0);
      assert.match(errors[0]!.message, /write failed: E[A-Z]+/);
      assert.equal(write(Buffer.from('late')), true, 'dropped without throwing');
    });
  });

  it('SocketInput hands each read to the current handler from the reused buffer, and the end of the stream still ends the socket', async () => {
    await withTcpPair(async (a, b) => {
      const seen: string[] = [];
      const input = new SocketInput(a, (chunk) => seen.push(chunk.toString()), { bufferSize: 1024 });
      assert.equal(input.reused, true);
      input.begin();
      b.write('first');
      await until('first chunk', () => seen.join('') === 'first');
      const later: Buffer[] = [];
      input.handler = (chunk) => later.push(Buffer.from(chunk)); // a new owner; it copies what it keeps
      const big = crypto.randomBytes(5000); // more than one 1 KB buffer's worth
      b.write(big);
      await until('the large write', () => Buffer.concat(later).length === big.length);
      assert.ok(Buffer.concat(later).equals(big));
      assert.ok(later.every((c) => c.length <= 1024), 'each chunk is one read into the 1 KB buffer');
      const ended = once(a, 'end');
      b.end();
      await ended;
    });
  });

  it('a paused SocketInput stops reading at once: the kernel holds the bytes, not the buffer', async () => {
    await withTcpPair(async (a, b) => {
      const got: Buffer[] = [];
      const input = new SocketInput(a, (chunk) => got.push(Buffer.from(chunk)), { bufferSize: 4096 });
      input.begin();
      a.pause();
      b.write(crypto.randomBytes(100_000));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(got.length, 0, 'nothing was read while paused');
      a.resume();
      await until('all bytes after resume', () => Buffer.concat(got).length === 100_000);
    });
  });
});
