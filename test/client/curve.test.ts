/**
 * The SDK connects to a CURVE arbiter with `curve` (docs/security.md): the server's public key and the
 * client's key pair, from the files `bookwire keygen` writes or as Z85 strings. Real sockets.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { subscribe } from '../../src/client/subscribe.js';
import { subscribeVenue } from '../../src/client/venue.js';
import { ZmqTransport } from '../../src/transport/zeromq.js';
import { generateKeyPair, readKeyPair, writeKeyPair, type ClientCurveOptions } from '../../src/transport/keys.js';
import { silentLogger } from '../../src/log.js';
import { encode, topics, type ConsolidatedSnapshot } from '../../src/wire/messages.js';

const snapshot: ConsolidatedSnapshot = {
  v: 1,
  type: 'snapshot',
  venue: 'binance',
  symbol: 'BTCUSDT',
  seq: 42,
  bids: [[100, 1]],
  asks: [[101, 2]],
  exchTime: 0,
  pubTime: 0,
  reason: 'periodic',
};

/** A CURVE arbiter stand-in: its snapshot service answers with `snapshot`, its feed republishes it. */
async function curveServer(t: TestContext) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bookwire-sdk-curve-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const server = writeKeyPair(dir, 'arb', await generateKeyPair());
  const clientPair = await generateKeyPair();
  const client = writeKeyPair(dir, 'strategy', clientPair);
  const any = 'tcp://127.0.0.1:*';
  const arb = new ZmqTransport(
    { ingest: [any], publish: [any], snapshot: [any] },
    {
      logger: silentLogger,
      publisherLingerMs: 0,
      curve: {
        keyPair: readKeyPair(server.keyFile),
        allow: new Map([[clientPair.publicKey, 'strategy']]),
      },
    },
  );
  t.after(() => arb.close());
  await arb.snapshotServer(() => encode(snapshot));
  const book = await arb.publisher('book');
  const timer = setInterval(() => book.send(topics.book('binance', 'BTCUSDT'), encode(snapshot)), 100);
  t.after(() => clearInterval(timer));
  const { publish, snapshot: snap } = arb.boundEndpoints();
  return { endpoints: { publish, snapshot: snap }, server, client, clientPair, arb };
}

async function firstUpdate(o: Parameters<typeof subscribe>[0], ms: number) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    for await (const u of subscribe({ ...o, signal: ac.signal, snapshotTimeoutMs: 500 }))
      if (u.kind === 'snapshot') return u;
  } finally {
    clearTimeout(timer);
  }
  return undefined;
}

test('subscribe({ curve }) with key files: synced from a CURVE arbiter', async (t) => {
  const s = await curveServer(t);
  const curve: ClientCurveOptions = { serverKey: s.server.pubFile, keyFile: s.client.keyFile };
  const u = await firstUpdate({ symbol: 'BTCUSDT', endpoints: s.endpoints, curve }, 5000);
  assert.equal(u?.seq, 42);
  assert.deepEqual(u?.book.top(1), { bids: [[100, 1]], asks: [[101, 2]] });
});

test('subscribe({ curve }) with keys as strings, and subscribeVenue the same way', async (t) => {
  const s = await curveServer(t);
  const serverKey = fs.readFileSync(s.server.pubFile, 'utf8').split('\n')[1];
  const curve: ClientCurveOptions = { serverKey, ...s.clientPair };
  assert.equal((await firstUpdate({ symbol: 'BTCUSDT', endpoints: s.endpoints, curve }, 5000))?.seq, 42);

  const ac = new AbortController();
  setTimeout(() => ac.abort(), 5000).unref();
  let synced = 0;
  for await (const u of subscribeVenue({ venue: 'binance', endpoints: s.endpoints, curve, signal: ac.signal }))
    if (u.kind === 'snapshot') {
      synced = u.synced;
      ac.abort();
    }
  assert.equal(synced, 1);
});

test('without curve, or with a key the arbiter does not allow, nothing comes', async (t) => {
  const s = await curveServer(t);
  assert.equal(await firstUpdate({ symbol: 'BTCUSDT', endpoints: s.endpoints }, 1500), undefined);
  const stranger = await generateKeyPair();
  const curve: ClientCurveOptions = { serverKey: s.server.pubFile, ...stranger };
  assert.equal(await firstUpdate({ symbol: 'BTCUSDT', endpoints: s.endpoints, curve }, 1500), undefined);
  assert.ok(s.arb.security.refused > 0);
});

test('a bad curve option is a clear error, before any socket', async () => {
  const run = (curve: ClientCurveOptions) => firstUpdate({ symbol: 'BTCUSDT', curve }, 1000);
  await assert.rejects(run({ serverKey: 'x'.repeat(40) }), /key pair is needed/);
  await assert.rejects(run({ serverKey: 'x'.repeat(40), publicKey: 'short', secretKey: 'short' }), /curve.publicKey/);
  await assert.rejects(
    run({ serverKey: '/nonexistent/arb.pub', keyFile: '/nonexistent/me.key' }),
    /cannot read key file \/nonexistent\/me.key/,
  );
});
