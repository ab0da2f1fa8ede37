/** `bookwire demo` records by default: collectors also publish to the recorder's ingest, both streams land on disk. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BookReplica } from '../../src/core/replica.js';
import { decodeCollectorEvent } from '../../src/wire/messages.js';
import { listSegments } from '../../src/recorder/segment.js';
import { replaySync } from '../../src/recorder/replay.js';
import { busFlags, freeEndpoints, freePort } from '../helpers.js';
import { tmpDir } from '../recorder/helpers.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

test('bookwire demo records the consolidated and raw streams; the recording replays without a gap', async (t) => {
  const dir = tmpDir(t);
  const data = path.join(dir, 'data');
  const [sim, r] = [await freePort(), await freePort()];
  const ep = await freeEndpoints();
  const code = await new Promise<number | null>((resolve) => {
    const p = spawn(
      process.execPath,
      [
        MAIN,
        'demo',
        '--duration',
        '10', // long enough for the children to start and sync on a loaded machine
        '--symbols',
        'BTCUSDT',
        '--sim-port',
        String(sim),
        ...busFlags(ep),
        '--recorder-ingest',
        `tcp://127.0.0.1:${r}`,
        '--record-dir',
        data,
        '--log-dir',
        path.join(dir, 'logs'),
      ],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    const timer = setTimeout(() => p.kill('SIGKILL'), 40_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  assert.equal(code, 0, fs.readFileSync(path.join(dir, 'logs', 'recorder.log'), 'utf8'));
  for (const stream of ['book', 'raw'] as const) {
    const segs = listSegments(data, 'binance', 'BTCUSDT', stream);
    assert.ok(segs.length > 0 && segs.every((s) => s.sealed), `${stream}: sealed segments`);
  }
  const replica = new BookReplica();
  let n = 0;
  for (const it of replaySync({ dir: data, symbol: 'BTCUSDT' })) {
    assert.equal(it.kind, 'message', 'no gap marker');
    assert.notEqual(replica.onMessage(it.message!), 'gap');
    n++;
  }
  assert.ok(n >= 20 && replica.synced, `replayed ${n} consolidated messages`);
  const feeds = new Set(
    [...replaySync({ dir: data, symbol: 'BTCUSDT', book: false, raw: true })].map(
      (i) => decodeCollectorEvent(i.payload).collector,
    ),
  );
  assert.deepEqual([...feeds].sort(), ['a', 'b'], 'both collectors published to the recorder');
});
