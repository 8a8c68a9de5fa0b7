/**
 * Fuzzing the first thing the proxy parses from a stranger: startup-phase packets
 * (StartupMessage 3.0 / 3.2 / newer minors with `_pq_.` options, SSLRequest,
 * GSSENCRequest, CancelRequest with 4- and 32-byte keys) mutated byte by byte, framed by
 * the proxy's own decoder. Never an exception; always a packet or an error value with a
 * SQLSTATE; a parsed StartupMessage is self-consistent and survives a round trip.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, MAX_STARTUP_PACKET, SQLSTATE, SSL_REQUEST_CODE } from '../../proxy/wire/protocol/codes';
import { FrameDecoder } from '../../proxy/wire/protocol/frames';
import { formatOptions, parseOptions, parseStartupPacket, type StartupPacket } from '../../proxy/wire/protocol/startup';
import * as wb from '../support/wireBytes';
import { mutatedBytes } from './support/mutate';
import { VALID_STARTUP_PACKETS } from './support/packets';
import { checkProperty, Tally } from './support/settings';

const KNOWN_SQLSTATES = new Set<string>(Object.values(SQLSTATE));

/** The invariants of a parse result, checked against the packet bytes. */
function checkParsed(packet: Buffer, p: StartupPacket, tally: Tally): void {
  const code = packet.length >= 8 ? packet.readInt32BE(4) : undefined;
  switch (p.kind) {
    case 'error':
      assert.match(p.code, /^[0-9A-Z]{5}$/);
      assert.ok(KNOWN_SQLSTATES.has(p.code), `unknown SQLSTATE ${p.code}`);
      assert.ok(p.message.length > 0 && !p.message.includes('\0'), 'a message that fits an ErrorResponse');
      tally.add(`error ${p.code}`);
      return;
    case 'ssl':
      assert.ok(packet.length === 8 && code === SSL_REQUEST_CODE);
      break;
    case 'gssenc':
      assert.ok(packet.length === 8 && code === GSSENC_REQUEST_CODE);
      break;
    case 'cancel':
      assert.ok(code === CANCEL_REQUEST_CODE && p.key.length >= 4 && p.key.length <= 256 && p.key.length === packet.length - 12);
      assert.equal(p.pid, packet.readInt32BE(8));
      break;
    case 'startup': {
      assert.equal(packet.readInt32BE(0), packet.length);
      assert.equal(packet[packet.length - 1], 0, 'a StartupMessage ends with a terminator');
      assert.equal(p.major, 3);
      assert.equal(code, (p.major << 16) | p.minor);
      assert.ok(p.user.length > 0 && p.params.get('user') === p.user);
      assert.ok(p.database.length > 0 && p.params.get('database') === p.database);
      for (const o of p.protocolOptions) assert.ok(o.startsWith('_pq_.') && !p.params.has(o));
      // Written back out, the parameters parse to the same thing.
      const params = Object.fromEntries([...p.params, ...p.protocolOptions.map((o) => [o, ''] as const)]);
      const again = parseStartupPacket(wb.startup(params, p.major, p.minor));
      assert.equal(again.kind, 'startup');
      if (again.kind === 'startup') {
        assert.deepEqual([...again.params], [...p.params]);
        assert.deepEqual(again.protocolOptions, [...new Set(p.protocolOptions)]);
      }
      break;
    }
  }
  tally.add(p.kind);
}

/** Frames the bytes as the proxy does and parses every complete packet. */
function decodeAndParse(bytes: Buffer, tally: Tally): void {
  const frames = new FrameDecoder('startup', MAX_STARTUP_PACKET).push(bytes);
  if (!frames.length) tally.add('incomplete');
  let at = 0;
  for (const f of frames) {
    if (f.kind === 'error') {
      const len = bytes.readInt32BE(at);
      assert.ok(len < 8 || len > MAX_STARTUP_PACKET, `length ${len} refused`);
      tally.add('framing error');
      continue;
    }
    assert.equal(f.kind, 'startup');
    if (f.kind === 'startup') {
      at += f.packet.length;
      checkParsed(f.packet, parseStartupPacket(f.packet), tally);
    }
  }
}

