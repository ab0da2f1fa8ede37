/**
 * Whole market (issue 13): one arbiter carrying B books at R events/s aggregate on the ZeroMQ bus, against
 * the same arbiter carrying one book at the same rate. Three child processes on loopback (bench/scale-roles.ts),
 * each with its own CPU and memory:
 *   arbiter  an ArbiterService with default options (what `bookwire arbitrate` runs), reporting its own
 *            process.cpuUsage() / memoryUsage() when asked;
 *   load     plays two collectors (identities a, b): a raw snapshot per book from a, then Binance-shaped
 *            deltas (U/u chained per book, a few levels a side, raw text after the head as a collector
 *            sends it), the same events from both like redundant feeds, books in turn;
 *   client   counts consolidated deltas per book and checks the chain (every delta's prev is the last seq,
 *            the last seq is the last generated id, one resync snapshot per book: the initial one).
 * CPU per event = arbiter CPU time over the window / unique events generated in it (each arrives twice).
 *
 *   node dist/bench/scale.js [--seconds N] [--books B] [--rate R] [--coalesce] [--prof DIR]
 *     --seconds  measuring window per run (default 20; the issue asks for 600)
 *     --books    books of the large run (default 2000); the small run has 1
 *     --rate     events/s aggregate in both runs (default 20000)
 *     --coalesce collectors and arbiter batch what they publish in one turn (default: one payload per message)
 *     --prof     the arbiter runs under node --cpu-prof, profiles written to DIR
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from '../src/util/freePort.js';
import { loadLine } from './book.js';
import { DEPTH, type ArbiterSample, type ChildCfg, type ClientSample, type LoadSample } from './scale-roles.js';

export interface ScaleRun {
  books: number;
  coalesce: boolean;
  /** Unique events the arbiter took in over the window, per second. */
  inPerSec: number;
  rate: number;
  seconds: number;
  /** Unique events generated in the window, per second (each sent by both collectors). */
  eventsPerSec: number;
  /** Consolidated deltas the client received in the window, per second. */
  deliveredPerSec: number;
  /**
   * Arbiter CPU (user + system) per unique event it took in (half the messages it received: two copies of
   * each), µs, and as % of one core.
   */
  cpuPerEventUs: number;
  cpuPct: number;
  /** Arbiter RSS / heap at the end of the window, MiB. */
  rssMiB: number;
  heapMiB: number;
  /** RSS samples over the window: minutes since the window opened, MiB. */
  samples: { min: number; rssMiB: number; heapMiB: number }[];
  /** Least-squares slope of the RSS samples, MiB per minute. */
  rssSlope: number;
  /** Time from the first snapshot sent to every book synced at the arbiter, s. */
  syncSeconds: number;
  generated: number;
  delivered: number;
  /** Books whose chain broke, whose last seq is not the last generated id, or that resynced. */
  badBooks: number;
  chainBreaks: number;
  resyncs: number;
  /** Sends the load generator's DEALERs refused (queue full). */
  loadDropped: number;
  /** What the arbiter sent besides deltas over the window, per second: periodic snapshots, their levels, heartbeats, stats. */
  periodicPerSec: number;
  periodicLevelsPerSec: number;
  heartbeatsPerSec: number;
  statsPerSec: number;
  /** Arbiter CPU with every book synced and no event (IDLE_S before the load starts), % of a core. */
  idleCpuPct: number;
  /** Arbiter memory at the end of that idle spell (no queued messages yet): what the books themselves take, MiB. */
  idle: { rssMiB: number; heapMiB: number; externalMiB: number };
  /** Heartbeats/s the client got meanwhile (silent books get one every second). */
  idleHeartbeatsPerSec: number;
  lossless: boolean;
}

/** Seconds the arbiter is measured carrying its synced books with no events. */
const IDLE_S = 5;

// ------------------------------------------------------------------------------------------------------
// Parent: orchestration

