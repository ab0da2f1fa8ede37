import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { mutatedFrames } from './mutate.js';
import { intervalRule } from '../../src/core/sequence.js';
import type { BookDelta, BookSnapshot } from '../../src/core/types.js';
import { findVenue, VENUE_IDS } from '../../src/venues/index.js';
import {
  decodeOkxBooks,
  okx,
  OKX_REST_BASE,
  OKX_WS_BASE,
  okxBookChecksum,
  okxChecksum,
  okxMarket,
  okxResyncMessages,
  okxSubscribeMessages,
  parseOkxBookData,
  parseOkxMessage,
  parseOkxMessageJson,
  parseOkxSnapshot,
  scanOkxUpdate,
} from '../../src/venues/okx.js';
import { TextBook } from '../../src/venues/textbook.js';
import { cryptofeedReceived, jsonLines } from './real-fixtures.js';

/** A books frame in today's shape (seqId/prevSeqId), levels as OKX sends them. */
function books(action: 'snapshot' | 'update', prevSeqId: number, seqId: number, bids: string[][], asks: string[][]) {
  return JSON.stringify({
    arg: { channel: 'books', instId: 'BTC-USDT' },
    action,
    data: [{ asks, bids, ts: '1786613174873', checksum: 0, prevSeqId, seqId }],
  });
}

const SNAP = books('snapshot', -1, 100, [['63707.2', '1.7', '0', '12']], [['63707.3', '0.15', '0', '3']]);
const UPD = books('update', 100, 105, [['63707.2', '0', '0', '0']], [['63708', '2.5', '0', '1']]);
const KEEPALIVE = books('update', 105, 105, [], []);
const RESET = books('update', 15, 3, [['63707.1', '1', '0', '1']], []);

// ------------------------------------------------------------------------------------------ adapter surface

test('registry: okx is registered with its endpoints, ping and limits', () => {
  assert.ok(VENUE_IDS.includes('okx'));
  assert.equal(findVenue('okx'), okx);
  assert.equal(okx.defaultWsUrl, 'wss://ws.okx.com:8443/ws/v5/public');
  assert.equal(okx.snapshotSource, 'websocket');
  assert.deepEqual(okx.ping, { intervalMs: 20_000, text: 'ping' });
  assert.deepEqual(okx.markets, ['spot', 'perp', 'future']);
  assert.ok(okx.maxBooksPerConnection > 0 && okx.maxBooksPerConnection <= 100);
});

test('wsUrl is the public endpoint (subscriptions name the books)', () => {
  assert.equal(okx.wsUrl(OKX_WS_BASE, ['BTC-USDT']), OKX_WS_BASE);
  assert.equal(okx.wsUrl('ws://127.0.0.1:9000/ws/v5/public/', ['BTC-USDT']), 'ws://127.0.0.1:9000/ws/v5/public');
  assert.throws(() => okx.wsUrl(OKX_WS_BASE, []), RangeError);
});

test('subscribe frames: books per instId, batched by 50', () => {
  assert.deepEqual(okx.subscribeMessages(['BTC-USDT', 'eth-usdt-swap']), [
    '{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"},{"channel":"books","instId":"ETH-USDT-SWAP"}]}',
  ]);
  const ids = Array.from({ length: 120 }, (_, i) => `C${i}-USDT`);
  const frames = okxSubscribeMessages(ids);
  assert.deepEqual(
    frames.map((f) => JSON.parse(f).args.length),
    [50, 50, 20],
  );
  const args = frames.flatMap((f) => JSON.parse(f).args as { channel: string; instId: string }[]);
  assert.deepEqual(
    args.map((a) => a.instId),
    ids,
  );
  assert.ok(args.every((a) => a.channel === 'books'));
  assert.deepEqual(okx.subscribeMessages([]), []);
});

test('resync: unsubscribe then subscribe the one book', () => {
  assert.deepEqual(okx.resyncMessages!('BTC-USD-220527'), [
    '{"op":"unsubscribe","args":[{"channel":"books","instId":"BTC-USD-220527"}]}',
    '{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USD-220527"}]}',
  ]);
  assert.deepEqual(okxResyncMessages('btc-usdt'), okx.resyncMessages!('BTC-USDT'));
});

