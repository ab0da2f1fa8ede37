/**
 * Transactional arbiter groups on the Kafka test broker (3 brokers): `bookwire sim --rate R` -> 2 collectors
 * -> `arbitrate --group` (1 or more processes) -> a client (subscribe(), read committed) in this process.
 * Prints the consolidated deltas the client received per second and the latency from the collector's
 * receive time to the client's (same host clock), over the measuring window, plus the arbiters' transactions.
 *
 *   node dist/bench/kafka-group.js [rate events/s per symbol, default 5000] [seconds, default 10] [arbiters, default 1; 0 = one without --group]
 *   node dist/bench/kafka-group.js --ingest [rate records/s, default 10000] [seconds, default 5]
 *   node dist/bench/kafka-group.js --balance [arbiters, default 2] [books, default 2000] [events/s per book, default 1] [seconds, default 20] [sync wait s, default 180] [snapshot limit, default 100]
 *     balance of an arbiter group over a whole market (issue 13): books and raw records per instance, from
 *     each instance's metrics (bookwire_arbiter_group_books, bookwire_arbiter_messages_received_total);
 *     and its cold start: books synced over time, REST requests and snapshots served (the simulator's
 *     counters), REST failures the collectors logged, raw partitions given up (rebalances). The snapshot
 *     limit is the collectors' --snapshot-limit: 100 (weight 5, as bench/coldstart.ts and the ZeroMQ
 *     demo figures); the collectors' default, 1000, weighs 50: 120 snapshots a minute per collector.
 *     the transport alone, in one process: records on 4 keys -> KafkaGroupIngest (one output record per
 *     input, transactions as the arbiter's) -> a read-committed subscriber; latency from send to receipt.
 * BOOKWIRE_KAFKA_LINGER_MS / BOOKWIRE_KAFKA_TXN_LINGER_MS set the producer and transaction lingers
 * (src/transport/kafka.ts) for every process. `npm run bench` prints both rows (bench/kafka.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { subscribe } from '../src/client/subscribe.js';
import { silentLogger } from '../src/log.js';
import { KafkaTransport } from '../src/transport/kafka.js';
import { startTestBroker } from '../test/kafka-helpers.js';
import { binanceLikeSymbols } from '../test/binance-symbols.js';
import { TOPIC_LAYOUT } from '../src/transport/kafka-topics.js';
import { freePort } from '../src/util/freePort.js';
import { collectArgs, spawnPart, waitForSim } from './pipeline.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];

export interface GroupPipelineRow {
  rate: number;
  symbols: number;
  arbiters: number;
  seconds: number;
  /** Consolidated deltas the client received per second of the window (the input is rate x symbols). */
  deliveredPerSec: number;
  /** Collector receive -> client, ms. */
  p50: number;
  p99: number;
  chainBreaks: number;
  env: NodeJS.ProcessEnv;
}

