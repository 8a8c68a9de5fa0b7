import assert from 'node:assert/strict';
import { formatRefreshBench, measureUserRefresh } from '../../../bench/userRefresh';

describe('user refresh microbenchmark (harness check at a small size)', function () {
  this.timeout(120_000);

  it('measures every scenario in the loader thread and on the main thread, reading only what changed', async () => {
    const r = await measureUserRefresh({ users: 60, repetitions: 1 });
    assert.equal(r.samples.length, 12);
    for (const thread of ['worker', 'main'] as const) {
      const runs = r.samples.filter((s) => s.thread === thread);
      assert.equal(runs.length, 6, thread);
      const [first, unchanged, rotated, single] = runs;
      // 60 per-user secrets: one ListSecrets page, three batches of 20; unchanged: the listing only.
      assert.deepEqual(first!.calls, { ListSecrets: 1, BatchGetSecretValue: 3, GetSecretValue: 0 }, thread);
      assert.deepEqual(unchanged!.calls, { ListSecrets: 1, BatchGetSecretValue: 0, GetSecretValue: 0 }, thread);
      assert.deepEqual(rotated!.calls, { ListSecrets: 1, BatchGetSecretValue: 3, GetSecretValue: 0 }, thread);
      assert.deepEqual(single!.calls, { ListSecrets: 0, BatchGetSecretValue: 0, GetSecretValue: 1 }, thread);
      for (const s of runs) assert.ok(s.cpuMs > 0 && s.mainMs > 0 && s.wallMs > 0 && s.maxPauseMs >= s.p99PauseMs && s.p99PauseMs >= 0, `${thread}: ${s.scenario}`);
    }
    const table = formatRefreshBench(r);
    assert.match(table, /\| worker thread \| aws-prefix, 60 per-user secrets: unchanged \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
    assert.match(table, /\| main thread \(before\) \| aws:ID, one secret with 60 users: all rotated \| [\d.]+ \|/);
  });
});
