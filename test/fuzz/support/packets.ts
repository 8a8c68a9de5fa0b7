/** Valid startup-phase packets, the seeds the wire fuzzers mutate. */
import * as wb from '../../support/wireBytes';

/** Valid startup-phase packets of every kind, the seeds of the mutations. */
export const VALID_STARTUP_PACKETS: Buffer[] = [
  wb.startup({ user: 'alice', database: 'testdb' }),
  wb.startup({ user: 'alice@pg-homolog', database: 'dellstore', application_name: 'psql', client_encoding: 'UTF8' }, 3, 0),
  wb.startup({ user: 'bob', options: '-c mayfly.policy=store-readonly -c search_path=store --work-mem=4MB', DateStyle: 'ISO' }, 3, 2),
  wb.startup({ user: 'carol', database: 'testdb', '_pq_.command_compression': 'on', '_pq_.x': '' }, 3, 3),
  wb.startup({ user: 'dave', replication: 'database' }, 3, 0),
  wb.startup({ user: 'ünïcødé', database: 'データ', options: 'a\\ b -c x=y\\\\' }, 3, 2),
  wb.ssl(),
  wb.gssenc(),
  wb.cancel(12_345, Buffer.from([1, 2, 3, 4])),
  wb.cancel(-7, Buffer.alloc(32, 0xab)),
];

/**
 * A real TLS ClientHello offering ALPN `postgresql`, as a client using direct TLS
 * (`sslnegotiation=direct`) sends it first: Node's own TLS client writing into a stream
 * that only records.
 */
export async function directTlsClientHello(): Promise<Buffer> {
  const { Duplex } = await import('node:stream');
  const tls = await import('node:tls');
  return new Promise((resolve, reject) => {
    const sink = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, done) {
        resolve(Buffer.from(chunk));
        done();
      },
    });
    const client = tls.connect({ socket: sink as never, ALPNProtocols: ['postgresql'], servername: 'localhost', rejectUnauthorized: false });
    client.on('error', reject);
    setTimeout(() => client.destroy(), 1000).unref();
  });
}
