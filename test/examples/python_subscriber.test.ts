/**
 * Runs examples/python_subscriber.py (Debian's /usr/bin/python3 + python3-zmq) against the project's own
 * ZeroMQ transport: proves the documented wire format is readable from another language.
 * Skips when pyzmq is missing, unless BOOKWIRE_REQUIRE_PYZMQ=1 (set by .ci/run), where that is a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OrderBook } from '../../src/core/book.js';
import type { Level } from '../../src/core/types.js';
import { BATCH_TOPIC_PREFIX, ZmqTransport } from '../../src/transport/zeromq.js';
import { rawSub } from '../transport/helpers.js';
import { silentLogger } from '../../src/log.js';
import { generateKeyPair, readAllowList, readKeyPair, writeKeyPair } from '../../src/transport/keys.js';
import { encode, topics, type ConsolidatedDelta, type ConsolidatedSnapshot } from '../../src/wire/messages.js';

const PYTHON = '/usr/bin/python3';
const script = fileURLToPath(new URL('../../../examples/python_subscriber.py', import.meta.url));
const TOPIC = topics.book('binance', 'BTCUSDT');

function pyzmqMissing(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import zmq'], { encoding: 'utf8' });
  if (r.status === 0) return undefined;
  return `${PYTHON} cannot import zmq (${r.error?.message ?? r.stderr.trim()}); install it with: apt-get install -y python3-zmq`;
}
const missing = pyzmqMissing();
const required = process.env.BOOKWIRE_REQUIRE_PYZMQ === '1';
const skip = missing !== undefined && !required ? missing : false;

test('pyzmq is available where it is required', { skip: !required }, () => {
  assert.equal(missing, undefined, missing);
});

/** A deterministic consolidated stream: the book the script must show at each seq. */
class Stream {
  readonly book = new OrderBook();
  seq = 1000;
  private n = 0;
  /** seq -> expected "bid x size ask x size" as the script prints it. */
  readonly expected = new Map<number, string>();

  constructor() {
    const bids: Level[] = [];
    const asks: Level[] = [];
    for (let i = 0; i < 20; i++) {
      bids.push([50000 - i * 0.01, 1 + i]);
      asks.push([50000.01 + i * 0.01, 2 + i]);
    }
    this.book.applySnapshot(bids, asks);
    this.record();
  }

  private record(): void {
    const b = this.book.bestBid()!;
    const a = this.book.bestAsk()!;
    this.expected.set(this.seq, `bid=${b[0]} x ${b[1]} ask=${a[0]} x ${a[1]}`);
  }

  snapshot(reason: ConsolidatedSnapshot['reason']): ConsolidatedSnapshot {
    const { bids, asks } = this.book.snapshot();
    return {
      v: 1,
      type: 'snapshot',
      venue: 'binance',
      symbol: 'BTCUSDT',
      seq: this.seq,
      bids,
      asks,
      exchTime: 0,
      pubTime: 0,
      reason,
    };
  }

  /** Next delta: changes the best levels so every step shows in the printed top of book. */
  delta(): ConsolidatedDelta {
    this.n++;
    const bestBid = this.book.bestBid()!;
    const bestAsk = this.book.bestAsk()!;
    // every 7th delta deletes the best bid, as long as a few levels are left
    const del = this.n % 7 === 0 && this.book.bidDepth > 5;
    const bids: Level[] = [[bestBid[0], del ? 0 : 0.5 + (this.n % 5)]];
    const asks: Level[] = [[bestAsk[0], 0.25 + (this.n % 3)]];
    const prev = this.seq;
    const first = prev + 1;
    this.seq = prev + 1 + (this.n % 3); // consolidated seq follows the exchange's ids: steps may skip numbers
    this.book.apply(bids, asks);
    this.record();
    return {
      v: 1,
      type: 'delta',
      venue: 'binance',
      symbol: 'BTCUSDT',
      seq: this.seq,
      prev,
      first,
      bids,
      asks,
      exchTime: 0,
      recvTime: 0,
      pubTime: 0,
      feed: 'a',
    };
  }
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runScript(args: string[], onStdout?: (soFar: string) => void, timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
      onStdout?.(stdout);
    });
    p.stderr.on('data', (d) => (stderr += d));
    const killer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

