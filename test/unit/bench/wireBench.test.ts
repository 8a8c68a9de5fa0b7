import assert from 'node:assert/strict';
import { combinePgbench } from '../../../bench/wireBench';
import { parsePgbenchReport } from '../../../bench/wirePgbench';

// Two reports in pgbench 17's format (what Debian's postgresql-client prints).
const report = (tx: number, latency: number, tps: number, connect?: number): string =>
  [
    'transaction type: <builtin: select only>',
    `number of transactions actually processed: ${tx}`,
    'number of failed transactions: 0 (0.000%)',
    `latency average = ${latency} ms`,
    ...(connect !== undefined ? [`average connection time = ${connect} ms`] : []),
    `tps = ${tps} (without initial connection time)`,
  ].join('\n');

describe('wire benchmark: pgbench turns combined', () => {
  it('adds transactions over the time each turn measured, and weights latency by transactions', () => {
    const a = parsePgbenchReport(report(10_000, 1.0, 2_000)); // 5 s
    const b = parsePgbenchReport(report(30_000, 2.0, 6_000)); // 5 s
    const c = combinePgbench([a, b]);
    assert.equal(c.transactions, 40_000);
    assert.equal(c.tps, 4_000, '40,000 transactions in 10 s, not the mean of the two rates');
    assert.equal(c.latencyMs, 1.75);
    assert.equal(c.connectMs, undefined);
  });

  it('keeps the connection time of -C turns, weighted the same way', () => {
    const c = combinePgbench([parsePgbenchReport(report(100, 50, 100, 10)), parsePgbenchReport(report(300, 60, 150, 14))]);
    assert.equal(c.connectMs, 13);
    assert.equal(c.tps, 400 / 3);
  });

  it('a failed turn is an error, not a result', () => {
    assert.throws(() => parsePgbenchReport(report(0, 0, 0)), /processed no transaction/);
  });
});
