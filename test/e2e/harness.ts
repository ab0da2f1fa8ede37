/** A whole pipeline in one process over real sockets: simulator -> 2 collectors -> arbiter (ZeroMQ). */
import { ExchangeSimulator, type FaultProfile, type OkxSimOptions, type VenueId } from '../../src/sim/index.js';
import { underPrefix, venue } from '../../src/venues/index.js';
import { Collector, type CollectorOptions } from '../../src/collector/collector.js';
import { ArbiterService, type ArbiterServiceOptions } from '../../src/arbiter/service.js';
import assert from 'node:assert/strict';
import { subscribe, type BookUpdate } from '../../src/client/subscribe.js';
import { ZmqTransport } from '../../src/transport/zeromq.js';
import type { Transport } from '../../src/transport/types.js';
import { silentLogger } from '../../src/log.js';
import { freeEndpoints, freePort, sleep, waitFor } from '../helpers.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];

export const FLAKY = { dropRate: 0.05, dupRate: 0.05, malformedRate: 0.01, disconnectEveryS: 1.5, jitterMs: 2 };

/**
 * Simulator + arbiter + collectors a and b (b through the `flaky` profile when `faulty`) on any bus:
 * `arbiterTransport` and `mk()` (one new transport per collector) decide which. `stop()` ends them all.
 */
export async function startParts(o: {
  /** Venue served and collected (default binance); symbols in any spelling the venue's adapter takes. */
  venue?: VenueId;
  /** Fault profile per collector (a, b); default: b through `flaky` when `faulty`. */
  profiles?: [string | undefined, string | undefined];
  /** More collector options (both collectors). */
  collector?: Partial<CollectorOptions>;
  /** Extra fault profiles for the simulator. */
  faults?: Record<string, FaultProfile>;
  /** A capture of the venue's messages to replay (its book is `symbols[0]`); the replay waits for resume(). */
  capture?: string;
  okx?: OkxSimOptions;
  /** The arbiter's publication policy per venue (ArbiterServiceOptions.publish). */
  publish?: ArbiterServiceOptions['publish'];
  /** Websocket URL of collector i (default the simulator's, through its profile). */
  wsUrl?: (i: number, url: string) => string;
  symbols: string[];
  seed: number;
  rate: number;
  faulty: boolean;
  gapTimeoutMs: number;
  snapshotTimeoutMs: number;
  arbiterTransport: Transport;
  mk: () => Transport;
}) {
  const venueId = o.venue ?? 'binance';
  const adapter = venue(venueId);
  const symbols = o.symbols.map((s) => adapter.venueSymbol(s) ?? s);
  const sim = new ExchangeSimulator({
    venues: [venueId],
    port: 0,
    symbols: o.capture === undefined ? symbols : [],
    capture: o.capture,
    okx: o.okx,
    seed: o.seed,
    eventsPerSec: o.rate,
    faults: { flaky: FLAKY, ...o.faults },
    logger: silentLogger,
  });
  await sim.start();
  if (o.capture !== undefined) sim.pause();
  const arbiter = new ArbiterService({
    transport: o.arbiterTransport,
    venue: venueId,
    symbols,
    gapTimeoutMs: o.gapTimeoutMs,
    snapshotTimeoutMs: o.snapshotTimeoutMs,
    publish: o.publish,
  });
  await arbiter.start();
  const collectors: Collector[] = [];
  const profiles = o.profiles ?? [undefined, o.faulty ? 'flaky' : undefined];
  for (const [i, id] of ['a', 'b'].entries()) {
    const p = profiles[i] === undefined ? '' : `/p/${profiles[i]}`;
    // Binance spot keeps the unprefixed paths it always had
    const urls =
      venueId === 'binance'
        ? { wsUrl: sim.wsBase + p, restUrl: sim.restBase + p }
        : underPrefix(adapter, sim.venueWsBase(venueId) + p, sim.venueRestBase(venueId) + p);
    if (o.wsUrl) urls.wsUrl = o.wsUrl(i, urls.wsUrl);
    const c = new Collector({
      id,
      venue: venueId,
      symbols,
      ...urls,
      ...o.collector,
      transport: o.mk(),
      reconnectMinMs: 50,
      reconnectMaxMs: 500,
      staleAfterMs: 2000,
    });
    await c.start();
    collectors.push(c);
  }
  const stop = async () => {
    for (const c of collectors) await c.stop();
    await arbiter.stop();
    await sim.stop();
  };
  return { sim, arbiter, collectors, stop };
}

