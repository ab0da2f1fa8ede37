/**
 * `bookwire demo --curve`: throwaway keys in a temporary directory, every link (collectors -> arbiter and
 * recorder, arbiter -> view and recorder, snapshot service) on CURVE; the book still matches the truth, a
 * plaintext reader of the publish port gets nothing, and the keys are gone afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { busFlags, freeEndpoints, freePort, runCli } from '../helpers.js';
import { ZmqTransport } from '../../src/transport/zeromq.js';
import { silentLogger } from '../../src/log.js';
import { generateKeyPair, readPublicKey } from '../../src/transport/keys.js';

test('bookwire demo --curve: every link on CURVE with throwaway keys, book equal to the truth', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bookwire-demo-curve-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ep = await freeEndpoints();
  const recorderIngest = `tcp://127.0.0.1:${await freePort()}`;
  const run = runCli(
    [
      ...['demo', '--curve', '--duration', '16', '--strict', '--sim-port', String(await freePort())],
      ...busFlags(ep),
      ...['--recorder-ingest', recorderIngest, '--record-dir', path.join(dir, 'data'), '--log-dir', dir],
    ],
    90_000,
  );

  // A plaintext reader of the arbiter's feed while the demo runs: the CURVE server never lets it in.
  const cfgFile = path.join(dir, 'demo-config.yaml');
  const deadline = Date.now() + 30_000;
  while (!existsSync(cfgFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const curve = parse(readFileSync(cfgFile, 'utf8')).bus.curve;
  const keyDir = path.dirname(curve.keyFile);
  for (const e of [...ep.ingest, ...ep.publish, ...ep.snapshot, recorderIngest])
    assert.ok(curve.serverKeys[e], `no server key for ${e}`);
  const arbiterKey = readPublicKey(curve.serverKeys[ep.publish[0]]);
  const stranger = await generateKeyPair();
  const plain = new ZmqTransport(ep, { logger: silentLogger });
  const unknown = new ZmqTransport(ep, {
    logger: silentLogger,
    curve: { keyPair: stranger, serverKey: arbiterKey, allow: new Map() },
  });
  const reads = await Promise.all(
    [plain, unknown].map(async (tr) => {
      const it = (await tr.subscriber('book', []))[Symbol.asyncIterator]();
      return Promise.race([it.next().then(() => 'read'), new Promise((r) => setTimeout(() => r('none'), 8000))]);
    }),
  );
  await plain.close();
  await unknown.close();

  const r = await run;
  assert.equal(r.code, 0, `demo failed:\n${r.stdout}\n${r.stderr}`);
  const m = /Truth checks: (\d+) OK, (\d+) DIFF/.exec(r.stdout);
  assert.ok(m && Number(m[1]) >= 1 && Number(m[2]) === 0, r.stdout);
  assert.deepEqual(reads, ['none', 'none'], 'a plaintext subscriber or an unknown key read the CURVE feed');
  assert.ok(!existsSync(keyDir), `the throwaway keys were left in ${keyDir}`);
  // The arbiter refused the unknown key, and only that one: every part of the demo was let in.
  const refused = readFileSync(path.join(dir, 'arbiter.log'), 'utf8')
    .split('\n')
    .filter((l) => /key is not allowed/.test(l))
    .map((l) => JSON.parse(l).key);
  assert.deepEqual([...new Set(refused)], [stranger.publicKey]);
  for (const part of ['collector-a', 'collector-b', 'recorder'])
    assert.doesNotMatch(
      readFileSync(path.join(dir, `${part}.log`), 'utf8'),
      /key is not allowed|refused our CURVE key/,
      `${part}: a demo part was refused`,
    );
  const recorderLog = readFileSync(path.join(dir, 'recorder.log'), 'utf8');
  assert.match(recorderLog, /"recorded":[1-9]/, 'the recorder (a CURVE client and server) recorded nothing');
});
