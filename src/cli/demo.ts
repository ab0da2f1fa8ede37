/**
 * `bookwire demo`: the whole pipeline on this machine, each part its own process, as in production:
 * simulator, two collectors (one through the simulator's `flaky` fault profile), one arbiter, and a
 * live view of the consolidated book checked against the simulator's true book.
 *
 * With `venues` (--venues binance,okx,...): one simulator serving every venue listed, collectors
 * <venue>-a and <venue>-b (b through `flaky`, started once the a ones have every book synced) per venue,
 * still one arbiter, and an overview of every book (one line each, the detail of one), each checked against
 * the simulator's truth for its venue.
 *
 * One book gets its own subscription and the full frame (LiveBookView); several, up to a whole market
 * (`--symbols` with 2,000 books), are followed with one subscribeVenue() per venue (MarketWatch) in the overview.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, writeFileSync, closeSync, mkdtempSync, mkdirSync, copyFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Config, DeepPartial } from '../config/schema.js';
import { validateConfig } from '../config/load.js';
import { createLogger } from '../log.js';
import { startOverview, startView } from '../view/index.js';
import { busTransport } from './commands.js';
import { BookOverview, LiveBookView } from './watch.js';
import { MarketWatch, TRUTH_BOOKS } from './market-watch.js';
import { UserError } from './errors.js';
import { freePort } from '../util/freePort.js';
import { makeDir } from '../util/fs.js';
import { DEFAULT_VENUE, underPrefix, venue as venueAdapter } from '../venues/index.js';
import { parseUnified } from '../venues/symbols.js';
import { generateKeyPair, writeKeyPair } from '../transport/keys.js';

export interface DemoOptions {
  durationS?: number;
  faults: boolean;
  /** Run a recorder child too (into cfg.recorder.dir); the collectors also publish to its ingest endpoint. */
  record?: boolean;
  logDir: string;
  /** Exit non-zero if the consolidated book ever differed from the truth (used by tests/CI). */
  strict?: boolean;
  /** Prometheus metrics on 127.0.0.1: the arbiter at this port, collector i at port + 1 + i, then the recorder. */
  metricsPort?: number;
  /**
   * Several venues (ids the simulator serves): one simulator for all, collectors <venue>-a and <venue>-b per
   * venue, one arbiter, the overview. Undefined: Binance spot only, collectors from the config (`npm start`).
   */
  venues?: string[];
  /** Hot-hot arbiters (1-4, default 1): each binds its own endpoints; collectors feed all, clients merge all. */
  arbiters?: number;
  /** SIGKILL one part (a collector, an arbiter, the recorder) every this many seconds, and restart it. */
  chaosS?: number;
  /** Most book rows in the overview (default: what fits the terminal). */
  rows?: number;
  /** CURVE on every link, with throwaway keys made in a temporary directory (removed at the end). */
  curve?: boolean;
}

/** Books the end-of-run summary names one by one; past this only those that differed. */
const SUMMARY_BOOKS = 20;

/** How long a part killed by --chaos stays dead before it is restarted. */
const CHAOS_DOWN_MS = 1000;

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
/** Several venues: the b collectors start at the latest this long after the a ones. */
const LATE_START_MS = 10_000;

interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<number | null>;
}

/** What the children run with and what the view shows. */
interface Plan {
  childCfg: Config;
  /** Collector ids routed through the simulator's flaky profile. */
  faulty: string[];
  /** Books to show, venue spelling, with the collector that is faulty for each (if any). */
  books: { venue: string; symbol: string; faulty?: string }[];
  /** A simulator URL that answers once it is up. */
  readyUrl: string;
}

interface Bases {
  rest: string;
  ws: string;
}

/** Settings every child shares: the recorder's ingest on the bus, metrics ports, recorder dir. */
function common(cfg: Config, o: DemoOptions, collectors: number): Pick<Config, 'bus' | 'recorder' | 'arbiter'> {
  return {
    bus: o.record ? { ...cfg.bus, ingest: [...new Set([...cfg.bus.ingest, cfg.recorder.ingest])] } : cfg.bus,
    recorder: {
      ...cfg.recorder,
      dir: path.resolve(cfg.recorder.dir),
      metrics: o.metricsPort ? `127.0.0.1:${o.metricsPort + 1 + collectors}` : cfg.recorder.metrics,
    },
    arbiter: o.metricsPort ? { ...cfg.arbiter, metrics: `127.0.0.1:${o.metricsPort}` } : cfg.arbiter,
  };
}