export type PartsOptions = Parameters<typeof startParts>[0];

/**
 * startParts on loopback ZeroMQ endpoints of its own (`ep`), every part and transport closed after the test.
 * Defaults: not faulty, gaps held 50 ms, snapshot requests retried after 1 s.
 */
export async function zmqParts(
  t: { after(fn: () => Promise<void> | void): void },
  o: Omit<PartsOptions, 'arbiterTransport' | 'mk' | 'faulty' | 'gapTimeoutMs' | 'snapshotTimeoutMs'> &
    Partial<Pick<PartsOptions, 'faulty' | 'gapTimeoutMs' | 'snapshotTimeoutMs'>>,
) {
  const ep = await freeEndpoints();
  const transports: Transport[] = [];
  const mk = () => {
    const tr = new ZmqTransport(ep, {});
    transports.push(tr);
    return tr;
  };
  const parts = await startParts({
    faulty: false,
    gapTimeoutMs: 50,
    snapshotTimeoutMs: 1000,
    ...o,
    arbiterTransport: mk(),
    mk,
  });
  t.after(async () => {
    await parts.stop();
    for (const tr of transports) await tr.close();
  });
  return { ...parts, ep };
}

export async function pipeline(
  t: { after(fn: () => Promise<void> | void): void },
  opts: { faulty: boolean; rate?: number; arbiterSendHwm?: number; coalesce?: boolean; extraIngest?: string[] },
) {
  const ep = await freeEndpoints();
  ep.ingest.push(...(opts.extraIngest ?? [])); // the arbiter binds the first; collectors publish to all
  const transports: Transport[] = [];
  const mk = (sendHighWaterMark?: number) => {
    const tr = new ZmqTransport(ep, {
      coalesce: opts.coalesce,
      ...(sendHighWaterMark ? { sendHighWaterMark, sendBufferSize: 32 * 1024 } : {}),
    });
    transports.push(tr);
    return tr;
  };
  const parts = await startParts({
    symbols: SYMBOLS,
    seed: 7,
    rate: opts.rate ?? 100,
    faulty: opts.faulty,
    gapTimeoutMs: 50,
    snapshotTimeoutMs: 1000,
    arbiterTransport: mk(opts.arbiterSendHwm),
    mk: () => mk(),
  });
  t.after(async () => {
    await parts.stop();
    for (const tr of transports) await tr.close();
  });
  return { ...parts, ep, transports };
}

/** Consume a subscription in the background, keeping every update's seq and the last update. */
export function follow(it: AsyncGenerator<BookUpdate>, onUpdate?: (u: BookUpdate) => Promise<void> | void) {
  const state = {
    last: undefined as BookUpdate | undefined,
    updates: 0,
    deltas: [] as { first: number; seq: number; prev: number }[],
    resets: 0,
  };
  const done = (async () => {
    for await (const u of it) {
      state.last = u;
      state.updates++;
      if (u.message.type === 'delta')
        state.deltas.push({ first: u.message.first, seq: u.message.seq, prev: u.message.prev });
      else state.resets++;
      if (onUpdate) await onUpdate(u);
    }
  })();
  return { state, done };
}

/** Follows a subscription and checks every update against the previous one: nothing lost, nothing twice. */
export function track(it: AsyncGenerator<BookUpdate>) {
  const s = { last: undefined as BookUpdate | undefined, deltas: 0, snapshots: 0, broken: [] as string[], seq: -1 };
  const done = (async () => {
    for await (const u of it) {
      const m = u.message;
      if (m.type === 'delta') {
        if (s.seq >= 0 && m.prev !== s.seq) s.broken.push(`delta ${m.first}..${m.seq} prev ${m.prev} after ${s.seq}`);
        s.deltas++;
      } else if (m.type === 'snapshot') {
        if (m.seq < s.seq) s.broken.push(`snapshot ${m.seq} after ${s.seq}`);
        s.snapshots++;
      }
      s.seq = u.seq;
      s.last = u;
    }
  })();
  return { s, done };
}

/**
 * A client follows BTCUSDT for `ms`, the simulator pauses, and the client's top 20 levels must equal the
 * simulator's truth at the truth's sequence.
 */
