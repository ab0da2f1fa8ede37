/**
 * Kafka vs ZeroMQ, same workload: simulator -> 2 collectors -> arbiter -> client SDK, every part its own
 * process (as `bookwire ...` runs them), the client in this process. Plus the Kafka producer on its own
 * (the batching bookwire's publisher uses) and a compression comparison (none vs gzip) that chose the
 * producer's default.
 *
 * The Kafka side is the test broker (librdkafka's mock cluster, 3 brokers, rf 3, in memory): NOT Apache
 * Kafka. It answers a waiting fetch only at its deadline (maxWaitTimeInMs, 100 ms), so every Kafka hop
 * pays up to 100 ms that real Kafka would not; its figures are lower bounds on throughput and upper
 * bounds on latency, fit for comparing settings, not for sizing a cluster.
 *
 * `node dist/bench/kafka.js [--quick]`  (also part of `npm run bench`; ends with the arbiter-group rows of
 * bench/kafka-group.ts, its group-balance row (2,000 books) and the arbiter-capacity rows of bench/kafka-catchup.ts)
 * `node dist/bench/kafka.js --producer [records]`  the producer rows alone (BOOKWIRE_KAFKAJS_PATCH=0: without
 * the kafkajs patch of src/transport/kafkajs-patches.ts, for comparison).
 * `node dist/bench/kafka.js --peak [r1,r2,...]`  the peak sustained rate on Kafka (default 10k,15k,20k,30k).
 * `node dist/bench/kafka.js --codec`  kafkajs' per-record encoding, decoding and gzip costs, as kafkajs does them
 * and as patched (src/transport/kafkajs-patches.ts).
 * `node dist/bench/kafka.js --ab NAME=v1,v2 [seconds] [rounds]`  the 10k events/s pipeline with an environment
 * variable of the collectors and arbiter alternating (e.g. BOOKWIRE_KAFKA_RAW_COMPRESSION=gzip,none), CPU per delta.
 * `node dist/bench/kafka.js --linger 0,10,25 [seconds] [--no-e2e]`  producer linger variants back to back:
 * the consumer hop, then the pipeline at 10k events/s on Kafka (docs/kafka.md, "Producer linger").
 */
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import { gzipSync, unzipSync, gzip as gzipCb, unzip as unzipCb } from 'node:zlib';
import { promisify } from 'node:util';
import path from 'node:path';
import { build } from 'hdr-histogram-js';
// Before kafkajs: the transport patches kafkajs as it loads (src/transport/kafkajs-patches.ts).
import { KafkaTransport, kafkajsPatched, kafkajsProducePatched } from '../src/transport/kafka.js';
import {
  kafkajsDecodePatched,
  kafkajsGzipPatched,
  originalProduceV3,
  originalRecordDecoder,
  patchedProduceV3,
  patchedRecordDecoder,
} from '../src/transport/kafkajs-patches.js';
// The codec comparison needs a knob the transport does not expose: it drives the kafkajs producer
// directly, with the transport's producer settings (src/transport/kafka.ts), nothing else here does.
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { subscribe } from '../src/client/subscribe.js';
import { nowMicros } from '../src/core/clock.js';
import { silentLogger } from '../src/log.js';
import { BROKER_BINARY } from '../test/kafka-helpers.js';
import { benchLatency, KEPT_UP_GROWTH_US, latencyGrowth, SUSTAINED_RULE } from './e2e.js';
import {
  benchGroupBalance,
  benchGroupIngest,
  benchGroupPipeline,
  formatGroupBalance,
  formatGroupIngest,
  formatGroupPipeline,
  type GroupPipelineRow,
} from './kafka-group.js';
import { generateStream } from './gen.js';
import { benchCatchup, formatCatchup } from './kafka-catchup.js';
import { benchBroker, collectArgs, cpuMicros, freePort, spawnPart, waitForSim } from './pipeline.js';

const SYMBOL = 'BTCUSDT';

export const kafkaBenchSkip: string | false = existsSync(BROKER_BINARY)
  ? false
  : `Kafka rows skipped: test broker not built (${BROKER_BINARY}); build it once with test/kafka-broker/ensure.sh`;

interface Pct {
  count: number;
  p50: number;
  p99: number;
}

function pct(values: number[]): Pct {
  const h = build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
  for (const v of values) h.recordValue(Math.max(1, Math.round(v)));
  const r = { count: values.length, p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99) };
  h.destroy();
  return r;
}

export interface BusRow {
  bus: 'zeromq' | 'kafka';
  rate: number;
  seconds: number;
  generated: number;
  delivered: number;
  gaps: number;
  chainBreaks: number;
  consolidated: Pct;
  /** Consolidated deltas the client got per second of the window (ZeroMQ: window events delivered / s). */
  throughput: number;
  /** How far behind the simulator the client was when the window closed (µs); NaN if not measured. */
  lagAtEnd: number;
  /** Inside the arbiter, arrival -> publish (µs, its own stats): is it the bottleneck? */
  arbiterInternal: { p50: number; p99: number };
  /** Arbiter publish -> client SDK (pubTime -> receive), µs. */
  lastHop: Pct;
  /** Kafka: per-stage rates and CPU over the window (where throughput is lost). */
  stages?: Stages;
  /** Kafka: how much later the window's last tenth of events arrived than its first tenth (µs, medians). */
  growth?: number;
  /** What differs from the default build (e.g. kafkajs unpatched). */
  note?: string;
}

