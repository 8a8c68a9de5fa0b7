/**
 * Fuzzing the wire framing a hostile client talks to first: FrameDecoder (startup and
 * message framing), MessageBoundaryTracker (the relay's view of the stream) and
 * FrameReader over real loopback sockets.
 *
 * Streams mix well-formed frames, frames whose length word sits on or past the limits
 * (0, 3, 4, 7, 8, max, max + 1, negative, 2^31 - 1) and raw junk; the limit itself is
 * fuzzed small so it is reached cheaply. An independent oracle (the length word read
 * here) says which frame must fail.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import { FrameReader } from '../../proxy/wire/frameReader';
import { FrameDecoder, MessageBoundaryTracker, type Frame, type FrameMode } from '../../proxy/wire/protocol/frames';
import * as wb from '../support/wireBytes';
import { INTERESTING_INT32 } from './support/mutate';
import { checkAsyncProperty, checkProperty, Tally } from './support/settings';

const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n | 0, 0);
  return b;
};

/** One piece of a stream: a well-formed frame, a frame with a chosen length word, or junk. */
type Segment =
  | { kind: 'frame'; type: number; body: Uint8Array }
  | { kind: 'length'; type: number; length: number; body: Uint8Array }
  | { kind: 'junk'; bytes: Uint8Array };

const segment: fc.Arbitrary<Segment> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('frame' as const), type: fc.nat({ max: 255 }), body: fc.uint8Array({ maxLength: 120 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('length' as const),
      type: fc.nat({ max: 255 }),
      length: fc.oneof(fc.constantFrom(...INTERESTING_INT32), fc.integer({ min: -8, max: 400 })),
      body: fc.uint8Array({ maxLength: 120 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('junk' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }) }) },
);

function encode(mode: FrameMode, s: Segment): Buffer {
  if (s.kind === 'junk') return Buffer.from(s.bytes);
  const body = Buffer.from(s.body);
  const len = s.kind === 'frame' ? body.length + 4 + (mode === 'startup' ? 4 : 0) : s.length;
  // Startup packets carry a 4-byte code before the body; a well-formed one counts it.
  const head = mode === 'startup' ? [int32(len), int32(s.type * 65_537)] : [Buffer.from([s.type]), int32(len)];
  return Buffer.concat([...head, body]);
}

const stream = fc.record({
  mode: fc.constantFrom<FrameMode>('startup', 'message'),
  maxLength: fc.oneof(fc.constantFrom(8, 9, 64, 10_000), fc.integer({ min: 8, max: 300 })),
  segments: fc.array(segment, { maxLength: 12 }),
  cuts: fc.array(fc.nat({ max: 2000 }), { maxLength: 30 }),
});

const view = (f: Frame): unknown =>
  f.kind === 'startup' ? ['startup', f.packet.toString('hex')] : f.kind === 'message' ? ['message', f.type, f.body.toString('hex')] : ['error', f.code, f.message];

/** What must come out of `bytes`, frame by frame, computed from the length words alone. */
function oracle(mode: FrameMode, maxLength: number, bytes: Buffer): { frames: Buffer[]; error: boolean; rest: number } {
  const header = mode === 'startup' ? 4 : 5;
  const min = mode === 'startup' ? 8 : 4;
  const frames: Buffer[] = [];
  let at = 0;
  for (;;) {
    if (bytes.length - at < header) return { frames, error: false, rest: bytes.length - at };
    const len = bytes.readInt32BE(at + header - 4);
    if (len < min || len > maxLength) return { frames, error: true, rest: 0 };
    const total = header - 4 + len;
    if (bytes.length - at < total) return { frames, error: false, rest: bytes.length - at };
    frames.push(bytes.subarray(at, at + total));
    at += total;
  }
}

/** The bytes of a decoded frame, rebuilt: decoding must lose nothing. */
function frameBytes(f: Frame): Buffer {
  if (f.kind === 'startup') return f.packet;
  if (f.kind === 'message') return Buffer.concat([Buffer.from(f.type, 'latin1'), int32(f.body.length + 4), f.body]);
  throw new Error('an error frame has no bytes');
}