export async function clientReachesTruth(
  p: { sim: Pick<ExchangeSimulator, 'pause' | 'truth'>; ep: Awaited<ReturnType<typeof freeEndpoints>> },
  ms: number,
): Promise<void> {
  const ac = new AbortController();
  let last: { seq: number; top: unknown } | undefined;
  const done = (async () => {
    for await (const u of subscribe({ symbol: 'BTCUSDT', endpoints: p.ep, signal: ac.signal }))
      last = { seq: u.seq, top: u.book.top(20) };
  })();
  await sleep(ms);
  p.sim.pause();
  const truth = p.sim.truth('BTCUSDT', 20);
  await waitFor(() => last?.seq === truth.lastUpdateId, 5000, 'client to reach the truth seq');
  assert.deepEqual(last!.top, { bids: truth.bids.slice(0, 20), asks: truth.asks.slice(0, 20) });
  ac.abort();
  await done;
}

/**
 * A client of one book that starts from the venue's start, to compare every state it holds with the venue's:
 * the simulator is paused while `watchVenue()` (a clean connection in the venue's own protocol, keeping
 * every state it sees) takes the venue's book and the arbiter syncs it; then the client subscribes
 * (`onUpdate` sees each update) and the simulator resumes once the client holds its first book. The
 * connection (`venue`) and the client (`c`) end after the test (`ac` ends the client earlier).
 */
export async function followFromVenueStart<W extends { states: Set<string>; close(): void }>(
  t: { after(fn: () => Promise<void> | void): void },
  p: Awaited<ReturnType<typeof zmqParts>>,
  o: { venue: VenueId; symbol: string; watchVenue: () => W; onUpdate: (u: BookUpdate) => void },
) {
  p.sim.pause();
  const venue = o.watchVenue();
  t.after(() => venue.close());
  await waitFor(
    () => venue.states.size > 0 && p.arbiter.bookOf(o.venue, o.symbol)?.state === 'synced',
    10_000,
    'a book',
  );
  const ac = new AbortController();
  t.after(() => ac.abort());
  const c = follow(subscribe({ venue: o.venue, symbol: o.symbol, endpoints: p.ep, signal: ac.signal }), o.onUpdate);
  await waitFor(() => c.state.updates > 0, 5000, 'the first book');
  p.sim.resume();
  return { venue, c, ac };
}

/** Wait until the client's top 20 levels equal the simulator's truth of `symbol` (as the simulator names it). */
export async function waitForTruthTop(
  c: { state: { last?: BookUpdate } },
  sim: Pick<ExchangeSimulator, 'truth'>,
  venueId: VenueId,
  symbol: string,
  timeoutMs: number,
): Promise<void> {
  const truth = sim.truth(symbol, 20, venueId);
  await waitFor(
    () => JSON.stringify(c.state.last?.book.top(20)) === JSON.stringify({ bids: truth.bids, asks: truth.asks }),
    timeoutMs,
    'client to reach the truth',
  );
}

/**
 * The Binance simulator (BTCUSDT, 100 events a second, `faults` as its profiles) and an arbiter of `symbols`
 * (default BTCUSDT; gaps held 50 ms, snapshot requests retried after 500 ms, then `arbiter`) on loopback
 * ZeroMQ endpoints of their own (`ep`). Collectors come when the test asks: `collector(id, profile)` starts
 * one through that fault profile; `mk()` makes one more transport. All stopped after the test.
 */
export async function simAndArbiter(
  t: { after(fn: () => Promise<void> | void): void },
  o: {
    seed: number;
    faults?: Record<string, FaultProfile>;
    symbols?: string[];
    arbiter?: Partial<ArbiterServiceOptions>;
  },
) {
  const symbols = o.symbols ?? ['BTCUSDT'];
  const sim = new ExchangeSimulator({
    port: 0,
    symbols: ['BTCUSDT'],
    seed: o.seed,
    eventsPerSec: 100,
    faults: o.faults,
  });
  await sim.start();
  const ep = await freeEndpoints();
  const transports: Transport[] = [];
  const mk = () => {
    const tr = new ZmqTransport(ep);
    transports.push(tr);
    return tr;
  };
  const arbiter = new ArbiterService({
    transport: mk(),
    symbols,
    gapTimeoutMs: 50,
    snapshotTimeoutMs: 500,
    ...o.arbiter,
  });
  await arbiter.start();
  const collectors: Collector[] = [];
  const collector = async (id: string, profile?: string) => {
    const prefix = profile ? `/p/${profile}` : '';
    const c = new Collector({
      id,
      symbols,
      wsUrl: sim.wsBase + prefix,
      restUrl: sim.restBase + prefix,
      transport: mk(),
      reconnectMinMs: 50,
    });
    await c.start();
    collectors.push(c);
    return c;
  };
  t.after(async () => {
    for (const c of collectors) await c.stop();
    await arbiter.stop();
    for (const tr of transports) await tr.close();
    await sim.stop();
  });
  return { sim, ep, arbiter, collector, mk };
}