test('REST: books with source=0 (sz clamped to 1..400), weight 1; instruments by type', () => {
  assert.deepEqual(okx.snapshotRequest!(OKX_REST_BASE, 'BTC-USDT', 400), {
    url: 'https://www.okx.com/api/v5/market/books?instId=BTC-USDT&sz=400&source=0',
    weight: 1,
  });
  assert.match(
    okx.snapshotRequest!('http://h/', 'btc-usdt', 5000).url,
    /^http:\/\/h\/api\/v5\/market\/books\?instId=BTC-USDT&sz=400&/,
  );
  assert.match(okx.snapshotRequest!(OKX_REST_BASE, 'BTC-USDT', 0).url, /sz=400&/);
  assert.match(okx.snapshotRequest!(OKX_REST_BASE, 'BTC-USDT', 20).url, /sz=20&/);
  assert.equal(
    okx.symbolCheckUrl!(OKX_REST_BASE, 'BTC-USDT-SWAP'),
    'https://www.okx.com/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP',
  );
  assert.match(okx.symbolCheckUrl!(OKX_REST_BASE, 'BTC-USD-220527'), /instType=FUTURES&/);
  assert.match(okx.symbolCheckUrl!(OKX_REST_BASE, 'BTC-USDT'), /instType=SPOT&/);
});

// ------------------------------------------------------------------------------------------ symbols

test('symbols: instId <-> unified, both ways, for spot, linear and inverse swaps and dated futures', () => {
  const pairs: [string, string][] = [
    ['BTC-USDT', 'BTC/USDT'],
    ['BTC-USDT-SWAP', 'BTC/USDT:USDT'],
    ['ETH-USDC-SWAP', 'ETH/USDC:USDC'],
    ['BTC-USD-SWAP', 'BTC/USD:BTC'],
    ['BTC-USD-220527', 'BTC/USD:BTC-220527'],
    ['BTC-USDT-260626', 'BTC/USDT:USDT-260626'],
    ['UNI-USD-SWAP', 'UNI/USD:UNI'],
  ];
  for (const [inst, unified] of pairs) {
    assert.equal(okx.unifiedSymbol(inst), unified, inst);
    assert.equal(okx.venueSymbol(unified), inst, unified);
    assert.equal(okx.venueSymbol(inst), inst);
    assert.equal(okx.venueSymbol(inst.toLowerCase()), inst);
    assert.equal(okx.venueSymbol(okx.unifiedSymbol(inst)!), inst);
  }
  assert.equal(okxMarket('BTC-USDT'), 'spot');
  assert.equal(okxMarket('BTC-USDT-SWAP'), 'perp');
  assert.equal(okxMarket('BTC-USD-220527'), 'future');
  for (const bad of ['BTCUSDT', 'BTC-USDT-PERP', 'BTC-USD-220527-30000-C', 'BTC-', '', 'BTC/USDT:BTC', 'BTC/USD:USD']) {
    assert.equal(okx.venueSymbol(bad), undefined, bad);
  }
  for (const bad of ['BTCUSDT', 'BTC-USDT-PERP', 'BTC-USD-220527-30000-C', 'BTC_USDT']) {
    assert.equal(okx.unifiedSymbol(bad), undefined, bad);
    assert.equal(okxMarket(bad), undefined, bad);
  }
  assert.equal(okx.venueSymbol('BTC/USDT-220527'), undefined); // an expiry needs a settle asset
});

// ------------------------------------------------------------------------------------------ parse

test('snapshot: seq = seqId, levels as numbers, raw kept', () => {
  const r = parseOkxMessage(SNAP, 'c1', 42);
  assert.deepEqual(r, {
    snapshot: {
      type: 'snapshot',
      venue: 'okx',
      symbol: 'BTC-USDT',
      seq: 100,
      exchTime: 1786613174873,
      recvTime: 42,
      collector: 'c1',
      bids: [[63707.2, 1.7]],
      asks: [[63707.3, 0.15]],
      raw: SNAP,
    } satisfies BookSnapshot,
  });
  assert.deepEqual(okx.parse(SNAP, 'c1', 42), r);
});

