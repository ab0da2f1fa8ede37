/**
 * Does redundancy cut latency on a replica venue (Kraken: merge 'replica', core/replicaArbiter.ts)?
 * One process, real ZeroMQ on loopback (like test/e2e/harness.ts): simulator -> collectors a and b, each
 * through its own fault profile (/p/a, /p/b) with INDEPENDENT uniform jitter -> one arbiter -> a client.
 *
 * Replica venues have no update id, so a copy is matched to the simulator's send time by its event time E:
 * the simulator stamps Kraken's `timestamp` from E (ms) and records every event's E with its send time (µs,
 * recordSendTimes). E is a key only (1 ms resolution); the latency is the µs send time to the µs receive.
 * Per feed: send -> the collector's receive (websocket + jitter) and -> the copy's arrival at the arbiter
 * (ArbiterProbe). Consolidated: send -> the winning copy's collector receive, -> the arbiter's publish (the
 * same hops as a feed at the arbiter) and -> the client SDK (one bus hop more).
 * With --faults corrupt, each collector's profile also corrupts a fraction of its copies (corruptRate,
 * --corrupt-rate, default 0.01: one level's size changed, the venue's checksum kept), so the leader fails by
 * checksum regularly and is resynced; the arbiter core's failover times (ReplicaArbiter.failover(): the
 * leader's failure -> the next consolidated delta from another feed) are printed after the table.
 * With --publish confirmed, the arbiter publishes a state once both feeds' copies reached it (docs/venues.md,
 * "Publication"): the consolidated publish then waits for the later copy where the venue's checksum does not
 * vouch for the message; the confirmation counts and waits are printed after the table.
 * A sequenced venue (--venue binance, okx...: merge 'sequence', core/arbiter.ts) is measured the same way, its
 * copies matched to the send by the venue's update id (the message's last id) instead of E; failover is a
 * replica merge's notion and is not printed for it.
 *   node dist/bench/replica-latency.js [--venue kraken] [--rate 200] [--seconds 20] [--jitter 10]
 *     [--faults corrupt [--corrupt-rate 0.01]] [--publish first|confirmed]
 */
import { ExchangeSimulator, type VenueId } from '../src/sim/index.js';
import { Collector } from '../src/collector/collector.js';
import { ArbiterService, type ArbiterProbe } from '../src/arbiter/service.js';
import { ReplicaArbiter, type PublishPolicy } from '../src/core/replicaArbiter.js';
import type { BookCore } from '../src/core/bookCore.js';
import { subscribe } from '../src/client/subscribe.js';
import { nowMicros } from '../src/core/clock.js';
import { ZmqTransport } from '../src/transport/zeromq.js';
import type { Transport } from '../src/transport/types.js';
import { findVenue, underPrefix } from '../src/venues/index.js';
import { silentLogger } from '../src/log.js';
import { freeEndpoints } from '../test/helpers.js';
import { pct } from './e2e.js';
import { loadLine } from './book.js';

const FEEDS = ['a', 'b'] as const;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Pct = ReturnType<typeof pct>;

export interface ReplicaLatencyResult {
  venue: string;
  symbol: string;
  rate: number;
  seconds: number;
  jitterMs: number;
  /** What matched a copy to its send: the event time E (replica venues) or the venue's update id (sequenced). */
  key: 'E' | 'id';
  /** Venue events the simulator sent inside the window. */
  sent: number;
  /** Per feed: send -> collector receive, send -> arrival at the arbiter (µs). */
  feeds: Record<string, { collector: Pct; arbiter: Pct; won: number }>;
  /** Consolidated deltas: send -> winning collector receive, -> arbiter publish, -> client SDK (µs). */
  consolidated: { collector: Pct; arbiter: Pct; client: Pct };
  /** Both feeds delivered the same messages (the same sequence of E) in the window. */
  sameMessages: boolean;
  /** Copies or deltas whose E the simulator never sent (should be 0). */
  unmatched: number;
  /** Consolidated deltas with no E (failover differences, catch-ups): not timed. */
  untimed: number;
  gaps: number;
  /** Probability a collector's copy is corrupted (0: no faults but jitter). */
  corruptRate: number;
  /**
   * The arbiter core's failovers over the whole run (warmup included): the leader's failure -> the next
   * consolidated delta from another feed (µs); checksum failures of the two feeds.
   */
  failover: {
    count: number;
    p50: number;
    p99: number;
    samples: number;
    /** Failovers where the other feed was in step when the leader failed. */
    standby: { p50: number; p99: number; samples: number };
    checksumMismatches: number;
    catchUps: number;
  };
  /** The arbiter's publication policy, and under 'confirmed' its counts and the confirmation wait (µs). */
  publish: PublishPolicy;
  confirmation: { confirmed: number; alone: number; vouched: number; p50: number; p99: number; samples: number };
}

