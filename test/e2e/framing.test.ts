/**
 * Framing in a running pipeline (simulator -> 2 collectors -> arbiter, real ZeroMQ and websockets), seen by
 * third-party readers: a plain zeromq.js ROUTER on an ingest endpoint, SUBs on the publish endpoint, and a pyzmq reader written
 * the way every tutorial does it, `topic, payload = sock.recv_multipart()` (it raises on any other frame
 * count). At this rate a batching pipeline packs most messages (the opted-in run proves it), so:
 *  - by default every message on every endpoint is exactly [topic, payload];
 *  - with batching opted in (bus.coalesce) batches travel as [batch.<topic>, ...], a conventional `book.`
 *    subscriber only ever gets [topic, payload], and the SDK client's stream is still gap-free.
 * The pyzmq part runs when /usr/bin/python3 imports zmq (required with BOOKWIRE_REQUIRE_PYZMQ=1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { subscribe } from '../../src/client/subscribe.js';
import { BATCH_TOPIC_PREFIX, MIXED_BATCH_TOPIC } from '../../src/transport/zeromq.js';
import { sleep, waitFor } from '../helpers.js';
import { rawRouter, rawSub } from '../transport/helpers.js';
import { pipeline, track } from './harness.js';

const PYTHON = '/usr/bin/python3';
const hasPyzmq = spawnSync(PYTHON, ['-c', 'import zmq']).status === 0;
const requirePyzmq = process.env.BOOKWIRE_REQUIRE_PYZMQ === '1';

/** The tutorial reader: counts [topic, payload] messages for `seconds`; exits 1 (ValueError) on any other shape. */
const PY_READER = `
import json, sys, time, zmq
ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.LINGER, 0)
sub.setsockopt(zmq.RCVHWM, 0)
sub.connect(sys.argv[1])
sub.setsockopt_string(zmq.SUBSCRIBE, sys.argv[2])
end = time.monotonic() + float(sys.argv[3])
n = 0
while time.monotonic() < end:
    if sub.poll(50):
        topic, payload = sub.recv_multipart()
        json.loads(payload)
        n += 1
print(n)
`;

function pyReader(endpoint: string, prefix: string, seconds: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, ['-c', PY_READER, endpoint, prefix, String(seconds)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
  });
}

const multi = (messages: Buffer[][]) => messages.filter((m) => m.length !== 2);
const batched = (messages: Buffer[][]) => messages.filter((m) => m[0].toString().startsWith(BATCH_TOPIC_PREFIX));
/** Ingest batches: [batch, t1, p1, t2, p2, ...], several topics in one message. */
const mixed = (messages: Buffer[][]) => messages.filter((m) => m[0].toString() === MIXED_BATCH_TOPIC);

for (const coalesce of [false, true])
  test(
    coalesce
      ? 'batching opted in: batches travel as batch.<topic>; a conventional book. reader gets [topic, payload] only; the SDK stream stays gap-free'
      : 'default: under a burst that used to batch, every message on the ingest and publish endpoints is exactly [topic, payload]',
    { timeout: 60_000 },
    async (t) => {
      if (!hasPyzmq) {
        assert.ok(!requirePyzmq, `${PYTHON} cannot import zmq`);
        t.diagnostic(`${PYTHON} cannot import zmq: the pyzmq reader is left out`);
      }
      const ingestTap = await rawRouter(t, 'tcp://127.0.0.1:*'); // every collector message, after its routing id
      const p = await pipeline(t, {
        faulty: false,
        rate: 2000,
        coalesce: coalesce || undefined,
        extraIngest: [ingestTap.endpoint],
      });
      const publishAll = await rawSub(t, p.ep.publish[0], []); // book., stats., ctl.
      const publishBook = await rawSub(t, p.ep.publish[0], ['book.']);
      const ac = new AbortController();
      t.after(() => ac.abort());
      const client = track(subscribe({ symbol: 'BTCUSDT', endpoints: p.ep, signal: ac.signal }));
      // the pyzmq reader: everything by default, the conventional book. subscription when batching
      const py = hasPyzmq ? pyReader(p.ep.publish[0], coalesce ? 'book.' : '', 3) : undefined;
      await sleep(3000);
      // a busy host may start the client late: let it see a stream long enough to judge
      await waitFor(() => client.s.deltas >= 500, 20_000, 'the client to get 500 deltas');
      p.sim.pause();
      const truth = p.sim.truth('BTCUSDT', 20);
      await waitFor(() => client.s.seq === truth.lastUpdateId, 8000, 'the client to reach the truth seq');
      await sleep(200);

      const payloads = (ms: Buffer[][]) =>
        ms.reduce((n, m) => n + (m[0].toString() === MIXED_BATCH_TOPIC ? (m.length - 1) / 2 : m.length - 1), 0);
      assert.ok(payloads(ingestTap.messages) > 2000, `ingest: ${payloads(ingestTap.messages)} payloads`);
      if (coalesce) {
        // A conventional book. subscriber gets only what went out alone: it sees gaps, never a frame it
        // cannot parse. The burst really batches when allowed (the default run must not):
        assert.ok(mixed(ingestTap.messages).length > 0, 'the collectors never batched');
        assert.ok(batched(publishAll.messages).length > 0, 'the arbiter never batched');
        assert.deepEqual(
          multi(ingestTap.messages).filter((m) => m[0].toString() !== MIXED_BATCH_TOPIC),
          [],
        );
        assert.deepEqual(
          multi(publishAll.messages).filter((m) => !m[0].toString().startsWith(BATCH_TOPIC_PREFIX)),
          [],
        );
      } else {
        assert.ok(payloads(publishBook.messages) > 1000, `book.: ${payloads(publishBook.messages)} payloads`);
        assert.equal(multi(ingestTap.messages).length, 0, 'ingest: messages of more than two frames');
        assert.equal(multi(publishAll.messages).length, 0, 'publish: messages of more than two frames');
        assert.equal(batched(publishAll.messages).length, 0);
      }
      assert.equal(multi(publishBook.messages).length, 0, 'a book. subscriber got a message of more than two frames');
      assert.deepEqual(client.s.broken, [], 'the SDK stream chains delta to delta');
      assert.equal(client.s.last?.gaps, 0, 'the SDK saw no gap');
      assert.equal(client.s.snapshots, 1, 'only the initial snapshot');
      assert.ok(client.s.deltas >= 500, `${client.s.deltas} deltas`);
      if (py) {
        const r = await py;
        assert.equal(r.code, 0, `the recv_multipart() reader failed:\n${r.out}`);
        // by default it reads the whole stream; with batching only what went out alone (batches skip it)
        if (!coalesce)
          assert.ok(Number(r.out.trim()) > 1000, `the recv_multipart() reader read ${r.out.trim()} messages`);
      }
      ac.abort();
      await client.done;
    },
  );