/** Per-stage figures of a Kafka row over the measuring window. */
export interface Stages {
  /** Records/s appended to the raw topic (both collectors) and to the book topic (the arbiter). */
  rawPerSec: number;
  bookPerSec: number;
  /** CPU per delta the client got (µs), per process, and in all (cores busy = all x throughput). */
  cpuPerDelta: Record<string, number>;
  /**
   * CPU per event the simulator generated in the window (µs), per process: what a stage costs per input
   * event even when the client is behind (then cpuPerDelta overstates the stages before the lag).
   */
  cpuPerEvent?: Record<string, number>;
  cores: number;
}

/** The ZeroMQ row, from bench/e2e.ts (the same measurement `npm run bench` prints in full). */
async function zeromqRow(rate: number, seconds: number): Promise<BusRow> {
  const r = await benchLatency(rate, seconds);
  return {
    bus: 'zeromq',
    rate,
    seconds,
    generated: r.generated,
    delivered: r.delivered,
    gaps: r.gaps,
    chainBreaks: r.chainBreaks,
    consolidated: r.consolidated,
    throughput: r.delivered / Math.max(0.001, seconds - 0.1),
    lagAtEnd: NaN,
    arbiterInternal: r.arbiterInternal,
    lastHop: { count: r.hops.arbiterToClient.count, p50: r.hops.arbiterToClient.p50, p99: r.hops.arbiterToClient.p99 },
  };
}

/** The same pipeline as bench/pipeline.ts, on Kafka. */
async function kafkaRow(
  rate: number,
  seconds: number,
  warmupS = 1.5,
  env: NodeJS.ProcessEnv = {},
  note?: string,
): Promise<BusRow> {
  const { b, stop: stopBroker } = await benchBroker();
  const brokers = b.bootstrap.join(',');
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'bookwire-bench-kafka-'));
  if (process.env.BOOKWIRE_BENCH_LOG) console.log(`logs: ${logDir}`);
  const procs: ChildProcess[] = [];
  const pids: Record<string, number | undefined> = { broker: b.pid, client: process.pid };
  const killAll = () => procs.forEach((p) => p.exitCode === null && p.kill('SIGKILL'));
  process.once('exit', killAll);
  const start = (name: string, args: string[]) => {
    const p = spawnPart(logDir, name, args, { env });
    procs.push(p);
    pids[name] = p.pid;
  };
  const simPort = await freePort();
  const rest = `http://127.0.0.1:${simPort}`;
  start('sim', ['sim', '--port', String(simPort), '--symbols', SYMBOL, '--rate', String(rate), '--record-send-times']);
  await waitForSim(rest, logDir);
  const bus = ['--bus', 'kafka', '--brokers', brokers];
  start('arbiter', ['arbitrate', '--symbols', SYMBOL, ...bus]);
  for (const id of ['a', 'b']) start(`collector-${id}`, [...collectArgs(id, SYMBOL, simPort), ...bus]);

  const clientT = new KafkaTransport({ brokers: b.bootstrap, logger: silentLogger, closeTimeoutMs: 2000 });
  const arrivals = new Map<number, number>();
  const lastHop: number[] = [];
  let measuring = false;
  let inWindow = 0;
  let windowClosed = false;
  let lagUs = NaN;
  let gaps = 0;
  let chainBreaks = 0;
  let prevSeq = -1;
  let arbiterInternal = { p50: 0, p99: 0 };
  const statsSub = await clientT.subscriber('book', [`stats.binance.${SYMBOL}`]);
  const statsDone = (async () => {
    for await (const m of statsSub) {
      const st = JSON.parse(m.payload.toString()) as { processingP50: number; processingP99: number };
      if (measuring) arbiterInternal = { p50: st.processingP50, p99: st.processingP99 };
    }
  })();
  // BOOKWIRE_BENCH_LOG=info: where records pile up (records written per topic, once a second).
  const watch = process.env.BOOKWIRE_BENCH_LOG
    ? setInterval(() => {
        void (async () => {
          const sum = async (t: string) =>
            [...(await clientT.offsets(t)).values()].reduce((a, o) => a + Number(o.high), 0);
          console.log(
            `offsets: raw ${await sum('bookwire.raw')} book ${await sum('bookwire.book')} client seq ${prevSeq}`,
          );
        })().catch(() => undefined);
      }, 1000)
    : undefined;
  const ac = new AbortController();
  const clientDone = (async () => {
    for await (const u of subscribe({ transport: clientT, symbol: SYMBOL, signal: ac.signal })) {
      if (u.message.type === 'delta') {
        lagUs = u.receivedAt - u.message.recvTime;
        if (measuring) {
          if (!windowClosed) inWindow++;
          arrivals.set(u.message.seq, u.receivedAt);
          lastHop.push(u.receivedAt - u.message.pubTime);
          if (prevSeq >= 0 && u.message.prev !== prevSeq) chainBreaks++;
        }
        prevSeq = u.message.seq;
      } else prevSeq = u.seq;
      gaps = u.gaps;
    }
  })();
  // The arbiter's first exchange snapshot goes through Kafka twice (ctl request, raw reply): wait for the
  // client to be synced, then warm up, so the window measures the steady state.
  // It then catches up on what queued meanwhile: wait (up to 20 s) until the client is less than 1 s behind
  // the collectors (collector receive -> client), so the window measures the steady state if there is one.
  for (let i = 0; prevSeq < 0 && i < 300; i++) await new Promise((r) => setTimeout(r, 100));
  for (let i = 0; !(lagUs < 1_000_000) && i < 200; i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, warmupS * 1000));
  const gapsBefore = gaps;
  // Stage meter: records appended per topic and CPU per process over the window.
  const written = async (t: string) => [...(await clientT.offsets(t)).values()].reduce((a, o) => a + Number(o.high), 0);
  const rawTopic = clientT.topics.kafkaTopic('raw');
  const bookTopic = clientT.topics.kafkaTopic('book');
  const cpu = () => Object.fromEntries(Object.entries(pids).map(([n, pid]) => [n, cpuMicros(pid)]));
  const at0 = { raw: await written(rawTopic), book: await written(bookTopic), cpu: cpu() };
  measuring = true;
  const tStart = nowMicros();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const tEnd = nowMicros();
  windowClosed = true;
  const cpuEnd = cpu();
  const at1 = { raw: await written(rawTopic), book: await written(bookTopic) };
  const windowS = (tEnd - tStart) / 1e6;
  const cpuPerDelta: Record<string, number> = {};
  let cpuAll = 0;
  for (const n of Object.keys(pids)) {
    const used = cpuEnd[n] - at0.cpu[n];
    cpuPerDelta[n] = used / Math.max(1, inWindow);
    if (Number.isFinite(used)) cpuAll += used;
  }
  cpuPerDelta.all = cpuAll / Math.max(1, inWindow);
  const cpuUsed: Record<string, number> = {};
  for (const n of Object.keys(pids)) cpuUsed[n] = cpuEnd[n] - at0.cpu[n];
  const stages: Stages = {
    rawPerSec: (at1.raw - at0.raw) / windowS,
    bookPerSec: (at1.book - at0.book) / windowS,
    cpuPerDelta,
    cores: cpuAll / 1e6 / windowS,
  };
  const seqAtEnd = prevSeq;
  await fetch(`${rest}/sim/pause`, { method: 'POST' });
  await new Promise((r) => setTimeout(r, 2500)); // the tail: two Kafka hops of up to 100 ms each, plus any backlog
  measuring = false;
  const sent = (await (await fetch(`${rest}/sim/send-times?symbol=${SYMBOL}`)).json()) as { u: number[]; t: number[] };
  clearInterval(watch);
  ac.abort();
  await statsSub.close();
  await Promise.allSettled([clientDone, statsDone]);
  await clientT.close();
  const exits = procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : null));
  for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
  const force = setTimeout(killAll, 6000);
  await Promise.all(exits);
  clearTimeout(force);
  process.removeListener('exit', killAll);
  await stopBroker();

  const endIdx = sent.u.indexOf(seqAtEnd);
  const lagAtEnd = endIdx >= 0 ? tEnd - sent.t[endIdx] : NaN;
  const lat: number[] = [];
  let generated = 0;
  for (let i = 0; i < sent.u.length; i++) {
    if (sent.t[i] < tStart + 100_000 || sent.t[i] > tEnd) continue;
    generated++;
    const a = arrivals.get(sent.u[i]);
    if (a !== undefined) lat.push(a - sent.t[i]);
  }
  // Events generated over the whole window (the count above leaves out its first 100 ms).
  const events = (generated * windowS) / Math.max(0.001, windowS - 0.1);
  stages.cpuPerEvent = {};
  let all = 0;
  for (const [n, used] of Object.entries(cpuUsed)) {
    stages.cpuPerEvent[n] = used / Math.max(1, events);
    if (Number.isFinite(used)) all += used;
  }
  stages.cpuPerEvent.all = all / Math.max(1, events);
  return {
    bus: 'kafka',
    rate,
    seconds,
    generated,
    delivered: lat.length,
    gaps: gaps - gapsBefore,
    chainBreaks,
    consolidated: pct(lat),
    throughput: inWindow / seconds,
    lagAtEnd,
    arbiterInternal,
    lastHop: pct(lastHop),
    stages,
    growth: latencyGrowth(lat),
    note,
  };
}

