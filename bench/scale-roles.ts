/**
 * The child processes of bench/scale.ts (forked: `node scale-roles.js <role> <config>`), each replying to the
 * parent over IPC. Kept apart from the parent so that the arbiter process loads only what `bookwire
 * arbitrate` would (its RSS is the figure measured), not the benchmark helpers.
 *   arbiter  an ArbiterService with default options, reporting its own process.cpuUsage() / memoryUsage();
 *   load     two collectors (identities a, b): a raw snapshot per book from a, then Binance-shaped deltas
 *            (U/u chained per book, a few levels a side, the venue text after the head as a collector sends
 *            it), every event from both in a varying order, books in turn, paced at `rate` events/s;
 *   client   counts consolidated deltas per book and checks each book's chain.
 */
import { pathToFileURL } from 'node:url';
import { ArbiterService } from '../src/arbiter/service.js';
import { createTransport, type Transport } from '../src/transport/index.js';
import { encodeCollectorEvent, isHeartbeat, topics } from '../src/wire/messages.js';
import { scanConsolidatedDelta } from '../src/wire/scan.js';
import type { BookDelta, Level } from '../src/core/types.js';
import { venue as venueAdapter } from '../src/venues/index.js';
import { mulberry32 } from '../src/sim/prng.js';
import { priceString, sizeString } from './gen.js';

export const VENUE = 'binance';
const MID = 3_000_000; // 30000.00 in 0.01 ticks: bids at MID - k, asks at MID + 1 + k
const SIZE_UNITS = 100_000; // gen.ts's size grid
const FIRST_ID = 40_000_000_000; // Binance-sized update ids
/** Levels per side of each book's snapshot: the venue's default REST depth, what a collector fetches. */
export const DEPTH = venueAdapter(VENUE).defaultSnapshotLimit;

export const symbolOf = (i: number) => `S${String(i).padStart(4, '0')}USDT`;

export interface ChildCfg {
  books: number;
  rate: number;
  /** Collectors and arbiter batch what they publish in one turn (`--coalesce`); default: one payload per message. */
  coalesce: boolean;
  endpoints: { ingest: string[]; publish: string[]; snapshot: string[] };
}

