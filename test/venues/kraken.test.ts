import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { StringLevel } from '../../src/core/book.js';
import type { BookDelta, BookSnapshot } from '../../src/core/types.js';
import { ADAPTERS, findVenue, VENUE_IDS, venueSymbolFrom } from '../../src/venues/index.js';
import {
  decodeKrakenBook,
  decodeKrakenBookJson,
  kraken,
  KRAKEN_REST_BASE,
  KRAKEN_WS_BASE,
  krakenAdapter,
  krakenIntegrity,
  krakenResyncMessages,
  krakenSubscribeMessages,
  krakenTime,
  krakenUnifiedSymbol,
  krakenVenueSymbol,
  parseKrakenMessage,
  quoteNumbers,
} from '../../src/venues/kraken.js';
import { checksumDigits, krakenBookVerify, krakenChecksum } from '../../src/venues/kraken-checksum.js';
import { OrderBook, forceBatchPathForTests } from '../../src/core/book.js';
import { scanKrakenBook } from '../../src/venues/kraken-scan.js';
import { encodeCollectorEvent } from '../../src/wire/messages.js';
import { mutatedFrames } from './mutate.js';
import { TextBook } from '../../src/venues/textbook.js';
import { readV1Book, truncate } from './kraken-v1.js';
import { cryptofeedReceived, jsonLines } from './real-fixtures.js';

// ------------------------------------------------------------------------------------------ helpers

type Lv = [price: string, qty: string];

/** A v2 book message with the levels written as JSON numbers exactly as given. */
function bookMsg(
  type: 'snapshot' | 'update',
  bids: Lv[],
  asks: Lv[],
  checksum: number | string = 0,
  extra = ',"timestamp":"2026-08-12T19:28:09.140448Z"',
): string {
  const side = (l: Lv[]) => `[${l.map(([p, q]) => `{"price":${p},"qty":${q}}`).join(',')}]`;
  return (
    `{"channel":"book","type":"${type}","data":[{"symbol":"BTC/USD","bids":${side(bids)},"asks":${side(asks)},` +
    `"checksum":${checksum}${extra}}]}`
  );
}

/**
 * A replica of one book as the arbiter keeps it: snapshot replaces, update applies, truncate to the
 * subscribed depth, then the message's checksum is verified through the adapter's integrity check.
 */
class Replica {
  readonly book = new TextBook();
  constructor(readonly depth: number) {}

  /** Apply one frame's text; returns whether its checksum verified (undefined: not a book message). */
  apply(text: string): boolean | undefined {
    const info = krakenIntegrity.read(text);
    const r = parseKrakenMessage(text, 'c1', 0);
    if (r.error !== undefined) throw new Error(r.error);
    if (info === undefined) return undefined;
    if (r.snapshot) this.book.load(info.bids, info.asks);
    else this.book.apply(info.bids, info.asks);
    truncate(this.book, this.depth);
    assert.ok(!this.book.isCrossed(), 'book crossed');
    return krakenIntegrity.verify(this.book.top(krakenIntegrity.depth), info.checksum);
  }
}

// ------------------------------------------------------------------------------------------ documented example

/**
 * Data of the worked example in Kraken's "Book checksum (WebSocket v2)" guide
 * (https://docs.kraken.com/exchange/guides/websockets/book-checksum-v2, formerly
 * https://docs.kraken.com/api/docs/guides/spot-ws-book-v2): a BTC/USD snapshot, top 10 each side, and its
 * checksum 3310070434. Data only, copied from the page.
 */
const DOC_ASKS: Lv[] = [
  ['45285.2', '0.00100000'],
  ['45286.4', '1.54571953'],
  ['45286.6', '1.54571109'],
  ['45289.6', '1.54560911'],
  ['45290.2', '0.15890660'],
  ['45291.8', '1.54553491'],
  ['45294.7', '0.04454749'],
  ['45296.1', '0.35380000'],
  ['45297.5', '0.09945542'],
  ['45299.5', '0.18772827'],
];
const DOC_BIDS: Lv[] = [
  ['45283.5', '0.10000000'],
  ['45283.4', '1.54582015'],
  ['45282.1', '0.10000000'],
  ['45281.0', '0.10000000'],
  ['45280.3', '1.54592586'],
  ['45279.0', '0.07990000'],
  ['45277.6', '0.03310103'],
  ['45277.5', '0.30000000'],
  ['45277.3', '1.54602737'],
  ['45276.6', '0.15445238'],
];
const DOC_CHECKSUM = 3310070434;

