/**
 * CURVE and ZAP on real sockets (docs/security.md), tested as an attacker would: an unknown key, a
 * collector's key speaking for another collector, plaintext off loopback, a 50 MB frame, a client that
 * floods snapshot requests without reading the replies. (Imports zeromq to play the hostile peers.)
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import * as zmq from 'zeromq';
import { silentLogger } from '../../src/log.js';
import { ZmqTransport, isLocalEndpoint, type ZmqTransportOptions } from '../../src/transport/zeromq.js';
import { startProxy } from '../../src/transport/proxy.js';
import type { CurveSettings } from '../../src/transport/keys.js';
import type { BusMessage } from '../../src/transport/types.js';
import { MessageReader, sleep, warmUp } from './helpers.js';

const ANY = 'tcp://127.0.0.1:*';
type KeyPair = ReturnType<typeof zmq.curveKeyPair>;
const WILDCARD = { ingest: [ANY], publish: [ANY], snapshot: [ANY] };

const server = zmq.curveKeyPair();
const collectorA = zmq.curveKeyPair();
const collectorB = zmq.curveKeyPair();
const client = zmq.curveKeyPair();
const stranger = zmq.curveKeyPair();

const allow = new Map([
  [collectorA.publicKey, 'a'],
  [collectorB.publicKey, 'b'],
  [client.publicKey, 'client'],
]);
const serverCurve: CurveSettings = { keyPair: server, allow };
const as = (keyPair: KeyPair): CurveSettings => ({ keyPair, serverKey: server.publicKey, allow: new Map() });

function capturingLogger(): { log: ZmqTransportOptions['logger']; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

function zmqT(t: TestContext, endpoints: ConstructorParameters<typeof ZmqTransport>[0], o: ZmqTransportOptions = {}) {
  const tr = new ZmqTransport(endpoints, { logger: silentLogger, publisherLingerMs: 0, ...o });
  t.after(() => tr.close());
  return tr;
}

/** A CURVE DEALER as a hostile collector would open it: any key, any routing id it likes. */
function hostileDealer(t: TestContext, endpoint: string, keyPair: KeyPair, routingId?: string): zmq.Dealer {
  const d = new zmq.Dealer({
    linger: 0,
    sendTimeout: 0,
    curveServerKey: server.publicKey,
    curvePublicKey: keyPair.publicKey,
    curveSecretKey: keyPair.secretKey,
    ...(routingId ? { routingId } : {}),
  });
  d.connect(endpoint);
  t.after(() => {
    if (!d.closed) d.close();
  });
  return d;
}