test('update: prev = prevSeqId, first = prevSeqId + 1, last = seqId; chains by interval cover', () => {
  const d = parseOkxMessage(UPD, 'c1', 7).delta!;
  assert.deepEqual(d, {
    type: 'delta',
    venue: 'okx',
    symbol: 'BTC-USDT',
    first: 101,
    last: 105,
    prev: 100,
    exchTime: 1786613174873,
    recvTime: 7,
    collector: 'c1',
    bids: [[63707.2, 0]],
    asks: [[63708, 2.5]],
    raw: UPD,
  } satisfies BookDelta);
  assert.equal(intervalRule.check(100, d), 'apply');
  assert.equal(intervalRule.check(103, d), 'apply');
  assert.equal(intervalRule.check(105, d), 'stale');
  assert.equal(intervalRule.check(99, d), 'gap');
});

test('keep-alive (empty, prevSeqId == seqId): first = last = seqId, covers nothing', () => {
  const d = parseOkxMessage(KEEPALIVE, 'c', 0).delta!;
  assert.equal(d.first, 105);
  assert.equal(d.last, 105);
  assert.equal(d.prev, 105);
  assert.equal(d.reset, undefined);
  assert.deepEqual([d.bids, d.asks], [[], []]);
  assert.equal(intervalRule.check(105, d), 'stale');
  assert.equal(intervalRule.check(106, d), 'stale');
  assert.equal(intervalRule.check(104, d), 'gap');
  // levels with an unchanged seqId would be lost by the rule: refused
  assert.match(
    parseOkxMessage(books('update', 105, 105, [['1', '1', '0', '1']], []), 'c', 0).error!,
    /seqId == prevSeqId/,
  );
});

test('maintenance reset (seqId < prevSeqId): a delta marked reset, first = last = seqId, prev = prevSeqId', () => {
  const d = parseOkxMessage(RESET, 'c', 0).delta!;
  assert.equal(d.reset, true);
  assert.equal(d.first, 3);
  assert.equal(d.last, 3);
  assert.equal(d.prev, 15);
  assert.deepEqual(d.bids, [[63707.1, 1]]);
  // the interval rule alone would drop it: the arbiter must look at `reset` first
  assert.equal(intervalRule.check(15, d), 'stale');
  // the next event chains on the new ids
  const next = parseOkxMessage(books('update', 3, 5, [], [['63710', '1', '0', '1']]), 'c', 0).delta!;
  assert.equal(next.reset, undefined);
  assert.equal(intervalRule.check(d.last, next), 'apply');
  // ordinary updates never carry the field
  assert.equal('reset' in parseOkxMessage(UPD, 'c', 0).delta!, false);
});

test('events, pong and other channels are ignored; error events are errors', () => {
  const cases: [string, { ignored?: string; error?: RegExp }][] = [
    ['pong', { ignored: 'pong' }],
    ['{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a"}', { ignored: 'subscribe' }],
    ['{"event":"unsubscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a"}', { ignored: 'unsubscribe' }],
    [
      '{"event":"channel-conn-count","channel":"books","connCount":"2","connId":"a"}',
      { ignored: 'channel-conn-count' },
    ],
    [
      '{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade.","connId":"a"}',
      { ignored: 'notice 64008: The connection will soon be closed for a service upgrade.' },
    ],
    ['{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{}]}', { ignored: 'tickers' }],
    ['{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{}]}', { ignored: 'books5' }],
    ['{"arg":{"channel":"books-l2-tbt","instId":"BTC-USDT"},"action":"update","data":[]}', { ignored: 'books-l2-tbt' }],
    [
      '{"event":"error","code":"60012","msg":"Invalid request: {\\"op\\": \\"subscribe\\"}","connId":"a"}',
      { error: /^venue error 60012: Invalid request/ },
    ],
  ];
  for (const [text, want] of cases) {
    const r = parseOkxMessage(text, 'c', 0);
    if (want.ignored !== undefined) assert.deepEqual(r, { ignored: want.ignored }, text);
    else assert.match(r.error ?? '', want.error!, text);
  }
});

