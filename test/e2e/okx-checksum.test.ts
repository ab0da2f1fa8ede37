/**
 * OKX's checksum verified where the consolidated book is kept: the simulator sends OKX `books` with real
 * (legacy CRC32) checksums; collector a reads it directly (30 ms late, so b's copies win), collector b through
 * a websocket proxy that now and then slips a made-up bid level (at a price the simulator never uses, as
 * the 25th best) into an update while leaving its checksum as it was. The arbiter must notice each such copy it
 * applies, count it against feed b, resync, and never show it to clients: the client's book ends equal to
 * the truth. Without the verification the phantom level stays in the consolidated book for good.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocket, WebSocketServer } from 'ws';
import { OrderBook } from '../../src/core/book.js';
import type { Level } from '../../src/core/types.js';
import { subscribe } from '../../src/client/subscribe.js';
import { freePort, sleep, waitFor } from '../helpers.js';
import { follow, zmqParts } from './harness.js';

/** A websocket proxy to `target` that corrupts every `every`-th OKX update frame, `max` times. */
class CorruptingProxy {
  target = '';
  updates = 0;
  corrupted = 0;
  private readonly book = new OrderBook();

  private constructor(
    private readonly wss: WebSocketServer,
    readonly url: string,
    private readonly every: number,
    private readonly max: number,
  ) {
    wss.on('connection', (client) => {
      const up = new WebSocket(this.target);
      const pending: string[] = [];
      up.on('open', () => pending.splice(0).forEach((m) => up.send(m)));
      client.on('message', (d) =>
        up.readyState === WebSocket.OPEN ? up.send(d.toString()) : pending.push(d.toString()),
      );
      up.on('message', (d) => client.readyState === WebSocket.OPEN && client.send(this.rewrite(d.toString())));
      const close = () => {
        client.terminate();
        up.terminate();
      };
      up.on('close', close);
      client.on('close', close);
      up.on('error', close);
      client.on('error', close);
    });
  }

  static async start(every: number, max: number): Promise<CorruptingProxy> {
    const port = await freePort();
    const wss = new WebSocketServer({ host: '127.0.0.1', port });
    await once(wss, 'listening');
    return new CorruptingProxy(wss, `ws://127.0.0.1:${port}`, every, max);
  }

  close(): void {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
  }

  private rewrite(text: string): string {
    if (!text.startsWith('{"arg":{"channel":"books"')) return text;
    const o = JSON.parse(text) as { action: string; data: { bids: string[][]; asks: string[][] }[] };
    const d = o.data[0];
    const num = (l: string[][]): Level[] => l.map((x) => [Number(x[0]), Number(x[1])]);
    if (o.action === 'snapshot') {
      this.book.applySnapshot(num(d.bids), num(d.asks));
      return text;
    }
    this.book.apply(num(d.bids), num(d.asks));
    this.updates++;
    const bids = this.book.top(25).bids;
    if (this.updates % this.every !== 0 || this.corrupted >= this.max || bids.length < 25) return text;
    // between the 24th and 25th best bids (so inside the checksum's top 25, and too deep for the book to
    // cross over it), off the simulator's price grid: no later update ever touches it
    const [hi, lo] = [bids[23][0], bids[24][0]];
    const phantom = (lo + (hi - lo) / 3).toFixed(9).replace(/0+$/, '');
    d.bids.push([phantom, '1.234', '0', '1']);
    this.corrupted++;
    return JSON.stringify(o);
  }
}

test('okx: a copy that fails the venue checksum is caught by the arbiter, counted against its feed and resynced; the client equals the truth', async (t) => {
  const proxy = await CorruptingProxy.start(150, 3);
  t.after(() => proxy.close());
  const p = await zmqParts(t, {
    venue: 'okx',
    symbols: ['BTC-USDT'],
    okx: { checksum: true },
    seed: 5,
    rate: 100,
    faulty: false,
    profiles: ['late', undefined],
    faults: { late: { delayMs: 30 } },
    // b reads the venue through the corrupting proxy
    wsUrl: (i, url) => {
      if (i === 0) return url;
      proxy.target = url;
      return proxy.url;
    },
    gapTimeoutMs: 50,
    snapshotTimeoutMs: 1000,
  });
  const ep = p.ep;
  const ac = new AbortController();
  t.after(() => ac.abort());
  const client = follow(subscribe({ venue: 'okx', symbol: 'BTC-USDT', endpoints: ep, signal: ac.signal }));
  await waitFor(() => proxy.corrupted === 3, 20_000, 'three corrupted copies sent');
  await sleep(1000);
  p.sim.pause();
  const truth = p.sim.truth('BTC-USDT', Infinity, 'okx');
  const core = p.arbiter.bookOf('okx', 'BTC-USDT')!;
  await waitFor(
    () => core.state === 'synced' && client.state.last?.seq === truth.lastUpdateId,
    10_000,
    'the client at the truth seq',
  );
  const book = client.state.last!.book.snapshot();
  // OKX's books channel carries the top 400
  assert.deepEqual(book.bids, truth.bids.slice(0, 400), 'no phantom bid: the client equals the truth');
  assert.deepEqual(book.asks, truth.asks.slice(0, 400));
  const feeds = core.feedStats();
  assert.ok(feeds.get('b')!.checksumMismatches >= 1, 'the corrupted copies were caught and counted against b');
  assert.equal(feeds.get('a')!.checksumMismatches, 0, 'the good feed never failed');
  assert.equal(core.counters.checksumMismatches, feeds.get('b')!.checksumMismatches);
  assert.ok(core.counters.checksumsVerified > 100, `checksums verified: ${core.counters.checksumsVerified}`);
  assert.ok(core.counters.resyncs >= core.counters.checksumMismatches, 'each mismatch resynced the book');
  ac.abort();
});
