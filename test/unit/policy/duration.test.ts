import assert from 'node:assert/strict';
import { formatDuration, parseGoDuration } from '../../../policy/duration';

const H = 3600e9;

describe('Go durations', () => {
  const valid: [string, number][] = [
    ['12h', 12 * H],
    ['1h30m', 1.5 * H],
    ['1.5h', 1.5 * H],
    ['1440m', 24 * H],
    ['.5h', 0.5 * H],
    ['5.h', 5 * H],
    ['90s', 90e9],
    ['300ms', 300e6],
    ['1us', 1000],
    ['1µs', 1000],
    ['1μs', 1000],
    ['10ns', 10],
    ['0', 0],
    ['-2h', -2 * H],
    ['+3m', 180e9],
    ['2h45m30.5s', 2 * H + 45 * 60e9 + 30.5e9],
  ];
  for (const [text, ns] of valid) it(`parses ${text}`, () => assert.deepEqual(parseGoDuration(text), { ok: true, ns }));

  for (const bad of ['', '1d', '5', 'h', '1x', '1h 30m', '.h', '1.2.3h', '--1h', '1hh'])
    it(`rejects ${JSON.stringify(bad)}`, () => assert.equal(parseGoDuration(bad).ok, false));

  it('reports the unknown unit so "1d" can be fixed', () => {
    const r = parseGoDuration('1d');
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.unit, 'd');
  });

  it('formats compactly', () => {
    assert.equal(formatDuration(12 * H), '12h');
    assert.equal(formatDuration(1.5 * H), '1h30m');
    assert.equal(formatDuration(90e9), '1m30s');
    assert.equal(formatDuration(1.5e9), '1.5s');
    assert.equal(formatDuration(250e6), '250ms');
    assert.equal(formatDuration(24 * H + 60e9), '24h1m');
  });
});
