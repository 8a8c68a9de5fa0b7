/**
 * The wire benchmark's floor for any proxy written for Node: a bare byte relay between each
 * client and PostgreSQL, with the same socket I/O as Mayfly's relay (reads into a reused
 * buffer, writes straight to the handle: proxy/wire/socketInput.ts, directWrite.ts) and
 * nothing else — no authentication of its own (clients log in to PostgreSQL through it), no
 * message tracking, no pool. Whatever Mayfly costs above it is Mayfly's; what it costs
 * above PgBouncer is Node's.
 *
 * Run as its own process: `node --import tsx bench/nodeRelay.ts UPSTREAM_PORT`; it listens
 * on a free loopback port and prints `listening PORT`.
 */
import net from 'node:net';
import { directWriter } from '../proxy/wire/directWrite';
import { SocketInput } from '../proxy/wire/socketInput';

const upstreamPort = Number(process.argv[2]);
if (!Number.isInteger(upstreamPort) || upstreamPort <= 0) {
  console.error('usage: nodeRelay.ts UPSTREAM_PORT');
  process.exit(2);
}

/** One direction: a chunk that could not be written at once pauses its source until it has been. */
function pump(from: SocketInput, to: net.Socket): void {
  const direct = directWriter(to, () => from.socket.resume());
  from.handler = direct
    ? (chunk) => {
        if (!direct(chunk)) from.socket.pause();
      }
    : (chunk) => {
        // No fast path on this Node: copy, since the chunk may live in a reused buffer.
        if (!to.write(Buffer.from(chunk))) {
          from.socket.pause();
          to.once('drain', () => from.socket.resume());
        }
      };
}

const server = net.createServer((client) => {
  client.pause();
  client.setNoDelay(true);
  const upstream = net.connect(upstreamPort, '127.0.0.1');
  upstream.setNoDelay(true);
  const end = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', end).on('close', end);
  upstream.on('error', end).on('close', end);
  upstream.once('connect', () => {
    const fromClient = new SocketInput(client, () => undefined);
    const fromServer = new SocketInput(upstream, () => undefined);
    pump(fromClient, upstream);
    pump(fromServer, client);
    fromClient.begin();
    fromServer.begin();
  });
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as net.AddressInfo).port}`));
process.on('SIGTERM', () => process.exit(0));