describe('CURVE + ZAP', { timeout: 30_000 }, () => {
  test('allowed keys flow on every link: ingest (tagged with the key name), publish and snapshot', async (t) => {
    const arb = zmqT(t, WILDCARD, { curve: serverCurve });
    const ingest = new MessageReader(await arb.subscriber('ingest', ['raw.', 'status.']));
    const book = await arb.publisher('book');
    await arb.snapshotServer((topic) => Buffer.from(`snap:${topic}`));
    const col = zmqT(t, arb.boundEndpoints(), { curve: as(collectorA), identity: 'ignored-under-curve' });
    const pub = await col.publisher('ingest');
    await warmUp(() => pub.send('raw.probe', ''), ingest, ['raw.probe']);
    pub.send('raw.binance.BTCUSDT', '{"v":1}');
    const [m] = await ingest.take(1);
    assert.deepEqual(
      { ...m, payload: m.payload.toString() },
      { topic: 'raw.binance.BTCUSDT', payload: '{"v":1}', peer: 'a' },
    );

    const cli = zmqT(t, arb.boundEndpoints(), { curve: as(client) });
    const reader = new MessageReader(await cli.subscriber('book', ['book.']));
    await warmUp(() => book.send('book.probe', ''), reader, ['book.probe']);
    book.send('book.binance.BTCUSDT', 'x');
    assert.equal((await reader.take(1))[0].payload.toString(), 'x');
    const snap = await cli.snapshotClient();
    assert.equal((await snap.request('book.binance.BTCUSDT', Buffer.alloc(0))).toString(), 'snap:book.binance.BTCUSDT');
    assert.equal(arb.security.refused, 0);
    assert.ok(arb.security.allowed >= 3);
  });

  test('an unknown key is refused on every link: nothing delivered, counted, logged once', async (t) => {
    const { log, lines } = capturingLogger();
    const arb = zmqT(t, WILDCARD, { curve: serverCurve, logger: log });
    const ingest = new MessageReader(await arb.subscriber('ingest', []));
    const book = await arb.publisher('book');
    await arb.snapshotServer(() => Buffer.from('secret book'));
    const intruder = zmqT(t, arb.boundEndpoints(), { curve: as(stranger) });
    const pub = await intruder.publisher('ingest');
    const sub = new MessageReader(await intruder.subscriber('book', []));
    const snap = await intruder.snapshotClient();
    const snapReply = snap.request('book.binance.BTCUSDT', Buffer.alloc(0), 1500).then(
      () => 'answered',
      () => 'refused',
    );
    for (let i = 0; i < 30; i++) {
      pub.send('raw.binance.BTCUSDT', 'forged');
      book.send('book.binance.BTCUSDT', 'private');
      await sleep(50);
    }
    assert.equal(await ingest.next(200), undefined, 'a forged message reached the arbiter');
    assert.equal(await sub.next(200), undefined, 'the feed reached an unknown key');
    assert.equal(await snapReply, 'refused');
    assert.ok(arb.security.refused >= 3, `refused ${arb.security.refused} handshakes`);
    assert.equal(arb.security.allowed, 0);
    const refusals = lines.filter((l) => /key is not allowed/.test(String(l.msg)));
    // once per socket the key tried (ingest, publish, snapshot), not once per attempt
    assert.equal(refusals.length, 3, JSON.stringify(refusals));
    assert.ok(refusals.every((l) => l.key === stranger.publicKey));
    assert.equal(arb.security.refusedPeers, 1);
  });

  test("a collector's key speaks only as that collector: routing id b with a's key arrives as peer a", async (t) => {
    const arb = zmqT(t, WILDCARD, { curve: serverCurve });
    const ingest = new MessageReader(await arb.subscriber('ingest', ['raw.']));
    const ep = arb.boundEndpoints().ingest[0];
    const forger = hostileDealer(t, ep, collectorA, 'b'); // a's key, claiming to be b
    const honestB = zmqT(t, arb.boundEndpoints(), { curve: as(collectorB) });
    const pubB = await honestB.publisher('ingest');
    const seen = new Map<string, string | undefined>();
    const deadline = Date.now() + 5000;
    while (seen.size < 2) {
      assert.ok(Date.now() < deadline, `only ${[...seen.keys()]} arrived`);
      forger.send(['raw.forged', 'claims b']).catch(() => undefined);
      pubB.send('raw.honest', 'is b');
      for (let m = await ingest.nextRaw(20); m !== undefined; m = await ingest.nextRaw(5)) seen.set(m.topic, m.peer);
    }
    assert.equal(seen.get('raw.forged'), 'a', 'the forged message is tagged with the key it came with');
    assert.equal(seen.get('raw.honest'), 'b');
    // Again and again, new connections each (the claim may win a race in libzmq: zap.ts): never as b.
    const peers = new Set<string | undefined>();
    for (let i = 0; i < 15; i++) {
      const f = hostileDealer(t, ep, collectorA, 'b');
      for (let k = 0; k < 10; k++) {
        f.send(['raw.forged2', String(i)]).catch(() => undefined);
        await sleep(5);
      }
      f.close();
    }
    for (let m = await ingest.nextRaw(300); m !== undefined; m = await ingest.nextRaw(100))
      if (m.topic === 'raw.forged2') peers.add(m.peer);
    assert.deepEqual([...peers], ['a'], `forged messages arrived as ${[...peers]}`);
  });

  test('through the proxy: CURVE on both sides, the peer survives the hop', async (t) => {
    const proxy = await startProxy({ frontend: ANY, backend: ANY, curve: serverCurve });
    t.after(() => proxy.close());
    const arbKeys = zmq.curveKeyPair();
    // The arbiter is a client of the proxy's backend: allowed there by its key.
    const proxy2 = await startProxy({
      frontend: ANY,
      backend: ANY,
      curve: { keyPair: server, allow: new Map([...allow, [arbKeys.publicKey, 'arbiter']]) },
    });
    t.after(() => proxy2.close());
    const arb = zmqT(t, { ingest: [proxy2.backend] }, { curve: as(arbKeys), ingestMode: 'connect' });
    const reader = new MessageReader(await arb.subscriber('ingest', ['raw.']));
    const forger = hostileDealer(t, proxy2.frontend, collectorA, 'b');
    const messages: BusMessage[] = [];
    for (let i = 0; messages.length === 0; i++) {
      assert.ok(i < 250, 'nothing came through the proxy');
      forger.send(['raw.x', 'via proxy']).catch(() => undefined);
      const m = await reader.nextRaw(20);
      if (m) messages.push(m);
    }
    assert.equal(messages[0].peer, 'a');
    // The first proxy refuses the arbiter's key on its backend: not on its list.
    const outsider = zmqT(t, { ingest: [proxy.backend] }, { curve: as(arbKeys), ingestMode: 'connect' });
    const none = new MessageReader(await outsider.subscriber('ingest', []));
    const col = hostileDealer(t, proxy.frontend, collectorA);
    for (let i = 0; i < 10; i++) {
      col.send(['raw.y', 'z']).catch(() => undefined);
      await sleep(30);
    }
    assert.equal(await none.next(200), undefined);
    assert.ok(proxy.security.refused > 0);
  });
});