const us = (v: number) => (v >= 10_000 ? `${(v / 1000).toFixed(1)}ms` : `${v}µs`);

export function formatBusRows(rows: BusRow[]): string {
  const out = [
    'bus     rate/s  generated delivered  lossless | consolidated p50 / p99 | arbiter->client p50 / p99 | throughput/s | lag at end | arbiter inside p99',
  ];
  for (const r of rows) {
    const lossless = r.delivered === r.generated && r.gaps === 0 && r.chainBreaks === 0;
    out.push(
      `${(r.note ? `${r.bus}*` : r.bus).padEnd(6)} ${String(r.rate).padStart(7)} ${String(r.generated).padStart(10)} ${String(r.delivered).padStart(9)}  ${(lossless ? 'yes' : `NO (gaps ${r.gaps})`).padEnd(8)} | ${`${us(r.consolidated.p50)} / ${us(r.consolidated.p99)}`.padEnd(22)} | ${`${us(r.lastHop.p50)} / ${us(r.lastHop.p99)}`.padEnd(25)} | ${String(Math.round(r.throughput)).padStart(12)} | ${(Number.isNaN(r.lagAtEnd) ? '-' : us(Math.round(r.lagAtEnd))).padStart(10)} | ${r.arbiterInternal.p99.toFixed(0)}µs`,
    );
  }
  for (const r of rows) {
    if (!r.stages) continue;
    const st = r.stages;
    const c = Object.entries(st.cpuPerDelta)
      .map(([n, v]) => `${n} ${Number.isFinite(v) ? v.toFixed(0) : '-'}`)
      .join(', ');
    out.push(
      `  stages ${r.bus}${r.note ? '*' : ''} ${r.rate}/s: raw topic +${Math.round(st.rawPerSec)}/s (2 collectors), book topic +${Math.round(st.bookPerSec)}/s, client ${Math.round(r.throughput)} deltas/s; CPU µs per delta: ${c} (${st.cores.toFixed(2)} cores)`,
    );
    if (st.cpuPerEvent)
      out.push(
        `    CPU µs per generated event: ${Object.entries(st.cpuPerEvent)
          .map(([n, v]) => `${n} ${Number.isFinite(v) ? v.toFixed(0) : '-'}`)
          .join(', ')}`,
      );
  }
  for (const r of rows) if (r.note) out.push(`  * ${r.bus} ${r.rate}/s: ${r.note}`);
  const rates = [...new Set(rows.map((r) => r.rate))];
  for (const rate of rates) {
    const z = rows.find((r) => r.rate === rate && r.bus === 'zeromq');
    const k = rows.find((r) => r.rate === rate && r.bus === 'kafka' && !r.note);
    if (!z || !k) continue;
    if (k.consolidated.count === 0 || z.consolidated.count === 0) {
      out.push(`ratio kafka/zeromq at ${rate}/s: n/a (a bus delivered none of the window's events before the end)`);
      continue;
    }
    out.push(
      `ratio kafka/zeromq at ${rate}/s: p50 x${(k.consolidated.p50 / z.consolidated.p50).toFixed(0)}, p99 x${(k.consolidated.p99 / z.consolidated.p99).toFixed(0)}, throughput x${(k.throughput / z.throughput).toFixed(2)}`,
    );
  }
  out.push(
    'NOTE: the Kafka rows run on the test broker (librdkafka mock cluster, 3 brokers in one process, in memory), NOT Apache',
    '      Kafka: a waiting fetch is answered only at its 100 ms deadline (each of the two Kafka hops waits up to 100 ms), a',
    '      fetch returns at most ONE produced batch per partition (consumer throughput = batch size x fetch round trips),',
    '      and a partition keeps only its last 5 MB (a consumer further behind is reset and the arbiter resyncs).',
    '      Real Kafka has none of these limits: read the Kafka rows as an upper bound on latency, a lower bound on throughput.',
  );
  return out.join('\n');
}