/** SNAP/UPD with one field replaced (JSON-level edit of data[0] or the envelope). */
function edit(base: string, f: (o: Record<string, unknown>, d: Record<string, unknown>) => void): string {
  const o = JSON.parse(base) as Record<string, unknown>;
  f(o, (o.data as Record<string, unknown>[])[0]);
  return JSON.stringify(o);
}

test('bounds and malformed fields: a clear error, never a throw', () => {
  const many = Array.from({ length: 5001 }, (_, i) => [`${1000 + i}`, '1', '0', '1']);
  const cases: [string, RegExp][] = [
    ['', /malformed JSON/],
    ['{"arg":', /malformed JSON/],
    ['[1]', /not a JSON object/],
    ['"pong"', /not a JSON object/],
    ['{}', /unrecognised message/],
    ['{"event":5}', /"event" must be a string/],
    ['{"arg":{"instId":"BTC-USDT"},"data":[]}', /unrecognised message/],
    [edit(UPD, (_o, d) => (d.asks = many)), /"asks" has 5001 levels/],
    [edit(UPD, (_o, d) => (d.bids = [['abc', '1', '0', '1']])), /"bids"\[0\] has a non-numeric/],
    [edit(UPD, (_o, d) => (d.bids = [['1e5', '1', '0', '1']])), /non-numeric/],
    [edit(UPD, (_o, d) => (d.bids = [['100', '-1', '0', '1']])), /non-numeric or out-of-range/],
    [edit(UPD, (_o, d) => (d.bids = [['0', '1', '0', '1']])), /out-of-range/],
    [edit(UPD, (_o, d) => (d.bids = [['9'.repeat(400), '1', '0', '1']])), /out-of-range/],
    [edit(UPD, (_o, d) => (d.bids = [[100, '1', '0', '1']])), /non-numeric/],
    [edit(UPD, (_o, d) => (d.bids = [['100', '1', '0', '-2']])), /\[3\] must be a non-negative integer string/],
    [edit(UPD, (_o, d) => (d.bids = [['100', '1', '0', '1.5']])), /non-negative integer string/],
    [edit(UPD, (_o, d) => (d.bids = [['100']])), /must be an array of 2-4 strings/],
    [edit(UPD, (_o, d) => (d.bids = [['100', '1', '0', '1', 'x']])), /must be an array of 2-4 strings/],
    [edit(UPD, (_o, d) => (d.bids = 'x')), /"bids" must be an array/],
    [edit(UPD, (_o, d) => delete d.asks), /"asks" must be an array/],
    [edit(UPD, (_o, d) => delete d.ts), /"ts" must be/],
    [edit(UPD, (_o, d) => (d.ts = '-1')), /"ts" must be/],
    [edit(UPD, (_o, d) => (d.seqId = 1.5)), /"seqId" must be a non-negative integer/],
    [edit(UPD, (_o, d) => (d.seqId = '105')), /"seqId" must be/],
    [edit(UPD, (_o, d) => (d.seqId = 2 ** 60)), /"seqId" must be/],
    [edit(UPD, (_o, d) => (d.seqId = -1)), /"seqId" must be/],
    [edit(UPD, (_o, d) => (d.prevSeqId = -2)), /"prevSeqId" must be an integer >= -1/],
    [edit(UPD, (_o, d) => (d.prevSeqId = null)), /"prevSeqId" must be/],
    [edit(UPD, (_o, d) => (d.prevSeqId = -1)), /update for BTC-USDT with prevSeqId -1/],
    [edit(UPD, (_o, d) => delete d.seqId), /without seqId\/prevSeqId/],
    [edit(UPD, (_o, d) => delete d.prevSeqId), /without seqId\/prevSeqId/],
    [edit(UPD, (_o, d) => (d.checksum = 2 ** 31)), /"checksum" must be a signed 32-bit integer/],
    [edit(UPD, (_o, d) => (d.checksum = '1')), /"checksum"/],
    [edit(UPD, (o) => (o.action = 'partial')), /"action" must be/],
    [edit(UPD, (o) => delete o.action), /"action" must be/],
    [edit(UPD, (o) => (o.data = [])), /"data" must be an array of one book/],
    [edit(UPD, (o) => (o.data = [{}, {}])), /"data" must be an array of one book/],
    [edit(UPD, (o) => (o.data = [null])), /"data" entries must be objects/],
    [edit(UPD, (o) => (o.arg = { channel: 'books' })), /"arg.instId"/],
    [edit(UPD, (o) => (o.arg = { channel: 'books', instId: 'btc usdt' })), /"arg.instId"/],
    [
      edit(SNAP, (_o, d) => (d.asks = [['63707.2', '1', '0', '1']])),
      /crossed snapshot: best bid 63707.2 >= best ask 63707.2/,
    ],
  ];
  for (const [text, re] of cases) {
    let r: ReturnType<typeof parseOkxMessage> | undefined;
    assert.doesNotThrow(() => (r = parseOkxMessage(text, 'c', 0)), text.slice(0, 80));
    assert.equal(r!.delta ?? r!.snapshot ?? r!.ignored, undefined, text.slice(0, 80));
    assert.match(r!.error ?? '', re, text.slice(0, 120));
  }
  // a deleted level may be crossed with the other side: only live levels count
  assert.ok(
    parseOkxMessage(
      edit(
        SNAP,
        (_o, d) =>
          (d.asks = [
            ['63707.2', '0', '0', '0'],
            ['63708', '1', '0', '1'],
          ]),
      ),
      'c',
      0,
    ).snapshot,
  );
});