/** Binance spot only: the collectors of the config, the faulty one via /p/flaky (what `npm start` runs). */
function singleVenuePlan(cfg: Config, o: DemoOptions, base: Bases): Plan {
  const faulty = o.faults ? cfg.demo.faultyCollector : null;
  // Every child reads one resolved config: collectors pointed at the simulator, the faulty one via /p/flaky.
  const childCfg: Config = {
    ...cfg,
    ...common(cfg, o, cfg.collectors.length),
    collectors: cfg.collectors.map((c, i) => {
      const prefix = c.id === faulty ? '/p/flaky' : '';
      const metrics = o.metricsPort ? `127.0.0.1:${o.metricsPort + 1 + i}` : c.metrics;
      return { ...c, wsUrl: base.ws + prefix, restUrl: base.rest + prefix, metrics, localAddress: ownIp(cfg, c, i) };
    }),
  };
  return {
    childCfg,
    faulty: faulty === null ? [] : [faulty],
    books: cfg.symbols.map((symbol) => ({ venue: DEFAULT_VENUE, symbol, faulty: faulty ?? undefined })),
    readyUrl: `${base.rest}/api/v3/ping`,
  };
}

/**
 * Each demo collector leaves from its own loopback address (127.0.0.2, .3, ...): the simulator limits per
 * client IP as the venue does, and each collector is its own IP with its own budget, as in production. Linux
 * routes all of 127.0.0.0/8 to the loopback; elsewhere only 127.0.0.1 exists, so nothing changes there.
 */
function ownIp(cfg: Config, c: { localAddress?: string; id: string }, i: number): string | undefined {
  if (c.localAddress !== undefined) return c.localAddress;
  if (process.platform !== 'linux' || cfg.sim.host !== '127.0.0.1') return undefined;
  return `127.0.0.${i + 2}`;
}

/**
 * A venue's books in the multi-venue demo, in its spelling: venues.<id>.symbols when the config names them,
 * else each top-level symbol (BTCUSDT, ETHUSDT by default) on that venue -- spot where the venue has spot
 * markets, else the linear perpetual settled in the quote asset (BTC/USDT:USDT).
 */
export function demoVenueSymbols(cfg: Config, venueId: string): string[] {
  const a = venueAdapter(venueId);
  const own = cfg.venues[venueId]?.symbols;
  if (own) return own.map((s) => a.venueSymbol(s) ?? s);
  const binance = venueAdapter(DEFAULT_VENUE);
  return cfg.symbols.map((s) => {
    const u = parseUnified(s.includes('/') ? s : (binance.unifiedSymbol(s) ?? ''));
    const unified = a.markets.includes('spot')
      ? u && `${u.base}/${u.quote}`
      : u && `${u.base}/${u.quote}:${u.settle ?? u.quote}`;
    const v = unified && a.venueSymbol(unified);
    if (!v) throw new UserError(`symbol ${s}: cannot name it on ${a.name} (use BASE/QUOTE, e.g. BTC/USDT)`);
    return v;
  });
}

/** The simulator's name of a venue symbol: base and quote glued (BTC-USDT-SWAP -> BTCUSDT). */
function simSymbol(venueId: string, s: string): string {
  const u = parseUnified(venueAdapter(venueId).unifiedSymbol(s) ?? '');
  return u ? u.base + u.quote : s.replace(/[-/_]/g, '');
}

/**
 * Several venues on one simulator: per venue, collector <venue>-a direct and <venue>-b through /p/flaky,
 * both under the venue's /<venue> prefix. Built through the config schema, so the children read a config
 * that is checked like any other.
 */
