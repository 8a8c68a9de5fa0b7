/**
 * After a suite: every file VS Code and Mayfly left behind (user data with its state
 * database, extension storage, logs, the workspace copy) is searched byte-wise for the
 * secrets the suite handled — the granter DSN's password and each issued session password.
 * Mayfly's own state file is the one place a session password may be (0600, by design).
 */
import fs from 'node:fs';
import path from 'node:path';

export interface ScanResult {
  files: number;
  bytes: number;
  /** "FILE: what was found" for each hit. */
  hits: string[];
}

function* walk(dir: string, skip: (p: string) => boolean): Generator<string> {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (skip(p)) continue;
    if (e.isDirectory()) yield* walk(p, skip);
    else if (e.isFile()) yield p;
  }
}

export function scanForSecrets(roots: string[], secrets: string[], allowed: (file: string) => boolean): ScanResult {
  // Each secret as written, and URL-encoded as it would appear inside a DSN.
  const needles = [...new Set(secrets.filter((s) => s.length >= 8).flatMap((s) => [s, encodeURIComponent(s)]))].map((s) => Buffer.from(s));
  const out: ScanResult = { files: 0, bytes: 0, hits: [] };
  for (const root of roots)
    for (const file of walk(root, allowed)) {
      let data: Buffer;
      try {
        data = fs.readFileSync(file);
      } catch {
        continue; // sockets, files removed meanwhile
      }
      out.files++;
      out.bytes += data.length;
      for (const n of needles) if (data.includes(n)) out.hits.push(`${file}: a secret of ${n.length} bytes`);
    }
  return out;
}
