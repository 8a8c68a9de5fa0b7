import assert from 'node:assert/strict';
import { formatRefreshBench, measureUserRefresh } from '../../../bench/userRefresh';

describe('user refresh microbenchmark (harness check at a small size)', function () {
  this.timeout(120_000);

  it('measures every scenario against a service in a child process, reading only what changed', async () => {
    const r = await measureUserRefresh({ users: 60, repetitions: 1 });
    assert.equal(r.samples.length, 6);
    const [first, unchanged, rotated, single] = r.samples;
    // 60 per-user secrets: one ListSecrets page, three batches of 20; unchanged: the listing only.
    assert.deepEqual(first!.calls, { ListSecrets: 1, BatchGetSecretValue: 3, GetSecretValue: 0 });
    assert.deepEqual(unchanged!.calls, { ListSecrets: 1, BatchGetSecretValue: 0, GetSecretValue: 0 });
    assert.deepEqual(rotated!.calls, { ListSecrets: 1, BatchGetSecretValue: 3, GetSecretValue: 0 });
    assert.deepEqual(single!.calls, { ListSecrets: 0, BatchGetSecretValue: 0, GetSecretValue: 1 });
    for (const s of r.samples) assert.ok(s.cpuMs > 0 && s.wallMs > 0 && s.maxPauseMs >= 0, s.scenario);
    assert.match(formatRefreshBench(r), /\| aws-prefix, 60 per-user secrets: unchanged \| [\d.]+ \| [\d.]+ \|/);
  });
});
