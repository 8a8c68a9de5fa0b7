/**
 * SCRAM channel binding of type `tls-server-end-point` (RFC 5929 §4.1), the only type
 * PostgreSQL supports: the binding data is a hash of the server's DER certificate, with the
 * hash function of the certificate's signature algorithm, except that MD5 and SHA-1 are
 * replaced by SHA-256. A client that computes the same bytes over its TLS connection proves
 * no one in between terminated TLS with another certificate.
 *
 * Node cannot tell a certificate's signature algorithm, so this reads it from the DER
 * (Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }). Parsing is
 * bounds-checked and returns errors as values: the certificate is ours, but a surprising one
 * must not crash the proxy.
 */
import crypto from 'node:crypto';
import type net from 'node:net';
import tls from 'node:tls';

export const TLS_SERVER_END_POINT = 'tls-server-end-point';

interface Tlv {
  tag: number;
  /** Offset of the contents. */
  start: number;
  /** Offset just past the contents. */
  end: number;
}

function readTlv(der: Buffer, at: number, limit: number): Tlv | undefined {
  if (at + 2 > limit) return undefined;
  const tag = der[at]!;
  let len = der[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
    start += n;
  }
  const end = start + len;
  return end > limit ? undefined : { tag, start, end };
}

function decodeOid(der: Buffer, t: Tlv): string | undefined {
  if (t.tag !== 0x06 || t.end <= t.start) return undefined;
  const first = der[t.start]!;
  const parts = [Math.min(2, Math.floor(first / 40)), first - 40 * Math.min(2, Math.floor(first / 40))];
  let value = 0;
  for (let i = t.start + 1; i < t.end; i++) {
    value = value * 128 + (der[i]! & 0x7f);
    if (!(der[i]! & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

/** Signature algorithms whose hash is part of the algorithm (RSA PKCS#1 v1.5, ECDSA, DSA). */
const SIGNATURE_HASH: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'md5',
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha1',
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha1',
  '2.16.840.1.101.3.4.3.1': 'sha224',
  '2.16.840.1.101.3.4.3.2': 'sha256',
};
/** Hash algorithm identifiers, as they appear in RSASSA-PSS parameters. */
const HASH_OID: Record<string, string> = {
  '1.2.840.113549.2.5': 'md5',
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const RSASSA_PSS = '1.2.840.113549.1.1.10';

/**
 * The hash RFC 5929 prescribes for this DER certificate (`sha256`, `sha384`, …), or an
 * Error saying why there is none. Ed25519/Ed448 signatures have no separate hash; OpenSSL,
 * and so PostgreSQL and libpq, cannot bind to them either, so they are an Error here too.
 */
export function endPointHashName(der: Buffer): string | Error {
  const cert = readTlv(der, 0, der.length);
  if (!cert || cert.tag !== 0x30) return new Error('not a DER certificate');
  const tbs = readTlv(der, cert.start, cert.end);
  if (!tbs || tbs.tag !== 0x30) return new Error('not a DER certificate (tbsCertificate)');
  const alg = readTlv(der, tbs.end, cert.end);
  if (!alg || alg.tag !== 0x30) return new Error('not a DER certificate (signatureAlgorithm)');
  const oidTlv = readTlv(der, alg.start, alg.end);
  const oid = oidTlv && decodeOid(der, oidTlv);
  if (!oidTlv || !oid) return new Error('not a DER certificate (signature algorithm identifier)');
  let hash: string | undefined = SIGNATURE_HASH[oid];
  if (oid === RSASSA_PSS) {
    // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, … }
    const params = readTlv(der, oidTlv.end, alg.end);
    const first = params && params.tag === 0x30 ? readTlv(der, params.start, params.end) : undefined;
    if (first?.tag === 0xa0) {
      const hashAlg = readTlv(der, first.start, first.end);
      const hashOid = hashAlg?.tag === 0x30 ? readTlv(der, hashAlg.start, hashAlg.end) : undefined;
      const name = hashOid && decodeOid(der, hashOid);
      hash = name ? HASH_OID[name] : undefined;
      if (!hash) return new Error(`unsupported RSASSA-PSS hash algorithm ${name ?? '(unreadable)'}`);
    } else hash = 'sha1';
  }
  if (!hash) return new Error(`signature algorithm ${oid} has no hash to bind to`);
  return hash === 'md5' || hash === 'sha1' ? 'sha256' : hash;
}

/** The `tls-server-end-point` binding data for a DER certificate, or why there is none. */
export function tlsServerEndPoint(der: Buffer): Buffer | Error {
  const hash = endPointHashName(der);
  return hash instanceof Error ? hash : crypto.createHash(hash).update(der).digest();
}

// Computed once per TLS context: reading the certificate back off a socket costs about
// 0.05-0.4 ms, too much to repeat on every login.
const byContext = new WeakMap<tls.SecureContext, Buffer | Error>();

/**
 * Binding data for the certificate we present on this connection (`context` is what the
 * handshake used); undefined for a plaintext connection or a certificate without a usable
 * hash (then SCRAM-SHA-256-PLUS is not offered: no client could compute the same bytes).
 */
export function serverEndPointOf(socket: net.Socket, context: tls.SecureContext | undefined): Buffer | undefined {
  if (!context || !(socket instanceof tls.TLSSocket)) return undefined;
  let data = byContext.get(context);
  if (data === undefined) {
    const raw = (socket.getCertificate() as { raw?: Buffer } | null)?.raw;
    data = raw ? tlsServerEndPoint(raw) : new Error('no certificate on this connection');
    byContext.set(context, data);
  }
  return data instanceof Error ? undefined : data;
}

/**
 * GS2 header of a client-first-message (RFC 5802 §7): `n` (client cannot bind), `y` (client
 * could bind but believes the server cannot), or `p=TYPE` (client binds with TYPE), then an
 * authorization identity (PostgreSQL supports none), then the bare message.
 */
export type Gs2 = { flag: 'n' | 'y' | 'p'; type?: string; authzid: string; header: string; bare: string };

export function parseGs2Header(data: string): Gs2 | undefined {
  const m = /^(n|y|p=([A-Za-z0-9.-]+)),((?:a=[^,]*)?),(.*)$/s.exec(data);
  if (!m) return undefined;
  const flag = m[1]![0] as 'n' | 'y' | 'p';
  return { flag, ...(m[2] ? { type: m[2] } : {}), authzid: m[3]!, header: `${m[1]},${m[3]},`, bare: m[4]! };
}

/** The c= value a client must send: base64 of the GS2 header, plus the binding data for `p`. */
export function expectedChannelBinding(header: string, data?: Buffer): string {
  return (data ? Buffer.concat([Buffer.from(header, 'latin1'), data]) : Buffer.from(header, 'latin1')).toString('base64');
}
