/**
 * Lets the event loop run between slices of a long loop (parsing or reconciling a thousand
 * users), so a login arriving during a refresh waits for one slice, not the whole pass.
 * setImmediate runs after pending I/O callbacks, which is what a waiting login is.
 */
export function breathe(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Entries per slice: about a millisecond of parsing or comparing on a slow core. */
export const SLICE = 100;
