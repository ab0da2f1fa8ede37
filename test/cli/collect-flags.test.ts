/**
 * `bookwire collect` flags reach the collector: `--snapshot-limit 100` once got lost between the config's two
 * passes, so every snapshot was fetched at the default depth -- 10x the REST weight per book (5 -> 50), and a
 * few hundred books ran two collectors out of Binance's budget. The simulator's count of weight per IP shows
 * what the collector asked for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExchangeSimulator } from '../../src/sim/index.js';
import { silentLogger } from '../../src/log.js';
import { busFlags, freeEndpoints, startCli, waitFor } from '../helpers.js';

test('collect --snapshot-limit 100 fetches depth 100 (weight 5), not the default', async (t) => {
  const sim = new ExchangeSimulator({ port: 0, symbols: ['BTCUSDT'], eventsPerSec: 5, logger: silentLogger });
  await sim.start();
  const ep = await freeEndpoints();
  const procs = [
    startCli(['arbitrate', '--symbols', 'BTCUSDT', ...busFlags(ep), '--log-level', 'warn']),
    startCli([
      'collect',
      '--id',
      'a',
      '--symbols',
      'BTCUSDT',
      '--ws-url',
      sim.wsBase,
      '--rest-url',
      sim.restBase,
      '--snapshot-limit',
      '100',
      '--local-address',
      '127.0.0.5',
      '--ingest',
      ep.ingest.join(','),
      '--publish',
      ep.publish.join(','),
      '--log-level',
      'warn',
    ]),
  ];
  t.after(async () => {
    for (const p of procs) if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
    await sim.stop();
  });
  const ip = () => sim.limitStats().binance?.['127.0.0.5'];
  await waitFor(() => sim.stats().snapshotsServed >= 1, 20_000, 'a snapshot fetched');
  await waitFor(() => ip()?.requests === 2, 5000, 'its two requests counted');
  // the symbol check (exchangeInfo, 20) and one depth snapshot at limit 100 (5); at the default depth 70
  assert.equal(ip()!.weight, 25, procs.map((p) => p.output()).join('\n'));
});
