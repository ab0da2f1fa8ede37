/**
 * The floor under the end-to-end figures: one bare ZeroMQ hop (zeromq.js PUB -> SUB, two processes,
 * loopback) at the same message rate, with no bookwire code on the path. Whatever this shows at p99 is
 * the host's scheduling jitter that every hop of the pipeline pays too.
 * `node dist/bench/floor.js [rate]`
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build } from 'hdr-histogram-js';
import { nowMicros } from '../src/core/clock.js';
import { ZmqTransport } from '../src/transport/zeromq.js';
import { freePort } from './pipeline.js';

const PAD = 'x'.repeat(300);

async function publish(endpoint: string, rate: number, seconds: number): Promise<void> {
  const t = new ZmqTransport({ publish: [endpoint] });
  const pub = await t.publisher('book');
  await new Promise((r) => setTimeout(r, 700)); // slow joiner
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < seconds * 1000) {
    const due = Math.floor(((performance.now() - t0) * rate) / 1000);
    while (sent < due) {
      pub.send('floor', `${nowMicros()} ${PAD}`);
      sent++;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  pub.send('floor', 'end');
  await new Promise((r) => setTimeout(r, 200));
  await t.close();
}

export async function benchFloor(rate: number, seconds = 4): Promise<{ rate: number; p50: number; p99: number; p999: number }> {
  const endpoint = `tcp://127.0.0.1:${await freePort()}`;
  const t = new ZmqTransport({ publish: [endpoint] });
  const sub = await t.subscriber('book', ['floor']);
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'publish', endpoint, String(rate), String(seconds)], { stdio: 'inherit' });
  const h = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let n = 0;
  for await (const m of sub) {
    const now = nowMicros();
    const s = m.payload.toString('latin1', 0, 20);
    if (s === 'end') break;
    if (n++ > rate / 2) h.recordValue(Math.max(1, now - parseInt(s, 10))); // skip the first half second
  }
  await new Promise((r) => child.once('exit', r));
  await sub.close();
  await t.close();
  const r = { rate, p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99), p999: h.getValueAtPercentile(99.9) };
  h.destroy();
  return r;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv[2] === 'publish') await publish(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
  else for (const rate of [1000, 10_000]) console.log(await benchFloor(Number(process.argv[2] ?? rate)));
}