test('never throws and returns exactly one outcome, on arbitrary and mutated input', () => {
  const one = (r: object) => Object.keys(r).length === 1;
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.json(),
        fc
          .jsonValue()
          .map((v) => JSON.stringify({ arg: { channel: 'books', instId: 'BTC-USDT' }, action: 'update', data: [v] })),
        fc
          .tuple(fc.constantFrom(SNAP, UPD, KEEPALIVE, RESET), fc.nat(), fc.constantFrom(...'0-9.,:"[]{}e '.split('')))
          .map(([s, at, c]) => s.slice(0, at % s.length) + c + s.slice((at % s.length) + 1)),
      ),
      (text) => {
        const r = parseOkxMessage(text, 'c', 0);
        assert.ok(one(r), text);
        const s = parseOkxSnapshot(text, 'BTC-USDT', 'c', 0);
        assert.ok(one(s), text);
      },
    ),
    { numRuns: 3000 },
  );
});

// ------------------------------------------------------------------------------------------ checksum

test('okxChecksum: interleaves bid and ask px:sz, skips a side that ran out, top 25, signed int32', () => {
  const bids: [string, string][] = [
    ['3366.1', '7'],
    ['3366', '6'],
    ['3365.5', '0.1'],
  ];
  const asks: [string, string][] = [['3366.8', '9']];
  const expected = crc32('3366.1:7:3366.8:9:3366:6:3365.5:0.1') | 0;
  assert.equal(okxChecksum(bids, asks), expected);
  assert.equal(okxChecksum([], []), crc32('') | 0);
  const deep = Array.from({ length: 30 }, (_, i) => [`${100 - i}`, '1'] as [string, string]);
  assert.equal(okxChecksum(deep, []), okxChecksum(deep.slice(0, 25), []));
  // signed: some value of a large set is negative
  const values = Array.from({ length: 50 }, (_, i) => okxChecksum([[`${i + 1}`, '1']], []));
  assert.ok(values.some((v) => v < 0) && values.every((v) => v >= -(2 ** 31) && v < 2 ** 31));
});

// ------------------------------------------------------------------------------------------ real recordings

