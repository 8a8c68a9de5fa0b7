/**
 * Words for the proxy's user-store status (`GET /health` → `users`): the status bar's
 * summary and tooltip, and the per-source report of Mayfly: Show User Store Status.
 * The status carries counts, times, source names and error texts only, never a credential.
 * No vscode import: unit tests run it as plain logic.
 */
import type { DirectoryStatus } from '../proxy/users/directory';

export interface UserStoreSummary {
  /** For the status bar text: "12 users" or "users stale". */
  text: string;
  tooltip: string;
  stale: boolean;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** "8 s", "3 min", "2 h", "3 d": a span short enough for a status bar tooltip. */
export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 120 * 60) return `${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

function ago(iso: string | undefined, now: number): string {
  return iso ? `${span(now - Date.parse(iso))} ago` : 'never';
}

function nextTry(s: DirectoryStatus, now: number): string {
  return s.nextRefreshAt ? `next try in ${span(Date.parse(s.nextRefreshAt) - now)}` : 'retrying';
}

export function summarizeUserStore(s: DirectoryStatus, now: number): UserStoreSummary {
  if (!s.stale)
    return {
      text: plural(s.users, 'user'),
      tooltip: `Users: ${s.users} (refreshed ${ago(s.lastSuccessAt, now)}, every ${span(s.refreshMs)})`,
      stale: false,
    };
  const why = s.error ? `\n${s.error}` : '';
  const kept = s.lastSuccessAt
    ? `the last good users stay in force (last full refresh ${ago(s.lastSuccessAt, now)}, ${nextTry(s, now)})`
    : `not every source has loaded yet (${nextTry(s, now)})`;
  return { text: 'users stale', tooltip: `Users: ${s.users}, stale: ${kept}${why}`, stale: true };
}

/** One line for the store, one per source, and one for the CONNECT map when the proxy keeps one. */
export function userStoreReport(s: DirectoryStatus, now: number): string[] {
  const head = [
    `user store: ${plural(s.users, 'user')}, ${s.stale ? 'STALE' : 'fresh'}`,
    `last refresh ${ago(s.lastRefreshAt, now)}`,
    `last success ${ago(s.lastSuccessAt, now)}`,
    `every ${span(s.refreshMs)}`,
    ...(s.nextRefreshAt ? [`next in ${span(Date.parse(s.nextRefreshAt) - now)}`] : []),
    ...(s.consecutiveFailures ? [`${s.consecutiveFailures} failed refresh${s.consecutiveFailures === 1 ? '' : 'es'} in a row`] : []),
  ].join(', ');
  const lines = [head];
  for (const src of s.sources) {
    const state = `${plural(src.users, 'user')}, ${src.skipped} skipped, last success ${ago(src.lastSuccessAt, now)}`;
    lines.push(`  ${src.source}: ${state}${src.error ? `; failing: ${src.error}` : ''}`);
  }
  if (s.allowed) {
    const a = s.allowed;
    lines.push(`  allowed databases: ${plural(a.users, 'user')}, ${a.stale ? 'STALE' : 'fresh'}, last success ${ago(a.lastSuccessAt, now)}${a.error ? `; failing: ${a.error}` : ''}`);
  }
  return lines;
}