export async function benchBuses(
  rates: number[],
  seconds: number,
  buses: BusRow['bus'][] = ['zeromq', 'kafka'],
  unpatchedAt?: number,
): Promise<BusRow[]> {
  const rows: BusRow[] = [];
  for (const rate of rates) {
    if (buses.includes('zeromq')) rows.push(await zeromqRow(rate, seconds));
    if (buses.includes('kafka')) rows.push(await kafkaRow(rate, seconds));
    // The same row without the kafkajs patch in the collectors and the arbiter (how it was before).
    if (buses.includes('kafka') && rate === unpatchedAt)
      rows.push(
        await kafkaRow(
          rate,
          seconds,
          1.5,
          { BOOKWIRE_KAFKAJS_PATCH: '0' },
          'collectors and arbiter with kafkajs unpatched (BOOKWIRE_KAFKAJS_PATCH=0): how it ran before',
        ),
      );
  }
  return rows;
}

/** A Kafka row sustains its rate by the ZeroMQ rows' rule (SUSTAINED_RULE, bench/e2e.ts). */
export function kafkaSustained(r: BusRow): boolean {
  const lossless = r.delivered === r.generated && r.gaps === 0 && r.chainBreaks === 0;
  const rateKept = r.generated >= 0.95 * r.rate * (r.seconds - 0.1);
  return lossless && rateKept && (r.growth ?? Infinity) < KEPT_UP_GROWTH_US;
}

/** The highest of `rates` the Kafka pipeline sustains (stops at the first it does not). */
export async function kafkaPeak(rates: number[], seconds: number): Promise<{ peak: number; rows: BusRow[] }> {
  let peak = 0;
  const rows: BusRow[] = [];
  for (const rate of rates) {
    const row = await kafkaRow(rate, seconds);
    rows.push(row);
    if (!kafkaSustained(row)) break;
    peak = rate;
  }
  return { peak, rows };
}

// ---- the producer alone -------------------------------------------------------------------------

/** The consolidated stream as the arbiter writes it: deltas, and a full snapshot every `snapshotEvery`. */
function consolidatedRecords(n: number, snapshotEvery: number): Buffer[] {
  const s = generateStream(n, 3, SYMBOL);
  const out: Buffer[] = [];
  const bids = new Map<number, number>();
  const asks = new Map<number, number>();
  for (const [p, q] of s.snapshot.bids) bids.set(Number(p), Number(q));
  for (const [p, q] of s.snapshot.asks) asks.set(Number(p), Number(q));
  let prev = s.snapshot.lastUpdateId;
  const t0 = nowMicros();
  s.events.forEach((text, i) => {
    const e = JSON.parse(text) as { E: number; U: number; u: number; b: [string, string][]; a: [string, string][] };
    const b = e.b.map(([p, q]) => [Number(p), Number(q)] as [number, number]);
    const a = e.a.map(([p, q]) => [Number(p), Number(q)] as [number, number]);
    for (const [p, q] of b)
      if (q === 0) bids.delete(p);
      else bids.set(p, q);
    for (const [p, q] of a)
      if (q === 0) asks.delete(p);
      else asks.set(p, q);
    const t = t0 + i * 100;
    out.push(
      Buffer.from(
        `{"v":1,"type":"delta","venue":"binance","symbol":"${SYMBOL}","seq":${e.u},"prev":${prev},"first":${e.U},"bids":${JSON.stringify(b)},"asks":${JSON.stringify(a)},"exchTime":${e.E},"recvTime":${t},"pubTime":${t + 40},"feed":"a"}`,
      ),
    );
    prev = e.u;
    if ((i + 1) % snapshotEvery === 0)
      out.push(
        Buffer.from(
          JSON.stringify({
            v: 1,
            type: 'snapshot',
            venue: 'binance',
            symbol: SYMBOL,
            seq: e.u,
            bids: [...bids].sort((x, y) => y[0] - x[0]),
            asks: [...asks].sort((x, y) => x[0] - y[0]),
            exchTime: 0,
            pubTime: t + 50,
            reason: 'periodic',
          }),
        ),
      );
  });
  return out;
}