test('real OKX books (cryptofeed 2022): every non-zero checksum verifies, the book is never crossed', () => {
  const books = new Map<string, TextBook>();
  const counts = { verified: 0, snapshots: 0, updates: 0, ignored: 0, zeroChecksum: 0 };
  for (const text of cryptofeedReceived('cryptofeed_OKX.ws.1.0')) {
    const r = decodeOkxBooks(text);
    if (r.message === undefined) {
      assert.equal(r.error, undefined, text.slice(0, 120));
      counts.ignored++;
      // acks, tickers, trades: parse() agrees
      assert.deepEqual(parseOkxMessage(text, 'c', 0), r);
      continue;
    }
    const { instId, action, data } = r.message;
    // 2022: no seqId/prevSeqId yet, so parse() cannot place it and says why
    assert.equal(data.seqId, undefined);
    assert.match(parseOkxMessage(text, 'c', 0).error ?? '', /without seqId\/prevSeqId/);
    let book = books.get(instId);
    if (action === 'snapshot') {
      book = new TextBook();
      books.set(instId, book);
      book.load(data.bidText, data.askText);
      counts.snapshots++;
    } else {
      assert.ok(book, `update before snapshot for ${instId}`);
      book.apply(data.bidText, data.askText);
      counts.updates++;
    }
    assert.equal(book.isCrossed(), false, `${instId} crossed`);
    assert.ok(book.bidDepth > 0 && book.askDepth > 0);
    if (data.checksum === undefined || data.checksum === 0) {
      counts.zeroChecksum++;
      continue;
    }
    assert.equal(okxBookChecksum(book), data.checksum, `${instId} ${action} at ts ${data.ts}`);
    counts.verified++;
  }
  assert.deepEqual(counts, { verified: 290, snapshots: 3, updates: 287, ignored: 120, zeroChecksum: 0 });
  assert.deepEqual([...books.keys()].sort(), ['BTC-USD-220527', 'BTC-USDT', 'UNI-USD-SWAP']);
});

test('real OKX books: the checksum catches a wrong book (one size string changed)', () => {
  const msgs = cryptofeedReceived('cryptofeed_OKX.ws.1.0')
    .map((t) => decodeOkxBooks(t).message)
    .filter((m) => m !== undefined && m.instId === 'BTC-USDT');
  const snap = msgs[0]!;
  assert.equal(snap.action, 'snapshot');
  const book = new TextBook();
  book.load(snap.data.bidText, snap.data.askText);
  assert.equal(okxBookChecksum(book), snap.data.checksum);
  const [px, sz] = snap.data.askText[3];
  book.apply([], [[px, `${sz}1`]]);
  assert.notEqual(okxBookChecksum(book), snap.data.checksum);
});

test('real OKX books-l2-tbt (tardis-node): same frame format, decoded with the channel named; parse ignores the channel', () => {
  let booksFrames = 0;
  for (const text of jsonLines('tardis_okx_books.jsonl')) {
    const r = decodeOkxBooks(text, 'books-l2-tbt');
    if (r.message === undefined) {
      assert.ok(r.ignored === 'subscribe' || r.ignored === 'bbo-tbt', text);
      continue;
    }
    booksFrames++;
    const { data, instId } = r.message;
    assert.ok(data.checksum !== undefined && data.checksum !== 0, instId);
    assert.equal(data.bids.length, data.bidText.length);
    assert.deepEqual(
      data.bids.map((l) => l[0]),
      data.bidText.map((l) => Number(l[0])),
    );
    assert.deepEqual(parseOkxMessage(text, 'c', 0), { ignored: 'books-l2-tbt' });
  }
  assert.equal(booksFrames, 6);
  const ltc = decodeOkxBooks(jsonLines('tardis_okx_books.jsonl')[5], 'books-l2-tbt').message!;
  assert.equal(ltc.instId, 'LTC-USDT-220624');
  assert.deepEqual(ltc.data.bids, [
    [161.26, 6],
    [161.24, 0],
  ]);
});