describe('fuzz: startup packets', function () {
  this.timeout(30 * 60_000);

  it('the seeds are valid packets of every kind', () => {
    const kinds = VALID_STARTUP_PACKETS.map((p) => parseStartupPacket(p).kind);
    assert.deepEqual([...new Set(kinds)].sort(), ['cancel', 'gssenc', 'ssl', 'startup']);
  });

  it('mutated packets never throw; they parse consistently or give an error with a SQLSTATE', () => {
    const tally = new Tally();
    const packets = mutatedBytes(fc.constantFrom(...VALID_STARTUP_PACKETS), 0, 5);
    checkProperty('mutated startup packets', 8, fc.property(packets, ({ bytes }) => decodeAndParse(bytes, tally)), tally);
    for (const k of ['startup', 'ssl', 'cancel', 'error 08P01']) assert.ok(tally.get(k) > 0, `no mutation produced ${k}: ${tally}`);
  });

  it('arbitrary bytes with a correct length word never throw', () => {
    const tally = new Tally();
    const code = fc.oneof(fc.constantFrom(196_608, 196_610, 196_611, 131_072, CANCEL_REQUEST_CODE, SSL_REQUEST_CODE, GSSENC_REQUEST_CODE), fc.integer());
    const piece = fc.oneof(
      fc.constantFrom('user\0', 'alice\0', '\0', 'database\0', 'options\0', '-c mayfly.policy=x\0', '_pq_.a\0', 'x', '\xff\xfe').map((t) => Buffer.from(t, 'latin1')),
      fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)),
    );
    const packet = fc.tuple(code, fc.array(piece, { maxLength: 16 })).map(([c, pieces]) => {
      const head = Buffer.alloc(4);
      head.writeInt32BE(c, 0);
      return wb.startupPacket(Buffer.concat([head, ...pieces]));
    });
    checkProperty('arbitrary startup bodies', 4, fc.property(packet, (p) => checkParsed(p, parseStartupPacket(p), tally)), tally);
  });

  it('generated StartupMessages parse to exactly their parameters (the last of a repeated key wins)', () => {
    const key = fc.oneof(fc.constantFrom('user', 'database', 'options', 'application_name', 'replication', '_pq_.x'), fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }));
    const value = fc.string({ unit: 'binary', maxLength: 40 });
    const noNul = (s: string): boolean => !s.includes('\0') && Buffer.from(s, 'utf8').toString('utf8') === s;
    const pairs = fc.array(fc.tuple(key.filter(noNul), value.filter(noNul)), { maxLength: 8 });
    checkProperty('generated StartupMessages', 2, fc.property(pairs, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter(noNul), fc.nat({ max: 2 }), (kv, user, minor) => {
      const body = Buffer.concat([
        Buffer.from([0, 3, 0, minor]),
        ...[['user', user] as const, ...kv].flatMap(([k, v]) => [Buffer.from(`${k}\0`), Buffer.from(`${v}\0`)]),
        Buffer.from([0]),
      ]);
      const p = parseStartupPacket(wb.startupPacket(body));
      const expected = new Map<string, string>();
      const options: string[] = [];
      for (const [k, v] of [['user', user] as const, ...kv]) {
        if (k.startsWith('_pq_.')) options.push(k);
        else expected.set(k, v);
      }
      if (!expected.get('user')) {
        assert.deepEqual(p, { kind: 'error', code: SQLSTATE.invalidAuthorization, message: 'no PostgreSQL user name specified in startup packet' });
        return;
      }
      if (!expected.get('database')) expected.set('database', expected.get('user')!);
      assert.ok(p.kind === 'startup', JSON.stringify(p));
      assert.deepEqual(new Map(p.params), expected);
      assert.deepEqual(p.protocolOptions, options);
      assert.equal(p.minor, minor);
    }));
  });

  it('packets on both sides of the 10,000-byte limit', () => {
    checkProperty('startup packet length limit', 1, fc.property(fc.integer({ min: MAX_STARTUP_PACKET - 40, max: MAX_STARTUP_PACKET + 40 }), fc.boolean(), (size, split) => {
      // user=u, then a padding parameter that brings the packet to exactly `size` bytes.
      const fixed = 4 + 4 + 'user\0u\0'.length + 'pad\0'.length + 1 + 1;
      const packet = wb.startup({ user: 'u', pad: 'x'.repeat(size - fixed) });
      assert.equal(packet.length, size);
      const d = new FrameDecoder('startup', MAX_STARTUP_PACKET);
      // Sent header first, the refusal must come before the body is buffered.
      const frames = split ? [...d.push(packet.subarray(0, 4)), ...d.push(packet.subarray(4))] : d.push(packet);
      if (size > MAX_STARTUP_PACKET) {
        assert.deepEqual(frames, [{ kind: 'error', code: '08P01', message: `invalid length of startup packet (${size})` }]);
        assert.ok(d.buffered <= 4 || !split);
      } else {
        assert.equal(frames.length, 1);
        const p = parseStartupPacket((frames[0] as { packet: Buffer }).packet);
        assert.ok(p.kind === 'startup' && p.params.get('pad')!.length === size - fixed);
      }
    }));
  });

  it('libpq options: formatting settings and parsing them back is lossless', () => {
    const name = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz_.0123456789'), minLength: 1, maxLength: 12 }).filter((k) => !/^[0-9]/.test(k));
    const value = fc.string({ unit: 'binary', maxLength: 24 }).filter((v) => !v.includes('\0'));
    checkProperty('options round trip', 4, fc.property(fc.array(fc.tuple(name, value), { maxLength: 6 }), (pairs) => {
      const settings = new Map(pairs);
      const back = parseOptions(formatOptions(settings));
      assert.deepEqual(back.settings, settings, JSON.stringify(formatOptions(settings)));
      assert.deepEqual(back.words, []);
    }));
  });

  it('libpq options: any string parses without throwing into settings and words', () => {
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.array(fc.constantFrom('-c', ' ', 'a=b', '\\', '--x=y', '-cz=1', '=', '\t', 'é', '\\ '), { maxLength: 20 }).map((x) => x.join('')));
    checkProperty('options parse', 4, fc.property(text, (t) => {
      const { settings, words } = parseOptions(t);
      for (const [k] of settings) assert.ok(k.length > 0 && !k.includes('-'), `setting name ${JSON.stringify(k)}`);
      for (const w of words) assert.ok(w.length > 0, `empty word from ${JSON.stringify(t)}`);
    }));
  });
});
