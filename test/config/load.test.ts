import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, deepMerge, loadConfig, MAX_CONFIG_BYTES, validateConfig } from '../../src/config/load.js';
import { execFileSync } from 'node:child_process';
import { configSchema, defaultConfig, FLAKY_PROFILE } from '../../src/config/schema.js';
import { Command } from 'commander';
import { addBusOptions, overridesFrom } from '../../src/cli/options.js';
import { venueArbiterOptions } from '../../src/cli/commands.js';
import { ArbiterService } from '../../src/arbiter/service.js';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';

const dir = mkdtempSync(join(tmpdir(), 'bookwire-config-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(text: string): string {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, text);
  return p;
}

/** The ConfigError's problem lines (fails the test if something else was thrown). */
function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.message, e.problems.join('\n'));
    return e.problems;
  }
  assert.fail('expected a ConfigError');
}

test('defaults: every key filled in, two collectors a and b with the venue URLs and all symbols', () => {
  const c = defaultConfig();
  assert.deepEqual(c.bus, {
    kind: 'zeromq',
    ingest: ['tcp://127.0.0.1:5555'],
    publish: ['tcp://127.0.0.1:5556'],
    snapshot: ['tcp://127.0.0.1:5557'],
    sendHighWaterMark: 100000,
    receiveHighWaterMark: 100000,
    coalesce: false,
    insecure: false,
    maxMessageSize: 8 * 1024 * 1024,
    brokers: ['127.0.0.1:9092'],
    topicPrefix: 'bookwire',
  });
  assert.deepEqual(c.venues.binance, {
    wsUrl: 'wss://stream.binance.com:9443',
    restUrl: 'https://api.binance.com',
    streamMode: 'combined',
    speed: '100ms',
    snapshotLimit: 1000,
  });
  assert.deepEqual(c.symbols, ['BTCUSDT', 'ETHUSDT']);
  assert.deepEqual(
    c.collectors.map((x) => x.id),
    ['a', 'b'],
  );
  assert.deepEqual(c.collectors[0], {
    id: 'a',
    venue: 'binance',
    symbols: ['BTCUSDT', 'ETHUSDT'],
    wsUrl: 'wss://stream.binance.com:9443',
    restUrl: 'https://api.binance.com',
    staleAfterMs: 10000,
    reconnectMinMs: 250,
    reconnectMaxMs: 30000,
    reconnectEveryS: 82_800,
  });
  assert.deepEqual(c.arbiter, {
    id: 'arb-1',
    gapTimeoutMs: 50,
    feedTimeoutMs: 3000,
    heartbeatMs: 1000,
    snapshotIntervalMs: 1000,
    periodicLevelsPerSec: 500000,
    maxHeldTotal: 1000000,
    snapshotTimeoutMs: 3000,
    statsIntervalMs: 1000,
    statsPerSec: 500,
    maxFeeds: 64,
    feedEvictMs: 300000,
    leadTimeoutMs: 10000,
    peers: [],
  });
  assert.deepEqual(c.sim, {
    host: '127.0.0.1',
    port: 9443,
    seed: 42,
    eventsPerSec: 10,
    levels: 1000,
    venues: ['binance'],
    okxChecksum: false,
    limits: true,
    faults: { flaky: FLAKY_PROFILE },
  });
  assert.equal('capture' in c.sim, false);
  assert.deepEqual(c.demo, { faultyCollector: 'b' });
  assert.deepEqual(c.log, { level: 'info' });
  assert.deepEqual(loadConfig(), c);
  assert.deepEqual(loadConfig(file('')), c, 'an empty file is the defaults');
  assert.deepEqual(loadConfig(file('bus:\nsim:\n')), c, 'empty sections are the defaults');
});