export async function benchGroupPipeline(
  rate: number,
  seconds: number,
  arbiters: number,
  env: NodeJS.ProcessEnv = {},
  joinMs = 12_000,
): Promise<GroupPipelineRow> {
  const hooks: (() => Promise<void> | void)[] = [];
  const b = await startTestBroker({ after: (fn) => void hooks.push(fn) });
  const brokers = b.bootstrap.join(',');
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'bookwire-bench-group-'));
  const procs: ChildProcess[] = [];
  const start = (name: string, args: string[]) => procs.push(spawnPart(logDir, name, args, { env }));
  const simPort = await freePort();
  const rest = `http://127.0.0.1:${simPort}`;
  start('sim', ['sim', '--port', String(simPort), '--symbols', SYMBOLS.join(','), '--rate', String(rate)]);
  await waitForSim(rest, logDir);
  const bus = ['--bus', 'kafka', '--brokers', brokers];
  // arbiters = 0: one arbiter without a group (the non-transactional publisher), for comparison.
  if (arbiters === 0) start('arbiter', ['arbitrate', '--symbols', SYMBOLS.join(','), ...bus]);
  for (let i = 0; i < arbiters; i++)
    start(`arbiter-${i}`, ['arbitrate', '--symbols', SYMBOLS.join(','), '--group', 'bench', '--id', `a${i}`, ...bus]);
  for (const id of ['a', 'b']) start(`collector-${id}`, [...collectArgs(id, SYMBOLS.join(','), simPort), ...bus]);

  const tr = new KafkaTransport({ brokers: b.bootstrap, logger: silentLogger, closeTimeoutMs: 2000 });
  const ac = new AbortController();
  let measuring = false;
  let delivered = 0;
  let chainBreaks = 0;
  const lat: number[] = [];
  const done = SYMBOLS.map((symbol) =>
    (async () => {
      let prev = -1;
      for await (const u of subscribe({ transport: tr, symbol, signal: ac.signal })) {
        if (u.message.type !== 'delta') {
          prev = u.seq;
          continue;
        }
        if (measuring) {
          delivered++;
          lat.push(u.receivedAt - u.message.recvTime);
          if (prev >= 0 && u.message.prev !== prev) chainBreaks++;
        }
        prev = u.seq;
      }
    })(),
  );
  // Group join (the test broker's rebalances take seconds) and first snapshots.
  await new Promise((r) => setTimeout(r, joinMs));
  measuring = true;
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = (Date.now() - t0) / 1000;
  ac.abort();
  await Promise.allSettled(done);
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  await tr.close();
  for (const h of hooks.reverse()) await h();
  lat.sort((x, y) => x - y);
  const pct = (q: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] / 1000 : NaN);
  return {
    rate,
    symbols: SYMBOLS.length,
    arbiters,
    seconds: elapsed,
    deliveredPerSec: delivered / elapsed,
    p50: pct(0.5),
    p99: pct(0.99),
    chainBreaks,
    env,
  };
}

const envNote = (env: NodeJS.ProcessEnv) =>
  Object.entries(env)
    .map(([k, v]) => `${k.replace('BOOKWIRE_KAFKA_', '').toLowerCase()}=${v}`)
    .join(' ');

export function formatGroupPipeline(r: GroupPipelineRow): string {
  const who =
    r.arbiters === 0 ? '1 arbiter, no group (plain publisher)' : `${r.arbiters} group arbiter(s), transactional`;
  return (
    `${who.padEnd(38)} sim ${r.rate}/s x ${r.symbols} symbols: client ${Math.round(r.deliveredPerSec)} deltas/s; ` +
    `collector->client ms p50 ${r.p50.toFixed(0)} p99 ${r.p99.toFixed(0)}; chain breaks ${r.chainBreaks}${r.env && Object.keys(r.env).length ? `; ${envNote(r.env)}` : ''}`
  );
}

export interface GroupIngestRow {
  rate: number;
  seconds: number;
  sent: number;
  received: number;
  /** Received per second from the first send to the last receipt (the drain included). */
  perSec: number;
  p50: number;
  p99: number;
  transactions: number;
  lingerMs: number;
  txnLingerMs: number;
}