test('the documented v2 example verifies, and a change of one digit or of the order does not', () => {
  assert.equal(krakenChecksum(DOC_ASKS, DOC_BIDS), DOC_CHECKSUM);
  const changed = DOC_ASKS.map((l) => [...l] as Lv);
  changed[9][1] = '0.18772828';
  assert.notEqual(krakenChecksum(changed, DOC_BIDS), DOC_CHECKSUM);
  assert.notEqual(krakenChecksum(DOC_BIDS, DOC_ASKS), DOC_CHECKSUM);
  // trailing zeros count: the venue's text, not the value
  const trimmed = DOC_BIDS.map(([p, q]) => [p, String(Number(q))] as Lv);
  assert.notEqual(krakenChecksum(DOC_ASKS, trimmed), DOC_CHECKSUM);
});

test('the documented example as a v2 message: parse keeps the number text, integrity verifies it', () => {
  // the message lists the levels best first, as Kraken does; shuffled here to check the book orders them
  const text = bookMsg('snapshot', [...DOC_BIDS].reverse(), [...DOC_ASKS].reverse(), DOC_CHECKSUM);
  const r = parseKrakenMessage(text, 'c1', 5);
  assert.ok(r.snapshot, r.error);
  assert.equal(r.snapshot.seq, 0);
  assert.equal(r.snapshot.raw, text);
  assert.equal(r.snapshot.bids.length, 10);
  const info = krakenIntegrity.read(text);
  assert.ok(info);
  assert.equal(info.checksum, DOC_CHECKSUM);
  assert.deepEqual(info.bids[9], ['45283.5', '0.10000000']);
  const replica = new Replica(10);
  assert.equal(replica.apply(text), true);
  assert.equal(replica.apply(bookMsg('snapshot', DOC_BIDS, DOC_ASKS, DOC_CHECKSUM + 1)), false);
});

// ------------------------------------------------------------------------------------------ real data: v1 (cryptofeed)

test('REAL DATA: every checksum of the cryptofeed Kraken v1 recording (10 pairs, depth 1000) verifies', () => {
  const books = new Map<string, TextBook>();
  let present = 0;
  let verified = 0;
  let verifiedInPlace = 0;
  const failed: string[] = [];
  for (const text of cryptofeedReceived('cryptofeed_KRAKEN.ws.50.0')) {
    if (text.includes('"c":"')) present++;
    const m = readV1Book(text);
    if (m === undefined) continue;
    let book = books.get(m.pair);
    if (m.snapshot) {
      book = new TextBook();
      books.set(m.pair, book);
      book.load(m.bids, m.asks);
    } else {
      assert.ok(book, `update before the snapshot of ${m.pair}`);
      // asks object first, then bids, each in message order (later entries are newer)
      book.apply([], m.asks);
      book.apply(m.bids, []);
    }
    truncate(book, m.depth);
    assert.ok(!book.isCrossed(), `${m.pair} crossed`);
    if (m.checksum === undefined) continue;
    const top = book.top(10);
    if (krakenChecksum(top.asks, top.bids) === m.checksum) verified++;
    else failed.push(`${m.pair} ${m.checksum}`);
    // the check read from the book in place (what the arbiter runs), books interleaved as recorded
    if (krakenBookVerify(book.book, m.checksum)) verifiedInPlace++;
  }
  assert.equal(books.size, 10);
  assert.equal(verifiedInPlace, present);
  assert.deepEqual(failed.slice(0, 5), []);
  assert.equal(present, 4269, 'the README counts 4,269 messages with a checksum');
  assert.equal(verified, present);
  assert.ok(verified > 4000);
});

test('REAL DATA: a book truncated to the wrong depth fails some v1 checksums (the replay check can fail)', () => {
  // Truncating to 10 instead of the subscribed 1000 drops levels that later come back into the top 10, so
  // some checks fail: the replay above depends on the depth it is given. (The recording never holds more than
  // 1000 levels a side, so truncation at the right depth changes nothing there: no real data here exercises
  // a level pushed out of range; that rule is Kraken's documented one.)
  const books = new Map<string, TextBook>();
  let failures = 0;
  for (const text of cryptofeedReceived('cryptofeed_KRAKEN.ws.50.0')) {
    const m = readV1Book(text);
    if (m === undefined) continue;
    const book = m.snapshot ? new TextBook() : books.get(m.pair)!;
    if (m.snapshot) {
      books.set(m.pair, book);
      book.load(m.bids, m.asks);
    } else {
      book.apply([], m.asks);
      book.apply(m.bids, []);
    }
    truncate(book, 10);
    if (m.checksum === undefined) continue;
    const top = book.top(10);
    if (krakenChecksum(top.asks, top.bids) !== m.checksum) failures++;
  }
  assert.ok(failures > 0, 'a too-shallow book must fail some checksums: the test above would not catch a bad truncate');
});

// ------------------------------------------------------------------------------------------ real data: v2 (ccxt)

/**
 * ccxt's 2026 recordings (test/fixtures/real/ccxt_kraken_v2_book.jsonl) were re-serialised by ccxt: numbers
 * lost their trailing zeros and small ones became exponents (5.1e-05). Kraken writes BTC/USD with 1 price
 * and 8 quantity decimals (the pair's precision), so the wire text is rebuilt with toFixed (test only).
 */
