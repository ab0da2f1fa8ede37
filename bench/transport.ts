/**
 * Transport throughput and one-way latency: 1 publisher -> 1 subscriber, ~300-byte payloads.
 *
 *   node dist/bench/transport.js [messages]       default 100000; add --json for machine-readable output
 *
 * Rows:
 *   zeromq-tcp          PUB (main thread) -> SUB in a worker thread over tcp loopback (the worker stands in
 *                       for a separate process; both share one clock, so one-way latency is exact)
 *   zeromq-tcp batched  the same with batching opted in (coalesce: [batch.<topic>, p1, p2, ...]); the rows
 *                       above send exactly [topic, payload], the default (docs/wire-format.md, "Framing")
 *   zeromq-tcp+proxy    the same through an XSUB/XPUB proxy running in its own worker, native (libzmq
 *                       zmq_proxy thread) and loop (JavaScript forwarding) modes
 *   inproc              InprocBus, publisher and subscriber on one thread (they must share it)
 * Phases:
 *   blast   send everything as fast as possible (in chunks of 1000, yielding between chunks); msgs/s is
 *           received / (last receive - first send); latency there includes queueing behind the burst
 *   paced   10000 msgs/s for a tenth of the messages: latency of an unloaded bus
 * Each payload carries its send time (nowMicros) and a sequence number; receive time minus send time is
 * the one-way latency.
 */
import { pathToFileURL, fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { nowMicros } from '../src/core/clock.js';
import { silentLogger } from '../src/log.js';
import { InprocBus, InprocTransport } from '../src/transport/inproc.js';
import { startProxy } from '../src/transport/proxy.js';
import type { BusPublisher, BusSubscriber, Transport } from '../src/transport/types.js';
import { ZmqTransport } from '../src/transport/zeromq.js';

const PAYLOAD_BYTES = 300;
const TOPIC = 'bench.binance.BTCUSDT';
const PACED_RATE = 10_000;
const CHUNK = 1000;
const ANY = 'tcp://127.0.0.1:*';

export interface TransportBenchRow {
  transport: string;
  phase: 'blast' | 'paced';
  sent: number;
  received: number;
  /** Publisher-side rate: messages handed to the bus per second. */
  sendPerSec: number;
  /** End-to-end rate: received / (last receive - first send). */
  msgsPerSec: number;
  p50us: number;
  p99us: number;
  maxUs: number;
}

interface SubResult {
  received: number;
  lastRecv: number;
  latencies: Float64Array;
}

const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

function payload(seq: number): Buffer {
  // A fresh buffer each time: zeromq sends buffers > 128 bytes zero-copy, so a reused one could be
  // overwritten while queued. This is also what real publishers do (encode() allocates).
  const b = Buffer.allocUnsafe(PAYLOAD_BYTES);
  b.fill(0x61, 12);
  b.writeDoubleLE(nowMicros(), 0);
  b.writeUInt32LE(seq, 8);
  return b;
}

/** Consume `expected` non-probe messages (or stop after 2 s of silence: drops), recording latencies. */
async function consume(sub: BusSubscriber, expected: number): Promise<SubResult> {
  const latencies = new Float64Array(expected);
  let received = 0;
  let lastRecv = 0;
  let lastActivity = Date.now();
  // One watchdog instead of a timer per message: closing the subscriber ends the loop.
  const watchdog = setInterval(() => {
    if (Date.now() - lastActivity > 2000) void sub.close();
  }, 200);
  try {
    for await (const m of sub) {
      if (m.payload.length !== PAYLOAD_BYTES) continue; // probe
      lastRecv = nowMicros();
      lastActivity = Date.now();
      latencies[received++] = lastRecv - m.payload.readDoubleLE(0);
      if (received === expected) break;
    }
  } finally {
    clearInterval(watchdog);
  }
  return { received, lastRecv, latencies: latencies.subarray(0, received) };
}

/** Send n payloads; blast in chunks, or paced at PACED_RATE. Returns [firstSend, lastSend] in µs. */
async function produce(pub: BusPublisher, n: number, phase: 'blast' | 'paced'): Promise<[number, number]> {
  const first = nowMicros();
  if (phase === 'blast') {
    for (let i = 0; i < n; i++) {
      pub.send(TOPIC, payload(i));
      if (i % CHUNK === CHUNK - 1) await yieldToLoop();
    }
  } else {
    const interval = 1e6 / PACED_RATE;
    for (let i = 0; i < n; i++) {
      while (nowMicros() < first + i * interval) await yieldToLoop();
      pub.send(TOPIC, payload(i));
    }
  }
  await pub.flush();
  return [first, nowMicros()];
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))];
}

function row(
  transport: string,
  phase: 'blast' | 'paced',
  sent: number,
  [first, last]: [number, number],
  r: SubResult,
): TransportBenchRow {
  const sorted = Float64Array.from(r.latencies).sort();
  const round = (x: number) => Math.round(x);
  return {
    transport,
    phase,
    sent,
    received: r.received,
    sendPerSec: round(sent / ((last - first) / 1e6)),
    msgsPerSec: round(r.received / ((r.lastRecv - first) / 1e6)),
    p50us: round(percentile(sorted, 0.5)),
    p99us: round(percentile(sorted, 0.99)),
    maxUs: round(sorted[sorted.length - 1] ?? NaN),
  };
}

