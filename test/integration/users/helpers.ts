/** Shared by the user-source tests: a logger that does NOT redact, so a leaked secret shows. */
import { Redactor, type Logger } from '../../../proxy/log/logger';

export function rawLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    redactor: new Redactor(),
    log(level, event, fields = {}) {
      lines.push(JSON.stringify({ level, event, ...fields }));
    },
  };
}

/** Waits until `check` returns true, polling every 25 ms, or fails after `ms`. */
export async function eventually(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