function asKrakenWrote(line: string): string {
  const o = JSON.parse(line) as {
    channel?: string;
    type?: string;
    data?: {
      symbol: string;
      bids: { price: number; qty: number }[];
      asks: typeof o.data;
      checksum: number;
      timestamp: string;
    }[];
  };
  if (o.channel !== 'book' || !o.data) return line;
  const d = o.data[0];
  const side = (l: { price: number; qty: number }[]) =>
    `[${l.map((x) => `{"price":${x.price.toFixed(1)},"qty":${x.qty.toFixed(8)}}`).join(',')}]`;
  return (
    `{"channel":"book","type":"${o.type}","data":[{"symbol":"${d.symbol}","bids":${side(d.bids)},` +
    `"asks":${side(d.asks as never)},"checksum":${d.checksum},"timestamp":"${d.timestamp}"}]}`
  );
}

test('REAL DATA: ccxt 2026 v2 book messages (depth 10): every checksum verifies on the book built from parse', () => {
  const lines = jsonLines('ccxt_kraken_v2_book.jsonl');
  const replica = new Replica(10);
  let verified = 0;
  let ignored = 0;
  for (const line of lines) {
    const ok = replica.apply(asKrakenWrote(line));
    if (ok === undefined) ignored++;
    else {
      assert.equal(ok, true, line.slice(0, 120));
      verified++;
    }
  }
  assert.equal(verified, 11);
  assert.equal(ignored, 4);
  assert.equal(replica.book.askDepth, 10);
});

test('REAL DATA: ccxt v2 messages as stored (exponents) are refused; the status and ack are ignored', () => {
  const lines = jsonLines('ccxt_kraken_v2_book.jsonl');
  assert.deepEqual(parseKrakenMessage(lines[0], 'c', 0), { ignored: 'status' });
  assert.deepEqual(parseKrakenMessage(lines[1], 'c', 0), { ignored: 'subscribe' });
  const snap = parseKrakenMessage(lines[2], 'c', 0);
  assert.match(snap.error ?? '', /non-plain/);
  // an update without exponents parses as stored
  const upd = parseKrakenMessage(lines[3], 'c', 7);
  assert.ok(upd.delta, upd.error);
  assert.deepEqual(upd.delta.bids, [
    [63296.7, 0],
    [63294.6, 0.31581476],
  ]);
});

// ------------------------------------------------------------------------------------------ parse

test('parse: a snapshot and an update (replica venue: no ids), number text preserved', () => {
  const s = parseKrakenMessage(
    bookMsg('snapshot', [['45283.5', '0.10000000']], [['45285.2', '0.00100000']], 7),
    'c1',
    11,
  );
  assert.ok(s.snapshot, s.error);
  const snap: BookSnapshot = s.snapshot;
  assert.equal(snap.venue, 'kraken');
  assert.equal(snap.symbol, 'BTC/USD');
  assert.equal(snap.seq, 0);
  assert.equal(snap.recvTime, 11);
  assert.equal(snap.collector, 'c1');
  assert.equal(snap.exchTime, Date.parse('2026-08-12T19:28:09.140Z'));
  assert.deepEqual(snap.bids, [[45283.5, 0.1]]);
  const u = parseKrakenMessage(
    bookMsg('update', [['45283.5', '0.00000000']], [['45290.0', '2.50000000']], 9),
    'c2',
    12,
  );
  assert.ok(u.delta, u.error);
  const d: BookDelta = u.delta;
  assert.equal(d.first, 0);
  assert.equal(d.last, 0);
  assert.equal(d.prev, undefined);
  assert.equal(d.reset, undefined);
  assert.equal(d.exchTime, Date.parse('2026-08-12T19:28:09.140Z'));
  assert.deepEqual(d.bids, [[45283.5, 0]]);
  assert.deepEqual(d.asks, [[45290, 2.5]]);
  assert.ok(d.raw?.includes('"qty":0.00000000'));
  const info = krakenIntegrity.read(d.raw!);
  assert.deepEqual(info, { bids: [['45283.5', '0.00000000']], asks: [['45290.0', '2.50000000']], checksum: 9 });
});

test('parse: heartbeat, status, acks, pong and other channels are ignored; a refused request is an error', () => {
  assert.deepEqual(parseKrakenMessage('{"channel":"heartbeat"}', 'c', 0), { ignored: 'heartbeat' });
  assert.deepEqual(parseKrakenMessage('{"channel":"trade","type":"update","data":[{"price":1}]}', 'c', 0), {
    ignored: 'trade',
  });
  assert.deepEqual(
    parseKrakenMessage('{"method":"pong","req_id":5,"time_in":"2026-01-01T00:00:00Z","time_out":"x"}', 'c', 0),
    { ignored: 'pong' },
  );
  assert.deepEqual(
    parseKrakenMessage(
      '{"method":"unsubscribe","result":{"channel":"book","depth":100,"symbol":"BTC/USD"},"success":true}',
      'c',
      0,
    ),
    { ignored: 'unsubscribe' },
  );
  const refused = parseKrakenMessage(
    '{"method":"subscribe","error":"Currency pair not supported XYZ/USD","success":false,"symbol":"XYZ/USD"}',
    'c',
    0,
  );
  assert.match(refused.error ?? '', /Currency pair not supported/);
});