function multiVenuePlan(cfg: Config, o: DemoOptions, venues: string[], base: Bases): Plan {
  const faultsOn = o.faults && cfg.demo.faultyCollector !== null;
  const symbolsOf = new Map(venues.map((v) => [v, demoVenueSymbols(cfg, v)]));
  // the simulator serves its top-level symbols on every venue it serves
  const simSymbols = [...new Set(venues.flatMap((v) => symbolsOf.get(v)!.map((s) => simSymbol(v, s))))];
  // collector tuning (timeouts, backoff) from the config's first collector; ids, venues and URLs are the demo's
  const { staleAfterMs, reconnectMinMs, reconnectMaxMs, restWeightPerMinute, reconnectEveryS } = cfg.collectors[0];
  const tuning = { staleAfterMs, reconnectMinMs, reconnectMaxMs, restWeightPerMinute, reconnectEveryS };
  const faulty: string[] = [];
  const collectors = venues
    .flatMap((v) =>
      ['a', 'b'].map((suffix) => {
        const id = `${v}-${suffix}`;
        const prefix = `/${v}${suffix === 'b' && faultsOn ? '/p/flaky' : ''}`;
        if (prefix.endsWith('/flaky')) faulty.push(id);
        return { id, venue: v, ...tuning, ...underPrefix(venueAdapter(v), base.ws + prefix, base.rest + prefix) };
      }),
    )
    .map((c, i) => ({ ...c, localAddress: ownIp(cfg, c, i) }))
    .map((c, i) => (o.metricsPort ? { ...c, metrics: `127.0.0.1:${o.metricsPort + 1 + i}` } : c));
  const raw: DeepPartial<Config> = {
    ...cfg,
    ...common(cfg, o, collectors.length),
    venues: Object.fromEntries(
      Object.entries(cfg.venues).map(([id, vc]) => [
        id,
        symbolsOf.has(id) ? { ...vc, symbols: symbolsOf.get(id) } : vc,
      ]),
    ),
    symbols: simSymbols,
    collectors,
    sim: { ...cfg.sim, venues: venues as Config['sim']['venues'] },
    demo: { faultyCollector: null },
  };
  return {
    childCfg: validateConfig(raw),
    faulty,
    books: venues.flatMap((v) =>
      symbolsOf.get(v)!.map((symbol) => ({ venue: v, symbol, faulty: faulty.find((id) => id === `${v}-b`) })),
    ),
    readyUrl: `${base.rest}/sim/stats`,
  };
}

/**
 * Hot-hot: every arbiter after the first gets ingest, publish and snapshot endpoints on free loopback ports,
 * appended to the bus lists (collectors publish to every ingest, clients read every publish endpoint).
 */
async function withArbiters(cfg: Config, n: number): Promise<Config> {
  if (n <= 1 || cfg.bus.kind !== 'zeromq') return cfg;
  const more = async () => `tcp://127.0.0.1:${await freePort('127.0.0.1')}`;
  const bus = {
    ...cfg.bus,
    ingest: [...cfg.bus.ingest],
    publish: [...cfg.bus.publish],
    snapshot: [...cfg.bus.snapshot],
  };
  for (let i = 1; i < n; i++) {
    bus.ingest.splice(i, 0, await more());
    bus.publish.splice(i, 0, await more());
    bus.snapshot.splice(i, 0, await more());
  }
  return { ...cfg, bus };
}

/**
 * Arbiter i's config: its own endpoints first (an arbiter binds the first of each list), its own id and metrics
 * port, the other arbiters' snapshot services as its peers.
 */
function arbiterConfig(childCfg: Config, i: number, n: number, metricsPort?: number): Config {
  if (n <= 1) return childCfg;
  const own = (l: string[]) => [l[i], ...l.filter((_, j) => j !== i)];
  const b = childCfg.bus;
  return {
    ...childCfg,
    bus: { ...b, ingest: own(b.ingest), publish: own(b.publish), snapshot: own(b.snapshot) },
    arbiter: {
      ...childCfg.arbiter,
      id: `arb-${i + 1}`,
      // the other arbiters are its peers: a restarted arbiter takes its books from them, no REST call
      peers: b.snapshot.filter((_, j) => j !== i),
      metrics: metricsPort && i > 0 ? `127.0.0.1:${metricsPort + 50 + i}` : childCfg.arbiter.metrics,
    },
  };
}

