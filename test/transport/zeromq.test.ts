/** ZeroMQ-only behaviour: wildcard binds, port-in-use errors, the XSUB/XPUB proxy and ingestMode 'connect'. */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/log.js';
import { ZmqTransport } from '../../src/transport/zeromq.js';
import { startProxy, type RunningProxy } from '../../src/transport/proxy.js';
import { createTransport, InprocTransport, type LazyTransport } from '../../src/transport/index.js';
import type { BusPublisher } from '../../src/transport/types.js';
import { MessageReader, warmUp } from './helpers.js';

const ANY = 'tcp://127.0.0.1:*';
const WILDCARD = { ingest: [ANY], publish: [ANY], snapshot: [ANY] };
const opts = { logger: silentLogger, publisherLingerMs: 0 };

function zmq(t: TestContext, endpoints: ConstructorParameters<typeof ZmqTransport>[0], extra = {}): ZmqTransport {
  const tr = new ZmqTransport(endpoints, { ...opts, ...extra });
  t.after(() => tr.close());
  return tr;
}

const portOf = (ep: string): number => Number(ep.split(':').at(-1));

describe('ZmqTransport', { timeout: 20_000 }, () => {
  test('wildcard binds resolve to real ports, exposed on the socket and by boundEndpoints()', async (t) => {
    const arb = zmq(t, WILDCARD);
    assert.deepEqual(arb.boundEndpoints(), WILDCARD, 'nothing bound yet');
    const sub = await arb.subscriber('ingest', ['raw.']);
    const pub = await arb.publisher('book');
    const srv = await arb.snapshotServer(() => Buffer.alloc(0));
    for (const ep of [sub.endpoint, pub.endpoint, srv.endpoint]) {
      assert.match(ep ?? '', /^tcp:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(portOf(ep!) > 0);
    }
    assert.deepEqual(arb.boundEndpoints(), {
      ingest: [sub.endpoint],
      publish: [pub.endpoint],
      snapshot: [srv.endpoint],
    });
    const client = zmq(t, arb.boundEndpoints());
    assert.equal(
      (await client.subscriber('book', [])).endpoint,
      undefined,
      'a connecting socket has no bound endpoint',
    );
  });

  test('binding an endpoint already in use fails with a clear error naming it', async (t) => {
    const first = zmq(t, WILDCARD);
    const taken = (await first.publisher('book')).endpoint!;
    const second = zmq(t, { ingest: [taken], publish: [taken], snapshot: [taken] });
    const inUse = (e: Error) => {
      assert.ok(e.message.includes(taken), e.message);
      assert.match(e.message, /already in use/);
      assert.equal((e as Error & { code?: string }).code, 'EADDRINUSE');
      return true;
    };
    await assert.rejects(second.publisher('book'), inUse);
    await assert.rejects(second.subscriber('ingest', []), inUse);
    await assert.rejects(
      second.snapshotServer(() => Buffer.alloc(0)),
      inUse,
    );
    await assert.rejects(startProxy({ frontend: taken, backend: ANY }), inUse);
    await assert.rejects(startProxy({ frontend: ANY, backend: taken }), inUse);
  });

  test('an unparseable endpoint is reported, not thrown raw', async (t) => {
    const tr = zmq(t, { publish: ['nonsense'] });
    await assert.rejects(tr.publisher('book'), /cannot bind nonsense/);
    await assert.rejects(tr.subscriber('book', []), /cannot connect to nonsense/);
  });

  for (const mode of ['native', 'loop'] as const) {
    test(`proxy (${mode}): collectors -> XSUB/XPUB -> arbiter with ingestMode 'connect'`, async (t) => {
      const proxy: RunningProxy = await startProxy({ frontend: ANY, backend: ANY, mode });
      t.after(() => proxy.close());
      assert.ok(portOf(proxy.frontend) > 0 && portOf(proxy.backend) > 0);
      const arbiter = zmq(t, { ingest: [proxy.backend] }, { ingestMode: 'connect' });
      const sub = await arbiter.subscriber('ingest', ['raw.']);
      assert.equal(sub.endpoint, undefined, 'the arbiter connects instead of binding');
      const reader = new MessageReader(sub);
      const pubs: BusPublisher[] = [];
      for (let i = 0; i < 2; i++) pubs.push(await zmq(t, { ingest: [proxy.frontend] }).publisher('ingest'));
      await warmUp(() => pubs.forEach((p, i) => p.send(`raw.c${i}.probe`, '')), reader, [
        'raw.c0.probe',
        'raw.c1.probe',
      ]);
      const N = 500;
      for (let k = 0; k < N; k++)
        pubs.forEach((p, i) => {
          p.send(`raw.c${i}.data`, String(k));
          p.send(`status.c${i}`, 'filtered out by the subscription'); // the subscription propagates through the proxy
        });
      const got = await reader.take(2 * N);
      for (let i = 0; i < 2; i++)
        assert.deepEqual(
          got.filter((m) => m.topic === `raw.c${i}.data`).map((m) => Number(m.payload.toString())),
          Array.from({ length: N }, (_, k) => k),
        );
      assert.equal(await reader.next(100), undefined);
    });
  }

  test('several publish endpoints: a client subscriber hears both hot-hot arbiters', async (t) => {
    const a = zmq(t, WILDCARD);
    const b = zmq(t, WILDCARD);
    const pa = await a.publisher('book');
    const pb = await b.publisher('book');
    const client = zmq(t, { publish: [pa.endpoint!, pb.endpoint!] });
    const reader = new MessageReader(await client.subscriber('book', ['book.']));
    await warmUp(
      () => {
        pa.send('book.a.probe', '');
        pb.send('book.b.probe', '');
      },
      reader,
      ['book.a.probe', 'book.b.probe'],
    );
    pa.send('book.x', 'from a');
    pb.send('book.x', 'from b');
    const got = (await reader.take(2)).map((m) => m.payload.toString()).sort();
    assert.deepEqual(got, ['from a', 'from b']);
  });

  test('createTransport builds either kind', async () => {
    const z = createTransport({ kind: 'zeromq', endpoints: { publish: [ANY] }, logger: silentLogger });
    assert.equal(z.kind, 'zeromq');
    const impl = await (z as LazyTransport).transport(); // loaded on first use
    assert.ok(impl instanceof ZmqTransport);
    assert.deepEqual(impl.endpoints.ingest, ['tcp://127.0.0.1:5555'], 'defaults fill missing channels');
    const i = createTransport({ kind: 'inproc' });
    assert.ok(i instanceof InprocTransport);
    await z.close();
    await i.close();
  });

  test('consume(): every payload of batched multiparts once, in per-topic order; ends on close', async (t) => {
    const arb = zmq(t, WILDCARD);
    const sub = await arb.subscriber('ingest', ['raw.']);
    const col = zmq(t, { ingest: [sub.endpoint!] }, { coalesce: true });
    const pub = await col.publisher('ingest'); // opted in: batches per turn, [batch.<topic>, p1, p2, ...]
    const got: string[] = [];
    let probes = 0;
    const done = sub.consume!((topic, payload) => {
      if (topic === 'raw.probe') probes++;
      else got.push(`${topic}:${payload.toString()}`);
    });
    const deadline = Date.now() + 5000;
    while (probes === 0) {
      assert.ok(Date.now() < deadline, 'slow joiner: no probe arrived');
      pub.send('raw.probe', '');
      await new Promise((r) => setTimeout(r, 20));
    }
    const want: string[] = [];
    for (let turn = 0; turn < 20; turn++) {
      for (let i = 0; i < 50; i++) {
        const topic = i % 2 ? 'raw.binance.A' : 'raw.binance.B';
        pub.send(topic, String(turn * 50 + i));
        want.push(`${topic}:${turn * 50 + i}`);
      }
      await new Promise((r) => setImmediate(r));
    }
    while (got.length < want.length && Date.now() < deadline + 5000) await new Promise((r) => setTimeout(r, 20));
    // per-topic order is the bus's promise (a batch groups payloads by topic)
    const byTopic = (xs: string[], topic: string) => xs.filter((x) => x.startsWith(`${topic}:`));
    assert.equal(got.length, want.length);
    for (const topic of ['raw.binance.A', 'raw.binance.B']) assert.deepEqual(byTopic(got, topic), byTopic(want, topic));
    await sub.close();
    await done; // resolves, does not reject, once closed
  });

  test('consume() on a subscriber that is being iterated is refused', async (t) => {
    const arb = zmq(t, WILDCARD);
    const sub = await arb.subscriber('ingest', ['raw.']);
    const pending = sub[Symbol.asyncIterator]().next();
    await assert.rejects(
      sub.consume!(() => undefined),
      /already being iterated/,
    );
    await sub.close();
    assert.deepEqual(await pending, { done: true, value: undefined });
  });
});
