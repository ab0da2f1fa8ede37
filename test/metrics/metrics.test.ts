/** Prometheus metrics: the exporter alone, then a real sim -> collector -> arbiter run scraped over HTTP. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import client from 'prom-client';
import { liveCounter, liveGauge, parseListen, serveMetrics } from '../../src/metrics/exporter.js';
import { busFlags, freeEndpoints, freePort, runCli, sleep, startCli, waitFor } from '../helpers.js';

async function get(url: string): Promise<{ status: number; body: string; type: string }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') ?? '' };
}

/** The value of one series (`name{a="x",...}`, labels in any order) in a scrape, or undefined. */
function value(scrape: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of scrape.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('metrics exporter', () => {
  test('listen addresses: a port means loopback; bad ones are refused with the expected form', () => {
    assert.deepEqual(parseListen('9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListen(9464), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListen('0.0.0.0:1234'), { host: '0.0.0.0', port: 1234 });
    assert.deepEqual(parseListen('[::1]:1234'), { host: '::1', port: 1234 });
    for (const bad of ['', 'abc', '99999', 'host:', ':12', '1.2.3.4:5:6'])
      assert.throws(() => parseListen(bad), /expected a metrics listen address like 9464/, bad);
  });

  test('serves values read at scrape time, /healthz, 404 elsewhere; a taken port is a clear error', async (t) => {
    const reg = new client.Registry();
    let n = 1;
    liveCounter(reg, 'test_things_total', 'things', ['kind'], () => [[{ kind: 'a' }, n]]);
    liveGauge(reg, 'test_level', 'level', [], () => [[{}, n * 10]]);
    const srv = await serveMetrics(`127.0.0.1:${await freePort()}`, reg);
    t.after(() => srv.close());
    let s = await get(srv.url);
    assert.equal(s.status, 200);
    assert.match(s.type, /^text\/plain/);
    assert.equal(value(s.body, 'bookwire_test_things_total', { kind: 'a' }), 1);
    assert.equal(value(s.body, 'bookwire_test_level'), 10);
    n = 5; // read again at the next scrape, not cached
    s = await get(srv.url);
    assert.equal(value(s.body, 'bookwire_test_things_total', { kind: 'a' }), 5);
    assert.equal(value(s.body, 'bookwire_test_level'), 50);
    assert.equal((await get(srv.url.replace('/metrics', '/healthz'))).body, 'ok\n');
    assert.equal((await get(srv.url.replace('/metrics', '/nope'))).status, 404);
    const port = Number(new URL(srv.url).port);
    await assert.rejects(serveMetrics(port, reg), /cannot serve metrics on 127\.0\.0\.1:\d+: address already in use/);
  });
});

describe('metrics of running processes', { timeout: 60_000 }, () => {
  test('arbiter and collector expose book, feed and connection metrics that move with the stream', async (t) => {
    const ep = await freeEndpoints();
    const simPort = await freePort();
    const [arbM, colM, recM] = [await freePort(), await freePort(), await freePort()];
    const recIngest = `tcp://127.0.0.1:${await freePort()}`;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bookwire-metrics-'));
    const bus = busFlags(ep);
    const sim = startCli(['sim', '--port', String(simPort), '--symbols', 'BTCUSDT', '--rate', '200']);
    const started = [sim];
    t.after(async () => {
      for (const p of started) if (p.proc.exitCode === null) p.proc.kill('SIGTERM');
      await Promise.all(started.map((p) => p.exited));
    });
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${simPort}/api/v3/ping`).catch(() => undefined))?.ok === true,
      10_000,
      'simulator',
    );
    const arb = startCli([
      'arbitrate',
      '--symbols',
      'BTCUSDT',
      ...bus,
      '--metrics',
      String(arbM),
      '--stats-interval-ms',
      '200',
    ]);
    const rec = startCli(['record', ...bus, '--recorder-ingest', recIngest, '--dir', dir, '--metrics', String(recM)]);
    const colBus = busFlags({ ...ep, ingest: [...ep.ingest, recIngest] });
    const col = startCli([
      'collect',
      '--id',
      'a',
      '--symbols',
      'BTCUSDT',
      '--ws-url',
      `ws://127.0.0.1:${simPort}`,
      '--rest-url',
      `http://127.0.0.1:${simPort}`,
      ...colBus,
      '--metrics',
      `127.0.0.1:${colM}`,
    ]);
    started.push(arb, rec, col);
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const arbUrl = `http://127.0.0.1:${arbM}/metrics`;
    const colUrl = `http://127.0.0.1:${colM}/metrics`;
    const book = { venue: 'binance', symbol: 'BTCUSDT' };
    const scrape = async (url: string) => (await get(url).catch(() => ({ body: '' }))).body;
    await waitFor(
      async () => (value(await scrape(arbUrl), 'bookwire_book_synced', book) ?? 0) === 1,
      20_000,
      'the arbiter to sync',
    );
    // a feed is listed once its deltas are counted (a stats interval after the book synced)
    const feedOf = { ...book, collector: 'a' };
    await waitFor(
      async () => value(await scrape(arbUrl), 'bookwire_feed_messages_total', feedOf) !== undefined,
      5000,
      'the feed in the stats',
    );
    const s1 = await scrape(arbUrl);
    await sleep(1000);
    const s2 = await scrape(arbUrl);
    const seq1 = value(s1, 'bookwire_book_seq', book)!;
    const seq2 = value(s2, 'bookwire_book_seq', book)!;
    assert.ok(seq2 > seq1 && seq1 > 0, `book seq moves: ${seq1} -> ${seq2}`);
    const feed = { ...book, collector: 'a' };
    assert.ok(value(s2, 'bookwire_feed_messages_total', feed)! > value(s1, 'bookwire_feed_messages_total', feed)!);
    assert.equal(value(s2, 'bookwire_feed_connected', feed), 1);
    for (const q of ['0.5', '0.99']) {
      const proc = value(s2, 'bookwire_arbiter_processing_seconds', { ...book, quantile: q });
      assert.ok(proc !== undefined && proc > 0 && proc < 1, `processing time p${q} in seconds: ${proc}`);
      assert.ok(value(s2, 'bookwire_feed_lag_seconds', { ...feed, quantile: q })! >= 0, `feed lag p${q}`);
    }
    assert.ok(value(s2, 'bookwire_arbiter_messages_received_total')! > 0);
    assert.equal(value(s2, 'bookwire_arbiter_books', { state: 'synced' }), 1, 'books by state');
    assert.equal(value(s2, 'bookwire_arbiter_books', { state: 'waiting_snapshot' }), 0);
    assert.ok(
      value(s2, 'bookwire_process_resident_memory_bytes', { process: 'arbiter', id: 'arb-1' })! > 0,
      'process metrics, labelled',
    );
    const c = await scrape(colUrl);
    assert.equal(value(c, 'bookwire_collector_connected', { symbol: 'BTCUSDT', process: 'collector', id: 'a' }), 1);
    assert.ok(value(c, 'bookwire_collector_venue_messages_total', { symbol: 'BTCUSDT' })! > 0);
    assert.ok(value(c, 'bookwire_collector_published_total')! > 0);
    const r = await scrape(`http://127.0.0.1:${recM}/metrics`);
    assert.ok(
      value(r, 'bookwire_recorder_recorded_total', { process: 'recorder' })! > 0,
      'the recorder counts what it writes',
    );
    assert.equal(value(r, 'bookwire_recorder_write_errors_total'), 0);
  });

  test('a metrics port already taken: the arbiter exits 2 with a message naming it', async (t) => {
    const srv = http.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    t.after(() => srv.close());
    const port = (srv.address() as { port: number }).port;
    const ep = await freeEndpoints();
    const r = await runCli(['arbitrate', ...busFlags(ep), '--metrics', String(port)]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${port}: address already in use`));
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    const bad = await runCli(['arbitrate', '--metrics', 'nope']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /arbiter\.metrics: expected a metrics listen address like 9464/);
  });
});
