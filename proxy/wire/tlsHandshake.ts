/**
 * The server side of TLS on an accepted client connection, for both ways a PostgreSQL
 * client starts it: after an SSLRequest answered `S`, or directly (PostgreSQL 17's
 * `sslnegotiation=direct`), where the connection's first bytes already are a ClientHello.
 *
 * ALPN follows PostgreSQL 17: a client that offers ALPN must offer `postgresql` (otherwise
 * the handshake fails with `no_application_protocol`), and a direct TLS connection must have
 * negotiated it. Without that, a TLS client of another protocol (a browser pointed at the
 * port, say) could not be told from a Postgres client that skipped the SSLRequest.
 */
import type net from 'node:net';
import tls from 'node:tls';
import { fatal } from './protocol/backend';
import { SQLSTATE } from './protocol/codes';

export const ALPN_POSTGRESQL = 'postgresql';

/** TLS record content type 22 (handshake): how a ClientHello, and so direct TLS, starts. */
const TLS_HANDSHAKE_RECORD = 0x16;

export type TlsOutcome = { ok: true; socket: tls.TLSSocket } | { ok: false; reason: string };

export function isClientHello(firstBytes: Buffer): boolean {
  return firstBytes.length > 0 && firstBytes[0] === TLS_HANDSHAKE_RECORD;
}

/** Offered ALPN names for a log line: a few, shortened, quoted (they are client input). */
function describeOffer(protocols: string[]): string {
  const shown = protocols.slice(0, 4).map((p) => JSON.stringify(p.slice(0, 32)));
  return shown.join(', ') + (protocols.length > 4 ? ', …' : '');
}

/**
 * Runs the handshake on `raw` with our certificate. `clientHello`: bytes of a direct TLS
 * handshake already read from the socket (they are handed back to TLS); the connection must
 * then negotiate ALPN `postgresql`. On failure the connection is closed and the outcome
 * says why, for the log.
 */
export async function acceptTls(raw: net.Socket, context: tls.SecureContext, clientHello?: Buffer): Promise<TlsOutcome> {
  let refusedOffer: string[] | undefined;
  if (clientHello?.length) {
    // Paused, so the bytes wait in the socket's buffer, where TLSSocket picks them up.
    raw.pause();
    raw.unshift(clientHello);
  }
  const secure = new tls.TLSSocket(raw, {
    isServer: true,
    secureContext: context,
    ALPNCallback: ({ protocols }) => {
      if (protocols.includes(ALPN_POSTGRESQL)) return ALPN_POSTGRESQL;
      refusedOffer = protocols;
      return undefined;
    },
  });
  const outcome = await new Promise<TlsOutcome>((resolve) => {
    secure.once('secure', () => resolve({ ok: true, socket: secure }));
    secure.once('error', (e: Error) =>
      resolve({
        ok: false,
        reason: refusedOffer ? `the client offered ALPN ${describeOffer(refusedOffer)} but not "${ALPN_POSTGRESQL}"` : `TLS handshake failed: ${e.message}`,
      }),
    );
    secure.once('close', () => resolve({ ok: false, reason: 'the client closed the connection during the TLS handshake' }));
  });
  if (!outcome.ok) {
    secure.destroy();
    raw.destroy();
    return outcome;
  }
  if (clientHello && secure.alpnProtocol !== ALPN_POSTGRESQL) {
    secure.on('error', () => undefined);
    // The client speaks TLS and may be a Postgres client that forgot ALPN: tell it, then close.
    secure.end(fatal(SQLSTATE.protocolViolation, `direct TLS connections must negotiate the ALPN protocol "${ALPN_POSTGRESQL}"`));
    return { ok: false, reason: `direct TLS without ALPN "${ALPN_POSTGRESQL}"` };
  }
  return outcome;
}