describe('plaintext', { timeout: 30_000 }, () => {
  test('binding off loopback without CURVE is refused with one clear line, before anything binds', async (t) => {
    for (const ep of ['tcp://0.0.0.0:*', 'tcp://*:*', 'tcp://10.1.2.3:5555', 'tcp://eth0:5555']) {
      const tr = zmqT(t, { ingest: [ep], publish: [ep], snapshot: [ep] });
      for (const open of [
        () => tr.subscriber('ingest', []),
        () => tr.publisher('book'),
        () => tr.snapshotServer(() => Buffer.alloc(0)),
      ])
        await assert.rejects(open(), (e: Error) => {
          assert.match(e.message, /^cannot bind .* in plaintext: only loopback is allowed without CURVE/);
          assert.match(e.message, /--insecure/);
          assert.doesNotMatch(e.message, /\n/);
          return true;
        });
    }
    await assert.rejects(startProxy({ frontend: 'tcp://0.0.0.0:*', backend: ANY }), /in plaintext/);
  });

  test('what counts as local', () => {
    for (const ep of [
      'tcp://127.0.0.1:5555',
      'tcp://127.8.0.1:*',
      'tcp://localhost:1',
      'tcp://[::1]:5',
      'ipc:///tmp/x',
      'inproc://y',
    ])
      assert.ok(isLocalEndpoint(ep), ep);
    for (const ep of [
      'tcp://0.0.0.0:5555',
      'tcp://*:1',
      'tcp://[::]:5',
      'tcp://192.168.1.1:5',
      'tcp://127.0.0.1.evil.com:5',
    ])
      assert.ok(!isLocalEndpoint(ep), ep);
  });

  test('--insecure allows it, and says so', async (t) => {
    const { log, lines } = capturingLogger();
    const tr = zmqT(t, { publish: ['tcp://0.0.0.0:*'] }, { insecure: true, logger: log });
    const pub = await tr.publisher('book');
    assert.match(pub.endpoint!, /^tcp:\/\/0\.0\.0\.0:\d+$/);
    assert.ok(lines.some((l) => /INSECURE/.test(String(l.msg))));
  });

  test('plaintext ingest: peer is the routing id the collector announced', async (t) => {
    const arb = zmqT(t, WILDCARD);
    const ingest = new MessageReader(await arb.subscriber('ingest', ['raw.']));
    const pub = await zmqT(t, arb.boundEndpoints(), { identity: 'coll-7' }).publisher('ingest');
    await warmUp(() => pub.send('raw.probe', ''), ingest, ['raw.probe']);
    pub.send('raw.x', 'y');
    assert.equal((await ingest.take(1))[0].peer, 'coll-7');
    const anon = await zmqT(t, arb.boundEndpoints()).publisher('ingest');
    await sleep(100);
    anon.send('raw.anon', 'y');
    assert.equal((await ingest.take(1))[0].peer, undefined, 'no identity announced: no peer');
  });
});

