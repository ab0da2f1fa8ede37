/**
 * The allow directory followed while a server runs (src/transport/allow-watch.ts), on real CURVE sockets:
 * a key file added is admitted, a key file removed is refused and its open connection closed, a malformed
 * file is logged once and changes nothing else.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import * as zmq from 'zeromq';
import { silentLogger } from '../../src/log.js';
import { ZmqTransport, type ZmqTransportOptions } from '../../src/transport/zeromq.js';
import { loadCurveSettings, writeKeyPair, type CurveSettings } from '../../src/transport/keys.js';
import { reloadAllowLists } from '../../src/transport/allow-watch.js';
import { startProxy } from '../../src/transport/proxy.js';
import { MessageReader, sleep, warmUp } from './helpers.js';

const ANY = 'tcp://127.0.0.1:*';
const WILDCARD = { ingest: [ANY], publish: [ANY], snapshot: [ANY] };

const serverPair = zmq.curveKeyPair();
const alice = zmq.curveKeyPair();
const bob = zmq.curveKeyPair();

/** A key directory: the server's key file, and an allow directory holding the given peers' .pub files. */
function keyDirs(t: TestContext, allowed: Record<string, { publicKey: string; secretKey: string }>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bookwire-allow-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const allowDir = path.join(dir, 'allowed');
  fs.mkdirSync(allowDir);
  const { keyFile } = writeKeyPair(dir, 'server', serverPair);
  for (const [name, pair] of Object.entries(allowed)) allowKey(allowDir, name, pair.publicKey);
  return { keyFile, allowDir };
}

const allowKey = (allowDir: string, name: string, publicKey: string) =>
  fs.writeFileSync(path.join(allowDir, `${name}.pub`), `${publicKey}\n`);

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

const as = (keyPair: { publicKey: string; secretKey: string }): CurveSettings => ({
  keyPair,
  serverKey: serverPair.publicKey,
  allow: new Map(),
});

/** Whether `send` gets a message through to `reader` within `ms` (sending every 50 ms). */
async function getsThrough(send: () => void, reader: MessageReader, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    send();
    if ((await reader.next(50)) !== undefined) return true;
  }
  return false;
}

