/**
 * Transactional arbiter groups on the Kafka test broker (3 brokers): `bookwire sim --rate R` -> 2 collectors
 * -> `arbitrate --group` (1 or more processes) -> a client (subscribe(), read committed) in this process.
 * Prints the consolidated deltas the client received per second and the latency from the collector's
 * receive time to the client's (same host clock), over the measuring window, plus the arbiters' transactions.
 *
 *   node dist/bench/kafka-group.js [rate events/s per symbol, default 5000] [seconds, default 10] [arbiters, default 1; 0 = one without --group]
 *   node dist/bench/kafka-group.js --ingest [rate records/s, default 10000] [seconds, default 5]
 *     the transport alone, in one process: records on 4 keys -> KafkaGroupIngest (one output record per
 *     input, transactions as the arbiter's) -> a read-committed subscriber; latency from send to receipt.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { subscribe } from '../src/client/subscribe.js';
import { silentLogger } from '../src/log.js';
import { KafkaTransport } from '../src/transport/kafka.js';
import { startTestBroker } from '../test/kafka-helpers.js';
import { freePort } from '../src/util/freePort.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];

async function main(): Promise<void> {
  const rate = Number(process.argv[2] ?? 5000);
  const seconds = Number(process.argv[3] ?? 10);
  const arbiters = Number(process.argv[4] ?? 1);
  const hooks: (() => Promise<void> | void)[] = [];
  const b = await startTestBroker({ after: (fn) => void hooks.push(fn) });
  const brokers = b.bootstrap.join(',');
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'bookwire-bench-group-'));
  const procs: ChildProcess[] = [];
  const start = (name: string, args: string[]) => {
    const fd = openSync(path.join(logDir, `${name}.log`), 'a');
    procs.push(spawn(process.execPath, [MAIN, ...args, '--log-level', 'warn'], { stdio: ['ignore', fd, fd] }));
    closeSync(fd);
  };
  const simPort = await freePort();
  const rest = `http://127.0.0.1:${simPort}`;
  start('sim', ['sim', '--port', String(simPort), '--symbols', SYMBOLS.join(','), '--rate', String(rate)]);
  for (
    let i = 0;
    !(await fetch(`${rest}/api/v3/ping`).then(
      (r) => r.ok,
      () => false,
    ));
    i++
  ) {
    if (i > 100) throw new Error(`simulator did not start; see ${logDir}/sim.log`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const bus = ['--bus', 'kafka', '--brokers', brokers];
  // arbiters = 0: one arbiter without a group (the non-transactional publisher), for comparison.
  if (arbiters === 0) start('arbiter', ['arbitrate', '--symbols', SYMBOLS.join(','), ...bus]);
  for (let i = 0; i < arbiters; i++)
    start(`arbiter-${i}`, ['arbitrate', '--symbols', SYMBOLS.join(','), '--group', 'bench', '--id', `a${i}`, ...bus]);
  for (const id of ['a', 'b'])
    start(`collector-${id}`, [
      'collect',
      '--id',
      id,
      '--symbols',
      SYMBOLS.join(','),
      '--ws-url',
      `ws://127.0.0.1:${simPort}`,
      '--rest-url',
      rest,
      ...bus,
    ]);

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
  await new Promise((r) => setTimeout(r, 12_000));
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
  const pct = (q: number) =>
    lat.length ? (lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] / 1000).toFixed(1) : 'n/a';
  console.log(
    `group arbiters=${arbiters} sim ${rate} events/s x ${SYMBOLS.length} symbols: client received ${Math.round(delivered / elapsed)} deltas/s over ${elapsed.toFixed(1)} s; ` +
      `collector->client latency ms p50 ${pct(0.5)} p99 ${pct(0.99)} max ${pct(1)}; chain breaks ${chainBreaks}; logs ${logDir}`,
  );
}

async function ingestOnly(): Promise<void> {
  const rate = Number(process.argv[3] ?? 10_000);
  const seconds = Number(process.argv[4] ?? 5);
  const hooks: (() => Promise<void> | void)[] = [];
  const b = await startTestBroker({ after: (fn) => void hooks.push(fn) });
  const tr = new KafkaTransport({ brokers: b.bootstrap, logger: silentLogger, closeTimeoutMs: 2000 });
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
  const pct = (q: number) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))];
  console.log(
    `group ingest ${rate} records/s x ${seconds} s: sent ${sent}, received ${lat.length} (${Math.round(lat.length / all)}/s incl. drain); ` +
      `latency ms p50 ${pct(0.5)} p99 ${pct(0.99)} max ${pct(1)}; transactions ${g.counters.transactions}`,
  );
  await tr.close();
  for (const h of hooks.reverse()) await h();
}

if (import.meta.url === `file://${process.argv[1]}`) await (process.argv[2] === '--ingest' ? ingestOnly() : main());
