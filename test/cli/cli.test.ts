/** The bookwire command as a user runs it: real processes, real sockets, clear errors for user mistakes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { busFlags, freeEndpoints, freePort, waitFor, runCli } from '../helpers.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function tmpdir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'bookwire-cli-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const noStack = (s: string) => assert.doesNotMatch(s, /\n\s+at .+:\d+:\d+/, `a stack trace was printed:\n${s}`);

test('a bad config file: exit 2 with the file, the key and the problem, no stack trace', async (t) => {
  const dir = tmpdir(t);
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(file, 'symbols: [BTCUSDT]\narbiter:\n  gapTimeoutMs: abc\n');
  const r = await runCli(['arbitrate', '--config', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad\.yaml/);
  assert.match(r.stderr, /arbiter\.gapTimeoutMs/);
  noStack(r.stderr);
  const missing = await runCli(['sim', '--config', path.join(dir, 'nope.yaml')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.yaml.*not found/);
  noStack(missing.stderr);
});

test('a bad flag value: clear message, no stack trace', async () => {
  const r = await runCli(['sim', '--port', 'abc']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--port: expected a number, got "abc"/);
  noStack(r.stderr);
  // a duration of 0 or less would otherwise mean "run forever"
  for (const [cmd, flag, v] of [
    ['sim', '--duration', '-5'],
    ['record', '--duration', '0'],
    ['book-at', '--depth', '2.5'],
  ]) {
    const bad = await runCli([cmd, flag, v]);
    assert.equal(bad.code, 2, `${cmd} ${flag} ${v}`);
    assert.match(bad.stderr, new RegExp(`${flag}: expected an? (number|integer) > 0, got "${v}"`));
    noStack(bad.stderr);
  }
});

test('arbitrate --diverge-ms: outside 10..60000 or not an integer, one clear line (exit 2)', async () => {
  for (const v of ['5', '60001', '2.5', 'abc']) {
    const r = await runCli(['arbitrate', '--diverge-ms', v, '--duration', '0.1']);
    assert.equal(r.code, 2, `--diverge-ms ${v}: ${r.stderr}`);
    const want = v === 'abc' ? 'a number' : 'an integer from 10 to 60000';
    assert.match(r.stderr, new RegExp(`^bookwire: --diverge-ms: expected ${want}, got "${v}"\\n$`));
  }
});

test('sim --capture: another venue\'s capture or a missing file is one clear line (exit 2); an OKX capture runs with --venue okx', async () => {
  const okx = fileURLToPath(new URL('../../../test/fixtures/real/capture_okx_btc-usdt.ndjson', import.meta.url));
  const wrong = await runCli(['sim', '--venue', 'bybit', '--capture', okx, '--port', '0']);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /^bookwire: capture: no Bybit spot book snapshot found/);
  noStack(wrong.stderr);
  const missing = await runCli(['sim', '--capture', path.join(os.tmpdir(), 'no-such-capture.ndjson'), '--port', '0']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /capture: cannot read .*no-such-capture\.ndjson: ENOENT/);
  noStack(missing.stderr);
  const args = ['sim', '--venue', 'okx', '--capture', okx, '--port', '0', '--duration', '1', '--rate', '100'];
  const ok = await runCli(args);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout + ok.stderr, /"venue":"okx","symbol":"BTC-USDT","events":40/);
});

test('a port already in use: the arbiter and the simulator exit with a message naming it', async (t) => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const [p2, p3] = [await freePort(), await freePort()];
  const r = await runCli([
    'arbitrate',
    '--ingest',
    `tcp://127.0.0.1:${port}`,
    '--publish',
    `tcp://127.0.0.1:${p2}`,
    '--snapshot',
    `tcp://127.0.0.1:${p3}`,
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}.*in use`));
  noStack(r.stderr);
  const s = await runCli(['sim', '--port', String(port)]);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /in use/);
  assert.match(s.stderr, new RegExp(String(port)));
  noStack(s.stderr);
});

test('bookwire demo runs the whole pipeline as processes and its book matches the simulator truth', async (t) => {
  const dir = tmpdir(t);
  const sim = await freePort();
  const r = await runCli(['demo', '--duration', '8', '--strict', '--sim-port', String(sim), ...busFlags(await freeEndpoints()), '--log-dir', dir], 40_000);
  assert.equal(r.code, 0, `demo failed:\n${r.stdout}\n${r.stderr}`);
  // not a terminal: one-line status, not a redrawn screen
  assert.doesNotMatch(r.stdout, /\x1b\[2J/);
  assert.match(r.stdout, /binance\.BTCUSDT seq=\d+/);
  const m = /Truth checks: (\d+) OK, (\d+) DIFF/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.ok(Number(m[1]) >= 2, `too few truth checks: ${m[0]}`);
  assert.equal(Number(m[2]), 0);
});

test('kill -9 of one collector process mid-run loses nothing', async (t) => {
  const { subscribe } = await import('../../src/client/subscribe.js');
  const simPort = await freePort();
  const ep = await freeEndpoints();
  const bus = busFlags(ep);
  const procs: ChildProcess[] = [];
  const start = (args: string[]) => {
    const p = spawn(process.execPath, [MAIN, ...args, '--log-level', 'warn'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    procs.push(p);
    return p;
  };
  t.after(() => procs.forEach((p) => p.exitCode === null && p.kill('SIGKILL')));
  start(['sim', '--port', String(simPort), '--symbols', 'BTCUSDT', '--rate', '200']);
  const rest = `http://127.0.0.1:${simPort}`;
  await waitFor(async () => (await fetch(`${rest}/api/v3/ping`).catch(() => null))?.ok === true, 10_000, 'simulator');
  start(['arbitrate', '--symbols', 'BTCUSDT', ...bus]);
  const ws = `ws://127.0.0.1:${simPort}`;
  const victim = start(['collect', '--id', 'a', '--symbols', 'BTCUSDT', '--ws-url', ws, '--rest-url', rest, ...bus]);
  start(['collect', '--id', 'b', '--symbols', 'BTCUSDT', '--ws-url', ws, '--rest-url', rest, ...bus]);

  const ac = new AbortController();
  t.after(() => ac.abort());
  const deltas: { seq: number; prev: number }[] = [];
  let last: { seq: number; book: { top(n: number): { bids: number[][]; asks: number[][] } } } | undefined;
  let resets = 0;
  const done = (async () => {
    for await (const u of subscribe({
      symbol: 'BTCUSDT',
      endpoints: { publish: ep.publish, snapshot: ep.snapshot },
      signal: ac.signal,
    })) {
      last = u;
      if (u.message.type === 'delta') deltas.push({ seq: u.message.seq, prev: u.message.prev });
      else resets++;
    }
  })();
  await waitFor(() => deltas.length > 100, 15_000, '100 consolidated deltas');
  victim.kill('SIGKILL');
  const atKill = deltas.length;
  await waitFor(() => deltas.length > atKill + 200, 10_000, '200 more deltas after the kill');
  await fetch(`${rest}/sim/pause`, { method: 'POST' });
  const truth = (await (await fetch(`${rest}/sim/truth?symbol=BTCUSDT&depth=20`)).json()) as {
    lastUpdateId: number;
    bids: number[][];
    asks: number[][];
  };
  await waitFor(() => last?.seq === truth.lastUpdateId, 5000, 'client to reach the truth seq');
  for (let i = 1; i < deltas.length; i++)
    assert.equal(deltas[i].prev, deltas[i - 1].seq, `gap or duplicate at delta ${i}`);
  assert.equal(resets, 1, 'only the initial snapshot: no resync was needed');
  assert.deepEqual(last!.book.top(20), { bids: truth.bids.slice(0, 20), asks: truth.asks.slice(0, 20) });
  ac.abort();
  await done;
});

test('--version prints the package version', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const r = await runCli(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), version);
});
