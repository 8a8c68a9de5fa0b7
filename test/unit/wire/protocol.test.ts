import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameDecoder, MessageBoundaryTracker, type Frame } from '../../../proxy/wire/protocol/frames';
import { formatOptions, parseOptions, parseStartupPacket } from '../../../proxy/wire/protocol/startup';
import * as be from '../../../proxy/wire/protocol/backend';
import * as fe from '../../../proxy/wire/protocol/frontend';
import * as wb from '../../support/wireBytes';

describe('wire protocol: framing', () => {
  it('decodes several messages from one chunk and one message from many chunks', () => {
    const bytes = Buffer.concat([wb.query('select 1'), wb.msg('S'), wb.query('select 2')]);
    const all = new FrameDecoder('message', 1000).push(bytes);
    assert.deepEqual(
      all.map((f) => (f.kind === 'message' ? [f.type, f.body.toString()] : f.kind)),
      [['Q', 'select 1\0'], ['S', ''], ['Q', 'select 2\0']],
    );
    const d = new FrameDecoder('message', 1000);
    const got: Frame[] = [];
    for (let i = 0; i < bytes.length; i++) got.push(...d.push(bytes.subarray(i, i + 1)));
    assert.equal(got.length, 3);
    assert.equal(d.buffered, 0);
  });

  it('frames startup packets without a type byte and refuses lengths over 10,000 before buffering', () => {
    const d = new FrameDecoder('startup', 10_000);
    const [f] = d.push(wb.startup({ user: 'alice' }));
    assert.equal(f!.kind, 'startup');
    const big = Buffer.alloc(8);
    big.writeInt32BE(10_001, 0);
    const [e] = new FrameDecoder('startup', 10_000).push(big.subarray(0, 4));
    assert.deepEqual(e, { kind: 'error', code: '08P01', message: 'invalid length of startup packet (10001)' });
    const [tiny] = new FrameDecoder('startup', 10_000).push(Buffer.from([0, 0, 0, 3]));
    assert.equal(tiny!.kind, 'error');
  });

  it('hands over unread bytes with take()', () => {
    const d = new FrameDecoder('startup', 10_000);
    d.append(Buffer.concat([wb.ssl(), Buffer.from('smuggled')]));
    assert.equal(d.next()!.kind, 'startup');
    assert.equal(d.take().toString(), 'smuggled');
  });

  it('property: the decoder never throws on arbitrary bytes split arbitrarily; errors are values', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(300)), fc.constantFrom<'startup' | 'message'>('startup', 'message'), (bytes, cuts, mode) => {
        const d = new FrameDecoder(mode, 10_000);
        for (const c of wb.chunks(Buffer.from(bytes), cuts))
          for (const f of d.push(c)) {
            if (f.kind === 'startup') parseStartupPacket(f.packet); // must not throw either
            if (f.kind === 'error') assert.match(f.code, /^[0-9A-Z]{5}$/);
          }
      }),
      { numRuns: 500 },
    );
  });

  it('property: any sequence of valid messages decodes back identically, however it is chunked', () => {
    const arbMsg = fc.record({ type: fc.constantFrom('Q', 'P', 'B', 'E', 'S', 'd', 'X'), body: fc.uint8Array({ maxLength: 50 }) });
    fc.assert(
      fc.property(fc.array(arbMsg, { maxLength: 10 }), fc.array(fc.nat(600)), (msgs, cuts) => {
        const bytes = Buffer.concat(msgs.map((m) => wb.msg(m.type, Buffer.from(m.body))));
        const d = new FrameDecoder('message', 10_000);
        const out = wb.chunks(bytes, cuts).flatMap((c) => d.push(c));
        assert.deepEqual(
          out.map((f) => (f.kind === 'message' ? [f.type, [...f.body]] : f.kind)),
          msgs.map((m) => [m.type, [...m.body]]),
        );
        // The relay's boundary tracker sees the same types, chunk by chunk.
        const t = new MessageBoundaryTracker();
        const types: string[] = [];
        for (const c of wb.chunks(bytes, cuts)) t.feed(c, (x) => types.push(String.fromCharCode(x)));
        assert.deepEqual(types, msgs.map((m) => m.type));
        assert.ok(t.atBoundary);
      }),
    );
  });
});

