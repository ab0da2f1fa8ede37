/**
 * Making a capture (src/sim/captureWriter.ts, `bookwire capture`) and replaying it, per venue: a capture of
 * the simulator's book, written while the simulator runs, then paused, holds every update (its replay ends on
 * the source's truth: same id, same levels), and `sim --capture` of that file takes a collector pipeline's
 * client to a book equal to the replay's truth. The CLI: Ctrl-C leaves a valid file; the bounds end a capture.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { subscribe } from '../../src/client/subscribe.js';
import { silentLogger } from '../../src/log.js';
import { ExchangeSimulator, loadCapture, type VenueId } from '../../src/sim/index.js';
import { writeCapture } from '../../src/sim/captureWriter.js';
import { underPrefix, venue } from '../../src/venues/index.js';
import { runCli, sleep, startCli, waitFor } from '../helpers.js';
import { follow, zmqParts } from './harness.js';

const CASES: { venue: VenueId; symbol: string }[] = [
  { venue: 'binance', symbol: 'BTC/USDT' },
  { venue: 'binance-usdm', symbol: 'BTC/USDT:USDT' },
  { venue: 'okx', symbol: 'BTC-USDT-SWAP' },
  { venue: 'bybit', symbol: 'BTCUSDT' },
  { venue: 'bybit-linear', symbol: 'BTC/USDT:USDT' },
];

function tmpDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'bookwire-capture-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function source(t: { after(fn: () => Promise<void>): void }, v: VenueId, symbol: string) {
  const sim = new ExchangeSimulator({
    venues: [v],
    symbols: [symbol],
    eventsPerSec: 100,
    levels: 300,
    seed: 9,
    logger: silentLogger,
  });
  t.after(() => sim.stop());
  await sim.start();
  return { sim, urls: underPrefix(venue(v), sim.venueWsBase(v), sim.venueRestBase(v)) };
}

for (const c of CASES) {
  test(`${c.venue}: a capture of the simulator holds every update, and its replay reaches the client equal to the truth`, async (t) => {
    const out = join(tmpDir(t), 'cap.ndjson');
    const src = await source(t, c.venue, c.symbol);
    const ac = new AbortController();
    const writing = writeCapture({ venue: c.venue, symbol: c.symbol, out, ...src.urls, signal: ac.signal });
    await sleep(1500);
    src.sim.pause();
    const sym = venue(c.venue).venueSymbol(c.symbol) ?? venue('okx').venueSymbol(c.symbol)!;
    const want = src.sim.truth(sym, 20, c.venue);
    await sleep(300); // the last frames land
    ac.abort();
    const s = await writing;
    assert.equal(s.end, 'interrupted');
    assert.equal(s.snapshot, true);
    assert.equal(statSync(out).size, s.bytes);
    assert.ok(readFileSync(out, 'utf8').endsWith('\n'), 'whole lines');
    const data = await loadCapture(out, c.venue);
    assert.equal(data.gaps, 0, 'nothing lost between the snapshot and the frames');
    assert.ok(data.events.length >= 50, `events: ${data.events.length}`);

    const p = await zmqParts(t, {
      venue: c.venue,
      symbols: [data.symbol],
      capture: out,
      seed: 1,
      rate: 200,
      faulty: false,
      gapTimeoutMs: 50,
      snapshotTimeoutMs: 1000,
    });
    const ep = p.ep;
    const start = p.sim.truth(data.symbol, Infinity, c.venue);
    const cl = new AbortController();
    t.after(() => cl.abort());
    const client = follow(subscribe({ venue: c.venue, symbol: data.symbol, endpoints: ep, signal: cl.signal }));
    if (venue(c.venue).snapshotSource === 'rest')
      await waitFor(() => p.sim.stats().connections === 2, 10_000, 'the collectors connected');
    else await waitFor(() => client.state.last?.seq === start.lastUpdateId, 10_000, 'the client synced');
    p.sim.resume();
    await waitFor(() => p.sim.stats().eventsGenerated === data.events.length, 10_000, 'the whole capture replayed');
    const truth = p.sim.truth(data.symbol, Infinity, c.venue);
    assert.equal(truth.lastUpdateId, want.lastUpdateId, "the replay ends at the source's last id");
    assert.deepEqual(
      { bids: truth.bids.slice(0, 20), asks: truth.asks.slice(0, 20) },
      { bids: want.bids, asks: want.asks },
    );
    await waitFor(() => client.state.last?.seq === truth.lastUpdateId, 5000, 'the client reached the end');
    const book = client.state.last!.book.snapshot();
    assert.deepEqual(book.bids, truth.bids, 'bids equal the truth');
    assert.deepEqual(book.asks, truth.asks, 'asks equal the truth');
    assert.equal(client.state.last!.gaps, 0);
    cl.abort();
  });
}

test('bookwire capture: Ctrl-C leaves a replayable file; --max-bytes and --max-frame-bytes end it; no overwrite; one-line errors', async (t) => {
  const dir = tmpDir(t);
  const src = await source(t, 'okx', 'BTC-USDT');
  const base = src.sim.restBase;
  const out = join(dir, 'a.ndjson');
  const cli = startCli(['capture', '--venue', 'okx', '--symbol', 'BTC/USDT', '--out', out, '--sim', base]);
  t.after(() => {
    if (cli.proc.exitCode === null) cli.proc.kill('SIGKILL');
  });
  await waitFor(
    () => {
      try {
        return statSync(out).size > 50_000;
      } catch {
        return false;
      }
    },
    10_000,
    'frames written',
  );
  cli.proc.kill('SIGINT');
  assert.equal(await cli.exited, 0, cli.output());
  assert.match(cli.output(), /capture: \d+ lines, \d+ bytes of okx BTC-USDT in .* \(interrupted\)/);
  assert.match(cli.output(), /replay: bookwire sim --venue okx --capture .* \(\d+ events, 0 gaps\)/);
  assert.equal((await loadCapture(out, 'okx')).gaps, 0);

  // `bookwire capture` of the simulator's okx BTC-USDT into `file`, with more flags
  const okxCapture = (file: string, ...more: string[]) =>
    runCli(['capture', '--venue', 'okx', '--symbol', 'BTC-USDT', '--out', file, '--sim', base, ...more]);
  const again = await okxCapture(out);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /exists \(not overwritten\)/);

  const small = join(dir, 'small.ndjson');
  const r = await okxCapture(small, '--max-bytes', '30000');
  assert.match(r.stdout, /\(max-bytes: the next line would pass 30000 bytes\)/);
  assert.ok(statSync(small).size <= 30000);
  const tiny = join(dir, 'tiny.ndjson');
  const f = await okxCapture(tiny, '--max-frame-bytes', '1000');
  assert.equal(f.code, 1);
  assert.match(f.stdout, /Max payload size exceeded/);

  for (const [args, want] of [
    [['--venue', 'nope', '--symbol', 'BTCUSDT'], /--venue nope: unknown venue/],
    [['--venue', 'binance', '--symbol', 'BTC-USDT-SWAP'], /"BTC-USDT-SWAP" is not a Binance spot symbol/],
  ] as const) {
    const e = await runCli(['capture', ...args, '--out', join(dir, 'e.ndjson'), '--sim', base]);
    assert.equal(e.code, 2);
    assert.match(e.stderr, want);
    assert.equal(e.stderr.trim().split('\n').length, 1);
  }
});

test('capture bounds: --duration ends it; frames held while a slow REST snapshot is awaited are bounded too', async (t) => {
  const dir = tmpDir(t);
  const src = await source(t, 'binance', 'BTCUSDT');
  const out = join(dir, 'd.ndjson');
  const t0 = Date.now();
  const r = await runCli([
    'capture',
    '--venue',
    'binance',
    '--symbol',
    'BTCUSDT',
    '--out',
    out,
    '--sim',
    src.sim.restBase,
    '--duration',
    '1',
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\(duration\)/);
  assert.ok(Date.now() - t0 < 8000);
  src.sim.setFaults('slow', { snapshotDelayMs: 3000 });
  const held = join(dir, 'held.ndjson');
  const s = await writeCapture({
    venue: 'binance',
    symbol: 'BTCUSDT',
    out: held,
    wsUrl: src.sim.wsBase,
    restUrl: `${src.sim.restBase}/p/slow`,
    maxBytes: 4000,
  });
  assert.equal(s.end, 'max-bytes');
  assert.match(s.detail!, /held while the REST snapshot was awaited/);
  assert.equal(s.lines, 0);
  assert.throws(() => statSync(held), /ENOENT/, 'nothing received for the file: no file');
});