describe('fuzz: wire framing', function () {
  this.timeout(30 * 60_000);

  it('FrameDecoder: any stream, split anywhere, gives the frames the length words say; errors are values; memory stays bounded', () => {
    const tally = new Tally();
    checkProperty('FrameDecoder split vs whole', 4, fc.property(stream, ({ mode, maxLength, segments, cuts }) => {
      const bytes = Buffer.concat(segments.map((s) => encode(mode, s)));
      const whole = new FrameDecoder(mode, maxLength).push(bytes);
      const expected = oracle(mode, maxLength, bytes);
      // Same frames as the oracle, then (only) the error it predicts.
      const good = whole.filter((f) => f.kind !== 'error');
      assert.deepEqual(good.map((f) => frameBytes(f).toString('hex')), expected.frames.map((b) => b.toString('hex')));
      assert.equal(whole.length, good.length + (expected.error ? 1 : 0));
      if (expected.error) {
        const last = whole[whole.length - 1]!;
        assert.ok(last.kind === 'error' && last.code === '08P01' && /invalid (message length|length of startup packet) \(-?\d+\)/.test(last.message));
        tally.add('stream ends in a length error');
      } else tally.add(expected.frames.length ? 'frames decoded' : 'nothing complete');

      // Chunked: push() per chunk gives the same frames, and never holds more than one frame's worth.
      const d = new FrameDecoder(mode, maxLength);
      const split: Frame[] = [];
      for (const c of wb.chunks(bytes, cuts)) {
        split.push(...d.push(c));
        if (!split.some((f) => f.kind === 'error')) assert.ok(d.buffered <= maxLength + 1, `buffered ${d.buffered} > limit ${maxLength}`);
      }
      assert.deepEqual(split.map(view), whole.map(view));
      if (expected.error) assert.deepEqual(d.push(wb.msg('Q', 'select 1\0')), [], 'nothing after an error');
      else assert.equal(d.buffered, expected.rest);

      // Lazy: append() + next(), as FrameReader uses it, gives them too.
      const lazy = new FrameDecoder(mode, maxLength);
      const pulled: Frame[] = [];
      for (const c of wb.chunks(bytes, cuts)) {
        lazy.append(c);
        for (let f = lazy.next(); f; f = lazy.next()) pulled.push(f);
      }
      assert.deepEqual(pulled.map(view), whole.map(view));
    }), tally);
  });

  it('FrameDecoder: switching from startup to message framing between frames loses no byte', () => {
    checkProperty('FrameDecoder mode switch', 2, fc.property(
      fc.dictionary(fc.constantFrom('user', 'database', 'options', 'application_name'), fc.string({ unit: 'grapheme-ascii', maxLength: 30 }).map((s) => s.replace(/\0/g, ''))),
      fc.array(segment, { maxLength: 6 }),
      fc.array(fc.nat({ max: 1500 }), { maxLength: 20 }),
      (params, segments, cuts) => {
        const first = wb.startup(params);
        const rest = Buffer.concat(segments.map((s) => encode('message', s)));
        const d = new FrameDecoder('startup', 10_000);
        const out: Frame[] = [];
        let switched = false;
        for (const c of wb.chunks(Buffer.concat([first, rest]), cuts)) {
          d.append(c);
          for (let f = d.next(); f; f = d.next()) {
            out.push(f);
            if (!switched) {
              switched = true;
              d.mode = 'message';
              d.maxLength = 10_000;
            }
          }
        }
        assert.equal(out[0]?.kind === 'startup' && out[0].packet.equals(first), true);
        assert.deepEqual(out.slice(1).map(view), new FrameDecoder('message', 10_000).push(rest).map(view));
      },
    ));
  });

  it('MessageBoundaryTracker: any stream, split anywhere, reports the same types; valid streams end on a boundary', () => {
    const tally = new Tally();
    checkProperty('MessageBoundaryTracker', 4, fc.property(fc.array(segment, { maxLength: 12 }), fc.array(fc.nat({ max: 2000 }), { maxLength: 30 }), (segments, cuts) => {
      const bytes = Buffer.concat(segments.map((s) => encode('message', s)));
      const types = (chunks: Buffer[]): { types: number[]; boundary: boolean } => {
        const t = new MessageBoundaryTracker();
        const out: number[] = [];
        for (const c of chunks) t.feed(c, (x) => out.push(x));
        return { types: out, boundary: t.atBoundary };
      };
      const whole = types([bytes]);
      assert.deepEqual(types(wb.chunks(bytes, cuts)), whole);
      if (segments.every((s) => s.kind === 'frame')) {
        assert.deepEqual(whole.types, segments.map((s) => (s as { type: number }).type));
        assert.equal(whole.boundary, true);
        // Between whole messages it is at a boundary, inside one it is not.
        const t = new MessageBoundaryTracker();
        for (const s of segments) {
          const m = encode('message', s);
          t.feed(m.subarray(0, m.length - 1), () => undefined);
          assert.equal(t.atBoundary, false);
          t.feed(m.subarray(m.length - 1), () => undefined);
          assert.equal(t.atBoundary, true);
        }
        tally.add('valid streams');
      } else tally.add('streams with bad lengths or junk');
    }), tally);
  });

  describe('FrameReader over real loopback sockets', () => {
    let server: net.Server;
    let port: number;
    const accepted: ((s: net.Socket) => void)[] = [];

    before(async () => {
      server = net.createServer((s) => accepted.shift()?.(s));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      port = (server.address() as net.AddressInfo).port;
    });
    after(async () => {
      await new Promise<void>((r) => server.close(() => r()));
    });

    it('gives the same frames as decoding the bytes whole, however they arrive, then an Error when the peer closes', async () => {
      const tally = new Tally();
      await checkAsyncProperty('FrameReader over sockets', 0.3, fc.asyncProperty(
        fc.array(segment, { maxLength: 8 }),
        fc.array(fc.nat({ max: 1500 }), { maxLength: 8 }),
        fc.integer({ min: 8, max: 400 }),
        fc.boolean(),
        async (segments, cuts, maxLength, slowReader) => {
          const bytes = Buffer.concat(segments.map((s) => encode('message', s)));
          const serverSide = new Promise<net.Socket>((r) => accepted.push(r));
          const client = net.connect(port, '127.0.0.1');
          client.setNoDelay(true);
          const socket = await serverSide;
          const reader = new FrameReader(socket, new FrameDecoder('message', maxLength));
          for (const c of wb.chunks(bytes, cuts)) client.write(c);
          client.end();
          const got: Frame[] = [];
          for (;;) {
            if (slowReader) await new Promise((r) => setImmediate(r));
            const f = await reader.next();
            if (f instanceof Error) break;
            got.push(f);
            if (f.kind === 'error') break;
          }
          socket.destroy();
          assert.deepEqual(got.map(view), new FrameDecoder('message', maxLength).push(bytes).map(view));
          tally.add(got.some((f) => f.kind === 'error') ? 'ended by a length error' : 'ended by close');
        },
      ), tally);
    });
  });
});
