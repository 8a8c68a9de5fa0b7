/**
 * TLS for clients of the local proxy: the user's certificate (`--tls-cert/--tls-key`) or a
 * self-signed one Mayfly creates once and keeps in its config folder (private directory,
 * key 0600). Node can make key pairs but not X.509 certificates, so creation uses the
 * `openssl` command, once.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { ensurePrivateDir, mayflyHome } from '../control/paths';

export interface TlsFiles {
  cert: string;
  key: string;
}

export function selfSignedFiles(home = mayflyHome()): TlsFiles {
  const dir = path.join(home, 'tls');
  const files = { cert: path.join(dir, 'proxy.crt'), key: path.join(dir, 'proxy.key') };
  if (fs.existsSync(files.cert) && fs.existsSync(files.key)) return files;
  ensurePrivateDir(dir);
  const r = spawnSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
      '-subj', '/CN=mayfly-local-proxy', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      '-keyout', files.key, '-out', files.cert,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`could not create a self-signed certificate with openssl (pass --tls-cert and --tls-key instead): ${r.error?.message ?? r.stderr.trim()}`);
  fs.chmodSync(files.key, 0o600);
  return files;
}

export function secureContext(files: TlsFiles): tls.SecureContext {
  return tls.createSecureContext({ cert: fs.readFileSync(files.cert), key: fs.readFileSync(files.key), minVersion: 'TLSv1.2' });
}
