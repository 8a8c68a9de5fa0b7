/**
 * Opt-in timing of provisioning phases: with MAYFLY_PROVISION_TRACE set (to anything but
 * "" or "0"), each operation writes one line to stderr with its phase durations. Lines name
 * the operation, the role and databases only: never a DSN, password or verifier.
 */
const enabled = (() => {
  const v = process.env.MAYFLY_PROVISION_TRACE;
  return v !== undefined && v !== '' && v !== '0';
})();

export interface Trace {
  /** Records the time since the previous mark (or the start) under `phase`. */
  mark(phase: string): void;
  /** Writes the line (once), with the total and the outcome. */
  done(outcome?: string): void;
}

const noop: Trace = { mark: () => undefined, done: () => undefined };

export function startTrace(operation: string, subject: string): Trace {
  if (!enabled) return noop;
  const t0 = performance.now();
  let last = t0;
  const parts: string[] = [];
  let written = false;
  return {
    mark(phase) {
      const now = performance.now();
      parts.push(`${phase}=${(now - last).toFixed(2)}`);
      last = now;
    },
    done(outcome = 'ok') {
      if (written) return;
      written = true;
      process.stderr.write(`mayfly-provision-trace ${operation} ${JSON.stringify(subject)} start=${t0.toFixed(1)} ${parts.join(' ')} total=${(performance.now() - t0).toFixed(2)}ms ${outcome}\n`);
    },
  };
}

/** A one-off event (pool opened or discarded a connection...). */
export function traceEvent(event: string, database: string): void {
  if (enabled) process.stderr.write(`mayfly-provision-trace ${event} ${JSON.stringify(database)}\n`);
}
