/**
 * kill -9 of a real `bookwire record` process mid-write, then a restart: every block it reported written
 * is still there, the torn tail is cut (and logged), every remaining record verifies, and recording goes
 * on in a new segment. Also: an unwritable directory is a clear error, not a crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BinanceSimulator } from '../../src/sim/index.js';
import { Collector } from '../../src/collector/collector.js';
import { ArbiterService } from '../../src/arbiter/service.js';
import { KIND_MESSAGE, blockBytes, compressSync, decodeBlock, frameRecord } from '../../src/recorder/format.js';
import { listSegments, scanSegment, segmentBlocks } from '../../src/recorder/segment.js';
import { freeEndpoints, sleep, waitFor } from '../helpers.js';
import { zmqBusWithRecorder } from './harness.js';
import { tmpDir } from '../recorder/helpers.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const SYMBOLS = ['BTCUSDT', 'ETHUSDT'];

function startRecorder(args: string[]) {
  const p = spawn(process.execPath, [MAIN, 'record', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const state = {
    written: new Map<string, number>(),
    stderr: '',
    exited: new Promise<number | null>((r) => p.once('exit', (c) => r(c))),
  };
  let buf = '';
  p.stderr.on('data', (d: Buffer) => {
    state.stderr += d;
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const o = JSON.parse(line) as { msg?: string; stream?: string; symbol?: string; written?: number };
        if (o.msg === 'block written') state.written.set(`${o.stream}/${o.symbol}`, o.written!);
      } catch {
        /* not JSON */
      }
    }
  });
  return { p, state };
}

function countRecords(files: string[]): number {
  let n = 0;
  for (const f of files) {
    const s = scanSegment(f, true);
    assert.equal(s.problem, undefined, `${f}: ${s.problem}`);
    const buf = fs.readFileSync(f);
    for (const b of s.blocks) n += decodeBlock(buf.subarray(b.offset, b.offset + 40 + b.clen)).length; // every record's CRC
  }
  return n;
}

test('kill -9 mid-write: nothing reported written is lost, the torn tail is cut, recording continues', async (t) => {
  const dir = tmpDir(t);
  const sim = new BinanceSimulator({ port: 0, symbols: SYMBOLS, seed: 5, eventsPerSec: 400 });
  await sim.start();
  const { ep, recIngest, transport: mk, close } = await zmqBusWithRecorder();
  const arbiter = new ArbiterService({ transport: mk(ep.ingest), symbols: SYMBOLS, snapshotIntervalMs: 300 });
  await arbiter.start();
  const args = [
    '--dir',
    dir,
    '--publish',
    ep.publish[0],
    '--snapshot',
    ep.snapshot[0],
    '--recorder-ingest',
    recIngest,
    '--flush-interval-ms',
    '20',
    '--block-bytes',
    '4096',
    '--fsync',
    'none',
    '--log-level',
    'debug',
  ];
  const first = startRecorder(args);
  const collectors: Collector[] = [];
  t.after(async () => {
    if (first.p.exitCode === null) first.p.kill('SIGKILL');
    for (const c of collectors) await c.stop();
    await arbiter.stop();
    await close();
    await sim.stop();
  });
  await sleep(500);
  const c = new Collector({
    id: 'a',
    symbols: SYMBOLS,
    wsUrl: sim.wsBase,
    restUrl: sim.restBase,
    transport: mk([ep.ingest[0], recIngest]),
  });
  await c.start();
  collectors.push(c);
  await waitFor(
    () => [...first.state.written.values()].reduce((a, b) => a + b, 0) > 1500,
    20_000,
    'the recorder to write 1500 records',
  );
  first.p.kill('SIGKILL');
  await first.state.exited;
  const reported = new Map(first.state.written);

  // what the crash left: unsealed segments; make one of them end in a torn block, as a write cut short would
  const before = new Map<string, string[]>();
  for (const key of reported.keys()) {
    const [stream, symbol] = key.split('/') as ['book' | 'raw', string];
    const segs = listSegments(dir, 'binance', symbol, stream);
    assert.ok(
      segs.some((s) => !s.sealed),
      `${key}: the killed recorder left its open segment unsealed`,
    );
    before.set(
      key,
      segs.map((s) => s.path),
    );
  }
  const victim = listSegments(dir, 'binance', 'BTCUSDT', 'book').find((s) => !s.sealed)!;
  const body = Buffer.concat(frameRecord(KIND_MESSAGE, 1, Buffer.from('{"torn":true}')));
  const torn = blockBytes('brotli', 0, compressSync(body, { codec: 'brotli', level: 1 }), body.length, 1, 1, 1);
  fs.appendFileSync(victim.path, torn.subarray(0, 30));

  const second = startRecorder([...args, '--duration', '1.5']);
  assert.equal(await second.state.exited, 0, second.state.stderr);
  assert.match(second.state.stderr, /torn or corrupt segment tail cut/);
  assert.match(second.state.stderr, new RegExp(path.basename(victim.path)));

  for (const [key, n] of reported) {
    const files = before.get(key)!;
    assert.ok(countRecords(files) >= n, `${key}: ${n} records were reported written before the kill`);
    const [stream, symbol] = key.split('/') as ['book' | 'raw', string];
    const segs = listSegments(dir, 'binance', symbol, stream);
    assert.ok(
      segs.every((s) => s.sealed),
      `${key}: every segment sealed after the clean stop`,
    );
    assert.ok(segs.length > files.length, `${key}: recording continued in a new segment`);
    for (const s of segs) assert.ok(segmentBlocks(s).blocks.length > 0);
    countRecords(segs.map((s) => s.path));
  }
});

test('bookwire record into an unwritable directory: exit 2 with a clear message', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'not-a-dir');
  fs.writeFileSync(file, '');
  const ep = await freeEndpoints();
  const r = startRecorder([
    '--dir',
    path.join(file, 'data'),
    '--publish',
    ep.publish[0],
    '--recorder-ingest',
    ep.ingest[0],
  ]);
  assert.equal(await r.state.exited, 2);
  assert.match(r.state.stderr, /cannot write to the recording directory .*not-a-dir/);
  assert.doesNotMatch(r.state.stderr, /\n\s+at .+:\d+:\d+/);
});