test('parse: hostile or malformed book messages give { error } and never throw', () => {
  const ok: Lv[] = [['45283.5', '0.1']];
  const bad: [string, string][] = [
    ['negative qty', bookMsg('update', [['45283.5', '-0.1']], [])],
    ['negative price', bookMsg('update', [['-45283.5', '0.1']], [])],
    ['zero price', bookMsg('update', [['0', '0.1']], [])],
    ['price as a string', bookMsg('update', [['"45283.5"', '0.1']], [])],
    ['price true', bookMsg('update', [['true', '0.1']], [])],
    ['price null', bookMsg('update', [['null', '0.1']], [])],
    ['1e400', bookMsg('update', [['1e400', '0.1']], [])],
    ['exponent', bookMsg('update', [['45283.5', '1e-5']], [])],
    ['huge integer', bookMsg('update', [['9'.repeat(400), '1']], [])],
    ['bad number token', bookMsg('update', [['1.2.3', '1']], [])],
    ['leading zero', bookMsg('update', [['045283.5', '1']], [])],
    [
      'too many levels',
      bookMsg(
        'update',
        Array.from({ length: 5001 }, (_, i) => [String(i + 1), '1'] as Lv),
        [],
      ),
    ],
    ['extra level key', bookMsg('update', ok, []).replace('"qty":0.1}', '"qty":0.1,"n":1}')],
    ['missing qty', bookMsg('update', ok, []).replace(',"qty":0.1', '')],
    ['level as array', bookMsg('update', ok, []).replace('{"price":45283.5,"qty":0.1}', '[45283.5,0.1]')],
    [
      'bids not an array',
      bookMsg('update', ok, []).replace('"bids":[', '"bids":{"x":[').replace(']],"asks"', ']},"asks"'),
    ],
    ['missing asks', bookMsg('update', ok, []).replace(',"asks":[]', '')],
    ['missing checksum', bookMsg('update', ok, [], 1).replace('"checksum":1,', '')],
    ['checksum too big', bookMsg('update', ok, [], 4294967296)],
    ['checksum negative', bookMsg('update', ok, [], -1)],
    ['checksum fraction', bookMsg('update', ok, [], '1.5')],
    ['checksum string', bookMsg('update', ok, [], '"1"')],
    ['update without timestamp', bookMsg('update', ok, [], 1, '')],
    ['bad timestamp', bookMsg('update', ok, [], 1, ',"timestamp":"yesterday"')],
    ['timestamp number', bookMsg('update', ok, [], 1, ',"timestamp":1786562888631')],
    ['bad symbol', bookMsg('update', ok, []).replace('"BTC/USD"', '"BTC USD"')],
    ['symbol number', bookMsg('update', ok, []).replace('"BTC/USD"', '1')],
    ['two books', bookMsg('update', ok, []).replace('}]}', '},{"symbol":"ETH/USD"}]}')],
    ['empty data', '{"channel":"book","type":"update","data":[]}'],
    ['data object', '{"channel":"book","type":"update","data":{}}'],
    ['bad type', bookMsg('update', ok, []).replace('"update"', '"delta"')],
    ['channel number', '{"channel":5}'],
    ['not JSON', '{"channel":"book",'],
    ['array', '[1,2]'],
    ['no channel nor method', '{"foo":1}'],
    ['crossed snapshot', bookMsg('snapshot', [['101', '1']], [['100', '1']])],
    ['unterminated string', '{"channel":"book","type":"upd'],
  ];
  for (const [what, text] of bad) {
    let r;
    assert.doesNotThrow(() => (r = parseKrakenMessage(text, 'c', 0)), what);
    assert.ok(
      r!.error !== undefined && r!.delta === undefined && r!.snapshot === undefined,
      `${what}: ${JSON.stringify(r).slice(0, 200)}`,
    );
    // a crossed snapshot is well-formed: its check value can be read, parse refuses the book
    if (what !== 'crossed snapshot') assert.equal(krakenIntegrity.read(text), undefined, what);
  }
  // a snapshot may omit the timestamp (exchTime then absent); zero-qty, whitespace and key order are fine
  const s = parseKrakenMessage(bookMsg('snapshot', ok, [], 1, ''), 'c', 0);
  assert.ok(s.snapshot && s.snapshot.exchTime === undefined, s.error);
  const spaced =
    '{ "data" : [ { "asks" : [ ], "bids" : [ { "qty" : 0.10000000 , "price" : 45283.5 } ], "checksum" : 1 , ' +
    '"symbol" : "BTC/USD", "timestamp" : "2026-08-12T19:28:09Z" } ], "type" : "update", "channel" : "book" }';
  const sp = parseKrakenMessage(spaced, 'c', 0);
  assert.ok(sp.delta, sp.error);
  assert.deepEqual(krakenIntegrity.read(spaced)?.bids, [['45283.5', '0.10000000']]);
});

