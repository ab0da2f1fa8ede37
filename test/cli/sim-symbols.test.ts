/* eslint-disable @typescript-eslint/no-explicit-any -- tests inspect arbitrary wire JSON */
/** `bookwire sim --symbols` in any venue's spelling or the unified one: a swap served from the CLI; clear errors. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { venueSymbolFrom } from '../../src/venues/index.js';
import { freePort, runCli, startCli, waitFor } from '../helpers.js';
import { LocalBook, Probe } from '../sim/helpers.js';

test("venueSymbolFrom: each venue reads its own spelling, another venue's, or the unified one", () => {
  const cases: [string, string, string | undefined][] = [
    ['okx', 'BTC/USDT:USDT', 'BTC-USDT-SWAP'],
    ['okx', 'BTCUSDT', 'BTC-USDT'],
    ['okx', 'BTC-USDT-SWAP', 'BTC-USDT-SWAP'],
    ['binance-usdm', 'BTC-USDT-SWAP', 'BTCUSDT'],
    ['binance-usdm', 'BTC/USDT:USDT', 'BTCUSDT'],
    ['bybit-linear', 'BTC-USDT-SWAP', 'BTCUSDT'],
    ['binance', 'BTC-USDT', 'BTCUSDT'],
    ['binance', 'BTC/USDT:USDT', undefined],
    ['binance', 'BTC-USDT-SWAP', undefined],
    ['bybit', 'BTC/USDT:USDT', undefined],
    ['okx', 'FOO.BAR', undefined],
  ];
  for (const [v, input, want] of cases) assert.equal(venueSymbolFrom(v, input), want, `${input} on ${v}`);
});

test('sim --symbols BTC/USDT:USDT,ETHUSDT on binance, okx, bybit-linear: each venue serves its markets; the OKX swap book = truth', async (t) => {
  const port = await freePort();
  const cli = startCli([
    'sim',
    '--venues',
    'binance,okx,bybit-linear',
    '--symbols',
    'btc/usdt:usdt,ETHUSDT',
    '--port',
    String(port),
    '--rate',
    '100',
    '--log-level',
    'warn',
  ]);
  t.after(() => {
    if (cli.proc.exitCode === null) cli.proc.kill('SIGKILL');
  });
  await waitFor(() => /venues: /.test(cli.output()), 10_000, 'the simulator to listen');
  const line = /venues: .*/.exec(cli.output())![0];
  assert.match(line, /\/binance \(ETHUSDT\)/, 'a spot venue does not serve the perpetual');
  assert.match(line, /\/okx \(BTC-USDT-SWAP, ETH-USDT\)/);
  assert.match(line, /\/bybit-linear \(BTCUSDT, ETHUSDT\)/);
  const rest = `http://127.0.0.1:${port}`;
  assert.equal((await fetch(`${rest}/binance/sim/truth?symbol=BTCUSDT`)).status, 400);

  const p = await Probe.open(t, `ws://127.0.0.1:${port}/okx/ws/v5/public`);
  p.send({ op: 'subscribe', args: [{ channel: 'books', instId: 'BTC-USDT-SWAP' }] });
  const pushes = () => p.json().filter((o: any) => o.arg?.instId === 'BTC-USDT-SWAP' && o.action !== undefined);
  await waitFor(() => pushes().length >= 30, 10_000, '30 pushes of the swap');
  await fetch(`${rest}/okx/sim/pause`, { method: 'POST' });
  const truth = (await (await fetch(`${rest}/okx/sim/truth?symbol=BTC-USDT-SWAP`)).json()) as any;
  await waitFor(() => pushes().at(-1)?.data[0].seqId === truth.lastUpdateId, 3000, 'the last update');
  const book = new LocalBook();
  for (const m of pushes()) {
    const d = m.data[0];
    if (m.action === 'snapshot') book.reset(d.bids, d.asks);
    else book.apply(d.bids, d.asks);
  }
  const top = book.levels();
  assert.deepEqual(
    { bids: top.bids.slice(0, 400), asks: top.asks.slice(0, 400) },
    {
      bids: truth.bids.slice(0, 400),
      asks: truth.asks.slice(0, 400),
    },
  );
  cli.proc.kill('SIGTERM');
  assert.equal(await cli.exited, 0);
});

test('sim --symbols that no served venue can take: one line naming the venues that could, exit 2', async () => {
  for (const [args, want] of [
    [
      ['--symbols', 'BTC/USDT:USDT'],
      /symbol "BTC\/USDT:USDT": no simulated venue \(binance\).*binance-usdm, okx, bybit-linear would/,
    ],
    [
      ['--venue', 'bybit', '--symbols', 'BTCUSDT,BTC-USDT-SWAP'],
      /symbol "BTC-USDT-SWAP": no simulated venue \(bybit\)/,
    ],
    [
      ['--venue', 'okx', '--symbols', 'BTC.USDT'],
      /symbol "BTC.USDT": no simulated venue \(okx\) serves that market; spell/,
    ],
  ] as const) {
    const r = await runCli(['sim', '--port', '0', ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, want);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  }
});
