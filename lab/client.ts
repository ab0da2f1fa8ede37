/**
 * The lab's client and scenario driver (lab/regions.sh runs it in the strategy namespace). It follows the
 * consolidated book through the SDK, listening to both arbiters, taps each arbiter's stream to see which one
 * delivered, makes the faults and checks the book against the simulator's truth (over the control link).
 *
 *   node dist/lab/client.js sim-yaml              the simulator's per-region fault profiles (bench/regions.ts)
 *   node dist/lab/client.js faults                the fault scenarios; exit 1 unless every one ends right
 *   node dist/lab/client.js measure <label> <s>   latency per region, consolidated, client; CPU per process
 * Everything else comes from BW_LAB (JSON, written by lab/regions.sh; see LabConf).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { subscribe, type BookUpdate } from '../src/client/subscribe.js';
import { nowMicros } from '../src/core/clock.js';
import type { ConsolidatedDelta } from '../src/core/consolidated.js';
import { loadCurveSettings } from '../src/transport/keys.js';
import { ZmqTransport } from '../src/transport/zeromq.js';
import { decodeBookMessage } from '../src/wire/messages.js';
import { coveredAt, pct } from '../bench/e2e.js';
import { REGIONS } from '../bench/regions.js';

interface LabConf {
  prefix: string;
  sim: string;
  arbiters: { id: string; publish: string; snapshot: string }[];
  curve?: { keyFile: string; serverKey: string };
  /** process name -> pid, for CPU figures and the arbiter's arrival log */
  pids: Record<string, number>;
  logs: string;
  /** how long faults (b)-(d) last, s; (a) is the issue's 10 s cut */
  faultS: number;
}