test('defaultConfig returns a fresh object each time', () => {
  const a = defaultConfig();
  a.symbols.push('XRPUSDT');
  a.sim.faults.flaky.dropRate = 1;
  assert.deepEqual(defaultConfig().symbols, ['BTCUSDT', 'ETHUSDT']);
  assert.equal(defaultConfig().sim.faults.flaky.dropRate, 0.02);
});

test('a full valid file', () => {
  const c = loadConfig(
    file(`
bus:
  kind: inproc
  ingest: tcp://10.0.0.1:6000        # a single string is a list of one
  publish: [tcp://10.0.0.1:6001, tcp://10.0.0.2:6001]
  snapshot: [ipc:///tmp/snap]
  sendHighWaterMark: 0
  receiveHighWaterMark: 5000
venues:
  binance:
    wsUrl: ws://127.0.0.1:9443
    restUrl: http://127.0.0.1:9443
    streamMode: raw
    speed: 1000ms
    snapshotLimit: 5000
symbols: [BTCUSDT, ETHUSDT, SOLUSDT]
collectors:
  - id: east-1
    symbols: [BTCUSDT]
    wsUrl: ws://127.0.0.1:9443/p/flaky
    staleAfterMs: 2000
    reconnectMinMs: 100
    reconnectMaxMs: 100
    restWeightPerMinute: 600
    reconnectEveryS: 3600
  - id: west_2
    venue: binance
arbiter: { id: arb-2, gapTimeoutMs: 0, snapshotIntervalMs: 200, snapshotTimeoutMs: 500, statsIntervalMs: 250 }
sim:
  host: 0.0.0.0
  port: 0
  seed: 7
  eventsPerSec: 0.5
  levels: 50
  capture: data/capture.ndjson
  faults:
    slow: { delayMs: 20, jitterMs: 5 }
    broken: { snapshotErrorRate: 1, snapshotErrorStatus: 429 }
demo:
  faultyCollector: east-1
log:
  level: silent
`),
  );
  assert.equal(c.bus.kind, 'inproc');
  assert.deepEqual(c.bus.ingest, ['tcp://10.0.0.1:6000']);
  assert.deepEqual(c.bus.publish, ['tcp://10.0.0.1:6001', 'tcp://10.0.0.2:6001']);
  assert.equal(c.bus.sendHighWaterMark, 0);
  assert.equal(c.venues.binance.speed, '1000ms');
  assert.deepEqual(c.collectors[0].symbols, ['BTCUSDT']);
  assert.equal(c.collectors[0].wsUrl, 'ws://127.0.0.1:9443/p/flaky');
  assert.equal(c.collectors[0].restUrl, 'http://127.0.0.1:9443', 'unset URL comes from the venue');
  assert.equal(c.collectors[0].reconnectEveryS, 3600);
  assert.deepEqual(c.collectors[1].symbols, ['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
  assert.equal(c.collectors[1].staleAfterMs, 10000);
  assert.deepEqual(c.arbiter, {
    id: 'arb-2',
    gapTimeoutMs: 0,
    feedTimeoutMs: 3000,
    heartbeatMs: 1000,
    snapshotIntervalMs: 200,
    periodicLevelsPerSec: 500000,
    maxHeldTotal: 1000000,
    snapshotTimeoutMs: 500,
    statsIntervalMs: 250,
    statsPerSec: 500,
    maxFeeds: 64,
    feedEvictMs: 300000,
    leadTimeoutMs: 10000,
    peers: [],
  });
  assert.equal(c.sim.capture, 'data/capture.ndjson');
  assert.equal(c.sim.eventsPerSec, 0.5);
  assert.deepEqual(Object.keys(c.sim.faults).sort(), ['broken', 'flaky', 'slow'], 'built-in flaky is kept');
  assert.equal(c.sim.faults.slow.delayMs, 20);
  assert.equal(c.sim.faults.slow.dropRate, 0, 'unset fault settings are off');
  assert.equal(c.sim.faults.broken.snapshotErrorStatus, 429);
  assert.equal(c.demo.faultyCollector, 'east-1');
  assert.equal(c.log.level, 'silent');
});

test('demo.faultyCollector: defaults to the last collector, null disables, one collector means none', () => {
  assert.equal(validateConfig({ collectors: [{ id: 'x' }, { id: 'y' }, { id: 'z' }] }).demo.faultyCollector, 'z');
  assert.equal(validateConfig({ collectors: [{ id: 'x' }] }).demo.faultyCollector, null);
  assert.equal(validateConfig({ demo: { faultyCollector: null } }).demo.faultyCollector, null);
});

test('a redefined flaky profile replaces the built-in one', () => {
  const c = validateConfig({ sim: { faults: { flaky: { dropRate: 0.5 } } } });
  assert.equal(c.sim.faults.flaky.dropRate, 0.5);
  assert.equal(c.sim.faults.flaky.disconnectEveryS, 0);
});

test('bad type: file, dotted path, expectation, the value, and the line', () => {
  const p = file('collectors:\n  - id: a\n  - id: b\n    staleAfterMs: abc\n');
  assert.deepEqual(
    problems(() => loadConfig(p)),
    [`config ${p}: collectors[1].staleAfterMs: expected a positive integer, got "abc" (line 4)`],
  );
});

test('every problem is reported at once', () => {
  const p = file(
    [
      'bus:',
      '  kind: kafak',
      '  publish: [udp://x]',
      'symbols: [BTCUSDT, btcusdt]',
      'venues: { binance: { speed: 10ms, snapshotLimit: 5001, wsUrl: https://x } }',
      'arbiter: { gapTimeoutMs: 1.5 }',
      'sim: { port: 70000, faults: { flaky: { dropRate: 1.2 } } }',
      'log: { level: loud }',
      'collectors: []',
    ].join('\n'),
  );
  const got = problems(() => loadConfig(p)).map((l) => l.slice(`config ${p}: `.length));
  assert.deepEqual(got.sort(), [
    'arbiter.gapTimeoutMs: expected an integer >= 0, got 1.5 (line 6)',
    'bus.kind: expected one of zeromq, inproc, kafka, got "kafak" (line 2)',
    'bus.publish[0]: expected a ZeroMQ endpoint like tcp://127.0.0.1:5556, got "udp://x" (line 3)',
    'collectors: expected at least one collector, got [] (line 9)',
    'log.level: expected one of trace, debug, info, warn, error, fatal, silent, got "loud" (line 8)',
    'sim.faults.flaky.dropRate: expected a probability from 0 to 1, got 1.2 (line 7)',
    'sim.port: expected an integer from 0 to 65535, got 70000 (line 7)',
    'symbols[1]: expected an upper-case symbol like BTCUSDT, BTC-USDT-SWAP or BTC/USDT (2-40 letters, digits, / : _ -), got "btcusdt" (line 4)',
    'venues.binance.snapshotLimit: expected an integer from 1 to 5000, got 5001 (line 5)',
    'venues.binance.speed: expected one of 100ms, 1000ms, got "10ms" (line 5)',
    'venues.binance.wsUrl: expected a ws:// or wss:// URL like wss://stream.binance.com:9443, got "https://x" (line 5)',
  ]);
});

test('unknown keys are named, with the keys allowed there', () => {
  const p = file('bus:\n  kind: zeromq\n  hwm: 5\ncolector: []\nsim:\n  faults:\n    slow: { delay: 5 }\n');
  assert.deepEqual(
    problems(() => loadConfig(p)),
    [
      `config ${p}: bus.hwm: unknown key (allowed: kind, ingest, publish, snapshot, sendHighWaterMark, receiveHighWaterMark, coalesce, curve, insecure, maxMessageSize, brokers, topicPrefix, lingerMs, ssl, sasl) (line 3)`,
      `config ${p}: sim.faults.slow.delay: unknown key (allowed: dropRate, dupRate, delayMs, jitterMs, reorderRate, disconnectEveryS, stallEveryS, stallForS, malformedRate, corruptRate, snapshotErrorRate, snapshotErrorStatus, snapshotDelayMs, regroupRate) (line 7)`,
      `config ${p}: colector: unknown key (allowed: bus, venues, symbols, collectors, arbiter, sim, demo, log, recorder) (line 4)`,
    ],
  );
});

test('batching is opt-in: bus.coalesce (default false), --coalesce, --no-coalesce; the old coalesceBook is named', () => {
  const coalesce = (input: unknown, flags: string[] = []) => {
    const cmd = addBusOptions(new Command('x')).exitOverride();
    cmd.parse(flags, { from: 'user' });
    return validateConfig(input, overridesFrom(cmd.opts())).bus.coalesce;
  };
  assert.equal(coalesce({}), false);
  assert.equal(coalesce({}, ['--coalesce']), true);
  assert.equal(coalesce({ bus: { coalesce: true } }), true);
  assert.equal(coalesce({ bus: { coalesce: true } }, ['--no-coalesce']), false);
  assert.equal(coalesce({ bus: { coalesce: false } }, ['--coalesce']), true);
  const p = file('bus:\n  coalesceBook: false\n');
  assert.deepEqual(
    problems(() => loadConfig(p)),
    [
      `config ${p}: bus.coalesceBook: renamed to bus.coalesce, now false by default (every message one payload); true batches (docs/wire-format.md, Framing) (line 2)`,
    ],
  );
});

test('collectors: duplicate id, missing id, symbol not in the top-level list, backoff range', () => {
  const p = file('collectors:\n  - id: a\n  - id: a\n    symbols: [XRPUSDT]\n');
  assert.deepEqual(
    problems(() => loadConfig(p)),
    [
      `config ${p}: collectors[1].id: duplicate collector id "a" (also collectors[0]) (line 3)`,
      `config ${p}: collectors[1].symbols[0]: "XRPUSDT" is not in the binance symbols (BTCUSDT, ETHUSDT) (line 4)`,
    ],
  );
  assert.deepEqual(
    problems(() => validateConfig({ collectors: [{ venue: 'binance' }] })),
    ['config: collectors[0].id: missing: expected a collector id made of letters, digits, _ or -'],
  );
  assert.deepEqual(
    problems(() => validateConfig({ collectors: [{ id: 'a', reconnectMinMs: 500, reconnectMaxMs: 100 }] })),
    ['config: collectors[0].reconnectMaxMs: reconnectMaxMs must be >= reconnectMinMs, got 100'],
  );
  assert.deepEqual(
    problems(() => validateConfig({ demo: { faultyCollector: 'c' } })),
    ['config: demo.faultyCollector: "c" is not a collector id (a, b)'],
  );
});

test('YAML syntax error: file name and line', () => {
  const p = file('bus:\n  kind: zeromq\nsymbols: [BTCUSDT\nlog:\n  level: info\n');
  const got = problems(() => loadConfig(p));
  assert.ok(got.length >= 1);
  assert.match(
    got[0],
    new RegExp(`^config ${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line \\d+, column \\d+: YAML syntax error: `),
  );
  const dup = file('log:\n  level: info\nlog:\n  level: warn\n');
  assert.match(problems(() => loadConfig(dup))[0], /: line 3, column 1: YAML syntax error: Map keys must be unique/);
});

test('top level must be a mapping', () => {
  const p = file('- a\n- b\n');
  assert.deepEqual(
    problems(() => loadConfig(p)),
    [`config ${p}: expected a mapping (key: value lines) at the top level, got a list`],
  );
});

test('missing and unreadable files', (t) => {
  const missing = join(dir, 'nope.yaml');
  assert.deepEqual(
    problems(() => loadConfig(missing)),
    [`config ${missing}: cannot read: file not found`],
  );
  assert.deepEqual(
    problems(() => loadConfig(dir)),
    [`config ${dir}: cannot read: is a directory, not a file`],
  );
  if (process.getuid?.() === 0) {
    t.diagnostic('running as root: permission check skipped');
    return;
  }
  const locked = file('log: { level: info }\n');
  chmodSync(locked, 0);
  assert.match(problems(() => loadConfig(locked))[0], new RegExp(`^config .*: cannot read: .*EACCES`));
});

test('overrides win over the file, merge key by key, replace lists, ignore undefined', () => {
  const p = file(
    'bus:\n  kind: inproc\n  publish: [tcp://127.0.0.1:7000]\nsymbols: [BTCUSDT, ETHUSDT]\nlog: { level: warn }\n',
  );
  const c = loadConfig(p, {
    bus: { kind: 'zeromq', ingest: undefined },
    symbols: ['ETHUSDT'],
    collectors: [{ id: 'solo', staleAfterMs: 5 }],
    log: { level: undefined },
  });
  assert.equal(c.bus.kind, 'zeromq', 'override wins');
  assert.deepEqual(c.bus.publish, ['tcp://127.0.0.1:7000'], 'sibling keys of the file kept');
  assert.deepEqual(c.bus.ingest, ['tcp://127.0.0.1:5555'], 'undefined override leaves the default');
  assert.deepEqual(c.symbols, ['ETHUSDT'], 'lists replace');
  assert.deepEqual(
    c.collectors.map((x) => [x.id, x.staleAfterMs, x.symbols]),
    [['solo', 5, ['ETHUSDT']]],
  );
  assert.equal(c.log.level, 'warn', 'undefined override keeps the file value');
  assert.equal(c.demo.faultyCollector, null);
});

test('problems from overrides are labelled as such, not blamed on the file', () => {
  const p = file('arbiter: { gapTimeoutMs: -1 }\n');
  const got = problems(() => loadConfig(p, { sim: { port: -5 }, collectors: [{ id: 'a b' }] }));
  assert.deepEqual(got.sort(), [
    'config (overrides): collectors[0].id: expected a collector id made of letters, digits, _ or -, got "a b"',
    'config (overrides): sim.port: expected an integer from 0 to 65535, got -5',
    `config ${p}: arbiter.gapTimeoutMs: expected an integer >= 0, got -1 (line 1)`,
  ]);
});

test('deepMerge: objects merge, arrays and scalars replace, inputs untouched', () => {
  const base = { a: { b: 1, c: [1, 2] }, d: 1 };
  const over = { a: { c: [3] }, e: { f: 2 } };
  assert.deepEqual(deepMerge(base, over), { a: { b: 1, c: [3] }, d: 1, e: { f: 2 } });
  assert.deepEqual(base, { a: { b: 1, c: [1, 2] }, d: 1 });
  assert.deepEqual(deepMerge({ a: null }, { a: { b: 1 } }), { a: { b: 1 } });
});

test('configSchema output is the resolved Config', () => {
  const c = configSchema.parse({ symbols: ['BTCUSDT'] });
  assert.deepEqual(c.collectors[1].symbols, ['BTCUSDT']);
});

test('several venues: each collector takes its venue symbols in either spelling, resolved to the venue spelling', () => {
  const p = file(
    [
      'venues:',
      '  binance-usdm: { symbols: [BTC/USDT:USDT, ETHUSDT], wsUrl: ws://127.0.0.1:9443/binance-usdm/public }',
      'collectors:',
      '  - id: a',
      '  - { id: f, venue: binance-usdm }',
      '  - { id: g, venue: binance-usdm, symbols: [BTC/USDT:USDT] }',
    ].join('\n'),
  );
  const cfg = loadConfig(p);
  assert.deepEqual(
    cfg.collectors.map((c) => [c.id, c.venue, c.symbols, c.wsUrl]),
    [
      ['a', 'binance', ['BTCUSDT', 'ETHUSDT'], 'wss://stream.binance.com:9443'],
      ['f', 'binance-usdm', ['BTCUSDT', 'ETHUSDT'], 'ws://127.0.0.1:9443/binance-usdm/public'],
      ['g', 'binance-usdm', ['BTCUSDT'], 'ws://127.0.0.1:9443/binance-usdm/public'],
    ],
  );
  assert.equal(cfg.venues['binance-usdm'].restUrl, 'https://fapi.binance.com', "the venue's default");
});

test('several venues: a symbol of another market, a venue without symbols, an unknown venue', () => {
  const p = file(
    [
      'venues:',
      '  binance-usdm: { symbols: [BTC/USDT] }',
      '  bitstamp: {}',
      'collectors:',
      '  - { id: f, venue: binance-usdm }',
      '  - { id: g, venue: binance-usdm, symbols: [SOLUSDT] }',
      '  - { id: h, venue: nope }',
    ].join('\n'),
  );
  const got = problems(() => loadConfig(p)).map((l) => l.slice(`config ${p}: `.length).replace(/ \(line \d+\)$/, ''));
  assert.ok(
    got.some((l) => /^venues\.bitstamp: unknown key/.test(l)),
    got.join('\n'),
  );
  assert.ok(
    got.some((l) => /^collectors\[2\]\.venue: expected one of binance, binance-usdm/.test(l)),
    got.join('\n'),
  );
  // cross-section checks run only once every value has the right type: fix the two above and look again
  const q = file(
    [
      'venues:',
      '  binance-usdm: { symbols: [BTC/USDT] }',
      'collectors:',
      '  - { id: f, venue: binance-usdm }',
      '  - { id: g, venue: binance-usdm, symbols: [SOLUSDT] }',
    ].join('\n'),
  );
  const got2 = problems(() => loadConfig(q)).map((l) => l.slice(`config ${q}: `.length).replace(/ \(line \d+\)$/, ''));
  assert.deepEqual(got2.sort(), [
    'collectors[1].symbols[0]: "SOLUSDT" is not in the binance-usdm symbols (BTC/USDT)',
    'venues.binance-usdm.symbols[0]: "BTC/USDT" is not a Binance USD-M futures symbol',
  ]);
});

test('hostile files: an alias bomb, a file past the size bound, a FIFO are refused with one line each', (t) => {
  // The billion laughs: nine levels of ten aliases each expand to 10^9 strings without the alias bound.
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const cur = String.fromCharCode(97 + i);
    lines.push(`${cur}: &${cur} [${Array(10).fill(`*${prev}`).join(',')}]`);
  }
  const bomb = problems(() => loadConfig(file(lines.join('\n') + '\n')));
  assert.equal(bomb.length, 1);
  assert.match(bomb[0], /c\d+\.yaml: YAML aliases: .*alias/i);

  // A 2 MB value: refused before parsing (it used to take 35 s and 3.8 GB for 100 MB).
  const big = problems(() => loadConfig(file(`symbols: ["${'A'.repeat(2 << 20)}"]\n`)));
  assert.deepEqual(big.length, 1);
  assert.match(big[0], /more than 1048576 bytes, too big for a config file/);
  // Just under the bound is still parsed (and judged on its content).
  const comment = '#' + 'x'.repeat(MAX_CONFIG_BYTES - 100) + '\n';
  assert.equal(loadConfig(file(comment + 'symbols: [BTCUSDT]\n')).symbols[0], 'BTCUSDT');

  if (process.platform === 'win32') return t.skip('no mkfifo');
  const fifo = join(dir, 'fifo.yaml');
  execFileSync('mkfifo', [fifo]);
  const p = problems(() => loadConfig(fifo));
  assert.deepEqual(p, [`config ${fifo}: cannot read: not a regular file`]);
});

test('bus.curve, bus.insecure, bus.maxMessageSize: checked, and the flags set them', () => {
  const bad = file(
    'bus:\n  curve:\n    allowDir: keys\n    allow: { "../x": k }\n  maxMessageSize: 10\n  insecure: yes please\n',
  );
  const got = problems(() => loadConfig(bad)).join('\n');
  assert.match(got, /bus\.curve\.keyFile: missing: expected a key file written by bookwire keygen/);
  assert.match(got, /bus\.curve\.allow\.\.\.\/x: expected a mapping of peer name to public key/);
  assert.match(got, /bus\.maxMessageSize: expected an integer from 65536 to 1073741824/);
  assert.match(got, /bus\.insecure: expected true or false/);
  const good = loadConfig(file('bus:\n  curve:\n    keyFile: k/arb.key\n    allowDir: k/allowed\n  insecure: true\n'));
  assert.deepEqual(good.bus.curve, { keyFile: 'k/arb.key', allowDir: 'k/allowed' });
  assert.equal(good.bus.insecure, true);
  const o = new Command();
  addBusOptions(o).parse(
    ['--curve-key', 'a.key', '--curve-server-key', 'arb.pub', '--insecure', '--max-message-size', '1048576'],
    { from: 'user' },
  );
  const c = validateConfig(deepMerge({}, overridesFrom(o.opts())));
  assert.deepEqual(c.bus.curve, { keyFile: 'a.key', serverKey: 'arb.pub' });
  assert.equal(c.bus.insecure, true);
  assert.equal(c.bus.maxMessageSize, 1048576);
});

test("venues.<id>.divergeMs: absent (the cores' 1000), an integer 10..60000 reaching both cores; else one line", () => {
  const c = loadConfig(file('venues: { kraken: { divergeMs: 250 }, binance: { divergeMs: 60000 } }'));
  assert.equal(c.venues.kraken.divergeMs, 250);
  assert.equal(c.venues.coinbase.divergeMs, undefined);
  // through the arbiter service into the cores: a replica venue's and a sequenced venue's
  const transport = new InprocTransport(new InprocBus());
  const arb = new ArbiterService({ transport, symbols: [], ...venueArbiterOptions(c) });
  const coreOf = (venue: string, symbol: string) =>
    (arb['book'](venue, symbol) as unknown as { core: Record<string, unknown> }).core;
  assert.equal(coreOf('kraken', 'BTC/USD').divergeMs, 250);
  assert.equal(coreOf('binance', 'BTCUSDT').divergeMs, 60_000);
  assert.equal(coreOf('coinbase', 'BTC-USD').divergeMs, 1000, 'absent: the default');
  assert.equal(coreOf('okx', 'BTC-USDT').divergeMs, 1000);
  for (const bad of ['9', '60001', '2.5', '-1', 'soon']) {
    const p = file(`venues: { kraken: { divergeMs: ${bad} } }`);
    const got = problems(() => loadConfig(p)).map((l) => l.slice(`config ${p}: `.length));
    assert.deepEqual(got, [
      `venues.kraken.divergeMs: expected an integer from 10 to 60000, got ${bad === 'soon' ? '"soon"' : bad} (line 1)`,
    ]);
  }
});

test('venues.<id>.publish: absent (first arrivals), first or confirmed; anything else is an error', () => {
  const c = loadConfig(file('venues: { kraken: { publish: confirmed }, coinbase: { publish: first } }'));
  assert.equal(c.venues.kraken.publish, 'confirmed');
  assert.equal(c.venues.coinbase.publish, 'first');
  assert.equal(c.venues['gemini-v2'].publish, undefined);
  const p = file('venues: { kraken: { publish: second } }');
  assert.deepEqual(
    problems(() => loadConfig(p)).map((l) => l.slice(`config ${p}: `.length)),
    ['venues.kraken.publish: expected one of first, confirmed, got "second" (line 1)'],
  );
});
