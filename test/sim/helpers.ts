/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/** Helpers for the simulator tests: a recording websocket client, a started simulator, Binance parsing. */
import type { TestContext } from 'node:test';
import { WebSocket, type ClientOptions } from 'ws';
import type { Level } from '../../src/core/types.js';
import { silentLogger } from '../../src/log.js';
import { BinanceSimulator, type SimOptions } from '../../src/sim/index.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Start a simulator that the test closes when it ends. */
export async function startSim(
  t: TestContext,
  opts: Partial<SimOptions> & Pick<SimOptions, 'symbols'>,
): Promise<BinanceSimulator> {
  const sim = new BinanceSimulator({ logger: silentLogger, levels: 200, ...opts });
  t.after(() => sim.stop());
  await sim.start();
  return sim;
}

export interface Frame {
  text: string;
  at: number;
}

/** A websocket client that records every text frame with its arrival time (Date.now() ms). */
export class Probe {
  readonly frames: Frame[] = [];
  closed = false;
  closeCode = 0;
  pings = 0;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d, isBinary) => {
      if (!isBinary) this.frames.push({ text: d.toString(), at: Date.now() });
    });
    ws.on('ping', () => this.pings++);
    ws.on('close', (code) => {
      this.closed = true;
      this.closeCode = code;
    });
    ws.on('error', () => {});
  }

  static async open(t: TestContext, url: string, opts?: ClientOptions): Promise<Probe> {
    const ws = new WebSocket(url, opts);
    const p = new Probe(ws);
    t.after(() => ws.terminate());
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    });
    return p;
  }

  send(obj: unknown): void {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  /** Parsed frames (frames that are not JSON are skipped). */
  json(): any[] {
    const out: any[] = [];
    for (const f of this.frames) {
      try {
        out.push(JSON.parse(f.text));
      } catch {
        /* malformed frame */
      }
    }
    return out;
  }

  /** depthUpdate payloads, unwrapped from combined envelopes. */
  events(): DepthUpdate[] {
    return this.json()
      .map((o) => (o && o.data && o.stream ? o.data : o))
      .filter((o) => o && o.e === 'depthUpdate');
  }

  /** Wait for a frame whose parsed JSON satisfies pred; returns it. */
  async waitJson(pred: (o: any) => boolean, timeoutMs = 3000, what = 'a matching frame'): Promise<any> {
    let found: any;
    await waitFor(
      () => {
        found = this.json().find((o) => pred(o));
        return found !== undefined;
      },
      timeoutMs,
      what,
    );
    return found;
  }
}

export interface DepthUpdate {
  e: 'depthUpdate';
  E: number;
  s: string;
  U: number;
  u: number;
  b: [string, string][];
  a: [string, string][];
}

export const toLevels = (l: [string, string][]): Level[] => l.map(([p, q]) => [Number(p), Number(q)]);

/** Binance's number format: a plain decimal with exactly 8 places. */
export const BINANCE_DECIMAL = /^\d+\.\d{8}$/;

export async function getJson(url: string): Promise<{ status: number; body: any; headers: Headers; ms: number }> {
  const t0 = Date.now();
  const res = await fetch(url);
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: res.status, body, headers: res.headers, ms: Date.now() - t0 };
}

/**
 * A client-side book for the venue tests, keyed by the price strings the venue sent (test-local on
 * purpose: the simulator's wire formats are checked without src/venues' parsers). A size that parses to 0
 * deletes.
 */
export class LocalBook {
  readonly bids = new Map<string, string>();
  readonly asks = new Map<string, string>();

  reset(bids: string[][], asks: string[][]): void {
    this.bids.clear();
    this.asks.clear();
    this.apply(bids, asks);
  }

  apply(bids: string[][], asks: string[][]): void {
    for (const [p, q] of bids) this.set(this.bids, p, q);
    for (const [p, q] of asks) this.set(this.asks, p, q);
  }

  private set(side: Map<string, string>, p: string, q: string): void {
    if (Number(q) === 0) side.delete(p);
    else side.set(p, q);
  }

  /** One side best first, as strings. */
  sorted(isBid: boolean): [string, string][] {
    const side = isBid ? this.bids : this.asks;
    return [...side].sort((a, b) => (isBid ? Number(b[0]) - Number(a[0]) : Number(a[0]) - Number(b[0])));
  }

  /** Both sides best first, as numbers (compare with /sim/truth). */
  levels(): { bids: Level[]; asks: Level[] } {
    const num = (l: [string, string][]): Level[] => l.map(([p, q]) => [Number(p), Number(q)]);
    return { bids: num(this.sorted(true)), asks: num(this.sorted(false)) };
  }
}
