/**
 * Go's time.ParseDuration, because hoop reads `expiration` with it: users' existing
 * policies must mean the same thing here. No `d` unit, compound and decimal forms allowed.
 */

const NS = 1;
const US = 1000 * NS;
const MS = 1000 * US;
const S = 1000 * MS;
const M = 60 * S;
const H = 60 * M;

const UNITS: Record<string, number> = { ns: NS, us: US, 'µs': US, 'μs': US, ms: MS, s: S, m: M, h: H };

export const DURATION_UNITS = ['h', 'm', 's', 'ms', 'us', 'ns'] as const;
export const HOUR_NS = H;
export const MINUTE_NS = M;

export type DurationParse =
  | { ok: true; ns: number }
  | { ok: false; reason: string; /** a non-Go unit such as `d`, for quick fixes */ unit?: string };

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function parseGoDuration(input: string): DurationParse {
  let s = input;
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return { ok: true, ns: 0 };
  if (s === '') return { ok: false, reason: `"${input}" is not a duration` };
  let total = 0;
  let i = 0;
  while (i < s.length) {
    const startNum = i;
    while (i < s.length && isDigit(s.charCodeAt(i))) i++;
    const intPart = s.slice(startNum, i);
    let fracPart = '';
    if (s[i] === '.') {
      i++;
      const f = i;
      while (i < s.length && isDigit(s.charCodeAt(i))) i++;
      fracPart = s.slice(f, i);
    }
    if (intPart === '' && fracPart === '') return { ok: false, reason: `"${input}" is not a duration: expected a number` };
    const u = i;
    while (i < s.length && s[i] !== '.' && !isDigit(s.charCodeAt(i))) i++;
    const unit = s.slice(u, i);
    if (unit === '') return { ok: false, reason: `"${input}" has no unit: add one of h, m, s (e.g. "${intPart || '0'}h")` };
    const scale = UNITS[unit];
    if (scale === undefined) {
      return { ok: false, reason: `"${input}" uses the unknown unit "${unit}"; valid units are h, m, s, ms, us, ns`, unit };
    }
    total += Number(intPart || '0') * scale + (fracPart ? Number(`0.${fracPart}`) * scale : 0);
    if (!Number.isFinite(total) || total > 9.223372036854775e18) return { ok: false, reason: `"${input}" is too large` };
  }
  const ns = Math.round(total);
  return { ok: true, ns: neg ? -ns : ns };
}

/** Compact form: `12h`, `1h30m`, `90s` → `1m30s`, `1.5s`, `250ms`. */
export function formatDuration(ns: number): string {
  if (ns === 0) return '0s';
  if (ns < 0) return `-${formatDuration(-ns)}`;
  if (ns < US) return `${ns}ns`;
  if (ns < MS) return `${trim(ns / US)}us`;
  if (ns < S) return `${trim(ns / MS)}ms`;
  let rest = ns;
  const h = Math.floor(rest / H);
  rest -= h * H;
  const m = Math.floor(rest / M);
  rest -= m * M;
  let out = '';
  if (h) out += `${h}h`;
  if (m) out += `${m}m`;
  if (rest) out += `${trim(rest / S)}s`;
  return out;
}

function trim(n: number): string {
  return String(Number(n.toFixed(9)));
}
