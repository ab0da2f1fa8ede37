/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/**
 * gemini: the current API (/?snapshot=-1, <sym>@depth@100ms): a reply, then the snapshot as a depthUpdate with
 * U = u, then updates whose U is the previous u of the book (ids shared by every book: they jump), every
 * frame parsed by the gemini adapter; the client's book equals the truth; unsubscribe / subscribe gives a
 * fresh snapshot; no snapshot without ?snapshot; errors for bad requests; regrouping keeps the chain.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseGeminiMessage } from '../../src/venues/gemini.js';
import { LocalBook, Probe, sleep, startSim, waitFor } from './helpers.js';

const V = 'gemini' as const;

/** Reads a connection's depthUpdates of one book the way the docs say: the first replaces the book. */
function reader(p: Probe, symbol: string, from = 0) {
  const st = { book: new LocalBook(), msgs: [] as any[], chainBreaks: 0, adapterErrors: 0, seen: from };
  const poll = () => {
    for (; st.seen < p.frames.length; st.seen++) {
      const text = p.frames[st.seen].text;
      let o: any;
      try {
        o = JSON.parse(text);
      } catch {
        continue;
      }
      if (o.e !== 'depthUpdate' || o.s !== symbol) continue;
      if (parseGeminiMessage(text, 'c', 0).delta === undefined) st.adapterErrors++;
      const prev = st.msgs.at(-1);
      if (prev === undefined) st.book.reset(o.b, o.a);
      else {
        if (o.U !== prev.u) st.chainBreaks++;
        st.book.apply(o.b, o.a);
      }
      st.msgs.push(o);
    }
  };
  return { st, poll };
}

test('gemini: reply, snapshot (U = u), updates chained by U = previous u over shared ids; the truth; the adapter reads every frame', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSD', 'ETHUSD'],
    venues: [V],
    eventsPerSec: 200,
    levels: 200,
    faults: { regroup: { regroupRate: 0.3 } },
  });
  const base = sim.venueWsBase(V);
  const p = await Probe.open(t, `${base}?snapshot=-1`);
  p.send({ id: 's0', method: 'SUBSCRIBE', params: ['btcusd@depth@100ms', 'ethusd@depth@100ms'] });
  const g = await Probe.open(t, `${base}/p/regroup?snapshot=-1`);
  g.send({ id: 1, method: 'SUBSCRIBE', params: ['btcusd@depth@100ms'] });
  const btc = reader(p, 'btcusd');
  const eth = reader(p, 'ethusd');
  const grouped = reader(g, 'btcusd');
  await waitFor(
    () => {
      for (const r of [btc, eth, grouped]) r.poll();
      return btc.st.msgs.length > 100 && grouped.st.msgs.length > 50;
    },
    8000,
    'updates',
  );
  sim.pause();
  await sleep(700); // a held regrouped message goes out within 500 ms
  assert.deepEqual(JSON.parse(p.frames[0].text), { id: 's0', status: 200 });
  for (const [r, sym] of [
    [btc, 'BTCUSD'],
    [eth, 'ETHUSD'],
    [grouped, 'BTCUSD'],
  ] as const) {
    r.poll();
    const snap = r.st.msgs[0];
    assert.equal(snap.U, snap.u, 'the snapshot covers nothing of its own');
    assert.ok(snap.b.length >= 100 && snap.a.length >= 100);
    assert.equal(r.st.chainBreaks, 0, 'U == previous u, always');
    assert.equal(r.st.adapterErrors, 0);
    const tr = sim.truth(sym, Infinity, V);
    assert.deepEqual(r.st.book.levels(), { bids: tr.bids, asks: tr.asks });
  }
  // ids are shared: a book's U jumps past its previous u + 1
  assert.ok(btc.st.msgs.slice(1).some((m: any, i: number) => m.u - btc.st.msgs[i].u > 1 + m.b.length + m.a.length));
  assert.ok(sim.stats().regrouped > 0);
  const upd = btc.st.msgs[1];
  assert.deepEqual(Object.keys(upd), ['e', 'E', 's', 'U', 'u', 'b', 'a']);
  assert.ok(String(upd.E).length === 19, 'E in nanoseconds');
});

test('gemini: unsubscribe then subscribe gives a fresh snapshot; no snapshot without ?snapshot; bad requests get errors', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSD'], venues: [V], eventsPerSec: 100 });
  const base = sim.venueWsBase(V);
  const p = await Probe.open(t, `${base}/?snapshot=-1`);
  p.send({ id: 's0', method: 'SUBSCRIBE', params: ['btcusd@depth@100ms'] });
  await waitFor(() => p.json().filter((o) => o.e === 'depthUpdate').length > 5, 5000, 'updates');
  p.send({ id: 'u-btcusd', method: 'UNSUBSCRIBE', params: ['btcusd@depth@100ms'] });
  await p.waitJson((o) => o.id === 'u-btcusd');
  const after = p.frames.length;
  await sleep(200);
  assert.equal(p.frames.length, after, 'nothing after the unsubscribe was answered');
  assert.equal(parseGeminiMessage(p.frames[after - 1].text, 'c', 0).unsubscribed, 'BTCUSD');
  const fresh = reader(p, 'btcusd', after);
  p.send({ id: 's-btcusd', method: 'SUBSCRIBE', params: ['btcusd@depth@100ms'] });
  await waitFor(
    () => {
      fresh.poll();
      return fresh.st.msgs.length > 10;
    },
    5000,
    'a fresh snapshot and updates',
  );
  assert.equal(fresh.st.msgs[0].U, fresh.st.msgs[0].u);
  sim.pause();
  await sleep(100);
  fresh.poll();
  const tr = sim.truth('BTCUSD', Infinity, V);
  assert.deepEqual(fresh.st.book.levels(), { bids: tr.bids, asks: tr.asks });

  // without ?snapshot (Gemini's default 0): updates only
  const q = await Probe.open(t, base);
  sim.resume();
  q.send({ id: 1, method: 'SUBSCRIBE', params: ['btcusd@depth@100ms'] });
  await waitFor(() => q.json().filter((o) => o.e === 'depthUpdate').length > 3, 5000, 'updates');
  const first = q.json().find((o) => o.e === 'depthUpdate');
  assert.ok(first.U < first.u, 'an update, not a snapshot');

  for (const bad of [
    'nope',
    '[]',
    '{"id":2,"method":"FOO"}',
    '{"id":3,"method":"SUBSCRIBE","params":["dogeusd@depth"]}',
  ])
    q.ws.send(bad);
  await waitFor(() => q.json().filter((o) => o.status === 400).length === 4, 3000, 'four errors');
  for (const e of q.json().filter((o) => o.status === 400)) {
    assert.equal(e.error.code, -1013);
    assert.ok(parseGeminiMessage(JSON.stringify(e), 'c', 0).error);
  }
});