function parseLines(stdout: string): { seq: number; top: string; kind: string }[] {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = /^seq=(\d+) (bid=\S+ x \S+ ask=\S+ x \S+) spread=\S+ \((.+)\)$/.exec(l);
      assert.ok(m, `unexpected output line: ${l}`);
      return { seq: Number(m[1]), top: m[2], kind: m[3] };
    });
}

async function startBus(t: { after(fn: () => Promise<void>): void }, coalesce?: boolean) {
  const bus = new ZmqTransport(
    { publish: ['tcp://127.0.0.1:*'], snapshot: ['tcp://127.0.0.1:*'] },
    { logger: silentLogger, coalesce },
  );
  t.after(() => bus.close());
  const pub = await bus.publisher('book');
  return { bus, pub };
}

test('follows snapshot + deltas, ignores other topics, stops at a gap until the next snapshot', { skip }, async (t) => {
  const { bus, pub } = await startBus(t);
  const s = new Stream();
  let gapAfter = -1;
  let gapAtStep = Infinity; // set once the script has synced, so it surely sees the gap
  let step = 0;
  const timer = setInterval(() => {
    step++;
    // A topic ZeroMQ's prefix filter lets through: the script must compare the topic exactly.
    pub.send(`${TOPIC}X`, encode({ ...s.snapshot('periodic'), symbol: 'BTCUSDTX', bids: [[1, 1]], asks: [[2, 1]] }));
    if (step % 10 === 0) pub.send(TOPIC, encode(s.snapshot('periodic')));
    else if (step === gapAtStep) {
      s.delta(); // lost: the script sees prev != its seq
      gapAfter = s.seq;
      pub.send(TOPIC, encode(s.delta()));
    } else pub.send(TOPIC, encode(s.delta()));
  }, 15);
  t.after(() => clearInterval(timer));

  const args = ['--endpoint', bus.boundEndpoints().publish[0], '--topic', TOPIC, '--count', '20', '--timeout', '10'];
  const r = await runScript(args, () => {
    if (gapAtStep === Infinity) gapAtStep = step + 3 + (step % 10 >= 7 ? 4 : 0); // not on a snapshot step
  });
  clearInterval(timer);
  assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  const lines = parseLines(r.stdout);
  assert.equal(lines.length, 20);
  assert.match(lines[0].kind, /^snapshot periodic$/, 'a late joiner starts from a snapshot');
  for (const l of lines) assert.equal(l.top, s.expected.get(l.seq), `book differs at seq ${l.seq}`);
  for (let i = 1; i < lines.length; i++) assert.ok(lines[i].seq >= lines[i - 1].seq, 'seq never goes back');
  assert.ok(lines.some((l) => l.kind === 'delta'));
  // After the lost delta the next printed line is the next snapshot, not a delta.
  assert.ok(gapAfter > 0, 'the gap was injected');
  const afterGap = lines.find((l) => l.seq >= gapAfter);
  assert.ok(afterGap, 'run long enough to pass the gap');
  assert.match(afterGap.kind, /^snapshot/);
  assert.match(r.stderr, /gap: book at \d+, delta \d+->\d+; waiting for a snapshot/);
});

test(
  '--snapshot-endpoint: a REQ socket gets the current book from the ROUTER snapshot service',
  { skip },
  async (t) => {
    const { bus, pub } = await startBus(t);
    const s = new Stream();
    const queries: unknown[] = [];
    await bus.snapshotServer((topic, payload) => {
      queries.push({ topic, query: JSON.parse(payload.toString()) });
      return encode(s.snapshot('reply'));
    });
    // Deltas only: without the reply the script could never sync.
    const timer = setInterval(() => pub.send(TOPIC, encode(s.delta())), 15);
    t.after(() => clearInterval(timer));
    const ep = bus.boundEndpoints();
    const r = await runScript([
      '--endpoint',
      ep.publish[0],
      '--snapshot-endpoint',
      ep.snapshot[0],
      '--topic',
      TOPIC,
      '--count',
      '5',
      '--timeout',
      '10',
    ]);
    clearInterval(timer);
    assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.deepEqual(queries, [
      { topic: TOPIC, query: { v: 1, type: 'snapshot-query', venue: 'binance', symbol: 'BTCUSDT' } },
    ]);
    const lines = parseLines(r.stdout);
    assert.equal(lines[0].kind, 'snapshot reply');
    for (const l of lines) assert.equal(l.top, s.expected.get(l.seq), `book differs at seq ${l.seq}`);
  },
);

