/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/** Each fault does what it says, on the connection (or REST call) that selected its profile only. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getJson, Probe, sleep, startSim, waitFor, type DepthUpdate } from './helpers.js';

const STREAM = 'stream?streams=btcusdt@depth@100ms';

function gaps(evs: DepthUpdate[]): number {
  let n = 0;
  for (let i = 1; i < evs.length; i++) if (evs[i].U > evs[i - 1].u + 1) n++;
  return n;
}

function repeats(evs: DepthUpdate[]): number {
  let n = 0;
  for (let i = 1; i < evs.length; i++) if (evs[i].U === evs[i - 1].U) n++;
  return n;
}

function inversions(evs: DepthUpdate[]): number {
  let n = 0;
  for (let i = 1; i < evs.length; i++) if (evs[i].U < evs[i - 1].U) n++;
  return n;
}

test('drop: events go missing (gaps) on the faulty connection only', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'], eventsPerSec: 400, faults: { lossy: { dropRate: 0.2 } } });
  const lossy = await Probe.open(t, `${sim.wsBase}/p/lossy/${STREAM}`);
  const clean = await Probe.open(t, `${sim.wsBase}/${STREAM}`);
  await waitFor(() => clean.events().length >= 300, 5000, '300 events');
  const l = lossy.events();
  assert.ok(gaps(l) > 10, `lossy gaps: ${gaps(l)}`);
  assert.equal(repeats(l), 0);
  assert.equal(gaps(clean.events()), 0, 'the clean connection is untouched');
  const dropped = sim.stats().dropped;
  assert.ok(dropped > 10);
});

test('dup: some events arrive twice, nothing is lost', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'], eventsPerSec: 400, faults: { default: { dupRate: 0.2 } } });
  const p = await Probe.open(t, `${sim.wsBase}/${STREAM}`);
  await waitFor(() => p.events().length >= 300, 5000, '300 events');
  const evs = p.events();
  assert.ok(repeats(evs) > 10, `repeats: ${repeats(evs)}`);
  assert.equal(gaps(evs.filter((e, i) => i === 0 || e.U !== evs[i - 1].U)), 0);
  assert.ok(sim.stats().duplicated > 10);
});

test('delay and jitter: messages arrive late but in order', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT'],
    eventsPerSec: 200,
    faults: { slow: { delayMs: 150, jitterMs: 50 } },
  });
  const p = await Probe.open(t, `${sim.wsBase}/p/slow/${STREAM}`);
  await waitFor(() => p.events().length >= 100, 5000, '100 events');
  const lags = p.frames.map((f) => f.at - JSON.parse(f.text).data.E);
  assert.ok(Math.min(...lags) >= 140, `min lag ${Math.min(...lags)} ms`);
  const evs = p.events();
  assert.equal(inversions(evs), 0, 'jitter does not reorder');
  assert.equal(gaps(evs), 0);
});

test('reorder: some events arrive after their successor, none lost', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'], eventsPerSec: 400, faults: { default: { reorderRate: 0.1 } } });
  const p = await Probe.open(t, `${sim.wsBase}/${STREAM}`);
  await waitFor(() => p.events().length >= 300, 5000, '300 events');
  sim.pause();
  await sleep(100);
  const evs = p.events();
  assert.ok(inversions(evs) > 5, `inversions: ${inversions(evs)}`);
  const sorted = [...evs].sort((a, b) => a.U - b.U);
  assert.equal(gaps(sorted), 0, 'every event arrived');
  assert.equal(new Set(evs.map((e) => e.U)).size, evs.length, 'no duplicates');
});

test('disconnect: the socket is closed abruptly every N seconds (+-10%)', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT'],
    eventsPerSec: 100,
    faults: { cut: { disconnectEveryS: 0.3 } },
  });
  const t0 = Date.now();
  const p = await Probe.open(t, `${sim.wsBase}/p/cut/${STREAM}`);
  const clean = await Probe.open(t, `${sim.wsBase}/${STREAM}`);
  await waitFor(() => p.closed, 3000, 'the disconnect');
  const after = Date.now() - t0;
  assert.ok(after >= 250 && after < 1500, `closed after ${after} ms`);
  assert.equal(p.closeCode, 1006, 'no close frame: an abrupt drop');
  assert.equal(sim.stats().disconnects, 1);
  assert.equal(clean.closed, false);
});

test('stall: the socket goes silent for stallForS, then the held data arrives with no gap', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT'],
    eventsPerSec: 100,
    faults: { stuck: { stallEveryS: 0.2, stallForS: 0.4 } },
  });
  const p = await Probe.open(t, `${sim.wsBase}/p/stuck/${STREAM}`);
  await waitFor(() => sim.stats().stalls >= 1, 3000, 'a stall');
  const stalledAt = Date.now();
  await waitFor(() => p.frames.length > 0 && p.frames.at(-1)!.at > stalledAt + 300, 3000, 'data after the stall');
  await sleep(50);
  let silence = 0;
  for (let i = 1; i < p.frames.length; i++) silence = Math.max(silence, p.frames[i].at - p.frames[i - 1].at);
  assert.ok(silence >= 350, `longest silence ${silence} ms`);
  assert.equal(p.closed, false, 'the socket stays open');
  assert.equal(gaps(p.events()), 0, 'held events are delivered after the stall');
});

test('malformed: corrupted frames (bad JSON or wrong field types) replace some events', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'], eventsPerSec: 400, faults: { bad: { malformedRate: 0.2 } } });
  const p = await Probe.open(t, `${sim.wsBase}/p/bad/ws/btcusdt@depth@100ms`);
  await waitFor(() => p.frames.length >= 300, 5000, '300 frames');
  let badJson = 0;
  let badType = 0;
  for (const f of p.frames) {
    let o: any;
    try {
      o = JSON.parse(f.text);
    } catch {
      badJson++;
      continue;
    }
    if (typeof o.U !== 'number' || typeof o.u !== 'number') badType++;
  }
  assert.ok(badJson > 5, `truncated frames: ${badJson}`);
  assert.ok(badType > 5, `wrong-type frames: ${badType}`);
  assert.ok(sim.stats().malformed >= badJson + badType);
});

test('snapshot errors: 429 with Retry-After and -1003, 500 with -1001; other profiles unaffected', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT'],
    faults: {
      limited: { snapshotErrorRate: 1, snapshotErrorStatus: 429 },
      broken: { snapshotErrorRate: 1, snapshotErrorStatus: 500 },
      half: { snapshotErrorRate: 0.5 },
    },
  });
  const r429 = await getJson(`${sim.restBase}/p/limited/api/v3/depth?symbol=BTCUSDT&limit=10`);
  assert.equal(r429.status, 429);
  assert.equal(r429.body.code, -1003);
  assert.ok(Number(r429.headers.get('retry-after')) > 0);
  const r500 = await getJson(`${sim.restBase}/p/broken/api/v3/depth?symbol=BTCUSDT&limit=10`);
  assert.equal(r500.status, 500);
  assert.equal(r500.body.code, -1001);
  const ok = await getJson(`${sim.restBase}/api/v3/depth?symbol=BTCUSDT&limit=10`);
  assert.equal(ok.status, 200);
  assert.equal((await getJson(`${sim.restBase}/p/limited/api/v3/exchangeInfo`)).status, 200, 'only snapshots fail');
  const statuses: number[] = [];
  for (let i = 0; i < 40; i++)
    statuses.push((await getJson(`${sim.restBase}/p/half/api/v3/depth?symbol=BTCUSDT&limit=5`)).status);
  const fails = statuses.filter((s) => s === 429).length;
  assert.ok(fails > 5 && fails < 35, `${fails}/40 failed at rate 0.5`);
  assert.equal(sim.stats().snapshotErrors, 2 + fails);
});

test('slow snapshot: delivered late, and stale by the time it lands', async (t) => {
  const sim = await startSim(t, {
    symbols: ['BTCUSDT'],
    eventsPerSec: 100,
    faults: { slow: { snapshotDelayMs: 300 } },
  });
  const r = await getJson(`${sim.restBase}/p/slow/api/v3/depth?symbol=BTCUSDT&limit=10`);
  assert.equal(r.status, 200);
  assert.ok(r.ms >= 290, `took ${r.ms} ms`);
  assert.ok(r.body.lastUpdateId < sim.truth('BTCUSDT').lastUpdateId, 'the book moved on meanwhile');
});

test('setFaults changes a profile for open connections at once; faults never touch the truth', async (t) => {
  const sim = await startSim(t, { symbols: ['BTCUSDT'], eventsPerSec: 400 });
  const p = await Probe.open(t, `${sim.wsBase}/${STREAM}`);
  await waitFor(() => p.events().length >= 100, 5000, '100 events');
  assert.equal(gaps(p.events()), 0);
  const before = sim.truth('BTCUSDT');
  sim.setFaults('default', { dropRate: 0.5 });
  const mark = p.events().length;
  await waitFor(() => p.events().length >= mark + 100, 5000, '100 more events');
  assert.ok(gaps(p.events().slice(mark)) > 10, 'drops after setFaults');
  assert.ok(sim.truth('BTCUSDT').lastUpdateId > before.lastUpdateId, 'the truth kept advancing');
  sim.setFaults('default', {});
  const mark2 = p.events().length;
  await waitFor(() => p.events().length >= mark2 + 50, 5000, '50 more events');
  assert.equal(gaps(p.events().slice(mark2 + 1)), 0, 'clean again');
});

test('corruptLevel changes one size in place: Kraken qty numbers and ["price","size"] strings; never to zero; none without a level', async () => {
  const { corruptLevel } = await import('../../src/sim/faults.js');
  const k =
    '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":65000.1,"qty":0.50000000}],"asks":[],"checksum":123}]}';
  assert.equal(corruptLevel(k), k.replace('"qty":0.50000000', '"qty":0.50000001'));
  assert.equal(
    corruptLevel('{"e":"depthUpdate","U":5,"u":6,"b":[["100.5","2.09"]],"a":[]}'),
    '{"e":"depthUpdate","U":5,"u":6,"b":[["100.5","2.00"]],"a":[]}',
  );
  assert.equal(
    corruptLevel('{"b":[["1.0","0.9"]]}'),
    '{"b":[["1.0","0.1"]]}',
    '0.9 -> 0.0 would be a delete: 0.1 instead',
  );
  assert.equal(
    corruptLevel('{"type":"l2_updates","changes":[["buy","65000.10","0.25"]]}'),
    '{"type":"l2_updates","changes":[["buy","65000.10","0.26"]]}',
  );
  assert.equal(
    corruptLevel('{"updates":[{"side":"bid","price_level":"1.5","new_quantity":"2"}]}'),
    '{"updates":[{"side":"bid","price_level":"1.5","new_quantity":"3"}]}',
  );
  assert.equal(corruptLevel('{"op":"pong"}'), undefined);
});
