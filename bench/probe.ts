/**
 * Per-feed probe for the latency benchmark, in its own process so it does not steal the client's CPU:
 * binds a SUB on the probe endpoint every collector also publishes to, stamps each raw message's arrival,
 * and on SIGTERM writes {collector: [[last, arrivalMicros], ...]} as JSON to the output file.
 * `node dist/bench/probe.js <endpoint> <outfile>`
 */
import { writeFileSync } from 'node:fs';
import { nowMicros } from '../src/core/clock.js';
import { ZmqTransport } from '../src/transport/zeromq.js';

const [endpoint, out] = process.argv.slice(2);
const t = new ZmqTransport({ ingest: [endpoint] });
const sub = await t.subscriber('ingest', ['raw.']);
const arrivals: Record<string, number[]> = {};
let stopping = false;
process.once('SIGTERM', () => {
  stopping = true;
  writeFileSync(out, JSON.stringify(arrivals));
  void sub.close().then(() => t.close()).then(() => process.exit(0));
});
process.send?.('ready');
for await (const m of sub) {
  if (stopping) break;
  const at = nowMicros();
  // cheap field extraction instead of JSON.parse: the head is small and fixed-order (encodeCollectorEvent)
  const s = m.payload.toString('latin1', 0, 300);
  const i = s.indexOf('"last":');
  const c = s.indexOf('"collector":"');
  if (i < 0 || c < 0) continue;
  const coll = s.slice(c + 13, s.indexOf('"', c + 13));
  (arrivals[coll] ??= []).push(parseInt(s.slice(i + 7, i + 27), 10), at);
}