test(
  '--batched: follows a bus that batches (bus.coalesce), [batch.<topic>, p1, p2, ...], without a gap',
  { skip },
  async (t) => {
    const { bus, pub } = await startBus(t, true);
    const tap = await rawSub(t, bus.boundEndpoints().publish[0], []);
    const s = new Stream();
    let step = 0;
    // four deltas per turn (and every tenth turn a snapshot first): one batch each
    const timer = setInterval(() => {
      if (++step % 10 === 0) pub.send(TOPIC, encode(s.snapshot('periodic')));
      for (let i = 0; i < 4; i++) pub.send(TOPIC, encode(s.delta()));
    }, 15);
    t.after(() => clearInterval(timer));
    const args = ['--endpoint', bus.boundEndpoints().publish[0], '--topic', TOPIC, '--batched'];
    const r = await runScript([...args, '--count', '40', '--timeout', '10']);
    clearInterval(timer);
    assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /gap/);
    const lines = parseLines(r.stdout);
    assert.equal(lines.length, 40);
    assert.match(lines[0].kind, /^snapshot periodic$/);
    for (const l of lines) assert.equal(l.top, s.expected.get(l.seq), `book differs at seq ${l.seq}`);
    assert.ok(lines.filter((l) => l.kind === 'delta').length >= 30);
    const batches = tap.messages.filter((m) => m[0].toString() === `${BATCH_TOPIC_PREFIX}${TOPIC}`);
    assert.ok(batches.length > 0 && batches.every((m) => m.length > 2), 'the bus sent batches');
  },
);

test('exits 1 with a message when --count is not reached in --timeout', { skip }, async () => {
  const r = await runScript(['--endpoint', 'tcp://127.0.0.1:1', '--count', '1', '--timeout', '0.3']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /timeout: 0 of 1 book updates after 0\.3 s/);
});

test(
  'CURVE: --curve-server-key and --curve-key (bookwire keygen files) on the feed and the snapshot REQ',
  { skip },
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bookwire-py-curve-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const arb = writeKeyPair(dir, 'arb', await generateKeyPair());
    const strategy = writeKeyPair(dir, 'strategy', await generateKeyPair());
    const stranger = writeKeyPair(dir, 'stranger', await generateKeyPair());
    const bus = new ZmqTransport(
      { publish: ['tcp://127.0.0.1:*'], snapshot: ['tcp://127.0.0.1:*'] },
      {
        logger: silentLogger,
        curve: { keyPair: readKeyPair(arb.keyFile), allow: readAllowList(undefined, { strategy: strategy.pubFile }) },
      },
    );
    t.after(() => bus.close());
    const pub = await bus.publisher('book');
    const s = new Stream();
    await bus.snapshotServer(() => encode(s.snapshot('reply')));
    const timer = setInterval(() => pub.send(TOPIC, encode(s.delta())), 15); // deltas only: the reply must come
    t.after(() => clearInterval(timer));
    const ep = bus.boundEndpoints();
    const args = (key: string) => [
      ...['--endpoint', ep.publish[0], '--snapshot-endpoint', ep.snapshot[0], '--topic', TOPIC],
      ...['--curve-server-key', arb.pubFile, '--curve-key', key, '--count', '5', '--timeout', '5'],
    ];
    const r = await runScript(args(strategy.keyFile));
    assert.equal(r.code, 0, `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    const lines = parseLines(r.stdout);
    assert.equal(lines[0].kind, 'snapshot reply');
    for (const l of lines) assert.equal(l.top, s.expected.get(l.seq), `book differs at seq ${l.seq}`);
    assert.equal(bus.security.refused, 0);

    const refused = await runScript([...args(stranger.keyFile).slice(0, -4), '--count', '1', '--timeout', '1.5']);
    assert.equal(refused.code, 1, 'a key the arbiter does not allow reads nothing');
    assert.equal(refused.stdout, '');
    assert.ok(bus.security.refused > 0);
  },
);