export interface ArbiterSample {
  cpuUs: number;
  rss: number;
  heap: number;
  /** Memory outside the JS heap: buffers and typed arrays (memoryUsage().external, which includes arrayBuffers), MiB. */
  external: number;
  synced: number;
  resyncs: number;
  /** Messages the arbiter took in (both copies of every event). */
  received: number;
}
export interface LoadSample {
  generated: number;
  dropped: number;
}
export interface ClientSample {
  delivered: number;
  periodic: number;
  periodicLevels: number;
  heartbeats: number;
  stats: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Handler = (arg: unknown) => unknown;

function serve(handlers: Record<string, Handler>, onExit: () => Promise<void>): void {
  process.on('message', (m: { id: number; cmd: string; arg: unknown }) => {
    if (m.cmd === 'exit') {
      void onExit().finally(() => process.exit(0));
      return;
    }
    void Promise.resolve(handlers[m.cmd](m.arg)).then((reply) => process.send!({ id: m.id, reply }));
  });
  process.on('disconnect', () => process.exit(0)); // the parent is gone
}

async function runArbiter(cfg: ChildCfg): Promise<void> {
  const transport = createTransport({ kind: 'zeromq', endpoints: cfg.endpoints, coalesce: cfg.coalesce });
  const symbols = Array.from({ length: cfg.books }, (_, i) => symbolOf(i));
  const svc = new ArbiterService({ transport, symbols, venue: VENUE });
  await svc.start();
  serve(
    {
      ready: () => true,
      sample: (): ArbiterSample => {
        const c = process.cpuUsage();
        const m = process.memoryUsage();
        let synced = 0;
        let resyncs = 0;
        for (const s of symbols) {
          const b = svc.bookOf(VENUE, s);
          if (b && b.state !== 'unsynced') synced++;
          if (b) resyncs += b.counters.resyncs; // turns to unsynced after the first build
        }
        return {
          cpuUs: c.user + c.system,
          rss: m.rss / 2 ** 20,
          heap: m.heapUsed / 2 ** 20,
          external: m.external / 2 ** 20,
          synced,
          resyncs,
          received: svc.counters.received,
        };
      },
    },
    async () => {
      await svc.stop();
      await transport.close();
    },
  );
}

/** Two collectors' worth of raw events for every book, paced at `rate` unique events/s. */
async function runLoad(cfg: ChildCfg): Promise<void> {
  const feeds: { id: string; t: Transport; pub: Awaited<ReturnType<Transport['publisher']>> }[] = [];
  for (const id of ['a', 'b']) {
    const t = createTransport({ kind: 'zeromq', endpoints: cfg.endpoints, identity: id, coalesce: cfg.coalesce });
    feeds.push({ id, t, pub: await t.publisher('ingest') });
  }
  const B = cfg.books;
  const rnd = mulberry32(13);
  const topicsOf = Array.from({ length: B }, (_, i) => topics.raw(VENUE, symbolOf(i)));
  const snapIds = Array.from({ length: B }, (_, i) => FIRST_ID + i * 1000);
  const lastIds = snapIds.slice();
  // price and size texts, made once: a level costs a lookup, as a collector's cost is not measured here
  const bidPx = Array.from({ length: DEPTH }, (_, k) => (MID - k) / 100);
  const askPx = Array.from({ length: DEPTH }, (_, k) => (MID + 1 + k) / 100);
  const bidPxText = bidPx.map((_, k) => priceString(MID - k));
  const askPxText = askPx.map((_, k) => priceString(MID + 1 + k));
  const sizes = Array.from({ length: 256 }, (_, i) => (i === 0 ? 0 : 1 + Math.floor(rnd() * rnd() * 5 * SIZE_UNITS)));
  const sizeNum = sizes.map((u) => u / SIZE_UNITS);
  const sizeText = sizes.map((u) => (u === 0 ? '0.00000000' : sizeString(u)));
  const near = () => Math.floor(-Math.log(1 - rnd()) * 8) % DEPTH; // most changes at the top of the book
  let generated = 0;
  let dropped = 0;
  const droppedNow = () => feeds.reduce((s, f) => s + ((f.pub as { dropped?: number }).dropped ?? 0), 0);

  const side = (px: number[], pxText: string[], out: Level[]): string => {
    const n = 1 + Math.floor(rnd() * 3);
    let raw = '';
    for (let j = 0; j < n; j++) {
      const k = near();
      if (out.some((l) => l[0] === px[k])) continue; // one entry per price, as Binance aggregates
      const s = rnd() < 0.2 ? 0 : 1 + Math.floor(rnd() * 255);
      out.push([px[k], sizeNum[s]]);
      raw += `${raw === '' ? '' : ','}["${pxText[k]}","${sizeText[s]}"]`;
    }
    return raw;
  };

  const emit = (i: number) => {
    const first = lastIds[i] + 1;
    const bids: Level[] = [];
    const asks: Level[] = [];
    const rb = side(bidPx, bidPxText, bids);
    const ra = side(askPx, askPxText, asks);
    const last = first + bids.length + asks.length - 1 + Math.floor(rnd() * 3);
    lastIds[i] = last;
    const exchTime = Date.now();
    const symbol = symbolOf(i);
    const raw = `{"e":"depthUpdate","E":${exchTime},"s":"${symbol}","U":${first},"u":${last},"b":[${rb}],"a":[${ra}]}`;
    const ev: BookDelta = {
      type: 'delta',
      venue: VENUE,
      symbol,
      first,
      last,
      exchTime,
      recvTime: 0,
      collector: '',
      bids,
      asks,
      raw,
    };
    // both collectors, in a varying order: either may win
    const order = (generated & 1) === 0 ? feeds : [feeds[1], feeds[0]];
    for (const f of order) {
      ev.collector = f.id;
      ev.recvTime = Math.round((performance.timeOrigin + performance.now()) * 1000);
      f.pub.send(topicsOf[i], encodeCollectorEvent(ev));
    }
    generated++;
  };

  let running = false;
  let stopped: (() => void) | undefined;
  const pace = () => {
    const t0 = performance.now();
    let book = 0;
    const tick = () => {
      if (!running) {
        stopped?.();
        return;
      }
      const due = Math.floor(((performance.now() - t0) / 1000) * cfg.rate);
      for (let n = 0; generated < due && n < cfg.rate; n++) {
        emit(book);
        book = book + 1 === B ? 0 : book + 1;
      }
      setTimeout(tick, 1);
    };
    tick();
  };

  serve(
    {
      ready: () => true,
      snapshots: async () => {
        const snap = (i: number) => ({
          type: 'snapshot' as const,
          venue: VENUE,
          symbol: symbolOf(i),
          seq: snapIds[i],
          recvTime: Math.round((performance.timeOrigin + performance.now()) * 1000),
          collector: 'a',
          bids: bidPx.map((p, k): Level => [p, sizeNum[1 + (k % 255)]]),
          asks: askPx.map((p, k): Level => [p, sizeNum[1 + ((k * 7) % 255)]]),
        });
        // one collector fetches each book's snapshot (as the arbiter asks one), a few at a time: a REST fetch
        // of 1,000 levels takes a while, and the DEALER's queue is bounded
        for (let i = 0; i < B; i++) {
          feeds[0].pub.send(topicsOf[i], encodeCollectorEvent(snap(i)));
          if (i % 50 === 49) await sleep(5);
        }
        await feeds[0].pub.flush();
        return true;
      },
      run: () => {
        running = true;
        pace();
        return true;
      },
      sample: (): LoadSample => ({ generated, dropped: droppedNow() }),
      stop: async () => {
        running = false;
        await new Promise<void>((r) => (stopped = r));
        for (const f of feeds) await f.pub.flush();
        dropped = droppedNow();
        return { lastIds, snapIds, dropped };
      },
    },
    async () => {
      for (const f of feeds) {
        await f.pub.close();
        await f.t.close();
      }
    },
  );
}

const SNAPSHOT_HEAD = Buffer.from('{"v":1,"type":"snapshot"');
const SEQ_KEY = Buffer.from('"seq":');
const RESYNC = Buffer.from('"reason":"resync"');

/** Counts consolidated deltas per book and checks each book's chain; snapshots are counted, not parsed. */
async function runClient(cfg: ChildCfg): Promise<void> {
  const t = createTransport({ kind: 'zeromq', endpoints: cfg.endpoints });
  const sub = await t.subscriber('book', ['book.', 'stats.']);
  const B = cfg.books;
  const index = new Map(Array.from({ length: B }, (_, i) => [topics.book(VENUE, symbolOf(i)), i]));
  const last = new Array<number>(B).fill(-1);
  const firstPrev = new Array<number>(B).fill(-1);
  const breaks = new Array<number>(B).fill(0);
  const resyncSnaps = new Array<number>(B).fill(0);
  const c: ClientSample = { delivered: 0, periodic: 0, periodicLevels: 0, heartbeats: 0, stats: 0 };
  const onMessage = (topic: string, payload: Buffer) => {
    if (topic.charCodeAt(0) === 115 /* s */) {
      c.stats++;
      return;
    }
    const i = index.get(topic);
    if (i === undefined) return;
    if (payload.subarray(0, SNAPSHOT_HEAD.length).equals(SNAPSHOT_HEAD)) {
      // key order: ...,"seq":N,"bids":[...],"asks":[...],...,"reason":"...": levels = commas between [ ]
      if (payload.lastIndexOf(RESYNC) >= 0) resyncSnaps[i]++;
      else {
        c.periodic++;
        let levels = 0;
        for (let k = payload.indexOf(SEQ_KEY); k < payload.length; k++) if (payload[k] === 93 /* ] */) levels++;
        c.periodicLevels += levels - 2; // each level closes with ], and so do the two sides
      }
      return;
    }
    if (isHeartbeat(payload)) {
      c.heartbeats++;
      return;
    }
    const d = scanConsolidatedDelta(payload.toString('utf8'));
    if (d === undefined) return;
    c.delivered++;
    if (last[i] < 0) firstPrev[i] = d.prev;
    else if (d.prev !== last[i]) breaks[i]++;
    last[i] = d.seq;
  };
  const done = sub.consume
    ? sub.consume(onMessage)
    : (async () => {
        for await (const m of sub) onMessage(m.topic, m.payload);
      })();
  serve(
    {
      ready: () => true,
      sample: () => ({ ...c }),
      report: () => ({ last, firstPrev, breaks, resyncSnaps }),
    },
    async () => {
      await sub.close();
      await done.catch(() => {});
      await t.close();
    },
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const roles: Record<string, (c: ChildCfg) => Promise<void>> = {
    arbiter: runArbiter,
    load: runLoad,
    client: runClient,
  };
  const role = roles[process.argv[2]];
  if (role === undefined || process.send === undefined)
    throw new Error('scale-roles.js is forked by bench/scale.js: run node dist/bench/scale.js');
  await role(JSON.parse(process.argv[3]) as ChildCfg);
}