/**
 * Every delta copy reaching the arbiter: which event (E; a sequenced venue's: its last id) and when it was
 * received and arrived, per feed.
 */
class CopyLog implements ArbiterProbe {
  readonly copies = new Map<string, { e: number[]; recv: number[]; at: number[] }>();
  constructor(private readonly byId: boolean) {}
  onDelta(collector: string, last: number, at: number, exchTime: number, recvTime: number): void {
    let c = this.copies.get(collector);
    if (c === undefined) this.copies.set(collector, (c = { e: [], recv: [], at: [] }));
    c.e.push(this.byId ? last : exchTime);
    c.recv.push(recvTime);
    c.at.push(at);
  }
  onStop(): void {}
}

export async function benchReplicaLatency(o: {
  venue: VenueId;
  rate: number;
  seconds: number;
  jitterMs: number;
  warmupS?: number;
  /** Probability each collector's copy of an event is corrupted (FaultProfile.corruptRate). Default 0. */
  corruptRate?: number;
  /** The arbiter's publication policy (default 'first'). */
  publish?: PublishPolicy;
}): Promise<ReplicaLatencyResult> {
  const adapter = findVenue(o.venue);
  if (adapter === undefined) throw new Error(`unknown venue ${o.venue}`);
  // a sequenced venue's copies are keyed by their update id (the simulator records each event's last id)
  const byId = adapter.merge !== 'replica';
  const unified = byId ? 'BTC/USDT' : 'BTC/USD';
  const symbol = adapter.venueSymbol(unified) ?? unified;
  const corruptRate = o.corruptRate ?? 0;
  const profile = corruptRate > 0 ? { jitterMs: o.jitterMs, corruptRate } : { jitterMs: o.jitterMs };
  const sim = new ExchangeSimulator({
    venues: [o.venue],
    port: 0,
    symbols: [symbol],
    seed: 11,
    eventsPerSec: o.rate,
    faults: { a: profile, b: profile }, // one profile per collector: each draws its own jitter
    recordSendTimes: true,
    logger: silentLogger,
  });
  await sim.start();
  const ep = await freeEndpoints();
  const transports: Transport[] = [];
  const mk = (e: ConstructorParameters<typeof ZmqTransport>[0] = ep) => {
    const tr = new ZmqTransport(e);
    transports.push(tr);
    return tr;
  };
  const copies = new CopyLog(byId);
  const arbiter = new ArbiterService({
    transport: mk(),
    venue: o.venue,
    symbols: [symbol],
    probe: copies,
    logger: silentLogger,
    publish: { [o.venue]: o.publish ?? 'first' },
  });
  await arbiter.start();
  const collectors: Collector[] = [];
  for (const id of FEEDS) {
    const c = new Collector({
      id,
      venue: o.venue,
      symbols: [symbol],
      ...underPrefix(adapter, `${sim.venueWsBase(o.venue)}/p/${id}`, `${sim.venueRestBase(o.venue)}/p/${id}`),
      transport: mk(),
      logger: silentLogger,
    });
    await c.start();
    collectors.push(c);
  }
  const deltas: { e: number; recv: number; pub: number; client: number; feed: string }[] = [];
  let gaps = 0;
  let untimed = 0;
  let measuring = false;
  const ac = new AbortController();
  const client = mk({ publish: ep.publish, snapshot: ep.snapshot });
  const clientDone = (async () => {
    for await (const u of subscribe({ transport: client, venue: o.venue, symbol, signal: ac.signal })) {
      gaps = u.gaps;
      const m = u.message;
      if (!measuring || m.type !== 'delta') continue;
      const e = byId ? m.seq : m.exchTime;
      if (e > 0) deltas.push({ e, recv: m.recvTime, pub: m.pubTime, client: u.receivedAt, feed: m.feed });
      else untimed++;
    }
  })();
  const t0 = Date.now();
  while (arbiter.bookOf(o.venue, symbol)?.state !== 'synced') {
    if (Date.now() - t0 > 15_000) throw new Error('the arbiter did not sync within 15 s');
    await sleep(50);
  }
  await sleep((o.warmupS ?? 2) * 1000);
  const gapsBefore = gaps;
  measuring = true;
  const tStart = nowMicros();
  await sleep(o.seconds * 1000);
  const tEnd = nowMicros();
  sim.pause();
  await sleep(Math.max(1000, 5 * o.jitterMs)); // let the tail arrive
  measuring = false;
  ac.abort();
  await clientDone;
  const core: BookCore | undefined = arbiter.bookOf(o.venue, symbol);
  if (core === undefined) throw new Error(`${o.venue} ${symbol}: no book`);
  const replica = core instanceof ReplicaArbiter ? core : undefined;
  const fo = replica?.failover();
  const failover = {
    count: replica?.counters.failovers ?? 0,
    p50: fo?.p50Us ?? 0,
    p99: fo?.p99Us ?? 0,
    samples: fo?.samples ?? 0,
    standby: { p50: fo?.standbyP50Us ?? 0, p99: fo?.standbyP99Us ?? 0, samples: fo?.standbySamples ?? 0 },
    checksumMismatches: core.counters.checksumMismatches,
    catchUps: replica?.counters.catchUps ?? 0,
  };
  const wait = core.confirmation();
  const confirmation = {
    confirmed: core.counters.confirmed,
    alone: core.counters.publishedAlone,
    vouched: core.counters.vouched,
    p50: wait.p50Us,
    p99: wait.p99Us,
    samples: wait.samples,
  };
  for (const c of collectors) await c.stop();
  await arbiter.stop();
  for (const tr of transports) await tr.close();
  const sentTimes = sim.sendTimes(symbol, o.venue);
  await sim.stop();

  // E -> the first send time of an event with that E (events sharing one E were sent in the same tick,
  // µs apart); only events sent inside the window (less its first 100 ms) are timed
  const sendOf = new Map<number, number>();
  const keys = byId ? sentTimes.u : sentTimes.e;
  for (let i = 0; i < keys.length; i++) if (!sendOf.has(keys[i])) sendOf.set(keys[i], sentTimes.t[i]);
  const inWindow = (t: number) => t >= tStart + 100_000 && t <= tEnd;
  let unmatched = 0;
  const sendTime = (e: number): number | undefined => {
    const t = sendOf.get(e);
    if (t === undefined) unmatched++;
    return t !== undefined && inWindow(t) ? t : undefined;
  };
  const feeds: ReplicaLatencyResult['feeds'] = {};
  const sequences: number[][] = [];
  for (const id of FEEDS) {
    const c = copies.copies.get(id) ?? { e: [], recv: [], at: [] };
    const atCollector: number[] = [];
    const atArbiter: number[] = [];
    const es: number[] = [];
    for (let i = 0; i < c.e.length; i++) {
      const t = sendTime(c.e[i]);
      if (t === undefined) continue;
      es.push(c.e[i]);
      atCollector.push(c.recv[i] - t);
      atArbiter.push(c.at[i] - t);
    }
    sequences.push(es);
    feeds[id] = { collector: pct(atCollector), arbiter: pct(atArbiter), won: 0 };
  }
  const cons = { collector: [] as number[], arbiter: [] as number[], client: [] as number[] };
  for (const d of deltas) {
    const t = sendTime(d.e);
    if (t === undefined) continue;
    cons.collector.push(d.recv - t);
    cons.arbiter.push(d.pub - t);
    cons.client.push(d.client - t);
    if (feeds[d.feed]) feeds[d.feed].won++;
  }
  const [sa, sb] = sequences;
  return {
    venue: o.venue,
    symbol,
    key: byId ? 'id' : 'E',
    rate: o.rate,
    seconds: o.seconds,
    jitterMs: o.jitterMs,
    sent: sentTimes.t.filter(inWindow).length,
    feeds,
    consolidated: { collector: pct(cons.collector), arbiter: pct(cons.arbiter), client: pct(cons.client) },
    sameMessages: sa.length === sb.length && sa.every((e, i) => e === sb[i]),
    unmatched,
    untimed,
    gaps: gaps - gapsBefore,
    corruptRate,
    failover,
    publish: core.publishPolicy,
    confirmation,
  };
}

