/**
 * node-postgres's own SCRAM client (pg/lib/crypto/sasl.js), driven step by step: an
 * implementation independent of ours, with SCRAM-SHA-256-PLUS. Its channel binding reads
 * the certificate from `stream.getPeerCertificate().raw`, so a test can bind to the real
 * TLS socket, to another certificate (a man in the middle), or pass no stream at all.
 */
const sasl = require('pg/lib/crypto/sasl') as {
  startSession(mechanisms: string[], stream?: unknown): PgScramSession;
  continueSession(session: PgScramSession, password: string, serverData: string, stream?: unknown): Promise<void>;
  finalizeSession(session: PgScramSession, serverData: string): void;
};

export interface PgScramSession {
  mechanism: string;
  response: string;
}

/** What pg reads a certificate from: a TLS socket, or a stand-in holding another DER certificate. */
export type CertSource = { getPeerCertificate(): { raw: Buffer } };

export class PgScram {
  private session?: PgScramSession;

  /**
   * `stream` undefined: a client without channel binding (`n`); a stream with a certificate
   * and PLUS offered: `p=tls-server-end-point`; a stream and PLUS not offered: `y`.
   */
  constructor(
    private readonly password: string,
    private readonly stream?: CertSource,
  ) {}

  /** Mechanism list -> [chosen mechanism, client-first-message]. */
  first(mechanisms: string[]): [string, string] {
    this.session = sasl.startSession(mechanisms, this.stream);
    return [this.session.mechanism, this.session.response];
  }

  async final(serverFirst: string): Promise<string> {
    await sasl.continueSession(this.session!, this.password, serverFirst, this.stream);
    return this.session!.response;
  }

  /** Throws unless the server proved it knows the verifier (server signature). */
  verify(serverFinal: string): void {
    sasl.finalizeSession(this.session!, serverFinal);
  }
}
