/**
 * `bookwire demo --venues`: one simulator serving every venue listed, collectors <venue>-a and <venue>-b
 * (b through the flaky profile) per venue and one arbiter, each its own process; every book is checked
 * against the simulator's truth for its venue, and --strict fails unless every book matched every time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { busFlags, freeEndpoints, freePort, runCli } from '../helpers.js';

const BOOKS = [
  'binance.BTCUSDT',
  'binance.ETHUSDT',
  'binance-usdm.BTCUSDT',
  'binance-usdm.ETHUSDT',
  'okx.BTC-USDT',
  'okx.ETH-USDT',
  'bybit.BTCUSDT',
  'bybit.ETHUSDT',
];

test('bookwire demo --venues binance,binance-usdm,okx,bybit --strict: every book of every venue matches the truth', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bookwire-demo-venues-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sim = await freePort();
  const r = await runCli(
    [
      'demo',
      '--venues',
      'binance,binance-usdm,okx,bybit',
      '--duration',
      '12',
      '--strict',
      '--no-record',
      '--sim-port',
      String(sim),
      ...busFlags(await freeEndpoints()),
      '--log-dir',
      dir,
    ],
    40_000,
  );
  const logs = () =>
    ['arbiter', 'collector-okx-a', 'collector-okx-b']
      .map(
        (n) =>
          `--- ${n}.log\n${existsSync(path.join(dir, `${n}.log`)) ? readFileSync(path.join(dir, `${n}.log`), 'utf8').slice(-2000) : '(none)'}`,
      )
      .join('\n');
  assert.equal(r.code, 0, `demo failed:\n${r.stdout}\n${r.stderr}\n${logs()}`);
  // not a terminal: status lines covering every book, never a redrawn screen
  assert.doesNotMatch(r.stdout, /\x1b\[/);
  const status = r.stdout.split('\n').filter((l) => /^\d{4}-\d\d-\d\dT[\d:]+Z 8 books \| /.test(l));
  assert.ok(status.length >= 1, r.stdout);
  for (const line of status) for (const b of BOOKS) assert.ok(line.includes(`| ${b} seq=`), `${b} in: ${line}`);
  // the end: every book checked against its venue's truth, never a difference
  assert.match(r.stdout, /Truth checks: \d+ OK, 0 DIFF/);
  for (const b of BOOKS) {
    const m = new RegExp(`^  ${b.replace(/\./g, '\\.')}: (\\d+) OK, (\\d+) DIFF$`, 'm').exec(r.stdout);
    assert.ok(m, `no summary for ${b}:\n${r.stdout}`);
    assert.ok(Number(m[1]) >= 1 && Number(m[2]) === 0, m[0]);
  }
  // one simulator, one arbiter, two collectors per venue, launched from one checked config
  const cfg = parse(readFileSync(path.join(dir, 'demo-config.yaml'), 'utf8')) as {
    sim: { venues: string[] };
    collectors: { id: string; venue: string; wsUrl: string; symbols: string[] }[];
  };
  assert.deepEqual(cfg.sim.venues, ['binance', 'binance-usdm', 'okx', 'bybit']);
  assert.deepEqual(
    cfg.collectors.map((c) => c.id),
    ['binance', 'binance-usdm', 'okx', 'bybit'].flatMap((v) => [`${v}-a`, `${v}-b`]),
  );
  for (const c of cfg.collectors) {
    assert.equal(c.wsUrl.includes(`/${c.venue}/p/flaky`), c.id.endsWith('-b'), c.wsUrl);
    assert.ok(existsSync(path.join(dir, `collector-${c.id}.log`)));
  }
  assert.deepEqual(cfg.collectors.find((c) => c.id === 'okx-a')!.symbols, ['BTC-USDT', 'ETH-USDT']);
});

test('bookwire demo --venues with an unknown venue: exit 2, one line naming the known venues', async () => {
  const r = await runCli(['demo', '--venues', 'binance,bitstamp', '--duration', '1']);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'bookwire: --venues bitstamp: unknown venue (known: binance, binance-usdm, okx, bybit, bybit-linear, kraken, coinbase, gemini, gemini-v2)\n',
  );
  assert.equal(r.stdout, '');
});
