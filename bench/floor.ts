/**
 * The floor under the end-to-end figures: one bare hop between two processes on loopback at the same
 * message rate, with no bookwire code on the path -- over zeromq.js (PUB -> SUB, as the pipeline's hops),
 * and over a plain Node TCP socket for comparison (what the zeromq.js hop adds: docs/performance.md,
 * "Why a ZeroMQ hop has a 1 ms tail here").
 * `node dist/bench/floor.js [rate] [kinds: zeromq,ingest,curve,tcp]` (curve: the ingest hop with CURVE)
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'hdr-histogram-js';
import { nowMicros } from '../src/core/clock.js';
import { ZmqTransport } from '../src/transport/zeromq.js';
import { generateKeyPair, type CurveKeyPair } from '../src/transport/keys.js';
import { freePort } from './pipeline.js';

const PAD = 'x'.repeat(300);
/** zeromq: a book hop (PUB binds -> SUB connects); ingest: a collector's hop (connects -> the arbiter's bound ingest). */
export type FloorKind = 'zeromq' | 'ingest' | 'curve' | 'tcp';

/** The `curve` kind: an ingest hop with CURVE on (keys made once here, handed to the publisher process). */
const CURVE_KEYS = process.env.BOOKWIRE_FLOOR_KEYS
  ? (JSON.parse(process.env.BOOKWIRE_FLOOR_KEYS) as { server: CurveKeyPair; client: CurveKeyPair })
  : { server: await generateKeyPair(), client: await generateKeyPair() };
const serverCurve = { keyPair: CURVE_KEYS.server, allow: new Map([[CURVE_KEYS.client.publicKey, 'floor']]) };
const clientCurve = { keyPair: CURVE_KEYS.client, serverKey: CURVE_KEYS.server.publicKey, allow: new Map() };
const isIngest = (k: FloorKind) => k === 'ingest' || k === 'curve';

/** Sends `rate` messages/s (each "<send time µs> <300 bytes>") for `seconds`, in 1 ms timer ticks, then "end". */
async function publish(kind: FloorKind, endpoint: string, rate: number, seconds: number): Promise<void> {
  let send: (s: string) => void;
  let close: () => Promise<void>;
  if (kind !== 'tcp') {
    const t = new ZmqTransport(isIngest(kind) ? { ingest: [endpoint] } : { publish: [endpoint] }, {
      curve: kind === 'curve' ? clientCurve : undefined,
    });
    const pub = await t.publisher(isIngest(kind) ? 'ingest' : 'book');
    await new Promise((r) => setTimeout(r, 700)); // slow joiner
    send = (s) => pub.send('floor', s);
    close = () => t.close();
  } else {
    const sock = net.connect(Number(endpoint), '127.0.0.1').setNoDelay(true);
    await new Promise((r) => sock.once('connect', r));
    send = (s) => sock.write(`${s}\n`);
    close = () => new Promise((r) => sock.end(r));
  }
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < seconds * 1000) {
    const due = Math.floor(((performance.now() - t0) * rate) / 1000);
    for (; sent < due; sent++) send(`${nowMicros()} ${PAD}`);
    await new Promise((r) => setTimeout(r, 1));
  }
  send('end');
  await new Promise((r) => setTimeout(r, 200));
  await close();
}

/** The receiving side: yields each message's text as it arrives, until "end". */
async function* receive(kind: FloorKind): AsyncGenerator<string | { endpoint: string }> {
  if (kind !== 'tcp') {
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const t = new ZmqTransport(isIngest(kind) ? { ingest: [endpoint] } : { publish: [endpoint] }, {
      curve: kind === 'curve' ? serverCurve : undefined,
    });
    const sub = await t.subscriber(isIngest(kind) ? 'ingest' : 'book', ['floor']);
    try {
      yield { endpoint };
      for await (const m of sub) yield m.payload.toString('latin1', 0, 20);
    } finally {
      await t.close(); // open sockets (and the ZAP handler's) would keep the process alive
    }
    return;
  }
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  const server = net.createServer((sock) => {
    let buf = '';
    sock.setEncoding('latin1').on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      wake?.();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    yield { endpoint: String((server.address() as net.AddressInfo).port) };
    for (;;) {
      while (lines.length) yield lines.shift()!;
      await new Promise<void>((r) => (wake = r));
    }
  } finally {
    server.close();
  }
}

export async function benchFloor(
  rate: number,
  seconds = 4,
  kind: FloorKind = 'zeromq',
): Promise<{ kind: FloorKind; rate: number; p50: number; p99: number; p999: number }> {
  const h = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let child: ReturnType<typeof spawn> | undefined;
  let n = 0;
  for await (const m of receive(kind)) {
    const now = nowMicros();
    if (typeof m !== 'string') {
      const args = [fileURLToPath(import.meta.url), 'publish', kind, m.endpoint, String(rate), String(seconds)];
      child = spawn(process.execPath, args, {
        stdio: 'inherit',
        env: { ...process.env, BOOKWIRE_FLOOR_KEYS: JSON.stringify(CURVE_KEYS) },
      });
      continue;
    }
    if (m.startsWith('end')) break;
    if (n++ > rate / 2) h.recordValue(Math.max(1, now - parseInt(m, 10))); // skip the first half second
  }
  if (child && child.exitCode === null) await new Promise((r) => child!.once('exit', r));
  const r = {
    kind,
    rate,
    p50: h.getValueAtPercentile(50),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
  };
  h.destroy();
  return r;
}

export const formatFloor = (f: Awaited<ReturnType<typeof benchFloor>>) =>
  `  ${f.kind.padEnd(7)} ${String(f.rate).padStart(6)}/s  p50 ${f.p50}µs  p99 ${f.p99}µs  p99.9 ${f.p999}µs`;

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv[2] === 'publish')
    await publish(process.argv[3] as FloorKind, process.argv[4], Number(process.argv[5]), Number(process.argv[6]));
  else
    for (const rate of process.argv[2] ? [Number(process.argv[2])] : [1000, 10_000])
      for (const kind of (process.argv[3] ? process.argv[3].split(',') : ['zeromq', 'tcp']) as FloorKind[])
        console.log(formatFloor(await benchFloor(rate, 4, kind)));
}