test('real OKX books5 (ccxt 2026): ignored by parse; its data element reads with seqId', () => {
  const lines = jsonLines('ccxt_okx_books5.jsonl');
  const seqIds: number[] = [];
  for (const text of lines) {
    const r = parseOkxMessage(text, 'c', 0);
    const o = JSON.parse(text);
    if (o.event !== undefined) {
      assert.deepEqual(r, { ignored: 'subscribe' });
      continue;
    }
    assert.deepEqual(r, { ignored: 'books5' });
    const d = parseOkxBookData(o.data[0]);
    assert.ok(typeof d !== 'string', String(d));
    assert.equal(d.bids.length, 5);
    assert.equal(d.asks.length, 5);
    assert.ok(d.bids[0][0] < d.asks[0][0]);
    assert.equal(d.prevSeqId, undefined);
    seqIds.push(d.seqId!);
  }
  assert.deepEqual(seqIds, [333794734980, 333794734996, 79706756139, 79706756227]);
});

test('REST snapshot: body with seqId -> snapshot; without seqId, venue errors, crossed -> error', () => {
  // a REST books body carries the same data element as the ws push: use ccxt's real BTC-USDT levels
  const push = JSON.parse(jsonLines('ccxt_okx_books5.jsonl')[4]);
  const { instId: _instId, ...element } = push.data[0];
  const body = JSON.stringify({ code: '0', msg: '', data: [element] });
  const s = okx.parseSnapshot!(body, 'btc-usdt', 'c1', 5).snapshot!;
  assert.equal(s.venue, 'okx');
  assert.equal(s.symbol, 'BTC-USDT');
  assert.equal(s.seq, 79706756139);
  assert.equal(s.exchTime, 1786538744703);
  assert.deepEqual(s.bids[0], [64073, 0.58849577]);
  assert.deepEqual(s.asks[0], [64073.1, 1.07909367]);
  assert.equal(s.raw, body);

  const { seqId: _seqId, ...old } = element;
  const cases: [string, RegExp][] = [
    [JSON.stringify({ code: '0', msg: '', data: [old] }), /without "seqId"/],
    [
      '{"code":"51001","msg":"Instrument ID does not exist","data":[]}',
      /^venue error 51001: Instrument ID does not exist/,
    ],
    ['{"code":0,"data":[]}', /venue error/],
    [JSON.stringify({ code: '0', data: [] }), /"data" must be an array of one book/],
    [JSON.stringify({ code: '0', data: [{ ...element, bids: [['64074', '1', '0', '1']] }] }), /crossed snapshot/],
    [JSON.stringify({ code: '0', data: [{ ...element, seqId: 'x' }] }), /"seqId"/],
    ['<html>', /malformed JSON/],
  ];
  for (const [text, re] of cases)
    assert.match(parseOkxSnapshot(text, 'BTC-USDT', 'c', 0).error ?? '', re, text.slice(0, 80));
});

// ------------------------------------------------------------------------------------------ fast path

/** Plain decimal strings as venues write them (and a few they might: leading zeros, a trailing dot). */
const decimalString = fc
  .tuple(fc.bigInt({ min: 0n, max: 10n ** 18n }), fc.integer({ min: 0, max: 10 }), fc.boolean())
  .map(([int, decimals, trailingDot]) => {
    const digits = int.toString();
    if (decimals === 0) return trailingDot ? `${digits}.` : digits;
    const padded = digits.padStart(decimals + 1, '0');
    return `${padded.slice(0, -decimals)}.${padded.slice(-decimals)}`;
  });
const okxLevel = fc.tuple(
  decimalString.filter((s) => Number(s) > 0),
  decimalString,
  fc.constantFrom('0', '00', '1'),
  fc.nat({ max: 10_000 }).map(String),
);
const okxUpdateArb = fc.record({
  instId: fc.constantFrom('BTC-USDT', 'BTC-USDT-SWAP', 'ETH-USD-220527', 'X'),
  asks: fc.array(okxLevel, { maxLength: 6 }),
  bids: fc.array(okxLevel, { maxLength: 6 }),
  ts: fc.nat({ max: 2 ** 45 }).map(String),
  checksum: fc.option(fc.integer({ min: -0x80000000, max: 0x7fffffff }), { nil: undefined }),
  prevSeqId: fc.nat({ max: 2 ** 45 }),
  n: fc.integer({ min: 1, max: 1000 }),
});
/** An update frame in OKX's own key order and spelling. */
function okxCanonical(m: typeof okxUpdateArb extends fc.Arbitrary<infer T> ? T : never): string {
  const checksum = m.checksum === undefined ? '' : `,"checksum":${m.checksum}`;
  return (
    `{"arg":{"channel":"books","instId":"${m.instId}"},"action":"update","data":[{"asks":${JSON.stringify(m.asks)},` +
    `"bids":${JSON.stringify(m.bids)},"ts":"${m.ts}"${checksum},"prevSeqId":${m.prevSeqId},"seqId":${m.prevSeqId + m.n}}]}`
  );
}