describe('bounds', { timeout: 60_000 }, () => {
  test('a 50 MB frame on the ingest is dropped (its sender cut off); normal messages keep flowing', async (t) => {
    const arb = zmqT(t, WILDCARD);
    const ingest = new MessageReader(await arb.subscriber('ingest', ['raw.']));
    const honest = await zmqT(t, arb.boundEndpoints(), { identity: 'a' }).publisher('ingest');
    await warmUp(() => honest.send('raw.probe', ''), ingest, ['raw.probe']);
    const big = new zmq.Dealer({ linger: 0, routingId: 'b' });
    big.connect(arb.boundEndpoints().ingest[0]);
    t.after(() => big.close());
    const rss0 = process.memoryUsage().rss;
    for (let i = 0; i < 3; i++) await big.send(['raw.binance.BTCUSDT', Buffer.alloc(50 * 1024 * 1024, 0x31)]);
    for (let i = 0; i < 20; i++) {
      honest.send('raw.ok', String(i));
      await sleep(25);
    }
    const got = await ingest.drainUntilIdle(500);
    assert.deepEqual(
      got.map((m) => `${m.peer}:${m.topic}:${m.payload.toString()}`),
      Array.from({ length: 20 }, (_, i) => `a:raw.ok:${i}`),
      'the big frames never arrive; every normal message does',
    );
    // The receiving side never held the frames (the sender's own copies are in this process too).
    assert.ok(process.memoryUsage().rss - rss0 < 400 * 1024 * 1024);
  });

  test('under CURVE the snapshot budget is per key: many connections under one key share it', async (t) => {
    const burst = 5;
    const arb = zmqT(t, WILDCARD, {
      curve: serverCurve,
      snapshotLimits: { requestsPerSecond: 0.5, burst, maxOutstandingPerClient: 100, maxOutstanding: 1000 },
    });
    await arb.snapshotServer(() => Buffer.from('book'));
    /** Each connection asks `burst` times at once: how many answers came back, of how many. */
    const askFrom = async (keyPair: KeyPair, connections: number) => {
      const clients = [];
      for (let i = 0; i < connections; i++)
        clients.push(await zmqT(t, arb.boundEndpoints(), { curve: as(keyPair) }).snapshotClient());
      const outcomes = await Promise.all(
        clients.flatMap((c) =>
          Array.from({ length: burst }, () =>
            c.request('book.binance.BTCUSDT', Buffer.alloc(0), 5000).then(
              () => 'served',
              (e: unknown) => String(e),
            ),
          ),
        ),
      );
      return {
        served: outcomes.filter((o) => o === 'served').length,
        limited: outcomes.filter((o) => /rate limited/.test(o)).length,
      };
    };
    // Eight connections under the client's key: one budget (burst 5, plus what 0.5/s refills meanwhile),
    // not eight. Per connection, all 40 would have been served.
    const greedy = await askFrom(client, 8);
    assert.ok(
      greedy.served >= burst && greedy.served <= burst + 2,
      `one key, 8 connections: ${JSON.stringify(greedy)}`,
    );
    assert.equal(greedy.served + greedy.limited, 8 * burst);
    // Another key has a budget of its own: the first key's use does not starve it.
    const other = await askFrom(collectorA, 1);
    assert.deepEqual(other, { served: burst, limited: 0 });
  });

  test('a client flooding snapshot requests without reading the replies is bounded and counted', async (t) => {
    const arb = zmqT(t, WILDCARD);
    const reply = Buffer.alloc(64 * 1024, 0x20);
    const srv = await arb.snapshotServer(() => reply);
    const flood = new zmq.Dealer({ linger: 0, sendTimeout: 0, sendHighWaterMark: 0, receiveHighWaterMark: 1 });
    flood.connect(srv.endpoint);
    t.after(() => flood.close());
    await sleep(100);
    const t0 = Date.now();
    let sent = 0;
    for (let i = 0; i < 20_000; i++)
      try {
        await flood.send(['book.binance.BTCUSDT', '{}']);
        sent++;
      } catch {
        break;
      }
    // let the server work through what it received
    let before = -1;
    while (srv.served + srv.limits.rateLimited + srv.limits.busy + srv.limits.overOutstanding !== before) {
      before = srv.served + srv.limits.rateLimited + srv.limits.busy + srv.limits.overOutstanding;
      await sleep(300);
    }
    const seconds = (Date.now() - t0) / 1000;
    const l = srv.limits;
    t.diagnostic(
      `sent ${sent} in ${seconds.toFixed(1)} s: served ${srv.served}, rate-limited ${l.rateLimited}, replies dropped ${l.repliesDropped}`,
    );
    assert.ok(sent > 5000);
    assert.ok(srv.served <= 100 + 50 * seconds + 10, `served ${srv.served} of ${sent} requests in ${seconds} s`);
    assert.ok(l.rateLimited > sent / 2, `rate-limited ${l.rateLimited}`);
    assert.ok(l.repliesDropped > 0, 'a reader that never reads has its replies dropped past its queue');
    assert.ok(l.maxOutstandingSeen <= 32);
    // A well-behaved client is still served meanwhile.
    const good = await zmqT(t, arb.boundEndpoints()).snapshotClient();
    assert.equal((await good.request('book.binance.BTCUSDT', Buffer.alloc(0))).length, reply.length);
  });
});
