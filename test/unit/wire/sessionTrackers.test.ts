import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BackendTracker, FrontendTracker } from '../../../proxy/wire/protocol/sessionTrackers';
import * as wb from '../../support/wireBytes';

/** Feeds the chunks and returns the bytes the relay would forward. */
function forward(t: FrontendTracker, chunks: Buffer[]): Buffer {
  const out: Buffer[] = [];
  for (const c of chunks) out.push(c.subarray(0, t.feed(c)));
  return Buffer.concat(out);
}

const extended = Buffer.concat([wb.msg('P', '\0select 1\0\0\0'), wb.msg('B', Buffer.alloc(8)), wb.msg('E', Buffer.alloc(5)), wb.msg('S')]);
const z = (status: string): Buffer => wb.msg('Z', status);

describe('wire relay: session trackers', () => {
  it('counts the requests that each get a ReadyForQuery: Query, Sync, FunctionCall', () => {
    const t = new FrontendTracker();
    forward(t, [Buffer.concat([wb.query('select 1'), extended, wb.msg('F', Buffer.alloc(10)), wb.msg('H')])]);
    assert.equal(t.requests, 3);
    assert.equal(t.unsynced, true, 'a Flush after the Sync leaves nothing pending, but it is extended protocol');
    forward(t, [wb.msg('S')]);
    assert.equal(t.unsynced, false);
    assert.equal(t.requests, 4);
    assert.ok(t.atBoundary);
  });

  it('extended-protocol messages without their Sync leave the stream unsynced', () => {
    const t = new FrontendTracker();
    forward(t, [extended.subarray(0, extended.length - 5)]);
    assert.equal(t.unsynced, true);
    assert.equal(t.requests, 0);
  });

  it('keeps a Terminate (and anything after it) from the server', () => {
    const t = new FrontendTracker();
    const q = wb.query('select 1');
    const sent = forward(t, [Buffer.concat([q, wb.msg('X'), wb.query('ignored')])]);
    assert.deepEqual(sent, q);
    assert.equal(t.terminated, true);
    assert.equal(t.unsynced, false);
    assert.ok(t.atBoundary);
    assert.equal(t.feed(wb.query('late')), 0);
  });

  it('a Terminate split across reads: part of it already went, so the stream is not clean', () => {
    const t = new FrontendTracker();
    const x = wb.msg('X');
    const sent = forward(t, [Buffer.concat([wb.query('select 1'), x.subarray(0, 2)]), x.subarray(2)]);
    assert.equal(t.terminated, true);
    assert.equal(t.unsynced, true);
    assert.equal(sent.length, wb.query('select 1').length + 2);
  });

  it('ReadyForQuery: counted, with its transaction status, also when the status byte comes in the next read', () => {
    const t = new BackendTracker();
    const reply = Buffer.concat([wb.msg('C', 'BEGIN\0'), z('T')]);
    t.feed(reply.subarray(0, reply.length - 1));
    assert.equal(t.readies, 1);
    assert.equal(t.atBoundary, false);
    t.feed(reply.subarray(reply.length - 1));
    assert.equal(t.status, 'T'.charCodeAt(0));
    assert.ok(t.atBoundary);
    t.feed(Buffer.concat([wb.msg('C', 'COMMIT\0'), z('I')]));
    assert.equal(t.status, 'I'.charCodeAt(0));
    assert.equal(t.readies, 2);
  });

  it('any split of a valid stream gives the same counts, status and forwarded bytes', () => {
    const client = Buffer.concat([wb.query('begin'), extended, wb.query('x'.repeat(300)), wb.msg('d', Buffer.alloc(70_000)), wb.msg('c'), wb.msg('X')]);
    const server = Buffer.concat([wb.msg('C', 'BEGIN\0'), z('T'), wb.msg('1'), wb.msg('D', Buffer.alloc(100_000)), z('T'), wb.msg('E', 'SERROR\0\0'), z('E')]);
    const whole = new FrontendTracker();
    const wholeSent = forward(whole, [client]);
    assert.equal(wholeSent.length, client.length - 5);
    fc.assert(
      fc.property(fc.array(fc.nat({ max: client.length + server.length }), { maxLength: 12 }), (cuts) => {
        const f = new FrontendTracker();
        // (A split Terminate is the case above.)
        const sent = forward(f, wb.chunks(client, cuts.filter((c) => c <= client.length - 5)));
        assert.deepEqual(sent, wholeSent);
        assert.equal(f.requests, whole.requests);
        assert.equal(f.terminated, true);
        assert.equal(f.unsynced, false);
        const b = new BackendTracker();
        for (const c of wb.chunks(server, cuts)) b.feed(c);
        assert.equal(b.readies, 3);
        assert.equal(b.status, 'E'.charCodeAt(0));
        assert.ok(b.atBoundary);
      }),
      { numRuns: 300 },
    );
  });
});