/** The simulator's truth of a book (`sim.truth()`): the venue's last id and its levels. */
export interface TruthBook {
  lastUpdateId: number;
  bids: [number, number][];
  asks: [number, number][];
}

/** The client's last update is the truth: at the truth's id, with the truth's top 20 levels. */
export function assertAtTruth(u: BookUpdate | undefined, truth: TruthBook): void {
  assert.ok(u, 'client received no update');
  assert.equal(u.seq, truth.lastUpdateId);
  const top = u.book.top(20);
  assert.deepEqual(top.bids, truth.bids.slice(0, 20));
  assert.deepEqual(top.asks, truth.asks.slice(0, 20));
}

/** Wait until every client (`follow()`) is at the truth's id, then check each is the truth (`assertAtTruth`). */
export async function clientsReachTruth(
  clients: { state: { last?: BookUpdate } }[],
  truth: TruthBook,
  timeoutMs: number,
): Promise<void> {
  await waitFor(
    () => clients.every((c) => c.state.last?.seq === truth.lastUpdateId),
    timeoutMs,
    clients.length > 1 ? 'clients to reach the truth seq' : 'client to reach the truth seq',
  );
  for (const c of clients) assertAtTruth(c.state.last, truth);
}

/** Every delta a client (`follow()`) got chains onto the one before: nothing lost, nothing twice. */
export function assertDeltasChain(deltas: { seq: number; prev: number }[], message = 'nothing lost, nothing twice') {
  for (let i = 1; i < deltas.length; i++) assert.equal(deltas[i].prev, deltas[i - 1].seq, message);
}

/**
 * Wait until the simulator's REST request count holds still over 1.5 s: the requests in flight (a cold
 * start's snapshots) have landed. Returns that count.
 */
export async function restCallsSettled(sim: Pick<ExchangeSimulator, 'stats'>): Promise<number> {
  let count = -1;
  await waitFor(
    async () => {
      const n = sim.stats().restRequests;
      const quiet = n === count;
      count = n;
      if (!quiet) await sleep(1500);
      return quiet;
    },
    30_000,
    'REST calls to stop',
  );
  return count;
}

/**
 * The flags of `bookwire collect` for collector `id` of `symbol` on the simulator's `venueId`: collector a
 * leaves from 127.0.0.2, b from 127.0.0.3 (each its own IP to the venue, as in production: the simulator
 * limits per IP), reconnecting after 50 ms. The bus flags are the caller's.
 */
export function collectArgs(
  sim: Pick<ExchangeSimulator, 'venueWsBase' | 'venueRestBase'>,
  venueId: VenueId,
  id: 'a' | 'b',
  symbol: string,
): string[] {
  const urls = underPrefix(venue(venueId), sim.venueWsBase(venueId), sim.venueRestBase(venueId));
  return [
    'collect',
    '--venue',
    venueId,
    '--id',
    id,
    '--symbols',
    symbol,
    '--ws-url',
    urls.wsUrl,
    '--rest-url',
    urls.restUrl,
    '--local-address',
    id === 'a' ? '127.0.0.2' : '127.0.0.3',
    '--reconnect-min-ms',
    '50',
  ];
}

/**
 * Loopback ZeroMQ endpoints (`ep`) and a free ingest endpoint for a recorder of its own (`recIngest`), for a
 * pipeline whose raw messages also go to a recorder: `transport(ingest)` makes a transport on `ep` that
 * publishes to the ingest endpoints given (the arbiter's, the recorder's, both); `close()` closes them all.
 */
export async function zmqBusWithRecorder() {
  const ep = await freeEndpoints();
  const recIngest = `tcp://127.0.0.1:${await freePort()}`;
  const transports: Transport[] = [];
  const transport = (ingest: string[]) => {
    const tr = new ZmqTransport({ ...ep, ingest });
    transports.push(tr);
    return tr;
  };
  const close = async () => {
    for (const tr of transports) await tr.close();
  };
  return { ep, recIngest, transport, close };
}