const SYMBOL = 'BTCUSDT';
const TOPIC = `book.binance.${SYMBOL}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ms = (us: number) => (us / 1000).toFixed(2);

/** What the client saw through the SDK. */
class Follower {
  updates = 0;
  gaps = 0;
  resyncs = 0;
  staleNotices = 0;
  staleUs = 0;
  dups = 0;
  seq = -1;
  last: BookUpdate | undefined;
  staleFrom: number | undefined;
  /** consolidated seq -> when the client got it (µs) */
  readonly arrivals = new Map<number, number>();
  readonly done: Promise<void>;

  constructor(transport: ZmqTransport, signal: AbortSignal) {
    this.done = (async () => {
      for await (const u of subscribe({ symbol: SYMBOL, transport, signal })) this.on(u);
    })();
  }

  private on(u: BookUpdate): void {
    this.updates++;
    this.last = u;
    this.gaps = u.gaps;
    if (u.kind === 'stale') this.staleNotices++;
    if (u.stale) this.staleFrom ??= u.receivedAt;
    else if (this.staleFrom !== undefined) {
      this.staleUs += u.receivedAt - this.staleFrom;
      this.staleFrom = undefined;
    }
    if (u.kind === 'snapshot' && this.seq >= 0) this.resyncs++;
    if (u.kind === 'delta') {
      const m = u.message as ConsolidatedDelta;
      if (m.seq <= this.seq) this.dups++;
      this.arrivals.set(m.seq, u.receivedAt);
    }
    this.seq = u.seq;
  }

  counts() {
    const { updates, gaps, resyncs, staleNotices, staleUs, dups } = this;
    return { updates, gaps, resyncs, staleNotices, staleUs, dups };
  }
}

/** One arbiter's own stream, read directly: did it deliver, and did it say it was stale. */
class Tap {
  deltas = 0;
  seq = -1;
  staleBeats = 0;
  readonly pubAt = new Map<number, number>();
  constructor(
    readonly id: string,
    transport: ZmqTransport,
  ) {
    void (async () => {
      for await (const m of await transport.subscriber('book', [TOPIC])) {
        const msg = decodeBookMessage(m.payload);
        if (msg.type === 'delta') {
          this.deltas++;
          this.seq = msg.seq;
          this.pubAt.set(msg.seq, msg.pubTime);
        } else if (msg.type === 'heartbeat' && msg.stale) this.staleBeats++;
      }
    })().catch(() => undefined);
  }
}

const conf = JSON.parse(process.env.BW_LAB ?? '{}') as LabConf;
const curve = conf.curve && loadCurveSettings(conf.curve);
const transport = (eps: { publish: string[]; snapshot: string[] }) => new ZmqTransport(eps, { curve });
const sim = async (p: string, post = false) => {
  const r = await fetch(conf.sim + p, post ? { method: 'POST' } : {});
  if (!r.ok) throw new Error(`simulator ${p}: ${r.status}`);
  return r.json() as Promise<unknown>;
};
const setFaults = (profile: string, f: object) =>
  fetch(`${conf.sim}/sim/faults?profile=${profile}`, { method: 'POST', body: JSON.stringify(f) });
/**
 * Links are cut by a shell started once: forking `ip` from this process each time stalled the client's
 * event loop (a 335 ms worst case at the partition's start, while arb-1 published on time).
 */
let shell: ChildProcess | undefined;
/** `ip link set <dev> up|down` inside the lab's namespaces, all at once: real cuts. */
const links = (devs: [ns: string, dev: string][], up: boolean) => {
  shell ??= spawn('bash', [], { stdio: ['pipe', 'ignore', 'inherit'] });
  const cmd = (ns: string, dev: string) =>
    `ip netns exec ${conf.prefix}-${ns} ip link set ${conf.prefix}${dev} ${up ? 'up' : 'down'} &`;
  shell.stdin!.write(`${devs.map(([ns, dev]) => cmd(ns, dev)).join(' ')} wait\n`);
};

function start() {
  const ac = new AbortController();
  const all = transport({
    publish: conf.arbiters.map((a) => a.publish),
    snapshot: conf.arbiters.map((a) => a.snapshot),
  });
  const follower = new Follower(all, ac.signal);
  const tapTransports = conf.arbiters.map((a) => transport({ publish: [a.publish], snapshot: [a.snapshot] }));
  const taps = conf.arbiters.map((a, i) => new Tap(a.id, tapTransports[i]));
  const stop = async () => {
    ac.abort();
    await follower.done.catch(() => undefined);
    for (const t of [all, ...tapTransports]) await t.close();
  };
  return { follower, taps, stop };
}

/** Until the client follows the book (every part up, collectors connected), then 0.5 s more. */
async function synced(f: Follower): Promise<void> {
  for (let i = 0; i < 300 && f.updates < 50; i++) await sleep(100);
  if (f.updates < 50) throw new Error('lab: the client got no book within 30 s (see the logs)');
  await sleep(500);
}

/** Pause the simulator, wait for the client to reach its last event, compare; resume. */
async function checkTruth(f: Follower) {
  await sim('/sim/pause', true);
  const truth = (await sim(`/sim/truth?symbol=${SYMBOL}&depth=50`)) as {
    lastUpdateId: number;
    bids: unknown;
    asks: unknown;
  };
  for (let i = 0; i < 100 && f.seq !== truth.lastUpdateId; i++) await sleep(100);
  const mine = f.last ? JSON.stringify(f.last.book.top(50)) : '';
  const ok = f.seq === truth.lastUpdateId && mine === JSON.stringify({ bids: truth.bids, asks: truth.asks });
  const sent = (await sim(`/sim/send-times?symbol=${SYMBOL}`)) as { u: number[]; t: number[] };
  await sim('/sim/resume', true);
  return { ok, seq: f.seq, truthSeq: truth.lastUpdateId, sent };
}

/** Events the simulator sent in [t0, t1] and the client's delay for each (µs); undelivered ones counted. */
function delivery(sent: { u: number[]; t: number[] }, arrivals: Map<number, number>, t0: number, t1: number) {
  const at = coveredAt(arrivals);
  const lat: number[] = [];
  let events = 0;
  for (let i = 0; i < sent.u.length; i++) {
    if (sent.t[i] < t0 || sent.t[i] > t1) continue;
    events++;
    const a = at(sent.u[i]);
    if (a !== undefined) lat.push(a - sent.t[i]);
  }
  return { events, delivered: lat.length, ...pct(lat) };
}

/** The client's worst delay for an event sent in [t0, t1], and when it was sent (s after t0). */
function worst(sent: { u: number[]; t: number[] }, arrivals: Map<number, number>, t0: number, t1: number) {
  const at = coveredAt(arrivals);
  let w = { max: 0, at: 0 };
  for (let i = 0; i < sent.u.length; i++) {
    const a = sent.t[i] >= t0 && sent.t[i] <= t1 ? at(sent.u[i]) : undefined;
    if (a !== undefined && a - sent.t[i] > w.max) w = { max: a - sent.t[i], at: (sent.t[i] - t0) / 1e6 };
  }
  return w;
}

async function faults(): Promise<boolean> {
  const D = conf.faultS * 1000;
  await sim('/sim/resume', true);
  const { follower, taps, stop } = start();
  await synced(follower);
  const scenarios: {
    name: string;
    on: () => unknown;
    off: () => unknown;
    settleMs: number;
    ms?: number;
    waitBackMs?: number;
  }[] = [
    {
      name: "(a) region-2's link to the exchange down 10 s",
      on: () => links([['r2', 'e2']], false),
      off: () => links([['r2', 'e2']], true),
      settleMs: 2000,
      ms: 10_000,
    },
    {
      name: "(b) 200 ms added to region-1's path",
      on: () => setFaults('region-1', { ...REGIONS['region-1'], delayMs: REGIONS['region-1'].delayMs! + 200 }),
      off: () => setFaults('region-1', REGIONS['region-1']),
      settleMs: 1000,
    },
    {
      name: "(c) 5 % loss on region-1's path",
      on: () => setFaults('region-1', { ...REGIONS['region-1'], dropRate: 0.05 }),
      off: () => setFaults('region-1', REGIONS['region-1']),
      settleMs: 2000,
    },
    {
      name: `(d) arbiter arb-2 partitioned from every collector ${conf.faultS} s`,
      on: () =>
        links(
          [1, 2, 3].map((i) => [`r${i}`, `v${i}`]),
          false,
        ),
      off: () =>
        links(
          [1, 2, 3].map((i) => [`r${i}`, `v${i}`]),
          true,
        ),
      settleMs: 2000,
      waitBackMs: 30_000, // TCP's retransmission backoff decides when arb-2 hears the collectors again
    },
  ];
  let allOk = true;
  for (const s of scenarios) {
    const c0 = follower.counts();
    const tap0 = taps.map((t) => ({ deltas: t.deltas, staleBeats: t.staleBeats }));
    const t0 = nowMicros();
    await s.on();
    await sleep((s.ms ?? D) / 2);
    const midTap = taps.map((t) => t.deltas);
    await sleep((s.ms ?? D) / 2);
    const faultTap = taps.map((t, i) => t.deltas - midTap[i]);
    await s.off();
    // how long each arbiter took to deliver again after the fault ended (up to settleMs, then on)
    const tOff = performance.now();
    const offTap = taps.map((t) => t.deltas);
    const back: (number | undefined)[] = taps.map(() => undefined);
    const waiting = () => performance.now() - tOff;
    while (waiting() < s.settleMs || (back.includes(undefined) && waiting() < (s.waitBackMs ?? 0))) {
      await sleep(20);
      taps.forEach((t, i) => (back[i] ??= t.deltas > offTap[i] ? performance.now() - tOff : undefined));
    }
    const t1 = nowMicros();
    const waited = waiting();
    const r = await checkTruth(follower);
    const c1 = follower.counts();
    const d = delivery(r.sent, follower.arrivals, t0, t1);
    const w = worst(r.sent, follower.arrivals, t0, t1);
    const wArb = worst(r.sent, taps[0].pubAt, t0, t1);
    const ok = r.ok && c1.gaps === c0.gaps && c1.dups === 0 && d.delivered === d.events;
    allOk &&= ok;
    const diff = (k: keyof typeof c0) => c1[k] - c0[k];
    console.log(
      `${s.name}: book ${r.ok ? 'EQUALS' : 'DIFFERS from'} the truth at seq ${r.seq} (truth ${r.truthSeq}); ` +
        `events sent ${d.events}, delivered ${d.delivered}, duplicates ${c1.dups}; ` +
        `client saw ${diff('updates')} updates, ${diff('gaps')} gaps, ${diff('resyncs')} resyncs, ` +
        `${diff('staleNotices')} stale notices (stale for ${ms(diff('staleUs'))} ms in all); ` +
        `client latency p50 ${ms(d.p50)} / p99 ${ms(d.p99)} / p99.9 ${ms(d.p999)} ms, worst ${ms(w.max)} ms at +${w.at.toFixed(1)} s (worst at ${taps[0].id}'s publish ${ms(wArb.max)} ms at +${wArb.at.toFixed(1)} s); ` +
        taps
          .map(
            (t, i) =>
              `${t.id}: ${t.deltas - tap0[i].deltas} deltas (${faultTap[i]} in the fault's 2nd half), ${t.staleBeats - tap0[i].staleBeats} stale heartbeats, ` +
              `${back[i] === undefined ? `not delivering ${(waited / 1000).toFixed(1)} s after the fault` : `delivering ${ms(back[i]! * 1000)} ms after the fault`}, ` +
              `at ${t.seq === r.truthSeq ? 'the truth' : `seq ${t.seq}, not the truth,`} when checked`,
          )
          .join('; '),
    );
  }
  await stop();
  shell?.stdin!.end();
  return allOk;
}