export async function benchGroupIngest(
  rate: number,
  seconds: number,
  o: { lingerMs?: number; txnLingerMs?: number } = {},
): Promise<GroupIngestRow> {
  const hooks: (() => Promise<void> | void)[] = [];
  const b = await startTestBroker({ after: (fn) => void hooks.push(fn) });
  const tr = new KafkaTransport({ brokers: b.bootstrap, logger: silentLogger, closeTimeoutMs: 2000, ...o });
  const g = await tr.groupIngest({
    group: 'bench',
    prefixes: ['raw.'],
    handler: {
      onAssigned: () => undefined,
      onRevoked: () => undefined,
      onMessage: (m) => g.publisher.send(`book.${m.topic.slice('raw.'.length)}`, m.payload),
    },
  });
  const sub = await tr.subscriber('book', ['book.binance.']);
  const pub = await tr.publisher('ingest');
  await new Promise((r) => setTimeout(r, 6000)); // the group join
  const lat: number[] = [];
  void (async () => {
    for await (const m of sub) lat.push(Date.now() - (JSON.parse(m.payload.toString()) as { t: number }).t);
  })();
  const keys = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT'];
  const t0 = Date.now();
  let sent = 0;
  while (Date.now() - t0 < seconds * 1000) {
    const due = Math.floor(((Date.now() - t0) / 1000) * rate);
    for (; sent < due; sent++)
      pub.send(`raw.binance.${keys[sent % keys.length]}`, JSON.stringify({ t: Date.now(), i: sent }));
    await new Promise((r) => setTimeout(r, 2));
  }
  const tEnd = Date.now();
  while (lat.length < sent && Date.now() - tEnd < 20_000) await new Promise((r) => setTimeout(r, 20));
  const all = (Date.now() - t0) / 1000;
  lat.sort((x, y) => x - y);
  const pct = (q: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] : NaN);
  const row: GroupIngestRow = {
    rate,
    seconds,
    sent,
    received: lat.length,
    perSec: lat.length / all,
    p50: pct(0.5),
    p99: pct(0.99),
    transactions: g.counters.transactions,
    lingerMs: tr.lingerMs,
    txnLingerMs: tr.txnLingerMs,
  };
  await tr.close();
  for (const h of hooks.reverse()) await h();
  return row;
}

export function formatGroupIngest(r: GroupIngestRow): string {
  return (
    `group ingest ${r.rate} records/s x ${r.seconds} s (linger ${r.lingerMs} ms, txn linger ${r.txnLingerMs} ms): sent ${r.sent}, received ${r.received} ` +
    `(${Math.round(r.perSec)}/s incl. drain); send->receive ms p50 ${r.p50} p99 ${r.p99}; transactions ${r.transactions} (~${Math.round(r.received / Math.max(1, r.transactions))} records each)`
  );
}

export interface GroupBalanceRow {
  books: number;
  arbiters: number;
  rawPartitions: number;
  /** Events per second per book at the simulator; each of the 2 collectors sends a copy. */
  rate: number;
  /** From start until every book was synced at some instance (NaN: not within the wait). */
  allSyncedS: number;
  /** Books synced (summed over the instances) at each sample: [s since start, books]. */
  syncedOverTime: [number, number][];
  snapshotLimit: number;
  /** The simulator's counters at the end of the sync wait: REST requests, snapshots served, 429s. */
  restRequests: number;
  snapshotsServed: number;
  rest429: number;
  /** 'REST request failed' lines in the collectors' logs (timeouts, cut answers) during the sync wait. */
  restFailures: number;
  /** 'raw partition given up' lines in the arbiters' logs (rebalances, failed transactions). */
  partitionsGivenUp: number;
  logDir: string;
  seconds: number;
  instances: {
    id: string;
    /** Books held per raw partition owned (bookwire_arbiter_group_books). */
    partitions: Record<number, number>;
    books: number;
    synced: number;
    /** Ingest records received per second over the window (both collectors' raw copies, snapshots, and all of status). */
    eventsPerSec: number;
    /** Consolidated updates per second, summed over its books (bookwire_book_updates_per_second). */
    updatesPerSec: number;
  }[];
}