test('quoteNumbers: numbers outside strings keep their text, strings (escapes included) are untouched', () => {
  assert.equal(
    quoteNumbers('{"a":"x\\"1 2","b":-1.50e3,"c":[0,true]}'),
    '{"a":"x\\"1 2","b":"\\u0001-1.50e3","c":["\\u00010",true]}',
  );
  assert.equal(quoteNumbers('[01]'), undefined);
  assert.equal(quoteNumbers('[1.]'), undefined);
  assert.equal(quoteNumbers('[-]'), undefined);
});

test('krakenTime: RFC 3339 UTC to ms', () => {
  assert.equal(krakenTime('2026-08-12T19:28:08.631028Z'), Date.parse('2026-08-12T19:28:08.631Z'));
  assert.equal(krakenTime('2026-08-12T19:28:08Z'), Date.parse('2026-08-12T19:28:08Z'));
  assert.equal(krakenTime('2026-08-12T19:28:08.6Z'), Date.parse('2026-08-12T19:28:08.600Z'));
  assert.ok(Number.isNaN(krakenTime('2026-08-12 19:28:08Z')));
  assert.ok(Number.isNaN(krakenTime('2026-13-45T99:99:99Z')));
  assert.ok(Number.isNaN(krakenTime(12)));
});

// ------------------------------------------------------------------------------------------ adapter

test('symbols: v2 spelling BTC/USD, XBT mapped to BTC, unified is the same', () => {
  assert.equal(krakenVenueSymbol('BTC/USD'), 'BTC/USD');
  assert.equal(krakenVenueSymbol('btc/usd'), 'BTC/USD');
  assert.equal(krakenVenueSymbol('XBT/USD'), 'BTC/USD');
  assert.equal(krakenVenueSymbol('ETH/XBT'), 'ETH/BTC');
  assert.equal(krakenVenueSymbol('BTCUSD'), undefined);
  assert.equal(krakenVenueSymbol('BTC/USDT:USDT'), undefined);
  assert.equal(krakenUnifiedSymbol('BTC/USD'), 'BTC/USD');
  assert.equal(krakenUnifiedSymbol('XBT/USD'), undefined);
  assert.equal(krakenUnifiedSymbol('BTC-USD'), undefined);
  // from another venue's spelling through the registry
  assert.equal(venueSymbolFrom('kraken', 'BTCUSDT'), 'BTC/USDT');
  assert.equal(venueSymbolFrom('kraken', 'ETH-USDT'), 'ETH/USDT');
  assert.equal(venueSymbolFrom('kraken', 'BTC-USDT-SWAP'), undefined);
});

test('connection: endpoint, subscribe in chunks at the depth, resync = unsubscribe + subscribe, ping', () => {
  assert.equal(kraken.defaultWsUrl, 'wss://ws.kraken.com/v2');
  assert.equal(KRAKEN_WS_BASE, kraken.defaultWsUrl);
  assert.equal(kraken.defaultRestUrl, KRAKEN_REST_BASE);
  assert.equal(kraken.wsUrl('wss://ws.kraken.com/v2/', ['BTC/USD']), 'wss://ws.kraken.com/v2');
  assert.throws(() => kraken.wsUrl(KRAKEN_WS_BASE, []), RangeError);
  assert.deepEqual(JSON.parse(kraken.subscribeMessages(['BTC/USD', 'ETH/USD'])[0]), {
    method: 'subscribe',
    params: { channel: 'book', symbol: ['BTC/USD', 'ETH/USD'], depth: 100, snapshot: true },
  });
  const many = Array.from({ length: 120 }, (_, i) => `A${i}/USD`);
  const frames = krakenSubscribeMessages(many);
  assert.equal(frames.length, 3);
  assert.deepEqual(
    frames.flatMap((f) => (JSON.parse(f) as { params: { symbol: string[] } }).params.symbol),
    many,
  );
  const resync = kraken.resyncMessages!('BTC/USD').map((f) => JSON.parse(f) as { method: string; params: object });
  assert.deepEqual(
    resync.map((f) => f.method),
    ['unsubscribe', 'subscribe'],
  );
  assert.deepEqual(resync[0].params, { channel: 'book', symbol: ['BTC/USD'], depth: 100 });
  assert.deepEqual(krakenResyncMessages('ETH/USD', 10)[1], krakenSubscribeMessages(['ETH/USD'], 10)[0]);
  assert.deepEqual(kraken.ping, { intervalMs: 30_000, text: '{"method":"ping"}' });
  const deep = krakenAdapter(1000);
  assert.equal(deep.bookDepth, 1000);
  assert.equal(deep.defaultSnapshotLimit, 1000);
  assert.match(deep.subscribeMessages(['BTC/USD'])[0], /"depth":1000/);
});