describe('allow directory followed at run time', { timeout: 30_000 }, () => {
  test('a key file added while running: that client connects, without a restart', async (t) => {
    const { keyFile, allowDir } = keyDirs(t, { alice });
    const arb = zmqT(t, WILDCARD, { curve: loadCurveSettings({ keyFile, allowDir }) });
    const book = await arb.publisher('book');
    const ingest = new MessageReader(await arb.subscriber('ingest', ['raw.']));

    const bobT = zmqT(t, arb.boundEndpoints(), { curve: as(bob) });
    const feed = new MessageReader(await bobT.subscriber('book', ['book.']));
    const pub = await bobT.publisher('ingest');
    const fromBob = () => pub.send('raw.x', 'from bob');
    assert.equal(await getsThrough(fromBob, ingest, 600), false, 'bob got in before his key was allowed');
    assert.ok(arb.security.refused > 0);

    allowKey(allowDir, 'bob', bob.publicKey);
    await warmUp(() => book.send('book.probe', ''), feed, ['book.probe'], 5000);
    assert.equal(await getsThrough(fromBob, ingest, 5000), true, 'bob was not admitted after his key was added');
    const [m] = await ingest.drainUntilIdle(100);
    assert.equal(m?.peer ?? 'bob', 'bob');
  });

  test('a key file removed: refused from then on, its open connections closed; others reconnect', async (t) => {
    const { keyFile, allowDir } = keyDirs(t, { alice, bob });
    const { log, lines } = capturingLogger();
    const arb = zmqT(t, WILDCARD, { curve: loadCurveSettings({ keyFile, allowDir }), logger: log });
    const book = await arb.publisher('book');
    const ingest = new MessageReader(await arb.subscriber('ingest', ['raw.']));

    const bobT = zmqT(t, arb.boundEndpoints(), { curve: as(bob) });
    const bobFeed = new MessageReader(await bobT.subscriber('book', ['book.']));
    const bobPub = await bobT.publisher('ingest');
    const aliceT = zmqT(t, arb.boundEndpoints(), { curve: as(alice) });
    const aliceFeed = new MessageReader(await aliceT.subscriber('book', ['book.']));
    await warmUp(() => book.send('book.probe', ''), bobFeed, ['book.probe']);
    await warmUp(() => book.send('book.probe', ''), aliceFeed, ['book.probe']);
    assert.equal(await getsThrough(() => bobPub.send('raw.x', 'bob'), ingest, 3000), true);

    fs.rmSync(path.join(allowDir, 'bob.pub'));
    // Within the debounce and a reconnect: bob's feed and his ingest stop, for good.
    await sleep(800);
    await bobFeed.drainUntilIdle(50);
    await ingest.drainUntilIdle(50);
    assert.equal(await getsThrough(() => book.send('book.x', 'after'), bobFeed, 1500), false, 'bob still reads');
    assert.equal(await getsThrough(() => bobPub.send('raw.x', 'bob'), ingest, 1000), false, 'bob still writes');
    // alice, kicked with him, came back through ZAP.
    assert.equal(await getsThrough(() => book.send('book.x', 'after'), aliceFeed, 3000), true, 'alice lost');
    assert.ok(lines.some((l) => l.msg === 'allow-list changed' && JSON.stringify(l.removed) === '["bob"]'));
    assert.ok(lines.some((l) => /key is not allowed/.test(String(l.msg)) && l.key === bob.publicKey));
  });

  test("a collector's key revoked on the ingest and snapshot ROUTERs: only its connections are refused; the others' are not touched", async (t) => {
    const { keyFile, allowDir } = keyDirs(t, { alice, bob });
    const { log, lines } = capturingLogger();
    const arb = zmqT(t, WILDCARD, { curve: loadCurveSettings({ keyFile, allowDir }), logger: log });
    const ingest = new MessageReader(await arb.subscriber('ingest', ['raw.']));
    const srv = await arb.snapshotServer(() => Buffer.from('book'));
    const aliceT = zmqT(t, arb.boundEndpoints(), { curve: as(alice) });
    const alicePub = await aliceT.publisher('ingest');
    const aliceSnap = await aliceT.snapshotClient();
    const bobT = zmqT(t, arb.boundEndpoints(), { curve: as(bob) });
    const bobPub = await bobT.publisher('ingest');
    const bobSnap = await bobT.snapshotClient();
    await warmUp(() => alicePub.send('raw.a.probe', ''), ingest, ['raw.a.probe']);
    await warmUp(() => bobPub.send('raw.b.probe', ''), ingest, ['raw.b.probe']);
    assert.equal((await bobSnap.request('book.x', Buffer.alloc(0))).toString(), 'book');
    assert.equal((await aliceSnap.request('book.x', Buffer.alloc(0))).toString(), 'book');
    await ingest.drainUntilIdle(100);
    const handshakes = arb.security.allowed;

    // alice numbers her messages all through the revocation: a reconnect of hers would lose some
    let n = 0;
    const numbered = setInterval(() => alicePub.send('raw.n', String(n++)), 5);
    t.after(() => clearInterval(numbered));
    fs.rmSync(path.join(allowDir, 'bob.pub'));
    await sleep(800); // the debounce and more
    for (let i = 0; i < 20; i++) {
      bobPub.send('raw.bob', 'bob');
      await sleep(25);
    }
    await assert.rejects(bobSnap.request('book.x', Buffer.alloc(0), 2000), /not allowed/);
    assert.equal(srv.limits.notAllowed, 1);
    clearInterval(numbered);
    const after = await ingest.drainUntilIdle(300);
    assert.ok(!after.some((m) => m.topic === 'raw.bob'), 'bob still writes');
    const got = after.filter((m) => m.topic === 'raw.n').map((m) => Number(m.payload.toString()));
    assert.ok(got.length > 50, `alice sent ${n}, ${got.length} arrived`);
    assert.deepEqual(
      got,
      Array.from({ length: got.length }, (_, i) => got[0] + i),
      'alice lost or reordered messages',
    );
    assert.equal(got.at(-1), n - 1, "the last of alice's messages did not arrive");
    assert.equal((await aliceSnap.request('book.x', Buffer.alloc(0))).toString(), 'book');
    // alice's connections were never closed: no handshake since (a rebind would make her pass ZAP again)
    assert.equal(arb.security.allowed, handshakes, 'connections were re-authenticated');
    assert.ok(arb.security.unbound > 0, "bob's messages were not counted as refused");
    assert.ok(lines.some((l) => /key revoked: its open connections' messages are refused/.test(String(l.msg))));
    assert.ok(!lines.some((l) => /closing every connection/.test(String(l.msg))), 'a ROUTER was rebound');
  });

  test('a malformed file is logged once and ignored: the old list stays, the rest applies', async (t) => {
    const { keyFile, allowDir } = keyDirs(t, { alice });
    const { log, lines } = capturingLogger();
    const arb = zmqT(t, WILDCARD, { curve: loadCurveSettings({ keyFile, allowDir }), logger: log });
    const ingest = new MessageReader(await arb.subscriber('ingest', ['raw.']));

    // alice's file caught half-written, a junk file, and bob's (valid) key in the same change.
    fs.writeFileSync(path.join(allowDir, 'alice.pub'), alice.publicKey.slice(0, 17));
    fs.writeFileSync(path.join(allowDir, 'junk.pub'), 'not a key at all\n');
    allowKey(allowDir, 'bob', bob.publicKey);
    await sleep(500);
    reloadAllowLists('test'); // a second re-read (as SIGHUP): nothing logged again
    reloadAllowLists('test');

    const bobPub = await zmqT(t, arb.boundEndpoints(), { curve: as(bob) }).publisher('ingest');
    assert.equal(await getsThrough(() => bobPub.send('raw.x', 'bob'), ingest, 5000), true, 'bob not admitted');
    const alicePub = await zmqT(t, arb.boundEndpoints(), { curve: as(alice) }).publisher('ingest');
    assert.equal(await getsThrough(() => alicePub.send('raw.x', 'alice'), ingest, 5000), true, 'alice lost');
    const peers = new Set((await ingest.drainUntilIdle(200)).map((m) => m.peer));
    assert.ok(!peers.has(undefined));

    const complaints = lines.filter((l) => /^allow-list: /.test(String(l.msg)));
    assert.deepEqual(complaints.map((l) => path.basename(String(l.file))).sort(), ['alice.pub', 'junk.pub']);
  });

  test('through the proxy: a collector key removed is cut off at the proxy; the other collector and the arbiter behind it carry on', async (t) => {
    const arbKeys = zmq.curveKeyPair();
    const { keyFile, allowDir } = keyDirs(t, { alice, bob, arbiter: arbKeys });
    const { log, lines } = capturingLogger();
    const proxy = await startProxy({
      frontend: ANY,
      backend: ANY,
      curve: loadCurveSettings({ keyFile, allowDir }),
      logger: log,
    });
    t.after(() => proxy.close());
    // the arbiter reads the proxy's backend (ingest connect mode), by its own key
    const arb = zmqT(t, { ingest: [proxy.backend] }, { curve: as(arbKeys), ingestMode: 'connect' });
    const ingest = new MessageReader(await arb.subscriber('ingest', ['raw.']));
    const alicePub = await zmqT(t, { ingest: [proxy.frontend] }, { curve: as(alice) }).publisher('ingest');
    const bobPub = await zmqT(t, { ingest: [proxy.frontend] }, { curve: as(bob) }).publisher('ingest');
    assert.equal(await getsThrough(() => bobPub.send('raw.x', 'bob'), ingest, 5000), true, 'bob never got through');
    assert.equal(
      await getsThrough(() => alicePub.send('raw.x', 'alice'), ingest, 5000),
      true,
      'alice never got through',
    );
    const before = await ingest.drainUntilIdle(100);
    assert.ok(
      before.every((m) => m.peer === 'alice' || m.peer === 'bob'),
      'peers named by their keys',
    );

    fs.rmSync(path.join(allowDir, 'bob.pub'));
    await sleep(800); // the debounce, the rebind, the reconnects
    await ingest.drainUntilIdle(50);
    assert.equal(await getsThrough(() => bobPub.send('raw.x', 'bob'), ingest, 1500), false, 'bob still writes');
    // alice was kicked with him (the frontend rebinds) and came back through ZAP; the arbiter never left
    assert.equal(await getsThrough(() => alicePub.send('raw.x', 'alice'), ingest, 3000), true, 'alice lost');
    const after = await ingest.drainUntilIdle(200);
    assert.ok(
      after.every((m) => m.peer === 'alice'),
      `after the revocation: ${[...new Set(after.map((m) => m.peer))]}`,
    );
    assert.ok(lines.some((l) => l.msg === 'allow-list changed' && JSON.stringify(l.removed) === '["bob"]'));
    assert.ok(lines.some((l) => /key is not allowed/.test(String(l.msg)) && l.key === bob.publicKey));
  });
});