/** A forked role of this file, with a request/reply over IPC. */
class Child {
  private seq = 0;
  private readonly waiting = new Map<number, (v: unknown) => void>();
  readonly exited: Promise<void>;
  constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: { id: number; reply: unknown }) => {
      this.waiting.get(m.id)?.(m.reply);
      this.waiting.delete(m.id);
    });
    this.exited = new Promise((r) => proc.once('exit', () => r()));
  }
  ask<T>(cmd: string, arg?: unknown): Promise<T> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, resolve as (v: unknown) => void);
      this.proc.send({ id, cmd, arg });
      void this.exited.then(() => reject(new Error(`${cmd}: the child exited`)));
    });
  }
}

const ROLES = fileURLToPath(new URL('./scale-roles.js', import.meta.url));

function start(role: string, cfg: object, execArgv: string[] = []): Child {
  const p = fork(ROLES, [role, JSON.stringify(cfg)], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Child(p);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One run: B books at R events/s aggregate, `seconds` measured after `warmupS`. */
export async function benchScale(
  books: number,
  rate: number,
  seconds: number,
  o: { warmupS?: number; profDir?: string; coalesce?: boolean; log?: (s: string) => void } = {},
): Promise<ScaleRun> {
  const log = o.log ?? (() => {});
  const ep = async () => `tcp://127.0.0.1:${await freePort()}`;
  const endpoints = { ingest: [await ep()], publish: [await ep()], snapshot: [await ep()] };
  const cfg: ChildCfg = { books, rate, endpoints, coalesce: o.coalesce ?? false };
  const prof = o.profDir ? ['--cpu-prof', '--cpu-prof-dir', o.profDir] : [];
  const arbiter = start('arbiter', cfg, prof);
  const children = [arbiter];
  const killAll = () => children.forEach((c) => c.proc.exitCode === null && c.proc.kill('SIGKILL'));
  process.once('exit', killAll);
  try {
    await arbiter.ask('ready');
    const client = start('client', cfg);
    children.push(client);
    await client.ask('ready');
    const load = start('load', cfg);
    children.push(load);
    await load.ask('ready');
    await sleep(500); // SUB subscriptions and DEALER connections up: nothing sent before is lost

    const t0 = performance.now();
    await load.ask('snapshots');
    for (;;) {
      const s = await arbiter.ask<ArbiterSample>('sample');
      if (s.synced === books) break;
      if (performance.now() - t0 > 120_000) throw new Error(`only ${s.synced} of ${books} books synced after 120 s`);
      await sleep(100);
    }
    const syncSeconds = (performance.now() - t0) / 1000;
    log(`  ${books} book(s) synced in ${syncSeconds.toFixed(1)} s; warm-up ${o.warmupS ?? 5} s`);
    // the cost of carrying the books with no events: timers, stats, periodic snapshots, heartbeats
    await sleep(1000);
    const i0 = await arbiter.ask<ArbiterSample>('sample');
    const c0i = await client.ask<ClientSample>('sample');
    const i0t = performance.now();
    await sleep(IDLE_S * 1000);
    const i1 = await arbiter.ask<ArbiterSample>('sample');
    const c1i = await client.ask<ClientSample>('sample');
    const idleS = (performance.now() - i0t) / 1000;
    const idleCpuPct = (i1.cpuUs - i0.cpuUs) / 1e4 / idleS;
    const idleHeartbeatsPerSec = (c1i.heartbeats - c0i.heartbeats) / idleS;
    await load.ask('run');
    await sleep((o.warmupS ?? 5) * 1000);

    const a0 = await arbiter.ask<ArbiterSample>('sample');
    const l0 = await load.ask<LoadSample>('sample');
    const c0 = await client.ask<ClientSample>('sample');
    const w0 = performance.now();
    const samples: ScaleRun['samples'] = [{ min: 0, rssMiB: a0.rss, heapMiB: a0.heap }];
    const every = Math.max(1, Math.min(30, seconds / 10)) * 1000;
    let a1 = a0;
    for (let t = every; ; t += every) {
      await sleep(Math.max(0, w0 + Math.min(t, seconds * 1000) - performance.now()));
      a1 = await arbiter.ask<ArbiterSample>('sample');
      const min = (performance.now() - w0) / 60_000;
      samples.push({ min, rssMiB: a1.rss, heapMiB: a1.heap });
      if (seconds > 60) log(`  t=${min.toFixed(1)} min rss ${a1.rss.toFixed(1)} MiB heap ${a1.heap.toFixed(1)} MiB`);
      if (t >= seconds * 1000) break;
    }
    const l1 = await load.ask<LoadSample>('sample');
    const c1 = await client.ask<ClientSample>('sample');
    const el = (performance.now() - w0) / 1000;

    const fin = await load.ask<{ lastIds: number[]; snapIds: number[]; dropped: number }>('stop');
    // the tail reaches the client: until every book is at its last id, or nothing more arrived for 3 s
    type Seen = { last: number[]; firstPrev: number[]; breaks: number[]; resyncSnaps: number[] };
    let seen = await client.ask<Seen>('report');
    for (let quiet = 0, n = -1; quiet < 6 && seen.last.some((x, i) => x !== fin.lastIds[i]);) {
      await sleep(500);
      const d = (await client.ask<ClientSample>('sample')).delivered;
      quiet = d === n ? quiet + 1 : 0;
      n = d;
      seen = await client.ask<Seen>('report');
    }
    let badBooks = 0;
    let chainBreaks = 0;
    let resyncs = 0;
    for (let i = 0; i < books; i++) {
      chainBreaks += seen.breaks[i];
      resyncs += Math.max(0, seen.resyncSnaps[i] - 1);
      if (
        seen.breaks[i] !== 0 ||
        seen.last[i] !== fin.lastIds[i] ||
        seen.firstPrev[i] !== fin.snapIds[i] ||
        seen.resyncSnaps[i] !== 1
      )
        badBooks++;
    }
    const generated = l1.generated - l0.generated;
    const delivered = c1.delivered - c0.delivered;
    const slope = lsSlope(samples.map((s) => [s.min, s.rssMiB]));
    const cpu = a1.cpuUs - a0.cpuUs;
    const aEnd = await arbiter.ask<ArbiterSample>('sample');
    return {
      books,
      coalesce: cfg.coalesce,
      inPerSec: (a1.received - a0.received) / 2 / el,
      rate,
      seconds: el,
      eventsPerSec: generated / el,
      deliveredPerSec: delivered / el,
      cpuPerEventUs: cpu / ((a1.received - a0.received) / 2),
      cpuPct: cpu / 1e4 / el,
      rssMiB: a1.rss,
      heapMiB: a1.heap,
      samples,
      rssSlope: slope,
      syncSeconds,
      generated,
      delivered,
      badBooks,
      chainBreaks,
      resyncs: Math.max(resyncs, aEnd.resyncs),
      loadDropped: fin.dropped,
      periodicPerSec: (c1.periodic - c0.periodic) / el,
      periodicLevelsPerSec: (c1.periodicLevels - c0.periodicLevels) / el,
      heartbeatsPerSec: (c1.heartbeats - c0.heartbeats) / el,
      statsPerSec: (c1.stats - c0.stats) / el,
      idleCpuPct,
      idle: { rssMiB: i1.rss, heapMiB: i1.heap, externalMiB: i1.external },
      idleHeartbeatsPerSec,
      lossless: badBooks === 0 && fin.dropped === 0 && aEnd.resyncs === 0,
    };
  } finally {
    for (const c of children) if (c.proc.exitCode === null) c.proc.send({ id: 0, cmd: 'exit' });
    const t = setTimeout(killAll, 10_000);
    await Promise.all(children.map((c) => c.exited));
    clearTimeout(t);
    process.removeListener('exit', killAll);
  }
}

/** Least-squares slope of y over x. */
function lsSlope(pts: [number, number][]): number {
  const n = pts.length;
  if (n < 2) return NaN;
  const mx = pts.reduce((s, p) => s + p[0], 0) / n;
  const my = pts.reduce((s, p) => s + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of pts) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den > 0 ? num / den : NaN;
}

/** Both runs: one book, then `books`, at the same aggregate rate. */
export async function benchScalePair(
  o: {
    books?: number;
    rate?: number;
    seconds?: number;
    profDir?: string;
    coalesce?: boolean;
    log?: (s: string) => void;
  } = {},
): Promise<[ScaleRun, ScaleRun]> {
  const rate = o.rate ?? 20_000;
  const seconds = o.seconds ?? 20;
  // the one-book run is the reference figure: a minute of it is enough for a ten-minute large run
  const one = await benchScale(1, rate, Math.min(seconds, 60), o);
  const many = await benchScale(o.books ?? 2000, rate, seconds, o);
  return [one, many];
}

export function formatScale([one, many]: [ScaleRun, ScaleRun]): string {
  const f1 = (x: number) => x.toFixed(1);
  const row = (label: string, g: (r: ScaleRun) => string) =>
    `${label.padEnd(40)} ${g(one).padStart(16)} ${g(many).padStart(16)}`;
  const ratio = many.cpuPerEventUs / one.cpuPerEventUs;
  const perBook = (g: (r: ScaleRun) => number) => (((g(many) - g(one)) * 1024) / (many.books - one.books)).toFixed(1);
  const mem = (r: ScaleRun) => `${f1(r.samples[0].rssMiB)} -> ${f1(r.samples[r.samples.length - 1].rssMiB)}`;
  return [
    `events: Binance-shaped deltas, ${DEPTH}-level snapshots a side, 2 collectors sending every event (the arbiter drops one copy); arbiter defaults; ${one.coalesce ? 'batched (--coalesce)' : 'one payload per message'}`,
    row('', (r) => `${r.books} book${r.books === 1 ? '' : 's'}`),
    row('asked events/s (aggregate)', (r) => String(r.rate)),
    row('events/s generated / delivered', (r) => `${Math.round(r.eventsPerSec)} / ${Math.round(r.deliveredPerSec)}`),
    row('events/s into the arbiter (2 copies each)', (r) => String(Math.round(r.inPerSec))),
    row('window s', (r) => f1(r.seconds)),
    row('cold sync of every book s', (r) => f1(r.syncSeconds)),
    row('arbiter CPU % of a core', (r) => f1(r.cpuPct)),
    row('arbiter CPU % idle, books synced, no events', (r) => f1(r.idleCpuPct)),
    row('  heartbeats/s meanwhile', (r) => f1(r.idleHeartbeatsPerSec)),
    row(
      '  RSS / heap / buffers MiB meanwhile',
      (r) => `${f1(r.idle.rssMiB)} / ${f1(r.idle.heapMiB)} / ${f1(r.idle.externalMiB)}`,
    ),
    row('arbiter CPU µs per event', (r) => r.cpuPerEventUs.toFixed(2)),
    row('arbiter RSS / heap MiB (end)', (r) => `${f1(r.rssMiB)} / ${f1(r.heapMiB)}`),
    row('RSS first -> last sample MiB', mem),
    row('RSS slope MiB/min', (r) => r.rssSlope.toFixed(2)),
    row('periodic snapshots/s (levels/s)', (r) => `${f1(r.periodicPerSec)} (${Math.round(r.periodicLevelsPerSec)})`),
    row('heartbeats/s, stats msgs/s', (r) => `${f1(r.heartbeatsPerSec)}, ${f1(r.statsPerSec)}`),
    row(
      'lossless (bad books, breaks, resyncs, drops)',
      (r) => `${r.lossless ? 'yes' : 'NO'} (${r.badBooks},${r.chainBreaks},${r.resyncs},${r.loadDropped})`,
    ),
    `CPU per event ${many.books} books / 1 book: ${ratio.toFixed(2)}x (target <= 1.5x); ` +
      `memory per book ((${many.books}-book - 1-book) / ${many.books - 1}), KiB: idle RSS ${perBook((r) => r.idle.rssMiB)}, ` +
      `heap ${perBook((r) => r.idle.heapMiB)}, buffers ${perBook((r) => r.idle.externalMiB)}; end of window RSS ${perBook((r) => r.rssMiB)}`,
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const num = (name: string) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : undefined);
  console.log(loadLine());
  const r = await benchScalePair({
    books: num('--books'),
    rate: num('--rate'),
    seconds: num('--seconds'),
    coalesce: args.includes('--coalesce'),
    profDir: args.includes('--prof') ? args[args.indexOf('--prof') + 1] : undefined,
    log: (s) => console.log(s),
  });
  console.log(formatScale(r));
  console.log(loadLine());
}