test('adapter: replica merge at depth 100, websocket snapshots, checksum integrity, registered after bybit-linear', () => {
  assert.equal(kraken.merge, 'replica');
  assert.equal(kraken.bookDepth, 100);
  assert.equal(kraken.defaultSnapshotLimit, 100);
  assert.equal(kraken.snapshotSource, 'websocket');
  assert.equal(kraken.integrity, krakenIntegrity);
  assert.equal(krakenIntegrity.depth, 10);
  assert.equal(kraken.snapshotRequest, undefined);
  assert.equal(findVenue('kraken'), kraken);
  assert.equal(VENUE_IDS.indexOf('kraken'), VENUE_IDS.indexOf('bybit-linear') + 1);
  assert.equal(ADAPTERS[VENUE_IDS.indexOf('kraken')], kraken);
  assert.equal(kraken.markets.join(), 'spot');
  // verify takes the book's top best first: asks ascending, bids descending
  const top = { asks: DOC_ASKS as StringLevel[], bids: DOC_BIDS as StringLevel[] };
  assert.equal(krakenIntegrity.verify(top, DOC_CHECKSUM), true);
  assert.equal(krakenIntegrity.verify({ asks: top.bids, bids: top.asks }, DOC_CHECKSUM), false);
  // no "checksum" in the text: skipped before any parse
  assert.equal(krakenIntegrity.read('{"channel":"heartbeat"}'), undefined);
  assert.equal(decodeKrakenBook('{"channel":"heartbeat"}').ignored, 'heartbeat');
});

// ------------------------------------------------------------------------------------------ fast path

/** Plain decimals as Kraken writes them, and (`odd`) a few it does not: leading zeros, a trailing dot. */
function decimalText(odd: boolean): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.oneof(
        { arbitrary: fc.bigInt({ min: 0n, max: 10n ** 12n }), weight: 9 },
        fc.bigInt({ min: 0n, max: 10n ** 18n }),
      ),
      fc.integer({ min: 0, max: 10 }),
      fc.nat({ max: odd ? 400 : 5 }),
    )
    .map(([int, decimals, oddity]) => {
      const digits = int.toString();
      if (oddity === 0) return `0${digits}`;
      if (oddity === 1) return `${digits}.`;
      if (decimals === 0) return digits;
      const padded = digits.padStart(decimals + 1, '0');
      return `${padded.slice(0, -decimals)}.${padded.slice(-decimals)}`;
    })
    .filter((t) => odd || /^(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(t));
}
const two = (x: number) => String(x).padStart(2, '0');
/** RFC 3339 times, mostly valid; out-of-range fields (month 13, hour 24, minute 60) now and then. */
const timestampArb = fc
  .tuple(
    fc.integer({ min: 1960, max: 2100 }),
    fc.oneof({ arbitrary: fc.integer({ min: 1, max: 12 }), weight: 40 }, fc.constantFrom(0, 13)),
    fc.oneof({ arbitrary: fc.integer({ min: 1, max: 28 }), weight: 40 }, fc.constantFrom(0, 29, 30, 31, 32)),
    fc.oneof({ arbitrary: fc.integer({ min: 0, max: 23 }), weight: 40 }, fc.constantFrom(24, 25)),
    fc.oneof({ arbitrary: fc.integer({ min: 0, max: 59 }), weight: 40 }, fc.constant(60)),
    fc.nat({ max: 10 }),
    fc.nat({ max: 999_999_999 }),
  )
  .map(([y, mo, d, h, mi, digits, frac]) => {
    const fraction = digits === 0 ? '' : `.${String(frac).padStart(9, '0').slice(0, digits)}`;
    return `${y}-${two(mo)}-${two(d)}T${two(h)}:${two(mi)}:${two(mi % 60)}${fraction}Z`;
  });