/** utime + stime of a process, seconds (/proc: namespaces do not hide pids from root here). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const x = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(x[11]) + Number(x[12])) / 100;
}

async function measure(label: string, seconds: number): Promise<void> {
  await sim('/sim/resume', true);
  const { follower, taps, stop } = start();
  await synced(follower);
  await sleep(2000);
  const names = Object.keys(conf.pids);
  const cpu0 = names.map((n) => cpuSeconds(conf.pids[n]));
  const self0 = process.cpuUsage();
  const t0 = nowMicros();
  await sleep(seconds * 1000);
  const t1 = nowMicros();
  const cpu = Object.fromEntries(names.map((n, i) => [n, (100 * (cpuSeconds(conf.pids[n]) - cpu0[i])) / seconds]));
  const self = process.cpuUsage(self0);
  cpu.client = (self.user + self.system) / 1e4 / seconds;
  const r = await checkTruth(follower);
  await sim('/sim/pause', true);
  await stop();
  // the first arbiter writes each region's arrivals as it stops (src/bench-hooks/arrivals.ts)
  const log = path.join(conf.logs, `arrivals-${label}.json`);
  process.kill(conf.pids['arb-1'], 'SIGTERM');
  for (let i = 0; i < 100 && !existsSync(log); i++) await sleep(100);
  await sleep(300);
  const feeds: Record<string, ReturnType<typeof delivery>> = {};
  for (const [id, flat] of Object.entries(JSON.parse(readFileSync(log, 'utf8')) as Record<string, number[]>).sort()) {
    const m = new Map<number, number>();
    for (let i = 0; i < flat.length; i += 2) if (!m.has(flat[i])) m.set(flat[i], flat[i + 1]);
    feeds[id] = delivery(r.sent, m, t0 + 100_000, t1);
  }
  const atArbiter = delivery(r.sent, taps[0].pubAt, t0 + 100_000, t1);
  const client = delivery(r.sent, follower.arrivals, t0 + 100_000, t1);
  const result = { label, seconds, book: r.ok, gaps: follower.gaps, feeds, atArbiter, client, cpu };
  writeFileSync(path.join(conf.logs, `measure-${label}.json`), JSON.stringify(result));
  console.log(formatMeasure(result));
  const plain = path.join(conf.logs, 'measure-plain.json');
  if (label !== 'plain' && existsSync(plain)) console.log(compare(JSON.parse(readFileSync(plain, 'utf8')), result));
}

type Measured = {
  label: string;
  seconds: number;
  book: boolean;
  gaps: number;
  feeds: Record<string, ReturnType<typeof delivery>>;
  atArbiter: ReturnType<typeof delivery>;
  client: ReturnType<typeof delivery>;
  cpu: Record<string, number>;
};

function formatMeasure(r: Measured): string {
  const row = (name: string, x: ReturnType<typeof delivery>) =>
    `| ${name} | ${ms(x.p50)} | ${ms(x.p99)} | ${ms(x.p999)} | ${x.delivered}/${x.events} |`;
  const best = Math.min(...Object.values(r.feeds).map((f) => f.p99));
  return [
    `${r.label}: ${r.seconds} s window; client book ${r.book ? 'EQUALS' : 'DIFFERS from'} the truth, ${r.gaps} gaps`,
    '| path (simulator send -> ...) | p50 ms | p99 ms | p99.9 ms | events |',
    '| --- | --- | --- | --- | --- |',
    ...Object.entries(r.feeds).map(([id, f]) => row(`${id} alone, at arb-1`, f)),
    row('consolidated, at arb-1', r.atArbiter),
    row('consolidated, client SDK (both arbiters)', r.client),
    `claim "consolidated p99 below every region's p99": ${ms(r.atArbiter.p99)} ms vs best region ${ms(best)} ms: ${r.atArbiter.p99 < best ? 'HOLDS' : 'does NOT hold'}`,
    `CPU % of one core: ${Object.entries(r.cpu)
      .map(([n, c]) => `${n} ${c.toFixed(1)}`)
      .join(', ')}`,
  ].join('\n');
}

function compare(a: Measured, b: Measured): string {
  const sum = (r: Measured) => Object.values(r.cpu).reduce((x, y) => x + y, 0);
  const line = (name: string, x: ReturnType<typeof delivery>, y: ReturnType<typeof delivery>) =>
    `| ${name} | ${ms(x.p50)} / ${ms(x.p99)} | ${ms(y.p50)} / ${ms(y.p99)} |`;
  return [
    `${a.label} vs ${b.label} (p50 / p99 ms):`,
    `| path | ${a.label} | ${b.label} |`,
    '| --- | --- | --- |',
    ...Object.keys(a.feeds).map((id) => line(`${id} at arb-1`, a.feeds[id], b.feeds[id] ?? a.feeds[id])),
    line('consolidated at arb-1', a.atArbiter, b.atArbiter),
    line('client', a.client, b.client),
    `| CPU, all processes (% of one core) | ${sum(a).toFixed(1)} | ${sum(b).toFixed(1)} |`,
    ...Object.keys(a.cpu).map((n) => `| CPU ${n} | ${a.cpu[n].toFixed(1)} | ${(b.cpu[n] ?? NaN).toFixed(1)} |`),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [cmd, label, seconds] = process.argv.slice(2);
  if (cmd === 'sim-yaml') console.log(stringify({ sim: { faults: REGIONS } }));
  else if (cmd === 'faults') process.exitCode = (await faults()) ? 0 : 1;
  else if (cmd === 'measure') await measure(label ?? 'plain', Number(seconds) || 20);
  else {
    console.error('usage: node dist/lab/client.js sim-yaml | faults | measure <label> <seconds>');
    process.exitCode = 2;
  }
}