/**
 * --curve: a throwaway key pair for every part in a fresh temporary directory (mode 0700), and the config
 * that runs every link with CURVE: each server (arbiter i, the recorder's ingest) is known by its own key
 * per endpoint, and every part's .pub is in the one allow directory the servers follow. Collector keys
 * are named after their ids (the arbiter binds a collector's id to its key). Each child is given its own
 * key with --curve-key; the config's keyFile is the demo process's own (the view).
 */
async function withDemoKeys(
  cfg: Config,
  nArbiters: number,
  record: boolean,
): Promise<{ cfg: Config; dir: string; keyOf: (name: string) => string[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bookwire-demo-keys-'));
  const allowDir = path.join(dir, 'allowed');
  mkdirSync(allowDir);
  const make = async (name: string) => {
    const f = writeKeyPair(dir, name, await generateKeyPair());
    copyFileSync(f.pubFile, path.join(allowDir, `${name}.pub`));
    return f;
  };
  const b = cfg.bus;
  const serverKeys: Record<string, string> = {};
  for (let i = 0; i < nArbiters; i++) {
    const arb = await make(`arbiter-${i + 1}`);
    for (const l of [b.ingest, b.publish, b.snapshot]) if (l[i] !== undefined) serverKeys[l[i]] = arb.pubFile;
  }
  if (record) serverKeys[cfg.recorder.ingest] = (await make('recorder')).pubFile;
  for (const c of cfg.collectors) await make(c.id);
  const view = await make('view');
  const keyOf = (name: string) => ['--curve-key', path.join(dir, `${name}.key`)];
  return { cfg: { ...cfg, bus: { ...b, curve: { keyFile: view.keyFile, serverKeys, allowDir } } }, dir, keyOf };
}

export async function runDemo(cfg: Config, o: DemoOptions): Promise<number> {
  const log = createLogger('demo', cfg.log.level === 'info' ? 'warn' : cfg.log.level);
  makeDir(o.logDir);
  if (cfg.sim.port === 0) cfg = { ...cfg, sim: { ...cfg.sim, port: await freePort(cfg.sim.host) } };
  const nArbiters = o.arbiters ?? 1;
  if (nArbiters > 1 && cfg.bus.kind !== 'zeromq')
    throw new UserError(`--arbiters ${nArbiters}: hot-hot arbiters in the demo need the ZeroMQ bus`);
  cfg = await withArbiters(cfg, nArbiters);
  const base = { rest: `http://${cfg.sim.host}:${cfg.sim.port}`, ws: `ws://${cfg.sim.host}:${cfg.sim.port}` };
  const plan = o.venues ? multiVenuePlan(cfg, o, o.venues, base) : singleVenuePlan(cfg, o, base);
  if (o.curve && cfg.bus.kind !== 'zeromq') throw new UserError('--curve: CURVE is for the ZeroMQ bus');
  const keys = o.curve ? await withDemoKeys(plan.childCfg, nArbiters, o.record === true) : undefined;
  if (keys) plan.childCfg = keys.cfg;
  const keyOf = (name: string): string[] => keys?.keyOf(name) ?? [];
  const { childCfg } = plan;
  const cfgFile = path.join(o.logDir, 'demo-config.yaml');
  writeFileSync(cfgFile, stringify(childCfg));

  const children: Child[] = [];
  /** How to start each part again (--chaos): name -> args and config file. */
  const recipes = new Map<string, { args: string[]; file: string }>();
  const start = (name: string, args: string[], file = cfgFile): Child => {
    const fd = openSync(path.join(o.logDir, `${name}.log`), 'a');
    const proc = spawn(process.execPath, [MAIN, ...args, '--config', file], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    const c = { name, proc, exited };
    children.push(c);
    recipes.set(name, { args, file });
    return c;
  };
  // if this process dies unexpectedly, its children must not outlive it
  process.once('exit', () => children.forEach((c) => c.proc.exitCode === null && c.proc.kill('SIGKILL')));
  const stopAll = async () => {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGTERM');
    const t = setTimeout(() => children.forEach((c) => c.proc.exitCode === null && c.proc.kill('SIGKILL')), 6000);
    await Promise.all(children.map((c) => c.exited));
    clearTimeout(t);
  };

  const sim = start('sim', ['sim']);
  await waitForHttp(plan.readyUrl, sim, 10_000);
  const arbs: Child[] = [];
  for (let i = 0; i < nArbiters; i++) {
    let file = cfgFile;
    if (nArbiters > 1) {
      file = path.join(o.logDir, `demo-config-arb-${i + 1}.yaml`);
      writeFileSync(file, stringify(arbiterConfig(childCfg, i, nArbiters, o.metricsPort)));
    }
    arbs.push(start(nArbiters > 1 ? `arbiter-${i + 1}` : 'arbiter', ['arbitrate', ...keyOf(`arbiter-${i + 1}`)], file));
  }
  // Before the collectors, so it sees their first messages; a recorder that dies does not end the demo.
  if (o.record) start('recorder', ['record', ...keyOf('recorder')]);
  // Several venues: the a collectors first, the b ones once every book is synced (at the latest
  // LATE_START_MS on): on a busy machine the books come up sooner than with every process starting at
  // once, and each b then joins a running book, as a restarted collector would.
  const late = o.venues ? childCfg.collectors.filter((c) => !c.id.endsWith('-a')) : [];
  for (const c of childCfg.collectors)
    if (!late.includes(c)) start(`collector-${c.id}`, ['collect', '--id', c.id, ...keyOf(c.id)]);

  const transport = busTransport(childCfg, log);
  const chaosLog: string[] = [];
  const chaosNotes = () =>
    o.chaosS
      ? [`chaos: SIGKILL one part every ${o.chaosS}s, restarted after ${CHAOS_DOWN_MS / 1000}s`, ...chaosLog.slice(-4)]
      : [];
  const n = childCfg.collectors.length;
  const faultNote = plan.faulty.length === 0 ? '' : o.venues ? ' (each b faulty)' : ` (${plan.faulty[0]} faulty)`;
  const where = o.venues ? `${o.venues.length} venues, ` : '';
  const arbNote = nArbiters > 1 ? `, ${nArbiters} arbiters` : '';
  const curveNote = o.curve ? ', CURVE on every link' : '';
  const title = `bookwire demo — ${where}${n} collectors${faultNote}${arbNote}${curveNote}, logs in ${o.logDir}`;
  // One book: its own subscription and the full frame. Several (up to a whole market): one subscription per
  // venue (MarketWatch) and the overview.
  const single =
    plan.books.length === 1
      ? new LiveBookView({
          transport,
          venue: plan.books[0].venue,
          symbol: plan.books[0].symbol,
          title,
          simRestBase: base.rest,
          faultyFeed: plan.books[0].faulty,
          notes: chaosNotes,
          logger: log,
        })
      : undefined;
  const market = single
    ? undefined
    : new MarketWatch({ transport, books: plan.books, simRestBase: base.rest, logger: log });
  const allSynced = () => (single ? single.state().synced : market!.allSynced());
  let screen: { stop(): void };
  let overview: BookOverview | undefined;
  if (market) {
    const ov = new BookOverview(market, title, chaosNotes);
    overview = ov;
    ov.start();
    screen = startOverview(() => ov.state(), {
      out: process.stdout,
      keys: { onKey: (k) => ov.onKey(k) },
      rows: o.rows,
    });
  } else {
    single!.start();
    screen = startView(() => single!.state(), { out: process.stdout });
  }

  let reason = '';
  const chaos = o.chaosS ? startChaos(o.chaosS) : undefined;
  function startChaos(everyS: number): NodeJS.Timeout {
    let turn = 0;
    let armed = false;
    return setInterval(() => {
      if (reason !== '') return;
      // the first kill once every book is up: chaos tests a running pipeline, not a cold start
      if (!armed && !(armed = allSynced())) return;
      // round robin over the parts that may die: collectors, arbiters, the recorder
      const parts = [...recipes.keys()].filter((name) => name !== 'sim');
      const name = parts[turn++ % parts.length];
      const victim = children.filter((c) => c.name === name).pop();
      if (!victim || victim.proc.exitCode !== null) return;
      victim.proc.kill('SIGKILL');
      const at = new Date().toISOString().slice(11, 19);
      chaosLog.push(`${at} killed ${name} (pid ${victim.proc.pid})`);
      log.warn({ part: name, pid: victim.proc.pid }, 'chaos: killed');
      setTimeout(() => {
        if (reason !== '') return;
        const r = recipes.get(name)!;
        const c = start(name, r.args, r.file);
        chaosLog.push(`${new Date().toISOString().slice(11, 19)} restarted ${name} (pid ${c.proc.pid})`);
      }, CHAOS_DOWN_MS).unref();
    }, everyS * 1000);
  }
  if (late.length > 0) {
    const t0 = Date.now();
    const timer = setInterval(() => {
      if (reason === '' && Date.now() - t0 < LATE_START_MS && !allSynced()) return;
      clearInterval(timer);
      if (reason === '') for (const c of late) start(`collector-${c.id}`, ['collect', '--id', c.id, ...keyOf(c.id)]);
    }, 100);
  }
  await new Promise<void>((resolve) => {
    const end = (why: string) => {
      reason ||= why;
      resolve();
    };
    process.once('SIGINT', () => end('SIGINT'));
    process.once('SIGTERM', () => end('SIGTERM'));
    if (o.durationS) setTimeout(() => end('duration elapsed'), o.durationS * 1000).unref();
    // A collector dying is what the pipeline is built to survive (the view shows it DOWN); the
    // simulator dying ends the demo, and an arbiter dying does unless --chaos kills and restarts them.
    for (const c of o.chaosS ? [sim] : [sim, ...arbs])
      void c.exited.then((code) => end(`${c.name} exited with code ${code}`));
  });
  if (chaos) clearInterval(chaos);
  screen.stop();
  await (overview ? overview.stop() : single!.stop());
  await transport.close();
  await stopAll();
  if (keys) rmSync(keys.dir, { recursive: true, force: true });
  const sums = single ? [{ book: single.book, ...single.truthSummary }] : market!.truthSummaries();
  const ok = sums.reduce((s, x) => s + x.ok, 0);
  const diff = sums.reduce((s, x) => s + x.diff, 0);
  let out = `\nbookwire demo stopped (${reason}). Truth checks: ${ok} OK, ${diff} DIFF. Logs: ${o.logDir}\n`;
  if (o.chaosS) {
    out += `  chaos: ${chaosLog.filter((l) => l.includes('killed')).length} parts killed and restarted\n`;
    for (const l of chaosLog) out += `    ${l}\n`;
  }
  // every book of a few; of a market, those that differed (and how many were checked)
  if (market && sums.length <= SUMMARY_BOOKS) for (const s of sums) out += `  ${s.book}: ${s.ok} OK, ${s.diff} DIFF\n`;
  else if (market) {
    const checked = sums.filter((s) => s.samples > 0).length;
    out += `  ${checked}/${sums.length} books checked (the truth check visits them in turn, ${TRUTH_BOOKS} at a time)\n`;
    for (const s of sums.filter((x) => x.diff > 0).slice(0, SUMMARY_BOOKS))
      out += `  ${s.book}: ${s.ok} OK, ${s.diff} DIFF\n`;
  }
  process.stdout.write(out);
  if (reason.includes('exited')) return 1;
  // strict: never a difference, and every book sampled a few times matched at least once (one book: at
  // least once; a whole market's books are checked in turn, so some are never reached in a short run)
  const failed = sums.filter((s) => s.diff > 0 || (s.ok === 0 && (single !== undefined || s.samples >= 3)));
  if (o.strict && failed.length > 0) {
    if (market)
      process.stderr.write(
        `bookwire demo --strict: ${failed
          .slice(0, SUMMARY_BOOKS)
          .map((s) => `${s.book} (${s.ok} OK, ${s.diff} DIFF)`)
          .join(', ')}${failed.length > SUMMARY_BOOKS ? ` and ${failed.length - SUMMARY_BOOKS} more` : ''}\n`,
      );
    return 1;
  }
  return 0;
}

async function waitForHttp(url: string, c: Child, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (c.proc.exitCode !== null) throw new UserError(`the simulator exited (code ${c.proc.exitCode}); see its log`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(500) });
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new UserError(`the simulator did not answer on ${url} within ${timeoutMs} ms`);
}
