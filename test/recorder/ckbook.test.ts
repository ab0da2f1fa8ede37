/** CheckpointBook (the writer's book for checkpoints) against BookReplica, the reference it replaces. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BookReplica } from '../../src/core/replica.js';
import type { Level } from '../../src/core/types.js';
import { decodeConsolidated } from '../../src/wire/messages.js';
import { parseConsolidated, parsed } from '../../src/recorder/binrec.js';
import { CheckpointBook } from '../../src/recorder/ckbook.js';
import { mulberry32 } from '../../bench/gen.js';

interface Mix {
  /** per delta level: a price with one more decimal than the book's */
  extraDecimal: number;
  /** per delta level: a price ~10M ticks away (wider than a dense side reaches) */
  far: number;
  gap: number;
  stale: number;
  /** per snapshot: at the current seq, with a different top level */
  diverge: number;
}

/** A consolidated stream with gaps, stale copies and odd prices, as JSON payloads in the arbiter's layout. */
function stream(seed: number, n: number, mix: Mix): Buffer[] {
  const rnd = mulberry32(seed);
  const bids = new Map<number, number>();
  const asks = new Map<number, number>();
  const size = () => (rnd() < 0.2 ? 0 : Math.round(rnd() * rnd() * 5e6) / 1e5);
  for (let i = 1; i <= 300; i++) {
    bids.set((5_000_000 - i) / 100, size() || 1);
    asks.set((5_000_000 + i) / 100, size() || 1);
  }
  let seq = 1000;
  const out: Buffer[] = [];
  const sent: Buffer[] = [];
  const snapshot = (s: number, alter: boolean) => {
    const b: Level[] = [...bids].filter(([, z]) => z > 0).sort((x, y) => y[0] - x[0]);
    const a: Level[] = [...asks].filter(([, z]) => z > 0).sort((x, y) => x[0] - y[0]);
    if (alter && b.length > 0) b[0] = [b[0][0], b[0][1] + 1];
    return Buffer.from(
      `{"v":1,"type":"snapshot","venue":"binance","symbol":"BTCUSDT","seq":${s},"bids":${JSON.stringify(b)},"asks":${JSON.stringify(a)},"exchTime":0,"pubTime":1,"reason":"periodic"}`,
    );
  };
  out.push(snapshot(seq, false));
  for (let i = 0; i < n; i++) {
    if (i % 500 === 499) {
      out.push(snapshot(seq, rnd() < mix.diverge));
      continue;
    }
    if (rnd() < mix.stale && sent.length > 3) {
      out.push(sent[sent.length - 1 - Math.floor(rnd() * 3)]);
      continue;
    }
    const db: Level[] = [];
    const da: Level[] = [];
    const k = 1 + Math.floor(rnd() * 8);
    for (let j = 0; j < k; j++) {
      const bid = rnd() < 0.5;
      const off = rnd() < 0.8 ? Math.floor(rnd() * 20) : Math.floor(rnd() * 2000);
      let tick = bid ? 5_000_000 - 1 - off : 5_000_000 + 1 + off;
      let scale = 100;
      const r = rnd();
      if (r < mix.extraDecimal) {
        tick = tick * 10 + 5;
        scale = 1000;
      } else if (r < mix.extraDecimal + mix.far) tick = bid ? tick - 4_990_000 : tick + 10_000_000; // far, still > 0
      const price = tick / scale;
      const s = size();
      (bid ? db : da).push([price, s]);
      (bid ? bids : asks).set(price, s);
    }
    const prev = seq;
    seq += 1 + Math.floor(rnd() * 2);
    const p = Buffer.from(
      `{"v":1,"type":"delta","venue":"binance","symbol":"BTCUSDT","seq":${seq},"prev":${prev},"first":${prev + 1},"bids":${JSON.stringify(db)},"asks":${JSON.stringify(da)},"exchTime":1,"recvTime":2,"pubTime":3,"feed":"a"}`,
    );
    sent.push(p);
    if (rnd() < mix.gap) continue; // the recorder never saw it
    out.push(p);
  }
  return out;
}

