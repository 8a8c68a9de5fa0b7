/**
 * Self-signed certificates with chosen key types and signature hashes, made with the
 * `openssl` command line, for channel-binding tests: `tls-server-end-point` hashes the
 * certificate with its signature's hash, so each kind exercises another path.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface CertKind {
  name: string;
  /** `openssl req` arguments choosing the key and the signature. */
  args: string[];
  /** The hash RFC 5929 prescribes for it, or undefined when there is none (EdDSA). */
  endPointHash?: string;
}

const EC256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
const EC384 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1'];
const PSS = ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest'];

/** `rsaKey`: one RSA key file shared by the RSA kinds (RSA key generation is the slow part). */
export function certKinds(rsaKey: string): CertKind[] {
  const rsa = ['-key', rsaKey];
  return [
    { name: 'ecdsa-sha256', args: [...EC256, '-sha256'], endPointHash: 'sha256' },
    { name: 'ecdsa-sha384', args: [...EC384, '-sha384'], endPointHash: 'sha384' },
    { name: 'rsa-sha1', args: [...rsa, '-sha1'], endPointHash: 'sha256' },
    { name: 'rsa-sha224', args: [...rsa, '-sha224'], endPointHash: 'sha224' },
    { name: 'rsa-sha512', args: [...rsa, '-sha512'], endPointHash: 'sha512' },
    { name: 'rsa-pss-sha384', args: [...rsa, ...PSS, '-sha384'], endPointHash: 'sha384' },
    { name: 'rsa-pss-sha1', args: [...rsa, ...PSS, '-sha1'], endPointHash: 'sha256' },
    { name: 'ed25519', args: ['-newkey', 'ed25519'] },
  ];
}

export function rsaKeyFile(dir: string): string {
  const key = path.join(dir, 'rsa.key');
  execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key], { stdio: 'pipe' });
  return key;
}

export interface CertFiles {
  cert: string;
  key: string;
  /** The certificate in DER, as it travels in the handshake. */
  der: Buffer;
}

/** A self-signed certificate for 127.0.0.1/localhost of the given kind, in `dir`. */
export function makeCert(dir: string, kind: CertKind): CertFiles {
  const cert = path.join(dir, `${kind.name}.crt`);
  let key = path.join(dir, `${kind.name}.key`);
  const usesKey = kind.args.includes('-key');
  if (usesKey) key = kind.args[kind.args.indexOf('-key') + 1]!;
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-nodes', '-days', '2', '-subj', `/CN=mayfly-${kind.name}`,
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ...kind.args, ...(usesKey ? [] : ['-keyout', key]), '-out', cert,
    ],
    { stdio: 'pipe' },
  );
  return { cert, key, der: new crypto.X509Certificate(fs.readFileSync(cert)).raw };
}