function krakenBookArb(odd: boolean) {
  const level = fc.tuple(decimalText(odd), decimalText(odd));
  return fc.record({
    type: fc.constantFrom('snapshot' as const, 'update' as const),
    symbol: fc.constantFrom('BTC/USD', 'AAPLx/USD', 'ETH/EUR', 'X/Y', 'A'.repeat(21) + '/USD'),
    bids: fc.array(level, { maxLength: 6 }),
    asks: fc.array(level, { maxLength: 6 }),
    checksum: fc.oneof(
      { arbitrary: fc.nat({ max: 0xffffffff }), weight: 9 },
      fc.constantFrom(0x100000000, 9999999999, 0),
    ),
    timestamp: fc.oneof(
      { arbitrary: fc.oneof(timestampArb, fc.constant('2026-08-12T24:00:00Z')), weight: 9 },
      fc.constant(undefined),
    ),
  });
}
type KrakenBookCase = typeof krakenBookArb extends (odd: boolean) => fc.Arbitrary<infer T> ? T : never;
function krakenCanonical(m: KrakenBookCase): string {
  return bookMsg(
    m.type,
    m.bids,
    m.asks,
    m.checksum,
    m.timestamp === undefined ? '' : `,"timestamp":"${m.timestamp}"`,
  ).replace('"BTC/USD"', `"${m.symbol}"`);
}

test('fast path: the scanner reads Kraken-spelled book messages with the careful path result, or defers', () => {
  let scanned = 0;
  const refused = new Map<string, number>();
  fc.assert(
    fc.property(krakenBookArb(true), (m) => {
      const text = krakenCanonical(m);
      const fast = scanKrakenBook(text);
      const careful = decodeKrakenBookJson(text);
      if (careful.error !== undefined)
        refused.set(careful.error.slice(0, 30), (refused.get(careful.error.slice(0, 30)) ?? 0) + 1);
      if (fast !== undefined) {
        scanned++;
        assert.deepEqual({ message: fast }, careful, text);
      }
      assert.deepEqual(decodeKrakenBook(text), careful, text);
    }),
    { numRuns: 3000 },
  );
  assert.ok(scanned > 600, `only ${scanned} of 3000 scanned; refused: ${JSON.stringify([...refused])}`);
  // the documented shape is scanned, whitespace and other key orders are not
  const plain = bookMsg('update', [['45283.5', '0.10000000']], [], 7);
  assert.notEqual(scanKrakenBook(plain), undefined);
  assert.equal(scanKrakenBook(JSON.stringify(JSON.parse(plain), null, 1)), undefined);
  assert.equal(
    scanKrakenBook(plain.replace('"bids":[{"price":45283.5,"qty":0.10000000}],"asks":[]', '"asks":[],"bids":[]')),
    undefined,
  );
});

test('fast path: decodeKrakenBook equals the careful path on mutated and re-formatted messages', () => {
  fc.assert(
    fc.property(mutatedFrames(krakenBookArb(false).map(krakenCanonical), '0123456789.,-e"{}[]:Z T/éİĢ'), (text) => {
      assert.deepEqual(decodeKrakenBook(text), decodeKrakenBookJson(text), text);
    }),
    { numRuns: 5000 },
  );
  // real messages (those the careful path accepts) go through the scanner with the same result
  for (const text of jsonLines('ccxt_kraken_v2_book.jsonl')) {
    assert.deepEqual(decodeKrakenBook(text), decodeKrakenBookJson(text), text);
  }
});

test('parse keeps the integrity read(raw) gives; it stays off the bus', () => {
  const text = bookMsg('snapshot', [['45283.5', '0.10000000']], [['45285.2', '0.00100000']], 7);
  const s = parseKrakenMessage(text, 'c1', 11).snapshot!;
  assert.deepEqual(s.integrity, krakenIntegrity.read(text));
  const u = parseKrakenMessage(bookMsg('update', [['45283.5', '0']], [], 9), 'c1', 11).delta!;
  assert.deepEqual(u.integrity, { bids: [['45283.5', '0']], asks: [], checksum: 9 });
  for (const ev of [s, u]) {
    const head = encodeCollectorEvent(ev).split('\n')[0];
    assert.ok(!head.includes('integrity') && !head.includes('checksum'), head);
  }
});

function zlibOf(asks: StringLevel[], bids: StringLevel[]): number {
  let s = '';
  for (const l of asks.slice(0, 10)) s += checksumDigits(l[0]) + checksumDigits(l[1]);
  for (const l of bids.slice(0, 10)) s += checksumDigits(l[0]) + checksumDigits(l[1]);
  return crc32(s) >>> 0;
}