/** The samples of one metric: label set (as written) -> value. */
function metricSamples(text: string, name: string): { labels: string; value: number }[] {
  const out: { labels: string; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`).exec(line);
    if (m) out.push({ labels: m[1] ?? '', value: Number(m[2]) });
  }
  return out;
}

/**
 * Balance of an arbiter group (issue 13): `books` Binance-like books at a low rate, sim (no limits) -> 2
 * collectors -> `arbiters` x `arbitrate --group` on the test broker's raw topic (TOPIC_LAYOUT.raw
 * partitions). Waits until every book is synced somewhere, then reads each instance's metrics:
 * books per owned raw partition (bookwire_arbiter_group_books), synced books, raw records per second.
 */
export async function benchGroupBalance(
  arbiters: number,
  books: number,
  rate: number,
  seconds: number,
  syncWaitS = 180,
  snapshotLimit = 100,
): Promise<GroupBalanceRow> {
  const hooks: (() => Promise<void> | void)[] = [];
  const b = await startTestBroker({ after: (fn) => void hooks.push(fn) });
  const brokers = b.bootstrap.join(',');
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'bookwire-bench-balance-'));
  const procs: ChildProcess[] = [];
  const start = (name: string, args: string[]) => procs.push(spawnPart(logDir, name, args));
  const killAll = () => procs.forEach((p) => p.exitCode === null && p.kill('SIGKILL'));
  process.once('exit', killAll);
  const symbols = binanceLikeSymbols(books).join(',');
  const simPort = await freePort();
  start('sim', [
    'sim',
    '--port',
    String(simPort),
    '--symbols',
    symbols,
    '--rate',
    String(rate),
    '--levels',
    '20',
    // the venue's limits per IP, as in production: each collector is its own IP with its own weight
  ]);
  await waitForSim(`http://127.0.0.1:${simPort}`, logDir);
  const bus = ['--bus', 'kafka', '--brokers', brokers];
  const metricsUrls: string[] = [];
  for (let i = 0; i < arbiters; i++) {
    const port = await freePort();
    metricsUrls.push(`http://127.0.0.1:${port}/metrics`);
    start(`arbiter-${i}`, [
      'arbitrate',
      '--symbols',
      symbols,
      '--group',
      'balance',
      '--id',
      `a${i}`,
      '--metrics',
      String(port),
      ...bus,
    ]);
  }
  for (const [i, id] of ['a', 'b'].entries())
    start(`collector-${id}`, [
      ...collectArgs(id, symbols, simPort),
      '--local-address',
      `127.0.0.${i + 2}`,
      '--snapshot-limit',
      String(snapshotLimit),
      ...bus,
    ]);

  const scrape = async () =>
    Promise.all(
      metricsUrls.map(async (u) => {
        try {
          return await (await fetch(u)).text();
        } catch {
          return '';
        }
      }),
    );
  const synced = (text: string) =>
    metricSamples(text, 'bookwire_arbiter_books').find((x) => x.labels.includes('state="synced"'))?.value ?? 0;
  const t0 = Date.now();
  let allSyncedS = NaN;
  const syncedOverTime: [number, number][] = [];
  while (Date.now() - t0 < syncWaitS * 1000) {
    const n = (await scrape()).reduce((a, t) => a + synced(t), 0);
    syncedOverTime.push([(Date.now() - t0) / 1000, n]);
    if (n >= books) {
      allSyncedS = (Date.now() - t0) / 1000;
      break;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  const simGet = async (p: string): Promise<unknown> => {
    try {
      return await (await fetch(`http://127.0.0.1:${simPort}${p}`)).json();
    } catch {
      return undefined;
    }
  };
  const simStats = ((await simGet('/sim/stats')) ?? {}) as { restRequests?: number; snapshotsServed?: number };
  const ips = Object.values(
    (((await simGet('/sim/limits')) ?? {}) as { binance?: Record<string, { status429: number }> }).binance ?? {},
  );
  const linesIn = (files: string[], text: string) =>
    files.reduce((a, f) => {
      try {
        return a + readFileSync(path.join(logDir, f), 'utf8').split(text).length - 1;
      } catch {
        return a;
      }
    }, 0);
  const restFailures = linesIn(['collector-a.log', 'collector-b.log'], 'REST request failed');
  const partitionsGivenUp = linesIn(
    Array.from({ length: arbiters }, (_, i) => `arbiter-${i}.log`),
    'raw partition given up',
  );
  const received = (text: string) => metricSamples(text, 'bookwire_arbiter_messages_received_total')[0]?.value ?? 0;
  const before = (await scrape()).map(received);
  const w0 = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const after = await scrape();
  const elapsed = (Date.now() - w0) / 1000;
  const instances = after.map((text, i) => {
    const partitions: Record<number, number> = {};
    for (const x of metricSamples(text, 'bookwire_arbiter_group_books'))
      partitions[Number(/partition="(\d+)"/.exec(x.labels)?.[1])] = x.value;
    return {
      id: `a${i}`,
      partitions,
      books: Object.values(partitions).reduce((a, v) => a + v, 0),
      synced: synced(text),
      eventsPerSec: (received(text) - before[i]) / elapsed,
      updatesPerSec: metricSamples(text, 'bookwire_book_updates_per_second').reduce((a, x) => a + x.value, 0),
    };
  });
  killAll();
  for (const h of hooks.reverse()) await h();
  return {
    books,
    arbiters,
    rawPartitions: TOPIC_LAYOUT.raw,
    rate,
    allSyncedS,
    syncedOverTime,
    snapshotLimit,
    restRequests: simStats.restRequests ?? NaN,
    snapshotsServed: simStats.snapshotsServed ?? NaN,
    rest429: ips.reduce((a, u) => a + u.status429, 0),
    restFailures,
    partitionsGivenUp,
    logDir,
    seconds: elapsed,
    instances,
  };
}

export function formatGroupBalance(r: GroupBalanceRow): string {
  const mean = r.books / r.arbiters;
  const maxBooks = Math.max(...r.instances.map((x) => x.books));
  const head =
    `arbiter group of ${r.arbiters}, ${r.books} books, ${r.rawPartitions} raw partitions, sim ${r.rate} event/s per book, 2 collectors: ` +
    `all synced after ${Number.isNaN(r.allSyncedS) ? 'NOT within the wait' : `${r.allSyncedS.toFixed(0)} s`}; ` +
    `max/mean books per instance ${(maxBooks / mean).toFixed(3)}`;
  const rows = r.instances.map(
    (x) =>
      `  ${x.id}: ${x.books} books (${x.synced} synced) in raw partitions ${Object.entries(x.partitions)
        .map(([p, n]) => `${p}:${n}`)
        .join(
          ' ',
        )}; ${Math.round(x.eventsPerSec)} ingest records/s received over ${r.seconds.toFixed(0)} s, ${Math.round(x.updatesPerSec)} consolidated updates/s`,
  );
  // books synced every 10 s of the wait (the last sample at or before each mark), then the last sample
  const marks: string[] = [];
  const samples = r.syncedOverTime;
  for (let m = 10, i = -1; samples.length > 0 && m < samples[samples.length - 1][0]; m += 10) {
    while (i + 1 < samples.length && samples[i + 1][0] <= m) i++;
    marks.push(`${m} s ${i < 0 ? 0 : samples[i][1]}`);
  }
  if (samples.length > 0) {
    const [t, n] = samples[samples.length - 1];
    marks.push(`${t.toFixed(0)} s ${n}`);
  }
  const cold =
    `  cold start (snapshot limit ${r.snapshotLimit}): books synced ${marks.join(', ')}; ` +
    `REST requests ${r.restRequests}, snapshots served ${r.snapshotsServed} (${(r.snapshotsServed / r.books).toFixed(2)} per book), ` +
    `429s ${r.rest429}, REST failures logged ${r.restFailures}, raw partitions given up ${r.partitionsGivenUp}; logs in ${r.logDir}`;
  return [head, ...rows, cold].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv[2] === '--balance')
    console.log(
      formatGroupBalance(
        await benchGroupBalance(
          Number(process.argv[3] ?? 2),
          Number(process.argv[4] ?? 2000),
          Number(process.argv[5] ?? 1),
          Number(process.argv[6] ?? 20),
          Number(process.argv[7] ?? 180),
          Number(process.argv[8] ?? 100),
        ),
      ),
    );
  else if (process.argv[2] === '--ingest')
    console.log(
      formatGroupIngest(await benchGroupIngest(Number(process.argv[3] ?? 10_000), Number(process.argv[4] ?? 5))),
    );
  else
    console.log(
      formatGroupPipeline(
        await benchGroupPipeline(
          Number(process.argv[2] ?? 5000),
          Number(process.argv[3] ?? 10),
          Number(process.argv[4] ?? 1),
        ),
      ),
    );
}
