/**
 * Interop: a stock Kafka client that is not ours -- kcat (Debian package `kcat`, librdkafka) -- reads the
 * consolidated topic the arbiter wrote to the test cluster, and what it gets decodes as docs/wire-format.md
 * and docs/kafka.md describe: key = `<venue>.<symbol>`, value = one JSON object, every delta chains
 * (`prev` == the previous message's `seq`) within the book's partition, and the compacted snapshot topic's
 * `bookwire-book-offset` header points at the same snapshot in the book topic.
 * Skips without kcat unless BOOKWIRE_REQUIRE_KCAT=1 (CI installs it), and without the test broker.
 */
import { execFile, execFileSync } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, waitFor } from '../helpers.js';
import { kafkaSkip } from '../kafka-helpers.js';
import { kafkaParts } from './kafka-rig.js';

function hasKcat(): boolean {
  try {
    execFileSync('kcat', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const kcatSkip: string | false =
  hasKcat() || process.env.BOOKWIRE_REQUIRE_KCAT === '1'
    ? false
    : 'kcat not installed (apt-get install kcat); BOOKWIRE_REQUIRE_KCAT=1 makes this a failure';

function kcat(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('kcat', args, { timeout: 30_000, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`kcat ${args.join(' ')} failed: ${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
}

type Level = [number, number];
const isLevels = (x: unknown): x is Level[] =>
  Array.isArray(x) &&
  x.every((l) => Array.isArray(l) && l.length === 2 && typeof l[0] === 'number' && typeof l[1] === 'number');

/** The documented fields of a consolidated message, checked one by one (docs/wire-format.md). */
function checkFields(m: Record<string, unknown>, where: string): void {
  assert.equal(m.v, 1, `${where}: v`);
  assert.ok(m.type === 'delta' || m.type === 'snapshot', `${where}: type ${String(m.type)}`);
  assert.equal(m.venue, 'binance', `${where}: venue`);
  assert.ok(m.symbol === 'BTCUSDT' || m.symbol === 'ETHUSDT', `${where}: symbol ${String(m.symbol)}`);
  for (const f of ['seq', 'exchTime', 'pubTime']) assert.equal(typeof m[f], 'number', `${where}: ${f}`);
  assert.ok(Number.isInteger(m.seq), `${where}: integer seq`);
  assert.ok(isLevels(m.bids) && isLevels(m.asks), `${where}: levels are [price, size] number pairs`);
  if (m.type === 'delta') {
    for (const f of ['prev', 'first', 'recvTime']) assert.equal(typeof m[f], 'number', `${where}: ${f}`);
    assert.equal(typeof m.feed, 'string', `${where}: feed`);
    assert.ok((m.first as number) <= (m.seq as number), `${where}: first <= seq`);
  } else
    assert.ok(['periodic', 'resync'].includes(m.reason as string), `${where}: published reason ${String(m.reason)}`);
}

test(
  'kcat reads the consolidated Kafka topic: documented JSON, book key, chained seq, snapshot offsets',
  { skip: kafkaSkip || kcatSkip, timeout: 90_000 },
  async (t: TestContext) => {
    const parts = await kafkaParts(t, { symbols: ['BTCUSDT', 'ETHUSDT'], seed: 3, rate: 50 });
    await sleep(4000);
    parts.sim.pause();
    const truth = parts.sim.truth('BTCUSDT', 20);
    // The arbiter reads Kafka too: on a loaded host it may lag the simulator by seconds.
    await waitFor(
      () => parts.arbiter.bookOf('binance', 'BTCUSDT')?.seq === truth.lastUpdateId,
      30_000,
      'the arbiter to reach the truth seq',
    );
    await sleep(1500); // its last deltas and a periodic snapshot reach Kafka

    const bootstrap = parts.brokers;
    // The compacted snapshot topic, read with -J for headers, before the book topic: each snapshot copy is
    // written after its book copy is acknowledged, so every header read here points at a record read below.
    const json = await kcat(['-C', '-b', bootstrap, '-t', 'bookwire.snapshot', '-o', 'beginning', '-e', '-q', '-J']);
    const snaps = json
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { key: string; payload: string; headers?: string[] });
    assert.ok(snaps.length >= 4, `${snaps.length} snapshot records`);
    const text = await kcat([
      '-C',
      '-b',
      bootstrap,
      '-t',
      'bookwire.book',
      '-o',
      'beginning',
      '-e',
      '-q',
      '-f',
      '%k\t%p\t%o\t%s\n',
    ]);
    const lines = text.split('\n').filter(Boolean);
    assert.ok(lines.length > 200, `kcat read ${lines.length} records`);
    const byKey = new Map<string, { partition: number; offset: number; m: Record<string, unknown>; raw: string }[]>();
    for (const line of lines) {
      const [key, p, o, ...rest] = line.split('\t');
      const raw = rest.join('\t');
      const m = JSON.parse(raw) as Record<string, unknown>;
      let l = byKey.get(key);
      if (!l) byKey.set(key, (l = []));
      l.push({ partition: Number(p), offset: Number(o), m, raw });
    }
    assert.deepEqual([...byKey.keys()].sort(), ['binance.BTCUSDT', 'binance.ETHUSDT']);

    for (const [key, recs] of byKey) {
      assert.equal(new Set(recs.map((r) => r.partition)).size, 1, `${key}: one book, one partition`);
      assert.equal(recs[0].m.type, 'snapshot', `${key}: the arbiter's stream starts with its first snapshot`);
      // The documented client rule, written out plainly: snapshot replaces, delta applies iff prev == seq.
      const bids = new Map<number, number>();
      const asks = new Map<number, number>();
      let seq = -1;
      let deltas = 0;
      for (const r of recs) {
        const m = r.m;
        if (m.type === 'heartbeat') {
          // liveness, not a book update (docs/wire-format.md, "Heartbeat"): where the arbiter's book is
          const where = `${key}@${r.offset}`;
          assert.equal(m.v, 1, `${where}: v`);
          assert.ok(
            Number.isInteger(m.seq) && (m.seq as number) <= seq,
            `${where}: heartbeat at ${String(m.seq)} after ${seq}`,
          );
          assert.equal(typeof m.arbiter, 'string', `${where}: arbiter`);
          assert.equal(typeof m.stale, 'boolean', `${where}: stale`);
          continue;
        }
        checkFields(m, `${key}@${r.offset}`);
        assert.equal(`${m.venue}.${m.symbol}`, key, 'the key names the book');
        if (m.type === 'snapshot') {
          assert.ok((m.seq as number) >= seq, `${key}@${r.offset}: snapshot ${String(m.seq)} not behind ${seq}`);
          bids.clear();
          asks.clear();
          for (const [p, s] of m.bids as Level[]) bids.set(p, s);
          for (const [p, s] of m.asks as Level[]) asks.set(p, s);
        } else {
          assert.equal(m.prev, seq, `${key}@${r.offset}: delta ${String(m.seq)} chains onto ${seq}`);
          assert.ok((m.seq as number) > seq, 'seq increases');
          for (const [side, levels] of [
            [bids, m.bids],
            [asks, m.asks],
          ] as const)
            for (const [p, s] of levels as Level[])
              if (s === 0) side.delete(p);
              else side.set(p, s);
          deltas++;
        }
        seq = m.seq as number;
      }
      assert.ok(deltas > 50, `${key}: ${deltas} deltas`);
      if (key === 'binance.BTCUSDT') {
        assert.equal(seq, truth.lastUpdateId, 'the topic ends at the simulator seq');
        const sorted = (m: Map<number, number>, desc: boolean) =>
          [...m].sort((a, b) => (desc ? b[0] - a[0] : a[0] - b[0])).slice(0, 20);
        assert.deepEqual(sorted(bids, true), truth.bids);
        assert.deepEqual(sorted(asks, false), truth.asks);
      }
    }

    const bookAt = new Map<string, string>();
    for (const recs of byKey.values()) for (const r of recs) bookAt.set(`${r.partition}:${r.offset}`, r.raw);
    for (const s of snaps) {
      const h = s.headers ?? [];
      const i = h.indexOf('bookwire-book-offset');
      assert.ok(i >= 0 && i % 2 === 0, `header on ${s.key}: ${JSON.stringify(h)}`);
      assert.ok(
        bookAt.get(h[i + 1]) === s.payload,
        `snapshot ${s.key} at ${h[i + 1]} is the same bytes in the book topic`,
      );
      checkFields(JSON.parse(s.payload) as Record<string, unknown>, `snapshot topic ${s.key}`);
    }
  },
);