test('krakenBookVerify (the checksum read from the book, level tags reused) equals the reference on every state', () => {
  // two books, changes interleaved: odd spellings, text outside ASCII and numbers too long to tag now and
  // then; one level at a time, bulk messages (the book's merge), truncation, a new snapshot
  const num = fc.oneof(
    { arbitrary: decimalText(false), weight: 12 },
    decimalText(true),
    fc.constantFrom('1é', '7'.repeat(60), '0.' + '3'.repeat(70), '9'.repeat(100)),
  );
  const level = fc.record({
    bid: fc.boolean(),
    // near the top mostly, as a venue's changes are
    price: fc.oneof({ arbitrary: fc.integer({ min: 95, max: 105 }), weight: 4 }, fc.integer({ min: 1, max: 200 })),
    size: fc.oneof({ arbitrary: num, weight: 4 }, fc.constant('0')),
    priceText: fc.option(fc.constantFrom('', '0', '.0', '00'), { nil: undefined }),
  });
  const change = fc.record({
    book: fc.nat({ max: 1 }),
    kind: fc.constantFrom('level', 'level', 'level', 'level', 'bulk', 'truncate', 'snapshot'),
    levels: fc.array(level, { minLength: 64, maxLength: 90 }),
    depth: fc.integer({ min: 3, max: 30 }),
  });
  fc.assert(
    fc.property(fc.array(change, { maxLength: 60 }), (changes) => {
      const books = [new OrderBook({ keepStrings: true }), new OrderBook({ keepStrings: true })];
      for (const c of changes) {
        const book = books[c.book];
        // a bulk message: one side's 64 or more levels, merged in one pass (BookSide.merge)
        const levels =
          c.kind === 'level' ? c.levels.slice(0, 1) : c.levels.map((l) => ({ ...l, bid: c.levels[0].bid }));
        const bids: [number, number][] = [];
        const asks: [number, number][] = [];
        const bidText: StringLevel[] = [];
        const askText: StringLevel[] = [];
        for (const l of levels) {
          // asks above 100, bids below: never crossed; the price text spells the price (odd zeros now and then)
          const p = l.bid ? l.price / 2 : 100 + l.price;
          const text = `${l.priceText === '00' ? '00' : ''}${p}${l.priceText === '.0' && Number.isInteger(p) ? '.0' : ''}`;
          // (the text is what the checksum reads; a size text that is no number stands for size 1)
          const size = Number.isFinite(Number(l.size)) ? Number(l.size) : 1;
          (l.bid ? bids : asks).push([p, size]);
          (l.bid ? bidText : askText).push([text, l.size]);
        }
        if (c.kind === 'truncate') book.dropBeyond(c.depth);
        else if (c.kind === 'snapshot') book.applySnapshotStrings(bidText, askText);
        else {
          forceBatchPathForTests(c.kind === 'bulk' ? 'merge' : undefined);
          try {
            book.applyWithStrings(bids, asks, bidText, askText);
          } finally {
            forceBatchPathForTests(undefined);
          }
        }
        const top = book.topStrings(10);
        const want = zlibOf(top.asks, top.bids);
        assert.equal(krakenBookVerify(book, want), true);
        assert.equal(krakenBookVerify(book, (want ^ 1) >>> 0), false);
      }
    }),
    { numRuns: 300 },
  );
});

test('krakenBookVerify on a book grown past its first capacity, and after a level deep in it changed', () => {
  const book = new OrderBook({ keepStrings: true });
  const check = () => {
    const top = book.topStrings(10);
    assert.equal(krakenBookVerify(book, zlibOf(top.asks, top.bids)), true);
  };
  // one level at a time from the best end down: the side grows past 1,024 levels with tags in place
  for (let i = 0; i < 3000; i++) {
    const p = 10000 - i;
    book.applyWithStrings([[p, 1 + (i % 7)]], [], [[`${p}.0`, `${1 + (i % 7)}.00`]], []);
    book.applyWithStrings([], [[20000 + i, 2]], [], [[`${20000 + i}`, '2']]);
    if (i % 97 === 0) check();
  }
  check();
  book.applyWithStrings([[10000, 5]], [[20000, 0]], [['10000.0', '5.5']], [['20000', '0']]);
  check();
});

test('krakenChecksum equals the CRC32 of the digit string, non-ASCII and odd spellings included', () => {
  const num = fc.oneof(
    decimalText(true),
    fc.string({ maxLength: 6 }),
    fc.constantFrom('', '0', '.', '00.00', 'é1', '..0'),
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(num, num), { maxLength: 12 }),
      fc.array(fc.tuple(num, num), { maxLength: 12 }),
      (asks, bids) => {
        let s = '';
        for (const l of asks.slice(0, 10)) s += checksumDigits(l[0]) + checksumDigits(l[1]);
        for (const l of bids.slice(0, 10)) s += checksumDigits(l[0]) + checksumDigits(l[1]);
        assert.equal(krakenChecksum(asks, bids), crc32(s) >>> 0);
        // the next book shares a prefix of numbers with this one (krakenChecksum restarts after the prefix)
        const next = bids.slice(1);
        let t = '';
        for (const l of asks.slice(0, 10)) t += checksumDigits(l[0]) + checksumDigits(l[1]);
        for (const l of next.slice(0, 10)) t += checksumDigits(l[0]) + checksumDigits(l[1]);
        assert.equal(krakenChecksum(asks, next), crc32(t) >>> 0);
        assert.equal(krakenChecksum(asks.slice(0, 3), next), zlibOf(asks.slice(0, 3), next));
      },
    ),
    { numRuns: 2000 },
  );
});