// ---- worker roles ------------------------------------------------------------------------------------

type WorkerJob =
  { role: 'subscriber'; endpoint: string; expected: number } | { role: 'proxy'; mode: 'native' | 'loop' };

async function workerMain(job: WorkerJob): Promise<void> {
  const port = parentPort!;
  if (job.role === 'proxy') {
    const proxy = await startProxy({ frontend: ANY, backend: ANY, mode: job.mode });
    port.postMessage({ frontend: proxy.frontend, backend: proxy.backend });
    port.once('message', () => void proxy.close().then(() => port.postMessage('closed')));
    return;
  }
  const t = new ZmqTransport({ publish: [job.endpoint] }, { logger: silentLogger });
  const sub = await t.subscriber('book', ['bench.']);
  const it = sub[Symbol.asyncIterator]();
  await it.next(); // first probe: connected and subscribed
  port.postMessage('ready');
  const r = await consume(sub, job.expected);
  await t.close();
  port.postMessage(r, [r.latencies.buffer as ArrayBuffer]);
}

function startWorker(job: WorkerJob): Worker {
  return new Worker(fileURLToPath(import.meta.url), { workerData: job });
}

async function zmqRun(
  name: string,
  phase: 'blast' | 'paced',
  n: number,
  proxyMode?: 'native' | 'loop',
  coalesce = false,
): Promise<TransportBenchRow> {
  let proxyWorker: Worker | undefined;
  let pubEndpoints = { publish: [ANY] } as { publish: string[] };
  let subEndpoint: string | undefined;
  if (proxyMode) {
    proxyWorker = startWorker({ role: 'proxy', mode: proxyMode });
    const eps = await new Promise<{ frontend: string; backend: string }>((r) => proxyWorker!.once('message', r));
    subEndpoint = eps.backend;
    pubEndpoints = { publish: [eps.frontend] };
  }
  // Through a proxy the publisher connects (ingest-style); otherwise it binds (book-style).
  const pubT: Transport = proxyMode
    ? new ZmqTransport({ ingest: pubEndpoints.publish }, { logger: silentLogger, coalesce })
    : new ZmqTransport(pubEndpoints, { logger: silentLogger, coalesce });
  const pub = await pubT.publisher(proxyMode ? 'ingest' : 'book');
  subEndpoint ??= (pub as { endpoint?: string }).endpoint!;
  const sub = startWorker({ role: 'subscriber', endpoint: subEndpoint, expected: n });
  let ready = false;
  const done = new Promise<SubResult>((resolve, reject) => {
    sub.on('message', (m) => (m === 'ready' ? (ready = true) : resolve(m as SubResult)));
    sub.once('error', reject);
  });
  while (!ready) {
    pub.send(`${TOPIC}.probe`, 'p');
    await new Promise((r) => setTimeout(r, 10));
  }
  const times = await produce(pub, n, phase);
  const r = await done;
  await pubT.close();
  await sub.terminate();
  if (proxyWorker) {
    proxyWorker.postMessage('close');
    await new Promise((r) => proxyWorker!.once('message', r));
    await proxyWorker.terminate();
  }
  return row(name, phase, n, times, r);
}

async function inprocRun(phase: 'blast' | 'paced', n: number): Promise<TransportBenchRow> {
  const bus = new InprocBus();
  const a = new InprocTransport(bus);
  const b = new InprocTransport(bus);
  const sub = await b.subscriber('book', ['bench.'], { highWaterMark: 0 });
  const pub = await a.publisher('book');
  const consumed = consume(sub, n);
  const times = await produce(pub, n, phase);
  const r = await consumed;
  await a.close();
  await b.close();
  return row('inproc', phase, n, times, r);
}

export async function benchTransport(
  opts: { messages?: number } = {},
): Promise<{ messages: number; payloadBytes: number; rows: TransportBenchRow[] }> {
  const n = opts.messages ?? 100_000;
  const paced = Math.max(1000, Math.floor(n / 10));
  const rows: TransportBenchRow[] = [];
  rows.push(await zmqRun('zeromq-tcp', 'blast', n));
  rows.push(await zmqRun('zeromq-tcp', 'paced', paced));
  rows.push(await zmqRun('zeromq-tcp batched', 'blast', n, undefined, true));
  rows.push(await zmqRun('zeromq-tcp batched', 'paced', paced, undefined, true));
  rows.push(await zmqRun('zeromq-tcp+proxy(native)', 'blast', n, 'native'));
  rows.push(await zmqRun('zeromq-tcp+proxy(loop)', 'blast', n, 'loop'));
  rows.push(await inprocRun('blast', n));
  rows.push(await inprocRun('paced', paced));
  return { messages: n, payloadBytes: PAYLOAD_BYTES, rows };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 100_000);
  const result = await benchTransport({ messages: n });
  if (args.includes('--json')) console.log(JSON.stringify(result));
  else {
    console.log(
      `transport bench: ${result.messages} messages of ${result.payloadBytes} bytes, 1 publisher -> 1 subscriber`,
    );
    console.table(result.rows);
  }
}

if (!isMainThread && (workerData as WorkerJob | undefined)?.role) {
  void workerMain(workerData as WorkerJob);
} else if (isMainThread && process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
