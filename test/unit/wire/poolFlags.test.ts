import assert from 'node:assert/strict';
import { parsePoolFlags } from '../../../proxy/wire/poolFlags';
import { proxyCommand } from '../../../proxy/cli/proxyCommand';

describe('wire pool flags (mayfly proxy --pool-size/--max-upstream/--pool-idle-timeout/--pool-wait)', () => {
  it('parses counts and Go durations; unset flags stay unset (defaults apply)', () => {
    assert.deepEqual(parsePoolFlags({}), {});
    assert.deepEqual(parsePoolFlags({ poolSize: '0', maxUpstream: '1100', poolIdleTimeout: '90s', poolWait: '1m30s' }), {
      idlePerKey: 0,
      maxConnections: 1100,
      idleTimeoutMs: 90_000,
      waitTimeoutMs: 90_000,
    });
    assert.deepEqual(parsePoolFlags({ poolWait: '250ms' }), { waitTimeoutMs: 250 });
  });

  it('refuses bad values with a message naming the flag', () => {
    assert.throws(() => parsePoolFlags({ poolSize: '-1' }), /--pool-size expects a whole number of at least 0 \(got "-1"\)/);
    assert.throws(() => parsePoolFlags({ maxUpstream: '0' }), /--max-upstream expects a whole number of at least 1/);
    assert.throws(() => parsePoolFlags({ maxUpstream: '10x' }), /--max-upstream/);
    assert.throws(() => parsePoolFlags({ poolIdleTimeout: '5d' }), /--pool-idle-timeout expects a duration greater than 0 such as 5m \(got "5d"\)/);
    assert.throws(() => parsePoolFlags({ poolWait: '0s' }), /--pool-wait expects a duration greater than 0/);
  });

  it('mayfly proxy refuses them before starting anything (bad value, or without --listen)', async () => {
    const out = { log: () => undefined, err: () => undefined };
    await assert.rejects(proxyCommand({ config: [], listen: '127.0.0.1:0', poolSize: 'many' }, out), /--pool-size expects a whole number/);
    await assert.rejects(proxyCommand({ config: [], maxUpstream: '10' }, out), /need --listen HOST:PORT/);
  });
});