export function formatReplicaLatency(r: ReplicaLatencyResult): string {
  const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`;
  const row = (name: string, hop: string, p: Pct) =>
    `${name.padEnd(13)} ${hop.padEnd(44)} ${String(p.count).padStart(6)} ${ms(p.p50).padStart(9)} ${ms(p.p99).padStart(9)} ${ms(p.p999).padStart(9)}`;
  const out = [
    `publish: ${r.publish}`,
    `${r.venue} ${r.symbol}, ${r.rate} events/s for ${r.seconds} s; collectors a and b each through their own simulator profile: uniform jitter [0, ${r.jitterMs}) ms, drawn independently (it delays, never reorders)`,
    r.key === 'E'
      ? `send time: the simulator's µs clock when it handed the event to the sockets, matched to each copy by the event time E (the message's timestamp; 1 ms resolution, a key only)`
      : `send time: the simulator's µs clock when it handed the event to the sockets, matched to each copy by its last update id (E below: that id)`,
    `events sent in window ${r.sent}; both feeds carried the same messages (same E sequence): ${r.sameMessages ? 'yes' : 'NO'}; unmatched E ${r.unmatched}; untimed consolidated deltas (no E: catch-ups) ${r.untimed}; client gaps ${r.gaps}`,
    `${'stream'.padEnd(13)} ${'simulator send ->'.padEnd(44)} ${'count'.padStart(6)} ${'p50'.padStart(9)} ${'p99'.padStart(9)} ${'p99.9'.padStart(9)}`,
  ];
  const ids = Object.keys(r.feeds).sort();
  for (const id of ids)
    out.push(row(`feed ${id}`, `collector ${id} receive (websocket + jitter)`, r.feeds[id].collector));
  out.push(row('consolidated', "winning copy's collector receive", r.consolidated.collector));
  for (const id of ids) out.push(row(`feed ${id}`, 'arrival at the arbiter (+1 bus hop)', r.feeds[id].arbiter));
  out.push(row('consolidated', 'arbiter publish (same hops as a feed above)', r.consolidated.arbiter));
  out.push(row('consolidated', 'client SDK (+1 bus hop)', r.consolidated.client));
  const fastest = (k: 'collector' | 'arbiter') => Math.min(...ids.map((id) => r.feeds[id][k].p99));
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  out.push(
    `consolidated p99 / fastest feed p99: at the collectors ${ratio(r.consolidated.collector.p99, fastest('collector'))}, at the arbiter ${ratio(r.consolidated.arbiter.p99, fastest('arbiter'))} (client SDK vs fastest feed at the arbiter: ${ratio(r.consolidated.client.p99, fastest('arbiter'))})`,
    `copies published first: ${ids.map((id) => `${id} ${r.feeds[id].won}`).join(', ')}`,
  );
  const f = r.failover;
  if (r.corruptRate > 0 || f.count > 0)
    out.push(
      `faults: each collector's copies corrupted with probability ${r.corruptRate} (a level's size changed, the venue's checksum kept); checksum mismatches ${f.checksumMismatches}, catch-up deltas ${f.catchUps}`,
      `failover (leader's failure -> next consolidated delta from another feed, whole run): count ${f.count}, p50 ${ms(f.p50)}, p99 ${ms(f.p99)} (over the last ${f.samples})`,
      `  of which the other feed was in step when the leader failed: ${f.standby.samples}, p50 ${ms(f.standby.p50)}, p99 ${ms(f.standby.p99)}; the rest waited for a feed's fresh snapshot`,
    );
  const c = r.confirmation;
  if (r.publish === 'confirmed')
    out.push(
      `confirmed publication (whole run): states confirmed by the second copy ${c.confirmed}, vouched for by the checksum ${c.vouched}, published alone ${c.alone}; confirmation wait (first copy -> second) p50 ${ms(c.p50)}, p99 ${ms(c.p99)} (over the last ${c.samples})`,
    );
  return out.join('\n');
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const num = (name: string, d: number) => {
    const v = Number(arg(name) ?? d);
    if (!(v > 0)) throw new Error(`${name} must be a positive number`);
    return v;
  };
  const o = {
    venue: (arg('--venue') ?? 'kraken') as VenueId,
    rate: num('--rate', 200),
    seconds: num('--seconds', 20),
    jitterMs: num('--jitter', 10),
    corruptRate: 0,
    publish: (arg('--publish') ?? 'first') as PublishPolicy,
  };
  if (o.publish !== 'first' && o.publish !== 'confirmed') throw new Error(`--publish: first or confirmed`);
  const faults = arg('--faults');
  if (faults === 'corrupt') o.corruptRate = num('--corrupt-rate', 0.01);
  else if (faults !== undefined) throw new Error(`--faults: only 'corrupt' is known`);
  console.log(`node ${process.version}, ${new Date().toISOString()}, ${loadLine()}`);
  const r = await benchReplicaLatency(o);
  console.log(formatReplicaLatency(r));
  console.log(`${new Date().toISOString()}, ${loadLine()}`);
  process.exit(0);
}