export interface ProducerRow {
  what: string;
  records: number;
  seconds: number;
  recordsPerSec: number;
  /** Payload bytes handed to the producer. */
  payloadBytes: number;
  /** Record batch bytes sent (keys + values, compressed if so); NaN where not measured. */
  wireBytes: number;
}

/** bookwire's publisher (src/transport/kafka.ts) as it is: everything queued at once, then flush(). */
async function transportProducer(brokers: string[], records: Buffer[]): Promise<ProducerRow> {
  const t = new KafkaTransport({ brokers, logger: silentLogger, closeTimeoutMs: 5000 });
  const pub = await t.publisher('book');
  pub.send(`book.binance.${SYMBOL}`, records[0]); // connect + metadata outside the timing
  await pub.flush();
  const t0 = performance.now();
  for (const r of records) pub.send(`book.binance.${SYMBOL}`, r);
  await pub.flush();
  const s = (performance.now() - t0) / 1000;
  await t.close();
  const bytes = records.reduce((a, r) => a + r.length, 0);
  return {
    what: 'bookwire publisher (as shipped: gzip)',
    records: records.length,
    seconds: s,
    recordsPerSec: records.length / s,
    payloadBytes: bytes,
    wireBytes: NaN,
  };
}

/** kafkajs with the transport's producer settings and batches of 2000, one request in flight, per codec. */
async function codecProducer(brokers: string[], records: Buffer[], codec: 'none' | 'gzip'): Promise<ProducerRow> {
  const kafka = new Kafka({ clientId: 'bookwire-bench', brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  const topic = 'bookwire.book';
  const compression = codec === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  await producer.sendBatch({
    acks: -1,
    compression,
    topicMessages: [{ topic, messages: [{ key: `binance.${SYMBOL}`, value: records[0] }] }],
  });
  const t0 = performance.now();
  for (let i = 0; i < records.length; i += 2000) {
    const messages = records.slice(i, i + 2000).map((value) => ({ key: `binance.${SYMBOL}`, value }));
    await producer.sendBatch({ acks: -1, compression, topicMessages: [{ topic, messages }] });
  }
  const s = (performance.now() - t0) / 1000;
  await producer.disconnect();
  const bytes = records.reduce((a, r) => a + r.length, 0);
  // Batch bytes as kafkajs builds them: the records of one batch, gzipped at zlib's default level when
  // compressed (record framing, a few bytes each, left out on both sides). Outside the timing.
  let batchBytes = 0;
  for (let i = 0; i < records.length; i += 2000) {
    const body = Buffer.concat(records.slice(i, i + 2000).flatMap((v) => [Buffer.from(`binance.${SYMBOL}`), v]));
    batchBytes += codec === 'gzip' ? gzipSync(body).length : body.length;
  }
  return {
    what: `kafkajs, compression ${codec}`,
    records: records.length,
    seconds: s,
    recordsPerSec: records.length / s,
    payloadBytes: bytes,
    wireBytes: batchBytes,
  };
}

export async function benchProducer(n: number): Promise<ProducerRow[]> {
  // One snapshot per 1000 deltas: 1 s of a 1k events/s book at the default snapshotIntervalMs.
  const records = consolidatedRecords(n, 1000);
  const { b, stop } = await benchBroker();
  try {
    const rows = [await transportProducer(b.bootstrap, records)];
    for (const codec of ['none', 'gzip', 'none', 'gzip'] as const)
      rows.push(await codecProducer(b.bootstrap, records, codec));
    return rows;
  } finally {
    await stop();
  }
}

export function formatProducerRows(rows: ProducerRow[]): string {
  const out = [
    'producer                               records   seconds   records/s    MB/s payload   batch bytes/record  batch/payload',
  ];
  for (const r of rows)
    out.push(
      `${r.what.padEnd(37)} ${String(r.records).padStart(8)} ${r.seconds.toFixed(2).padStart(9)} ${String(Math.round(r.recordsPerSec)).padStart(11)} ${(r.payloadBytes / r.seconds / 1e6).toFixed(1).padStart(12)} ${(Number.isNaN(r.wireBytes) ? '-' : (r.wireBytes / r.records).toFixed(0)).padStart(19)} ${(Number.isNaN(r.wireBytes) ? '-' : (r.wireBytes / r.payloadBytes).toFixed(2)).padStart(14)}`,
    );
  out.push(
    'workload: consolidated deltas (bench/gen.ts order flow) + one full snapshot (~1000 levels/side) per 1000 deltas; 3 brokers, acks=all, idempotent',
  );
  return out.join('\n');
}

/** gzip's batch/payload ratio and CPU per record by batch size (no broker): what one request in flight sends. */
export function gzipByBatchSize(sizes = [1, 5, 20, 100, 2000]): string {
  const recs = consolidatedRecords(20_000, Number.MAX_SAFE_INTEGER); // deltas only
  const parts = sizes.map((n) => {
    let raw = 0;
    let z = 0;
    const t0 = performance.now();
    for (let i = 0; i + n <= recs.length; i += n) {
      const body = Buffer.concat(recs.slice(i, i + n));
      raw += body.length;
      z += gzipSync(body).length;
    }
    const us = ((performance.now() - t0) * 1000) / recs.length;
    return `${n}: ${(z / raw).toFixed(2)} (${us.toFixed(1)} µs/record)`;
  });
  return `gzip batch/payload by records per batch (zlib default level): ${parts.join(', ')}`;
}

export interface ConsumerRow {
  feeds: number;
  rate: number;
  seconds: number;
  lingerMs: number;
  produced: number;
  /** Records the subscriber got while the producers ran. */
  consumedInWindow: number;
  /** ...and in all, once they stopped (every record arrives, late). */
  consumedTotal: number;
}

/**
 * One Kafka hop as the arbiter sees it: `feeds` publishers (collectors) each at `rate` records/s of
 * raw-sized records (700 bytes) into the raw topic, one subscriber (the arbiter's) counting.
 */
export async function benchConsumer(
  rate: number,
  feeds: number,
  seconds: number,
  lingerMs?: number,
): Promise<ConsumerRow> {
  const { b, stop } = await benchBroker();
  const ts: KafkaTransport[] = [];
  const mk = () => {
    const t = new KafkaTransport({ brokers: b.bootstrap, logger: silentLogger, closeTimeoutMs: 2000, lingerMs });
    ts.push(t);
    return t;
  };
  try {
    const sub = await mk().subscriber('ingest', ['raw.']);
    let got = 0;
    const done = (async () => {
      for await (const _m of sub) got++;
    })();
    const pubs = [];
    for (let i = 0; i < feeds; i++) pubs.push(await mk().publisher('ingest'));
    const payload = Buffer.from(JSON.stringify({ v: 1, type: 'delta', pad: 'x'.repeat(660) }));
    const t0 = performance.now();
    let sent = 0;
    while (performance.now() - t0 < seconds * 1000) {
      const due = Math.floor(((performance.now() - t0) * rate) / 1000);
      for (; sent < due; sent++) for (const p of pubs) p.send('raw.binance.BTCUSDT', payload);
      await new Promise((r) => setTimeout(r, 1));
    }
    const inWindow = got;
    for (let i = 0; got < sent * feeds && i < 100; i++) await new Promise((r) => setTimeout(r, 100));
    await sub.close();
    await done;
    return {
      feeds,
      rate,
      seconds,
      lingerMs: lingerMs ?? ts[0].lingerMs,
      produced: sent * feeds,
      consumedInWindow: inWindow,
      consumedTotal: got,
    };
  } finally {
    for (const t of ts) await t.close();
    await stop();
  }
}

export function formatConsumerRows(rows: ConsumerRow[]): string {
  return rows
    .map(
      (r) =>
        `${r.feeds} publisher(s) x ${r.rate}/s, linger ${r.lingerMs} ms -> 1 subscriber: produced ${r.produced}, consumed ${Math.round(r.consumedInWindow / r.seconds)}/s while producing (${r.consumedTotal} in all after they stopped)`,
    )
    .join('\n');
}

/**
 * Producer linger variants back to back (the host is shared: compare within one run): per linger, the
 * consumer hop alone (2 publishers x 10k/s -> 1 subscriber) and the whole pipeline at 10k events/s on Kafka
 * (collectors and arbiter get the linger through BOOKWIRE_KAFKA_LINGER_MS).
 */
export async function lingerSweep(lingers: number[], seconds: number, e2e = true): Promise<string> {
  const out: string[] = [];
  for (const l of lingers) out.push(formatConsumerRows([await benchConsumer(10_000, 2, seconds, l)]));
  if (e2e) {
    const rows: BusRow[] = [];
    for (const l of lingers) rows.push(await kafkaRow(10_000, seconds, 1.5, { BOOKWIRE_KAFKA_LINGER_MS: String(l) }));
    out.push(
      formatBusRows(rows)
        .split('\n')
        .filter((line) => !line.startsWith('NOTE') && !line.startsWith(' '))
        .map((line, i) => (i === 0 ? `linger ${line}` : `${String(lingers[i - 1]).padStart(4)}ms ${line}`))
        .join('\n'),
    );
  }
  return out.join('\n');
}

/**
 * A/B of one environment variable of the collectors and the arbiter (e.g. BOOKWIRE_KAFKAJS_PATCH=0,1):
 * the pipeline at `rate` events/s on Kafka, the values alternating for `rounds` rounds, back to back (the
 * host is shared: compare CPU per delta within one run). Prints each row's `stages` line.
 */
export async function envAB(
  variable: string,
  values: string[],
  seconds: number,
  rounds: number,
  rate = 10_000,
): Promise<string> {
  const out: string[] = [];
  for (let i = 0; i < rounds; i++)
    for (const v of values) {
      const row = await kafkaRow(rate, seconds, 1.5, { [variable]: v });
      const line = formatBusRows([row])
        .split('\n')
        .filter((l) => !l.startsWith('NOTE') && !l.startsWith('      ') && !l.startsWith('bus '));
      const msg = `${variable}=${v} (load ${os.loadavg()[0].toFixed(1)}): ${line.join('\n')}`;
      console.log(msg);
      out.push(msg);
    }
  return out.join('\n');
}

/**
 * kafkajs' per-record costs, its own code vs the patches of src/transport/kafkajs-patches.ts, in this
 * process (CPU from process.cpuUsage(), zlib's threads included): encoding a Produce request of 200 raw
 * records (~300 bytes, as a collector's batch at 10k/s with the 20 ms linger), none and gzip (the patched
 * gzip in both), with and without the two transaction headers; decoding a record; gzip and unzip of a
 * 200-record batch.
 */
export async function codecCosts(rounds = 2): Promise<string> {
  const out: string[] = [];
  // Collector events of a made-up order flow (~400 bytes, gzip ~6x on a 200-record batch, like the real ones).
  const values = Array.from({ length: 200 }, (_, i) =>
    Buffer.from(
      JSON.stringify({
        v: 1,
        type: 'delta',
        venue: 'binance',
        symbol: SYMBOL,
        U: 1_000_000 + 3 * i,
        u: 1_000_002 + 3 * i,
        b: Array.from({ length: 5 }, (_, j) => [
          String(50000 + ((i * j * 7919) % 1000) / 100),
          String(((i * 31 + j) % 997) / 1000),
        ]),
        a: [[String(50010.5 + (i % 7)), String((i % 13) / 7)]],
        E: 1_700_000_000_000 + i,
        recvTime: 1_700_000_000_000_000 + i * 97,
        feed: 'a',
      }),
    ),
  );
  const value = values[0];
  const headers = { 'bookwire-txn': 'bookwire-arbiter-0', 'bookwire-raw-resume': '0:12345' };
  const cpu = async (n: number, fn: () => unknown): Promise<number> => {
    for (let i = 0; i < 20; i++) await fn();
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await fn();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / n;
  };
  type Req = (o: object) => { encode(): Promise<unknown> };
  const reqs: [string, Req][] = [
    ['kafkajs', originalProduceV3() as Req],
    ['patched', patchedProduceV3() as Req],
  ];
  for (let r = 0; r < rounds; r++)
    for (const compression of [CompressionTypes.None, CompressionTypes.GZIP])
      for (const h of [false, true])
        for (const [name, req] of reqs) {
          const messages = values.map((v) => ({ key: `binance.${SYMBOL}`, value: v, ...(h ? { headers } : {}) }));
          const o = {
            acks: -1,
            timeout: 30000,
            compression,
            topicData: [{ topic: 'bookwire.raw', partitions: [{ partition: 0, firstSequence: 0, messages }] }],
          };
          const us = (await cpu(300, () => req(o).encode())) / 200;
          out.push(
            `encode ${compression ? 'gzip' : 'none'}${h ? ' +headers' : ''}, ${name}: ${us.toFixed(2)} µs CPU per record`,
          );
        }
  const req = createRequire(import.meta.url);
  const Record = req('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (r: object) => { buffer: Buffer };
  const Decoder = req('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => { readVarIntBytes(): Buffer };
  type Dec = (d: unknown, c: object) => unknown;
  for (let r = 0; r < rounds; r++)
    for (const h of [false, true])
      for (const [name, dec] of [
        ['kafkajs', originalRecordDecoder() as Dec],
        ['patched', patchedRecordDecoder() as Dec],
      ] as const) {
        const inner = new Decoder(
          Record({ key: `binance.${SYMBOL}`, value, offsetDelta: 17, timestampDelta: 3, headers: h ? headers : {} })
            .buffer,
        ).readVarIntBytes();
        let ctx = {};
        let i = 0;
        const us = await cpu(100_000, () => {
          if (i++ % 200 === 0)
            ctx = {
              firstOffset: String(1_000_000 + i),
              firstTimestamp: '1700000000000',
              magicByte: 2,
              timestampType: 0,
            };
          return dec(new Decoder(inner), ctx);
        });
        out.push(`decode${h ? ' +headers' : ''}, ${name}: ${us.toFixed(2)} µs CPU per record`);
      }
  const batch = Buffer.concat(values);
  const z = gzipSync(batch);
  const gz = promisify(gzipCb);
  const uz = promisify(unzipCb);
  for (let r = 0; r < rounds; r++) {
    out.push(
      `gzip ${batch.length} B, async (kafkajs): ${((await cpu(300, () => gz(batch))) / 200).toFixed(2)} µs CPU per record`,
    );
    out.push(
      `gzip ${batch.length} B, sync (patched): ${((await cpu(300, () => gzipSync(batch))) / 200).toFixed(2)} µs CPU per record`,
    );
    out.push(
      `unzip ${z.length} B, async (kafkajs): ${((await cpu(300, () => uz(z))) / 200).toFixed(2)} µs CPU per record`,
    );
    out.push(
      `unzip ${z.length} B, sync (patched): ${((await cpu(300, () => unzipSync(z))) / 200).toFixed(2)} µs CPU per record`,
    );
  }
  return out.join('\n');
}

/** Both Kafka sections of `npm run bench` (bench/run.ts), or the skip message. */
/** `zeromqPeak`: the ZeroMQ peak sustained rate measured earlier in the same run (bench/run.ts), for the ratio. */
export async function runKafkaBench(
  quick: boolean,
  section: (title: string) => void,
  zeromqPeak?: number,
): Promise<void> {
  section(
    'Kafka vs ZeroMQ end to end: simulator -> 2 collectors -> arbiter -> client, same workload (separate processes)',
  );
  if (kafkaBenchSkip) {
    console.log(kafkaBenchSkip);
    return;
  }
  console.log(
    `load average before: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (2 cores; other work on the host skews both buses)`,
  );
  console.log(
    `kafkajs patched in this process: grouping ${kafkajsPatched}, produce encoding ${kafkajsProducePatched}, decoding ${kafkajsDecodePatched}, gzip ${kafkajsGzipPatched} (src/transport/kafkajs-patches.ts)`,
  );
  console.log(formatBusRows(await benchBuses([1000, 10_000], quick ? 3 : 5, undefined, 10_000)));
  section('Peak sustained rate on Kafka (same pipeline; the ZeroMQ peak is in its own section above)');
  console.log(formatPeak(await kafkaPeak(quick ? [10_000, 20_000] : [10_000, 15_000, 20_000, 30_000], 4), zeromqPeak));
  section('Kafka producer: batching as shipped, and compression none vs gzip (chooses the default)');
  console.log(formatProducerRows(await benchProducer(quick ? 50_000 : 200_000)));
  console.log(gzipByBatchSize());
  console.log('consumer (the arbiter reads every feed, so on Kafka it consumes feeds x the event rate):');
  console.log(
    formatConsumerRows([await benchConsumer(10_000, 1, quick ? 3 : 5), await benchConsumer(10_000, 2, quick ? 3 : 5)]),
  );
  section(
    'Kafka arbiter groups (transactional, exactly-once) vs one plain arbiter, 10k events/s (bench/kafka-group.ts)',
  );
  // The transport alone (one process), then the pipeline: sim 2 symbols x 5000/s -> 2 collectors -> arbiter -> client.
  console.log(formatGroupIngest(await benchGroupIngest(10_000, quick ? 3 : 5)));
  const group: GroupPipelineRow[] = [];
  for (const arbiters of [1, 0]) {
    group.push(await benchGroupPipeline(5000, quick ? 5 : 10, arbiters));
    console.log(formatGroupPipeline(group[group.length - 1]));
  }
  console.log(
    `ratio transactional group / plain arbiter: ${(group[0].deliveredPerSec / Math.max(1, group[1].deliveredPerSec)).toFixed(2)} (input 10,000 events/s)`,
  );
  console.log(
    'latency: collector receive -> client (group rows), send -> receive (ingest row); test broker, not Kafka: compare rows, not absolutes',
  );
  section('Kafka arbiter group balance: 2,000 books, 2 arbiters, 1 event/s per book (bench/kafka-group.ts --balance)');
  console.log(formatGroupBalance(await benchGroupBalance(2, 2000, 1, quick ? 10 : 20, quick ? 60 : 180)));
  section(
    'Kafka arbiter capacity: frozen 4 s at 10k events/s, then the backlog drained with the input paused (bench/kafka-catchup.ts)',
  );
  for (const group of [false, true]) console.log(formatCatchup(await benchCatchup(10_000, 4, group)));
}

function formatPeak(k: { peak: number; rows: BusRow[] }, zeromqPeak?: number): string {
  const rows = formatBusRows(k.rows).split('\nNOTE:')[0];
  return [
    rows,
    `peak sustained rate on Kafka: ${k.peak} events/s (${SUSTAINED_RULE}; growth per row: ${k.rows.map((r) => `${r.rate}/s ${us(Math.round(r.growth ?? NaN))}`).join(', ')})` +
      (zeromqPeak ? `; ZeroMQ: ${zeromqPeak} events/s; ratio kafka/zeromq x${(k.peak / zeromqPeak).toFixed(2)}` : ''),
    "On this 2-core host the whole pipeline (simulator, 2 collectors, arbiter, client, broker) shares the cores: this is the host's limit, not the arbiter's (its own capacity: node dist/bench/kafka-catchup.js).",
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // Ctrl-C: exit through 'exit', whose handlers kill the pipeline and the broker.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  const at = process.argv.indexOf('--linger');
  const prod = process.argv.indexOf('--producer');
  const ab = process.argv.indexOf('--ab');
  const pk = process.argv.indexOf('--peak');
  if (process.argv.includes('--codec')) console.log(await codecCosts());
  else if (pk >= 0)
    console.log(
      formatPeak(await kafkaPeak((process.argv[pk + 1] ?? '10000,15000,20000,30000').split(',').map(Number), 4)),
    );
  else if (ab >= 0) {
    // --ab NAME=v1,v2 [seconds] [rounds]
    const spec = process.argv[ab + 1] ?? 'BOOKWIRE_KAFKAJS_PATCH=0,1';
    const eq = spec.indexOf('=');
    await envAB(
      spec.slice(0, eq),
      spec.slice(eq + 1).split(','),
      Number(process.argv[ab + 2] ?? 10),
      Number(process.argv[ab + 3] ?? 2),
    );
  } else if (prod >= 0) {
    console.log(`kafkajs patched: ${kafkajsPatched} (BOOKWIRE_KAFKAJS_PATCH=0 turns it off)`);
    console.log(formatProducerRows(await benchProducer(Number(process.argv[prod + 1] ?? 50_000))));
  } else if (at >= 0)
    console.log(
      await lingerSweep(
        (process.argv[at + 1] ?? '0,5,25').split(',').map(Number),
        Number(process.argv[at + 2] ?? 3),
        !process.argv.includes('--no-e2e'),
      ),
    );
  else await runKafkaBench(process.argv.includes('--quick'), (t) => console.log(`\n=== ${t} ===`));
}
