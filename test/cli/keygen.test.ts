/** `bookwire keygen` and the CLI's security settings, as a user runs them (docs/security.md). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { busFlags, freeEndpoints, freePort, runCli, sleep, waitFor } from '../helpers.js';
import { readAllowList, readKeyPair, readPublicKey } from '../../src/transport/keys.js';
import { ZmqTransport } from '../../src/transport/zeromq.js';
import { silentLogger } from '../../src/log.js';

const CLI_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function tmpdir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'bookwire-keygen-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const noStack = (s: string) => assert.doesNotMatch(s, /\n\s+at .+:\d+:\d+/, `a stack trace was printed:\n${s}`);

test('keygen writes NAME.key (0600) and NAME.pub (0644); never overwrites without --force', async (t) => {
  const dir = path.join(tmpdir(t), 'keys');
  const r = await runCli(['keygen', '--name', 'a', '--out', dir]);
  assert.equal(r.code, 0, r.stderr);
  const keyFile = path.join(dir, 'a.key');
  const pubFile = path.join(dir, 'a.pub');
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  assert.equal(statSync(pubFile).mode & 0o777, 0o644);
  const pair = readKeyPair(keyFile);
  assert.equal(readPublicKey(pubFile), pair.publicKey);
  assert.notEqual(pair.publicKey, pair.secretKey);
  assert.doesNotMatch(readFileSync(pubFile, 'utf8'), new RegExp(pair.secretKey.replace(/[^\w]/g, '\\$&')));

  const again = await runCli(['keygen', '--name', 'a', '--out', dir]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /a\.key already exists \(use --force to replace it\)/);
  noStack(again.stderr);
  assert.equal(readKeyPair(keyFile).secretKey, pair.secretKey, 'the existing key is kept');

  const forced = await runCli(['keygen', '--name', 'a', '--out', dir, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.notEqual(readKeyPair(keyFile).secretKey, pair.secretKey);
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);

  const bad = await runCli(['keygen', '--name', '../evil', '--out', dir]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--name \.\.\/evil: expected 1-64 letters/);
  const none = await runCli(['keygen']);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /--name/);
});

test('key files: the allow directory names each key by its file; bad files are one clear error', async (t) => {
  const dir = tmpdir(t);
  for (const n of ['a', 'b']) assert.equal((await runCli(['keygen', '--name', n, '--out', dir])).code, 0);
  const allow = readAllowList(dir);
  assert.deepEqual([...allow.values()].sort(), ['a', 'b']);
  assert.equal(allow.get(readPublicKey(path.join(dir, 'a.pub'))), 'a');
  // one key under two names is refused: a key is one identity
  writeFileSync(path.join(dir, 'c.pub'), readFileSync(path.join(dir, 'a.pub')));
  assert.throws(() => readAllowList(dir), /already allowed as "a"/);
  const junk = path.join(dir, 'junk');
  mkdirSync(junk);
  writeFileSync(path.join(junk, 'x.pub'), 'not a key\n');
  assert.throws(() => readAllowList(junk), /x\.pub: expected one line with a 40-character Z85 key/);
  assert.throws(
    () => readKeyPair(path.join(dir, 'a.pub')),
    /needs both a "public" and a "secret" line|expected "public <key>"/,
  );
  assert.throws(() => readKeyPair(path.join(dir, 'missing.key')), /no such file \(make one with bookwire keygen\)/);
});

test('arbitrate: plaintext off loopback needs --insecure; a missing key file is one clear line', async (t) => {
  const r = await runCli([
    'arbitrate',
    '--ingest',
    'tcp://0.0.0.0:1',
    '--publish',
    'tcp://127.0.0.1:1',
    '--duration',
    '1',
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /cannot bind tcp:\/\/0\.0\.0\.0:1 \(ingest\) in plaintext: .*--insecure/);
  noStack(r.stderr);
  const dir = tmpdir(t);
  const k = await runCli(['arbitrate', '--curve-key', path.join(dir, 'nope.key'), '--duration', '1']);
  assert.equal(k.code, 2, k.stderr);
  assert.match(k.stderr, /cannot read key file .*nope\.key: no such file \(make one with bookwire keygen\)/);
  noStack(k.stderr);
});

test('arbitrate with CURVE from flags: an allowed client gets the stats stream, a stranger nothing, refused once in the log', async (t) => {
  const dir = tmpdir(t);
  const allowed = path.join(dir, 'allowed');
  for (const [name, out] of [
    ['arb', dir],
    ['client', allowed],
    ['stranger', dir],
  ])
    assert.equal((await runCli(['keygen', '--name', name, '--out', out])).code, 0);
  // the client's key pair stays next to its public key in the allow directory: only *.pub counts there
  const ep = await freeEndpoints();
  const metricsPort = await freePort();
  const arb = spawn(
    process.execPath,
    [
      CLI_MAIN,
      'arbitrate',
      ...busFlags(ep),
      '--stats-interval-ms',
      '50',
      '--curve-key',
      path.join(dir, 'arb.key'),
      '--curve-allow',
      allowed,
      '--metrics',
      String(metricsPort),
      '--duration',
      '20',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  arb.stderr.on('data', (d) => (log += d));
  t.after(() => {
    if (arb.exitCode === null) arb.kill('SIGKILL');
  });
  await waitFor(() => /arbiter running/.test(log), 15_000, 'the arbiter to start');
  const curveOf = (name: string) => ({
    keyPair: readKeyPair(path.join(name === 'client' ? allowed : dir, `${name}.key`)),
    serverKey: readPublicKey(path.join(dir, 'arb.pub')),
    allow: new Map<string, string>(),
  });
  const read = async (name: string): Promise<number> => {
    const tr = new ZmqTransport(ep, { logger: silentLogger, curve: curveOf(name) });
    try {
      const sub = await tr.subscriber('book', ['stats.']);
      let n = 0;
      const done = sub.consume!(() => void n++);
      await sleep(1500);
      await sub.close();
      await done;
      return n;
    } finally {
      await tr.close();
    }
  };
  const [good, bad] = await Promise.all([read('client'), read('stranger')]);
  assert.ok(good > 3, `the allowed client got ${good} stats messages`);
  assert.equal(bad, 0, 'the stranger got the feed');
  // counted in the metrics, by kind
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const refused = /bookwire_bus_events_total\{[^}]*event="curve_handshakes_refused"[^}]*\} (\d+)/.exec(metrics);
  assert.ok(
    refused && Number(refused[1]) >= 1,
    metrics
      .split('\n')
      .filter((l) => l.includes('bus_events'))
      .join('\n'),
  );
  arb.kill('SIGTERM');
  await new Promise((r) => arb.once('exit', r));
  const refusals = log.split('\n').filter((l) => /key is not allowed/.test(l));
  assert.equal(refusals.length, 1, refusals.join('\n'));
  assert.match(refusals[0], new RegExp(readPublicKey(path.join(dir, 'stranger.pub')).replace(/[^\w]/g, '\\$&')));
});
