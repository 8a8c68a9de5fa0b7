/**
 * How hard the fuzzers work, and one way to run and report a property.
 *
 * `npm test` runs a short pass; `npm run fuzz` (scripts/fuzz.mjs) sets MAYFLY_FUZZ=long.
 * MAYFLY_FUZZ_RUNS overrides the base number of runs (each property scales it by its cost),
 * MAYFLY_FUZZ_SEED replays a run: the seed is printed first, and fast-check's failure
 * report adds the path to the shrunk counterexample.
 */
import fc from 'fast-check';

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

export const LONG = process.env.MAYFLY_FUZZ === 'long';
const BASE = envInt('MAYFLY_FUZZ_RUNS') ?? (LONG ? 10_000 : 500);
if (BASE < 1) throw new Error('MAYFLY_FUZZ_RUNS must be at least 1');
export const SEED = envInt('MAYFLY_FUZZ_SEED') ?? (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;

let announced = false;
/** Prints the seed once per process, so any run can be replayed. */
export function announceSeed(): void {
  if (announced) return;
  announced = true;
  console.log(`      fuzz: ${LONG ? 'long' : 'short'} run, base ${BASE} runs, seed ${SEED} (MAYFLY_FUZZ_SEED=${SEED} replays it)`);
}

/** The base run count scaled by a property's relative cost (cheap ones run more). */
export function runs(weight: number): number {
  return Math.max(1, Math.round(BASE * weight));
}

/** Counts outcomes inside a property, to show what the inputs exercised. */
export class Tally {
  private readonly counts = new Map<string, number>();
  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }
  toString(): string {
    return [...this.counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
  }
}

function report<T>(name: string, d: fc.RunDetails<T>, tally: Tally | undefined, started: number): void {
  const passed = d.failed ? d.numRuns - 1 : d.numRuns;
  const failed = d.failed ? 1 : 0;
  const extra = tally && tally.toString() ? `; ${tally}` : '';
  console.log(`      fuzz: ${name}: ${d.numRuns} runs, ${passed} passed, ${failed} failed, ${d.numSkips} skipped (${Date.now() - started} ms)${extra}`);
  if (d.failed) throw new Error(`${fc.defaultReportMessage(d)}\n${String(d.errorInstance)}`);
}

/** Runs a synchronous property `runs(weight)` times with the run's seed; prints counts; throws on failure. */
export function checkProperty<T>(name: string, weight: number, property: fc.IProperty<T>, tally?: Tally): void {
  announceSeed();
  const started = Date.now();
  report(name, fc.check(property, { numRuns: runs(weight), seed: SEED }), tally, started);
}

export async function checkAsyncProperty<T>(name: string, weight: number, property: fc.IAsyncProperty<T>, tally?: Tally): Promise<void> {
  announceSeed();
  const started = Date.now();
  report(name, await fc.check(property, { numRuns: runs(weight), seed: SEED }), tally, started);
}
