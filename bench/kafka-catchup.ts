/**
 * How fast the Kafka arbiter works through a backlog: its capacity, which the 10k events/s target needs
 * to exceed ("the arbiter is never the bottleneck"). `bookwire sim --rate R` -> 2 collectors -> an
 * arbiter (plain, or transactional with --group) on the 3-broker test cluster, a client in this process.
 * Once the stream is steady the arbiter is frozen (SIGSTOP) for `stop` seconds while the collectors keep
 * writing raw records; then the simulator is paused and the arbiter resumed (SIGCONT). With nothing else
 * busy, the rate at which it publishes the backlog's deltas (the client sees their publish times) is what
 * the arbiter can do.
 * The client checks that the stream stayed gap-free and chained through it all.
 *
 *   node dist/bench/kafka-catchup.js [rate, default 10000] [stop seconds, default 4] [--group]
 * (The test broker keeps ~5 MB per partition: much longer stops outrun it and the arbiter must resync.)
 */
import { mkdtempSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { subscribe } from '../src/client/subscribe.js';
import { nowMicros } from '../src/core/clock.js';
import { silentLogger } from '../src/log.js';
import { KafkaTransport } from '../src/transport/kafka.js';
import { benchBroker, collectArgs, cpuMicros, freePort, spawnPart, waitForSim } from './pipeline.js';

const SYMBOL = 'BTCUSDT';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CatchupRow {
  rate: number;
  group: boolean;
  stopS: number;
  /** Raw records (both collectors) written while the arbiter was frozen, and the deltas it then published. */
  rawBacklog: number;
  drained: number;
  drainS: number;
  /** Deltas per second while draining (SIGCONT -> the last one's publish), and the arbiter's CPU then (cores). */
  perSec: number;
  cores: number;
  /** Client: deltas received, sequence gaps and broken chains over the whole run (0 and 0 = lossless). */
  delivered: number;
  gaps: number;
  chainBreaks: number;
}

export async function benchCatchup(rate: number, stopS: number, group: boolean): Promise<CatchupRow> {
  const { b, stop: stopBroker } = await benchBroker();
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'bookwire-bench-catchup-'));
  const procs: Record<string, ChildProcess> = {};
  const killAll = () => Object.values(procs).forEach((p) => p.exitCode === null && p.kill('SIGKILL'));
  process.once('exit', killAll);
  const start = (name: string, args: string[]) => (procs[name] = spawnPart(logDir, name, args));
  const simPort = await freePort();
  const rest = `http://127.0.0.1:${simPort}`;
  start('sim', ['sim', '--port', String(simPort), '--symbols', SYMBOL, '--rate', String(rate)]);
  await waitForSim(rest, logDir);
  const bus = ['--bus', 'kafka', '--brokers', b.bootstrap.join(',')];
  start('arbiter', ['arbitrate', '--symbols', SYMBOL, ...(group ? ['--group', 'catchup', '--id', 'a0'] : []), ...bus]);
  for (const id of ['a', 'b']) start(`collector-${id}`, [...collectArgs(id, SYMBOL, simPort), ...bus]);

  const t = new KafkaTransport({ brokers: b.bootstrap, logger: silentLogger, closeTimeoutMs: 2000 });
  const written = async (family: string) =>
    [...(await t.offsets(t.topics.kafkaTopic(family))).values()].reduce((a, o) => a + Number(o.high), 0);
  const ac = new AbortController();
  let delivered = 0;
  let gaps = 0;
  let chainBreaks = 0;
  let prev = -1;
  let lagUs = NaN;
  // Deltas the arbiter published after t0 (its pubTime, same host clock), and the last such pubTime.
  let t0Us = Infinity;
  let drained = 0;
  let lastPubUs = 0;
  const client = (async () => {
    for await (const u of subscribe({ transport: t, symbol: SYMBOL, signal: ac.signal })) {
      gaps = u.gaps;
      if (u.message.type !== 'delta') {
        prev = u.seq;
        continue;
      }
      delivered++;
      lagUs = u.receivedAt - u.message.recvTime;
      if (u.message.pubTime >= t0Us) {
        drained++;
        lastPubUs = Math.max(lastPubUs, u.message.pubTime);
      }
      if (prev >= 0 && u.message.prev !== prev) chainBreaks++;
      prev = u.seq;
    }
  })();
  // Synced, caught up (< 1 s behind the collectors), then 2 s of steady state.
  for (let i = 0; !(lagUs < 1_000_000) && i < 400; i++) await sleep(100);
  await sleep(2000);
  const gapsBefore = gaps;
  const arbiter = procs.arbiter;
  const raw0 = await written('raw');
  arbiter.kill('SIGSTOP');
  await sleep(stopS * 1000);
  await fetch(`${rest}/sim/pause`, { method: 'POST' });
  await sleep(300); // the collectors' last batches
  const raw1 = await written('raw');
  const cpuSamples: [number, number][] = [[nowMicros(), cpuMicros(arbiter.pid)]];
  t0Us = nowMicros();
  arbiter.kill('SIGCONT');
  // Drained when the client has had no new delta for 1.5 s (the book stream's own pace, stats records aside).
  let seen = drained;
  let tSeen = performance.now();
  while (performance.now() - tSeen < 1500) {
    await sleep(10);
    cpuSamples.push([nowMicros(), cpuMicros(arbiter.pid)]);
    if (drained > seen) {
      seen = drained;
      tSeen = performance.now();
    }
  }
  // The arbiter's CPU up to its last publish: the sample nearest to it.
  const cpuAt = (us: number) => cpuSamples.reduce((a, c) => (Math.abs(c[0] - us) < Math.abs(a[0] - us) ? c : a))[1];
  const drainS = (lastPubUs - t0Us) / 1e6;
  const cpu = cpuAt(lastPubUs) - cpuSamples[0][1];
  ac.abort();
  await Promise.allSettled([client]);
  await t.close();
  const exits = Object.values(procs).map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : null));
  for (const p of Object.values(procs)) if (p.exitCode === null) p.kill('SIGTERM');
  const force = setTimeout(killAll, 6000);
  await Promise.all(exits);
  clearTimeout(force);
  process.removeListener('exit', killAll);
  await stopBroker();
  return {
    rate,
    group,
    stopS,
    rawBacklog: raw1 - raw0,
    drained,
    drainS,
    perSec: drained / Math.max(0.001, drainS),
    cores: cpu / 1e6 / Math.max(0.001, drainS),
    delivered,
    gaps: gaps - gapsBefore,
    chainBreaks,
  };
}

export function formatCatchup(r: CatchupRow): string {
  const who = r.group ? 'group arbiter (transactional)' : 'plain arbiter';
  return (
    `${who.padEnd(30)} frozen ${r.stopS} s at ${r.rate}/s: backlog ${r.rawBacklog} raw records (2 feeds) -> ${r.drained} consolidated deltas in ${r.drainS.toFixed(2)} s = ` +
    `${Math.round(r.perSec)}/s (x${(r.perSec / r.rate).toFixed(1)} the live rate) on ${r.cores.toFixed(2)} cores; client: ${r.delivered} deltas, gaps ${r.gaps}, chain breaks ${r.chainBreaks}`
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const row = await benchCatchup(Number(args[0] ?? 10_000), Number(args[1] ?? 4), process.argv.includes('--group'));
  console.log(formatCatchup(row));
}
