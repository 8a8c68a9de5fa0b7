/**
 * Structured log lines with secrets scrubbed. Every secret Mayfly learns (resolved DSN
 * passwords, issued session passwords) is registered with the redactor; on top of that,
 * anything shaped like a URL password or a PGPASSWORD assignment is masked, so even a
 * secret we failed to register does not leak through a driver's error text.
 */

export type Level = 'debug' | 'info' | 'warn' | 'error';

export class Redactor {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined): void {
    // Very short strings would mask ordinary words; Mayfly's secrets are long.
    if (secret && secret.length >= 6) this.secrets.add(secret);
  }

  remove(secret: string | undefined): void {
    if (secret) this.secrets.delete(secret);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join('[redacted]');
    out = out.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1[redacted]@');
    out = out.replace(/((?:PGPASSWORD|PASS|PASSWORD)=)\S+/g, '$1[redacted]');
    out = out.replace(/SCRAM-SHA-256\$[^\s'"]+/g, 'SCRAM-SHA-256$[redacted]');
    return out;
  }
}

export interface Logger {
  log(level: Level, event: string, fields?: Record<string, unknown>): void;
  readonly redactor: Redactor;
}

export function createLogger(write: (line: string) => void, options: { json?: boolean; debug?: boolean } = {}): Logger {
  const redactor = new Redactor();
  return {
    redactor,
    log(level, event, fields = {}) {
      if (level === 'debug' && !options.debug) return;
      const time = new Date().toISOString();
      const line = options.json
        ? JSON.stringify({ time, level, event, ...fields })
        : `${time} ${level.padEnd(5)} ${event}${Object.entries(fields)
            .map(([k, v]) => ` ${k}=${typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v)}`)
            .join('')}`;
      write(redactor.redact(line));
    },
  };
}

export const silentLogger: Logger = { redactor: new Redactor(), log: () => undefined };
