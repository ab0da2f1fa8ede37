/** Synthetic consolidated streams and temp dirs for recorder tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Level } from '../../src/core/types.js';
import { mulberry32 } from '../../bench/gen.js';

export function tmpDir(t: { after(fn: () => void): void }, prefix = 'bookwire-rec-'): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

export interface SynthMsg {
  time: number;
  payload: Buffer;
  snapshot: boolean;
}

/**
 * A consolidated stream as the arbiter publishes it (same key order): a snapshot every `snapEvery`
 * messages, deltas chaining by prev/seq in between, one message every `stepUs` µs from `t0`.
 */
export function synthStream(
  n: number,
  o: { seed?: number; t0?: number; stepUs?: number; snapEvery?: number; symbol?: string } = {},
): SynthMsg[] {
  const rnd = mulberry32(o.seed ?? 1);
  const symbol = o.symbol ?? 'BTCUSDT';
  const t0 = o.t0 ?? 1_795_428_000_000_000;
  const step = o.stepUs ?? 100;
  const snapEvery = o.snapEvery ?? 200;
  const bids = new Map<number, number>();
  const asks = new Map<number, number>();
  for (let i = 1; i <= 50; i++) {
    bids.set(50000 - i, (100 + i) / 100); // sizes as a venue spells them (1.14, not 1.1400000000000001)
    asks.set(50000 + i, (100 + i) / 100);
  }
  let seq = 1000;
  const out: SynthMsg[] = [];
  for (let i = 0; i < n; i++) {
    const time = t0 + i * step;
    if (i % snapEvery === 0) {
      const b: Level[] = [...bids].filter(([, s]) => s > 0).sort((x, y) => y[0] - x[0]);
      const a: Level[] = [...asks].filter(([, s]) => s > 0).sort((x, y) => x[0] - y[0]);
      const p = `{"v":1,"type":"snapshot","venue":"binance","symbol":"${symbol}","seq":${seq},"bids":${JSON.stringify(b)},"asks":${JSON.stringify(a)},"exchTime":0,"pubTime":${time},"reason":"${i === 0 ? 'resync' : 'periodic'}"}`;
      out.push({ time, payload: Buffer.from(p), snapshot: true });
      continue;
    }
    const db: Level[] = [];
    const da: Level[] = [];
    for (let k = 0; k < 3; k++) {
      const side = rnd() < 0.5;
      const price = side ? 50000 - 1 - Math.floor(rnd() * 60) : 50000 + 1 + Math.floor(rnd() * 60);
      const size = rnd() < 0.2 ? 0 : Math.round(rnd() * 500) / 100;
      (side ? db : da).push([price, size]);
      (side ? bids : asks).set(price, size);
    }
    const first = seq + 1;
    const last = seq + 1 + Math.floor(rnd() * 3);
    const p = `{"v":1,"type":"delta","venue":"binance","symbol":"${symbol}","seq":${last},"prev":${seq},"first":${first},"bids":${JSON.stringify(db)},"asks":${JSON.stringify(da)},"exchTime":${Math.floor(time / 1000)},"recvTime":${time - 50},"pubTime":${time - 10},"feed":"a"}`;
    seq = last;
    out.push({ time, payload: Buffer.from(p), snapshot: false });
  }
  return out;
}