describe('wire protocol: startup packets', () => {
  it('parses StartupMessage 3.0 with parameters; database defaults to user', () => {
    const p = parseStartupPacket(wb.startup({ user: 'alice', application_name: 'psql', options: '-c x=1' }));
    assert.equal(p.kind, 'startup');
    if (p.kind !== 'startup') return;
    assert.equal(p.minor, 0);
    assert.equal(p.user, 'alice');
    assert.equal(p.database, 'alice');
    assert.equal(p.params.get('options'), '-c x=1');
  });

  it('parses 3.2 and collects _pq_ protocol options separately', () => {
    const p = parseStartupPacket(wb.startup({ user: 'a', database: 'd', '_pq_.foo': 'x' }, 3, 2));
    assert.ok(p.kind === 'startup' && p.minor === 2 && p.database === 'd');
    assert.deepEqual(p.kind === 'startup' && p.protocolOptions, ['_pq_.foo']);
  });

  it('requires user, a final terminator, and protocol 3', () => {
    assert.deepEqual(parseStartupPacket(wb.startup({ database: 'd' })), {
      kind: 'error',
      code: '28000',
      message: 'no PostgreSQL user name specified in startup packet',
    });
    const noTerm = wb.startup({ user: 'a' }).subarray(0, -1);
    noTerm.writeInt32BE(noTerm.length, 0);
    assert.equal(parseStartupPacket(noTerm).kind, 'error');
    const p2 = parseStartupPacket(wb.startup({ user: 'a' }, 2, 0));
    assert.ok(p2.kind === 'error' && p2.code === '0A000');
  });

  it('recognises SSLRequest, GSSENCRequest and CancelRequest (3.0 and 3.2 key lengths)', () => {
    assert.deepEqual(parseStartupPacket(wb.ssl()), { kind: 'ssl' });
    assert.deepEqual(parseStartupPacket(wb.gssenc()), { kind: 'gssenc' });
    const c = parseStartupPacket(wb.cancel(42, Buffer.from([1, 2, 3, 4])));
    assert.ok(c.kind === 'cancel' && c.pid === 42 && c.key.equals(Buffer.from([1, 2, 3, 4])));
    const c32 = parseStartupPacket(wb.cancel(7, Buffer.alloc(32, 9)));
    assert.ok(c32.kind === 'cancel' && c32.key.length === 32);
    assert.equal(parseStartupPacket(wb.cancel(7, Buffer.alloc(3))).kind, 'error');
    assert.equal(parseStartupPacket(wb.cancel(7, Buffer.alloc(257))).kind, 'error');
  });

  it('parses libpq options: -c a=b, -ca=b, --a=b, backslash escapes', () => {
    const { settings, words } = parseOptions('-c mayfly.policy=pg-homolog -cwork_mem=7MB --search-path=a\\ b -x');
    assert.equal(settings.get('mayfly.policy'), 'pg-homolog');
    assert.equal(settings.get('work_mem'), '7MB');
    assert.equal(settings.get('search_path'), 'a b');
    assert.deepEqual(words, ['-x']);
    assert.equal(formatOptions(new Map([['search_path', 'a b']])), '-c search_path=a\\ b');
  });
});

describe('wire protocol: encoders', () => {
  it('encodes auth requests byte for byte', () => {
    assert.deepEqual(be.authenticationOk(), wb.msg('R', Buffer.from([0, 0, 0, 0])));
    assert.deepEqual(be.authenticationCleartext(), wb.msg('R', Buffer.from([0, 0, 0, 3])));
    assert.deepEqual(be.authenticationMD5(Buffer.from([9, 8, 7, 6])), wb.msg('R', Buffer.from([0, 0, 0, 5, 9, 8, 7, 6])));
    assert.deepEqual(be.authenticationSASL(['SCRAM-SHA-256']), wb.msg('R', Buffer.concat([Buffer.from([0, 0, 0, 10]), Buffer.from('SCRAM-SHA-256\0\0')])));
    assert.deepEqual(be.authenticationSASLContinue('r=x'), wb.msg('R', Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('r=x')])));
    assert.deepEqual(be.authenticationSASLFinal('v=y'), wb.msg('R', Buffer.concat([Buffer.from([0, 0, 0, 12]), Buffer.from('v=y')])));
  });

  it('encodes ErrorResponse/NoticeResponse fields and parses them back', () => {
    const e = be.fatal('28P01', 'password authentication failed for user "a"');
    assert.equal(e[0], 'E'.charCodeAt(0));
    assert.deepEqual(e, wb.msg('E', 'SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "a"\0\0'));
    const f = be.parseFields(e.subarray(5));
    assert.equal(f.get('C'), '28P01');
    assert.equal(be.noticeResponse({ severity: 'WARNING', code: '01000', message: 'm' })[0], 'N'.charCodeAt(0));
  });

  it('encodes ParameterStatus, BackendKeyData, ReadyForQuery, NegotiateProtocolVersion', () => {
    assert.deepEqual(be.parameterStatus('a', 'b'), wb.msg('S', 'a\0b\0'));
    assert.deepEqual(be.backendKeyData(1, Buffer.from([1, 2, 3, 4])), wb.msg('K', Buffer.from([0, 0, 0, 1, 1, 2, 3, 4])));
    assert.deepEqual(be.readyForQuery('I'), wb.msg('Z', 'I'));
    assert.deepEqual(be.negotiateProtocolVersion(2, ['_pq_.x']), wb.msg('v', Buffer.concat([Buffer.from([0, 3, 0, 2, 0, 0, 0, 1]), Buffer.from('_pq_.x\0')])));
  });

  it('frontend encoders match the fixtures', () => {
    assert.deepEqual(fe.startupMessage({ user: 'a', database: 'b' }), wb.startup({ user: 'a', database: 'b' }));
    assert.deepEqual(fe.sslRequest(), wb.ssl());
    assert.deepEqual(fe.cancelRequest(5, Buffer.from([1, 2, 3, 4])), wb.cancel(5, Buffer.from([1, 2, 3, 4])));
    assert.deepEqual(fe.passwordMessage('pw'), wb.password('pw'));
    assert.deepEqual(fe.saslInitialResponse('SCRAM-SHA-256', 'n,,n=*,r=x'), wb.saslInitial('SCRAM-SHA-256', 'n,,n=*,r=x'));
  });
});
