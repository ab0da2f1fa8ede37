/**
 * examples/python_subscriber.py (Debian's /usr/bin/python3 + python3-zmq) against a live pipeline:
 * simulator -> 2 collectors (one faulty) -> arbiter. Every line it prints must equal the Node client's
 * book at the same seq. Skips when pyzmq is missing unless BOOKWIRE_REQUIRE_PYZMQ=1 (CI), where it fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { subscribe } from '../../src/client/subscribe.js';
import { follow, pipeline } from './harness.js';

const PYTHON = '/usr/bin/python3';
const script = fileURLToPath(new URL('../../../examples/python_subscriber.py', import.meta.url));
const hasPyzmq = spawnSync(PYTHON, ['-c', 'import zmq']).status === 0;
const skip =
  !hasPyzmq && process.env.BOOKWIRE_REQUIRE_PYZMQ !== '1'
    ? `${PYTHON} cannot import zmq (apt-get install python3-zmq)`
    : false;

test('the Python subscriber shows the same best bid/ask as the Node client at every seq', { skip }, async (t) => {
  const p = await pipeline(t, { faulty: true, rate: 100 });
  const ac = new AbortController();
  t.after(() => ac.abort());
  const tops = new Map<number, string>();
  const node = follow(subscribe({ symbol: 'BTCUSDT', endpoints: p.ep, signal: ac.signal }), (u) => {
    const b = u.book.bestBid()!;
    const a = u.book.bestAsk()!;
    tops.set(u.seq, `bid=${b[0]} x ${b[1]} ask=${a[0]} x ${a[1]}`);
  });
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const args = [
      script,
      '--endpoint',
      p.ep.publish[0],
      '--snapshot-endpoint',
      p.ep.snapshot[0],
      '--topic',
      'book.binance.BTCUSDT',
      '--count',
      '40',
      '--timeout',
      '20',
    ];
    const c = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  assert.equal(out.code, 0, `python exited ${out.code}\n${out.stdout}\n${out.stderr}`);
  const lines = out.stdout.trim().split('\n');
  assert.equal(lines.length, 40);
  let compared = 0;
  for (const l of lines) {
    const m = /^seq=(\d+) (bid=\S+ x \S+ ask=\S+ x \S+) /.exec(l);
    assert.ok(m, `unexpected line: ${l}`);
    const mine = tops.get(Number(m[1]));
    if (mine === undefined) continue; // the Node client joined later or skipped that seq's snapshot
    assert.equal(m[2], mine, `python and node differ at seq ${m[1]}`);
    compared++;
  }
  assert.ok(compared >= 30, `only ${compared} lines could be compared`);
  ac.abort();
  await node.done;
});