test('fast path: every canonical update frame is scanned, with the JSON path result', () => {
  fc.assert(
    fc.property(okxUpdateArb, (m) => {
      const text = okxCanonical(m);
      const fast = scanOkxUpdate(text, 'c', 1);
      assert.notEqual(fast, undefined, text);
      assert.deepEqual(fast, parseOkxMessageJson(text, 'c', 1).delta, text);
    }),
    { numRuns: 1000 },
  );
  assert.deepEqual(scanOkxUpdate(UPD, 'c', 0), parseOkxMessageJson(UPD, 'c', 0).delta);
});

test('fast path: parseOkxMessage equals the JSON path on mutated and re-formatted frames', () => {
  fc.assert(
    fc.property(mutatedFrames(okxUpdateArb.map(okxCanonical)), (text) => {
      assert.deepEqual(parseOkxMessage(text, 'c', 1), parseOkxMessageJson(text, 'c', 1), text);
    }),
    { numRuns: 3000 },
  );
  // what the scanner leaves to JSON.parse still parses there: snapshots, keep-alives, resets, other key orders
  for (const text of [
    SNAP,
    KEEPALIVE,
    RESET,
    UPD.replace('"action":"update",', '') + '',
    JSON.stringify(JSON.parse(UPD)),
  ]) {
    assert.deepEqual(parseOkxMessage(text, 'c', 1), parseOkxMessageJson(text, 'c', 1), text);
  }
  assert.equal(scanOkxUpdate(SNAP, 'c', 0), undefined);
  assert.equal(scanOkxUpdate(KEEPALIVE, 'c', 0), undefined);
  assert.equal(scanOkxUpdate(RESET, 'c', 0), undefined);
  // a level price of "1e5", a 5-string level, a 16-digit order count: the JSON path decides
  for (const [from, to] of [
    ['"63708"', '"1e5"'],
    ['"2.5","0","1"', '"2.5","0","1","7"'],
    ['"2.5","0","1"', '"2.5","0","1234567890123456"'],
    ['"2.5"', '"Infinity"'],
  ]) {
    const text = UPD.replace(from, to);
    assert.equal(scanOkxUpdate(text, 'c', 0), undefined, text);
    assert.deepEqual(parseOkxMessage(text, 'c', 0), parseOkxMessageJson(text, 'c', 0), text);
  }
});

test('fast path on real frames: the recordings (no seqId: the JSON path) and their updates with seqId added (scanned)', () => {
  const real = [
    ...cryptofeedReceived('cryptofeed_OKX.ws.1.0'),
    ...jsonLines('tardis_okx_books.jsonl'),
    ...jsonLines('ccxt_okx_books5.jsonl'),
  ];
  let scanned = 0;
  let seq = 1_000;
  for (const text of real) {
    assert.deepEqual(parseOkxMessage(text, 'c', 1), parseOkxMessageJson(text, 'c', 1), text.slice(0, 120));
    if (!text.includes('"channel":"books"') || !text.includes('"action":"update"')) continue;
    // today's frames end with prevSeqId and seqId after the checksum
    const today = `${text.slice(0, -3)},"prevSeqId":${seq},"seqId":${seq + 7}}]}`;
    seq += 7;
    const fast = scanOkxUpdate(today, 'c', 1);
    assert.notEqual(fast, undefined, today.slice(0, 120));
    assert.deepEqual(fast, parseOkxMessageJson(today, 'c', 1).delta);
    scanned++;
  }
  assert.equal(scanned, 287, 'every books update of the cryptofeed recording');
});