/** Drive a CheckpointBook as StreamWriter.appendParsed does, and a BookReplica with the same inputs. */
function follow(msgs: Buffer[]): { checked: number; fellBack: boolean } {
  const ck = new CheckpointBook();
  const ref = new BookReplica();
  let checked = 0;
  for (const [i, p] of msgs.entries()) {
    const t = parseConsolidated(p); // 0: stored as JSON (an altered size may print long): no fast path
    const m = decodeConsolidated(p);
    if (m.type === 'delta' && !ck.synced) {
      // the writer hands a delta over only while in sync (book-at waits for a snapshot as well)
    } else if (t === 1 && parsed.seq > ck.seq && (parsed.prev === ck.seq || parsed.first <= ck.seq + 1))
      ck.applyParsedDelta();
    else ck.onMessage(m);
    if (!(m.type === 'delta' && !ref.synced)) ref.onMessage(m);
    assert.equal(ck.synced, ref.synced, `synced after message ${i}`);
    if (ref.synced) assert.equal(ck.seq, ref.seq, `seq after message ${i}`);
    if (ref.synced && (i % 97 === 0 || i === msgs.length - 1)) {
      assert.deepEqual(ck.snapshot(), ref.book.snapshot(), `book after message ${i}`);
      checked++;
    }
  }
  return { checked, fellBack: !ck.dense };
}

test('property: CheckpointBook keeps exactly the book BookReplica keeps (gaps, stale copies, divergent snapshots)', () => {
  for (let seed = 1; seed <= 12; seed++) {
    const r = follow(stream(seed, 3000, { extraDecimal: 0, far: 0, gap: 0.003, stale: 0.01, diverge: 0.3 }));
    assert.ok(r.checked > 10);
    assert.equal(r.fellBack, false, 'tick-grid prices stay in the dense form');
  }
});

test('a price with more decimals than the snapshot, or far outside the book, moves it onto a BookReplica, exactly', () => {
  for (const mix of [
    { extraDecimal: 0.001, far: 0, gap: 0.002, stale: 0.01, diverge: 0.2 },
    { extraDecimal: 0, far: 0.001, gap: 0.002, stale: 0.01, diverge: 0.2 },
  ]) {
    let fellBack = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const r = follow(stream(seed, 3000, mix));
      if (r.fellBack) fellBack++;
      assert.ok(r.checked > 10);
    }
    // (an odd price first seen in a snapshot just sets the scale or window afresh: no fallback needed)
    assert.ok(fellBack >= 4, `${fellBack} of 6 streams fell back with ${JSON.stringify(mix)}`);
  }
});

test('a snapshot re-windows the book: prices spread over a wide range in a later snapshot still fit', () => {
  const ck = new CheckpointBook();
  const snap = (seq: number, bids: Level[], asks: Level[]) =>
    ck.onMessage({
      v: 1,
      type: 'snapshot',
      venue: 'binance',
      symbol: 'X',
      seq,
      bids,
      asks,
      exchTime: 0,
      pubTime: 0,
      reason: 'periodic',
    });
  snap(1, [[100.5, 1]], [[100.6, 2]]);
  assert.deepEqual(ck.snapshot(), { bids: [[100.5, 1]], asks: [[100.6, 2]] });
  // 0.001 decimals now: the new snapshot sets the scale afresh, no fallback needed
  snap(
    2,
    [
      [90.001, 1],
      [80, 3],
    ],
    [[110.002, 2]],
  );
  assert.deepEqual(ck.snapshot(), {
    bids: [
      [90.001, 1],
      [80, 3],
    ],
    asks: [[110.002, 2]],
  });
  assert.equal(ck.dense, true);
  assert.equal(ck.seq, 2);
});
