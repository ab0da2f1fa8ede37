#!/usr/bin/env node
/** bookwire command line. Every config option is also a flag; flags override the config file. */
import { Command, CommanderError } from 'commander';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import {
  DIVERGE_MS,
  divergeMsSchema,
  SIM_VENUE_IDS,
  type Config,
  type DeepPartial,
  type SimVenue,
} from '../config/schema.js';
import {
  addBusOptions,
  addCommonOptions,
  addSecurityOptions,
  addSymbolOption,
  list,
  num,
  overridesFrom,
  positive,
  upperSymbol,
} from './options.js';
import {
  runArbitrateCommand,
  runCollectCommand,
  runSimCommand,
  busTransport,
  untilSignal,
  zmqSecurity,
} from './commands.js';
import { runDemo } from './demo.js';
import { registerRecordCommands } from './record.js';
import { registerBridgeCommand } from './bridge.js';
import { registerKeygenCommand } from './keygen.js';
import { registerCaptureCommand } from './capture.js';
import { isUserFacing } from './errors.js';
import { createLogger } from '../log.js';
import { DEFAULT_VENUE, VENUE_IDS, findVenue } from '../venues/index.js';
import { UserError } from './errors.js';
import { LiveBookView } from './watch.js';
import { startView } from '../view/index.js';
import { startProxy } from '../transport/index.js';

type Opts = Record<string, unknown>;

function config(o: Opts, extra: DeepPartial<Config> = {}): Config {
  const ov = overridesFrom(o);
  return loadConfig(o.config as string | undefined, deepAssign(ov, extra));
}

/**
 * --confirm: every venue's `publish: confirmed` (replica and sequenced venues alike); --diverge-ms: every
 * venue's `divergeMs`.
 */
function venueSettings(o: Opts): DeepPartial<Config>['venues'] {
  const each: { publish?: 'confirmed'; divergeMs?: number } = {};
  if (o.confirm === true) each.publish = 'confirmed';
  if (o.divergeMs !== undefined) each.divergeMs = o.divergeMs as number;
  return Object.keys(each).length > 0 ? Object.fromEntries(VENUE_IDS.map((v) => [v, { ...each }])) : undefined;
}

/** --diverge-ms: checked here, in one line (the schema would name it once per venue). */
function divergeMsFlag(v: string): number {
  const n = num('--diverge-ms')(v);
  const r = divergeMsSchema.safeParse(n);
  if (!r.success) throw new UserError(`--diverge-ms: ${r.error.issues[0].message}, got "${v}"`);
  return n;
}

function deepAssign(a: Record<string, unknown>, b: Record<string, unknown>): DeepPartial<Config> {
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    if (v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object')
      deepAssign(a[k] as Record<string, unknown>, v as Record<string, unknown>);
    else a[k] = v;
  }
  return a as DeepPartial<Config>;
}

/** The package version (dist/src/cli/main.js -> package.json). */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string })
      .version;
  } catch {
    return 'unknown';
  }
}

/** The demo's venues: a venue the simulator speaks before its adapter is registered cannot be collected yet. */
const DEMO_VENUE_IDS: readonly string[] = SIM_VENUE_IDS.filter((v) => findVenue(v) !== undefined);

const program = new Command();
program
  .name('bookwire')
  .version(packageVersion(), '-V, --version', 'print the bookwire version')
  .description('Redundant, gap-free exchange order-book feeds: simulator -> collectors -> bus -> arbiter -> strategies')
  .showHelpAfterError()
  .exitOverride();

const duration = (c: Command) =>
  c.option('--duration <seconds>', 'stop after this many seconds', positive('--duration'));

// demo
duration(addSymbolOption(addBusOptions(addCommonOptions(program.command('demo')))))
  .description('run the whole pipeline locally: simulator, 2 collectors (one faulty), arbiter, live view')
  .option(
    '--venues <list>',
    `several venues, comma-separated (${DEMO_VENUE_IDS.join(', ')}): one simulator, collectors <venue>-a and <venue>-b (faulty) each, one arbiter, every book in the view (default: binance only)`,
  )
  .option('--no-faults', 'no fault injection on the second collector')
  .option('--no-record', 'do not run the recorder (default: records into recorder.dir, ./data)')
  .option('--record-dir <dir>', 'recording directory (config recorder.dir, default ./data)')
  .option('--recorder-ingest <endpoint>', 'endpoint the recorder binds for raw messages (config recorder.ingest)')
  .option('--postgres <url>', 'the recorder also writes to PostgreSQL (config recorder.postgres; default off)')
  .option('--sim-port <port>', 'simulator port', num('--sim-port'))
  .option('--log-dir <dir>', 'where the parts write their logs', 'data/logs')
  .option('--strict', 'exit 1 unless every truth check matched (for tests)')
  .option(
    '--arbiters <n>',
    'hot-hot arbiters, 1-4 (default 1): the view and the recorder merge them',
    num('--arbiters'),
  )
  .option(
    '--chaos <seconds>',
    'SIGKILL one part (collector, arbiter, recorder) every N seconds and restart it',
    positive('--chaos'),
  )
  .option('--curve', 'CURVE on every link, with throwaway keys generated in a temporary directory')
  .option(
    '--metrics-port <port>',
    'Prometheus metrics on 127.0.0.1: the arbiter at this port, the collectors and the recorder at the next ones',
    num('--metrics-port'),
  )
  .option(
    '--rows <n>',
    'most book rows in the view of several books (default: what fits the terminal); the books not synced come first',
    positive('--rows'),
  )
  .option('--confirm', "the arbiter publishes books' states once confirmed by a second copy (arbitrate --confirm)")
  .action(async (o: Opts) => {
    const venues = o.venues === undefined ? undefined : demoVenues(o.venues as string);
    const cfg = config(o, {
      venues: venueSettings(o),
      sim: { port: o.simPort as number | undefined },
      recorder: {
        dir: o.recordDir as string | undefined,
        ingest: o.recorderIngest as string | undefined,
        postgres: o.postgres !== undefined ? { url: o.postgres as string } : undefined,
      },
    });
    process.exitCode = await runDemo(cfg, {
      durationS: o.duration as number | undefined,
      faults: o.faults as boolean,
      record: o.record as boolean,
      logDir: path.resolve(o.logDir as string),
      strict: o.strict as boolean | undefined,
      metricsPort: o.metricsPort as number | undefined,
      venues,
      arbiters: demoArbiters(o.arbiters as number | undefined),
      chaosS: o.chaos as number | undefined,
      rows: o.rows as number | undefined,
      curve: o.curve as boolean | undefined,
    });
  });

/** --arbiters of the demo: 1 to 4. */
function demoArbiters(n: number | undefined): number | undefined {
  if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 4))
    throw new UserError(`--arbiters ${n}: expected an integer from 1 to 4`);
  return n;
}

/** --venues of the demo: known venues the simulator serves and the collectors read, each once, in the order given. */
function demoVenues(list: string): string[] {
  const ids = [...new Set(list.split(',').map((v) => v.trim().toLowerCase()))].filter(Boolean);
  const known: readonly string[] = DEMO_VENUE_IDS;
  const bad = ids.filter((v) => !known.includes(v));
  if (bad.length > 0 || ids.length === 0)
    throw new UserError(
      `--venues ${bad.length > 0 ? bad.join(',') : `"${list}"`}: ${bad.length > 1 ? 'unknown venues' : 'unknown venue'} (known: ${known.join(', ')})`,
    );
  return ids;
}

// sim
const faultFlags: [string, string, string][] = [
  ['--drop-rate <p>', 'dropRate', 'probability an event is not sent'],
  ['--dup-rate <p>', 'dupRate', 'probability an event is sent twice'],
  ['--delay-ms <ms>', 'delayMs', 'delay per message'],
  ['--jitter-ms <ms>', 'jitterMs', 'random extra delay per message'],
  ['--disconnect-every-s <s>', 'disconnectEveryS', 'close each connection every N seconds'],
  ['--stall-every-s <s>', 'stallEveryS', 'stall each connection every N seconds'],
  ['--stall-for-s <s>', 'stallForS', 'how long a stall lasts'],
  ['--malformed-rate <p>', 'malformedRate', 'probability a frame is corrupted'],
  ['--snapshot-error-rate <p>', 'snapshotErrorRate', 'probability a REST snapshot fails'],
  ['--snapshot-error-status <code>', 'snapshotErrorStatus', 'HTTP status of failed snapshots (429, 500, 503)'],
  ['--snapshot-delay-ms <ms>', 'snapshotDelayMs', 'delay before a REST snapshot is answered'],
  ['--regroup-rate <p>', 'regroupRate', 'probability an event is merged with the next into one message (not Bybit)'],
];
const simCmd = duration(addCommonOptions(program.command('sim')))
  .description('run the exchange simulator: Binance spot, USD-M, OKX, Bybit (websocket + REST on one port)')
  .option(
    '--symbols <list>',
    'books, comma separated, in any venue spelling or unified (BTCUSDT, BTC-USDT-SWAP, BTC/USDT:USDT); each venue serves those it has a market for',
    (v) => list(v).map(upperSymbol),
  )
  .option('--venue <id>', `venue to serve: ${SIM_VENUE_IDS.join(' | ')} (default binance)`)
  .option(
    '--venues <list>',
    'several venues, comma-separated, each under /<venue>/ (unprefixed paths: binance, else the first)',
  )
  .option('--okx-checksum', 'OKX: send the legacy CRC32 checksum instead of 0')
  .option('--host <host>', 'bind address (default 127.0.0.1)')
  .option('--port <port>', 'port (0 = any free port)', num('--port'))
  .option('--seed <n>', 'order-flow model seed', num('--seed'))
  .option('--rate <n>', 'depth events per second per symbol', num('--rate'))
  .option('--levels <n>', 'initial levels per side', num('--levels'))
  .option(
    '--capture <file>',
    "replay a recording of the (first) venue's own messages, NDJSON (docs/venues.md, Captures)",
  )
  .option('--record-send-times', "remember each event's send time for latency benchmarks (GET /sim/send-times)")
  .option('--no-limits', "do not enforce the venues' limits per client IP (request weight, streams, connection rates)")
  .option(
    '--fault-profile <name>',
    'profile the fault flags set ("default" = connections without /p/<name>/)',
    'default',
  );
for (const [flag, , help] of faultFlags) simCmd.option(flag, help, num(flag.split(' ')[0]));
simCmd.action(async (o: Opts) => {
  const profile: Record<string, number> = {};
  for (const [, key] of faultFlags) if (o[key] !== undefined) profile[key] = o[key] as number;
  const listed = [o.venue, o.venues]
    .filter((v): v is string => typeof v === 'string')
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  // --symbols go to the simulator as given (any venue's spelling), not through the collectors' symbol checks
  const cfg = config(
    { ...o, symbols: undefined },
    {
      sim: {
        venues: listed.length ? (listed as SimVenue[]) : undefined,
        okxChecksum: o.okxChecksum as boolean | undefined,
        limits: o.limits === false ? false : undefined,
        host: o.host as string | undefined,
        port: o.port as number | undefined,
        seed: o.seed as number | undefined,
        eventsPerSec: o.rate as number | undefined,
        levels: o.levels as number | undefined,
        capture: o.capture as string | undefined,
        faults: Object.keys(profile).length ? { [o.faultProfile as string]: profile } : undefined,
      },
    },
  );
  await runSimCommand(cfg, o.duration as number | undefined, {
    recordSendTimes: o.recordSendTimes as boolean | undefined,
    symbols: o.symbols as string[] | undefined,
  });
});

// collect
duration(addSymbolOption(addBusOptions(addCommonOptions(program.command('collect')))))
  .description('run one collector: venue websocket -> normalized events on the bus')
  .option('--id <id>', 'collector id (must be unique; default a)', 'a')
  .option('--venue <venue>', `venue: ${VENUE_IDS.join(', ')} (default: the config's, else binance)`)
  .option('--ws-url <url>', 'venue websocket base URL')
  .option('--rest-url <url>', 'venue REST base URL')
  .option('--stream-mode <mode>', 'combined | raw')
  .option('--speed <speed>', '100ms | 1000ms')
  .option('--snapshot-limit <n>', 'REST snapshot depth', num('--snapshot-limit'))
  .option('--stale-after-ms <ms>', 'reconnect after this long without a message', num('--stale-after-ms'))
  .option('--reconnect-min-ms <ms>', 'first reconnect backoff', num('--reconnect-min-ms'))
  .option('--reconnect-max-ms <ms>', 'longest reconnect backoff', num('--reconnect-max-ms'))
  .option(
    '--rest-weight-per-minute <n>',
    "REST request-weight budget per minute (default the venue's limit: Binance spot 6000)",
    num('--rest-weight-per-minute'),
  )
  .option(
    '--local-address <ip>',
    'leave from this local address (the venue limits per IP; on Linux every 127.x address is the loopback)',
  )
  .option(
    '--reconnect-every-s <s>',
    'proactive make-before-break reconnect period (0 = never)',
    num('--reconnect-every-s'),
  )
  .option(
    '--metrics <[host:]port>',
    'serve Prometheus metrics (/metrics, /healthz) here; default off (config collectors[].metrics)',
  )
  .action(async (o: Opts) => {
    const id = o.id as string;
    const venueFlag = o.venue as string | undefined;
    if (venueFlag !== undefined && findVenue(venueFlag) === undefined)
      throw new UserError(`--venue ${venueFlag}: unknown venue (known: ${VENUE_IDS.join(', ')})`);
    const venue = venueFlag ?? config(o).collectors.find((c) => c.id === id)?.venue ?? DEFAULT_VENUE;
    // --symbols name the default venue's books at the top level; another venue's go under venues.<id>
    const own = venue === DEFAULT_VENUE ? o : { ...o, symbols: undefined };
    const venueSymbols = venue === DEFAULT_VENUE ? undefined : (o.symbols as string[] | undefined);
    // the venue's flags go into both passes below (the second once lost --snapshot-limit: 10x the weight)
    const venueFlags = {
      streamMode: o.streamMode as 'raw' | undefined,
      speed: o.speed as '100ms' | undefined,
      snapshotLimit: o.snapshotLimit as number | undefined,
      symbols: venueSymbols,
    };
    let cfg = config(own, { venues: { [venue]: venueFlags } });
    const fields = {
      venue,
      wsUrl: o.wsUrl,
      restUrl: o.restUrl,
      staleAfterMs: o.staleAfterMs,
      reconnectMinMs: o.reconnectMinMs,
      reconnectMaxMs: o.reconnectMaxMs,
      restWeightPerMinute: o.restWeightPerMinute,
      localAddress: o.localAddress,
      reconnectEveryS: o.reconnectEveryS,
      symbols: o.symbols,
      metrics: o.metrics,
    };
    // This process runs one collector: keep its entry from the file (or a new one), flags on top.
    const existing = cfg.collectors.find((c) => c.id === id);
    const mine = { ...(existing ?? { id }), ...stripUndef(fields) };
    cfg = config(own, {
      venues: { [venue]: venueFlags },
      collectors: [mine] as never,
      demo: { faultyCollector: null },
    });
    await runCollectCommand(cfg, id, o.duration as number | undefined);
  });

// arbitrate
duration(addSymbolOption(addBusOptions(addCommonOptions(program.command('arbitrate')))))
  .description('run the arbiter: merge collectors by exchange sequence, publish the consolidated book')
  .option('--id <id>', 'arbiter id')
  .option('--gap-timeout-ms <ms>', 'how long a gap is held open for another feed to fill it', num('--gap-timeout-ms'))
  .option('--snapshot-interval-ms <ms>', 'periodic consolidated snapshot interval', num('--snapshot-interval-ms'))
  .option(
    '--snapshot-timeout-ms <ms>',
    'retry a REST snapshot request (on another collector) after this long',
    num('--snapshot-timeout-ms'),
  )
  .option('--stats-interval-ms <ms>', 'stats publish interval', num('--stats-interval-ms'))
  .option('--group <name>', 'Kafka consumer group: arbiters of one group share the books, exactly once, with failover')
  .option(
    '--peers <endpoints>',
    "peer arbiters' snapshot endpoints, comma separated: books are taken from a peer before any REST snapshot",
    list,
  )
  .option(
    '--metrics <[host:]port>',
    'serve Prometheus metrics (/metrics, /healthz) here; default off (config arbiter.metrics)',
  )
  .option(
    '--confirm',
    "every venue's books: publish a state once a second feed's copy reached it (sequenced venues: its ids), " +
      'never a corrupted first copy, at some latency (config venues.<id>.publish: confirmed; default first arrival)',
  )
  .option(
    '--diverge-ms <ms>',
    `every venue's books: how long a feed's copy may stay apart from the others before it is judged, ${DIVERGE_MS.min}..${DIVERGE_MS.max} (config venues.<id>.divergeMs; default 1000)`,
    divergeMsFlag,
  )
  .action(async (o: Opts) => {
    const cfg = config(o, {
      venues: venueSettings(o),
      arbiter: {
        id: o.id as string | undefined,
        peers: o.peers as string[] | undefined,
        metrics: o.metrics as string | undefined,
        group: o.group as string | undefined,
        gapTimeoutMs: o.gapTimeoutMs as number | undefined,
        snapshotIntervalMs: o.snapshotIntervalMs as number | undefined,
        snapshotTimeoutMs: o.snapshotTimeoutMs as number | undefined,
        statsIntervalMs: o.statsIntervalMs as number | undefined,
      },
    });
    await runArbitrateCommand(cfg, o.duration as number | undefined);
  });

// watch
duration(addBusOptions(addCommonOptions(program.command('watch'))))
  .description('live terminal view of one consolidated book')
  .option(
    '--symbol <symbol>',
    "symbol, the venue's spelling or the unified one (BTC/USDT); default: the first configured",
    upperSymbol,
  )
  .option('--venue <venue>', `venue: ${VENUE_IDS.join(', ')}`, DEFAULT_VENUE)
  .action(async (o: Opts) => {
    const cfg = config(o);
    const venueId = o.venue as string;
    const adapter = findVenue(venueId);
    if (adapter === undefined)
      throw new UserError(`--venue ${venueId}: unknown venue (known: ${VENUE_IDS.join(', ')})`);
    const input =
      (o.symbol as string | undefined) ??
      (venueId === DEFAULT_VENUE ? cfg.symbols[0] : cfg.venues[venueId]?.symbols?.[0]);
    if (input === undefined) throw new UserError(`--symbol is needed: no ${venueId} symbols in the config`);
    const symbol = adapter.venueSymbol(input);
    if (symbol === undefined) throw new UserError(`--symbol ${input}: not a ${adapter.name} symbol`);
    const log = createLogger('watch', cfg.log.level === 'info' ? 'warn' : cfg.log.level);
    const transport = busTransport(cfg, log);
    const where = cfg.bus.kind === 'kafka' ? `kafka ${cfg.bus.brokers.join(',')}` : cfg.bus.publish.join(',');
    const view = new LiveBookView({
      transport,
      venue: venueId,
      symbol,
      title: `bookwire watch ${where}`,
      where,
      logger: log,
    });
    view.start();
    const screen = startView(() => view.state(), { out: process.stdout });
    await untilSignal(
      log,
      async () => {
        screen.stop();
        await view.stop();
        await transport.close();
      },
      o.duration as number | undefined,
    );
  });

// proxy
addSecurityOptions(addCommonOptions(program.command('proxy')))
  .description(
    'ingest proxy: collectors connect to --frontend, arbiters and recorders (ingest connect mode) to --backend',
  )
  .option('--frontend <endpoint>', 'ROUTER bind endpoint (collectors connect here)', 'tcp://127.0.0.1:5565')
  .option('--backend <endpoint>', 'XPUB bind endpoint (arbiters connect here)', 'tcp://127.0.0.1:5566')
  .action(async (o: Opts) => {
    const cfg = config(o);
    const log = createLogger('proxy', cfg.log.level);
    const p = await startProxy({
      frontend: o.frontend as string,
      backend: o.backend as string,
      ...zmqSecurity(cfg),
      logger: log,
    });
    log.info({ frontend: o.frontend, backend: o.backend }, 'proxy running');
    await untilSignal(log, () => p.close());
  });

// record, replay, book-at (src/cli/record.ts)
registerRecordCommands(program, config);

// bridge (src/cli/bridge.ts)
registerBridgeCommand(program, config);

// keygen (src/cli/keygen.ts)
registerKeygenCommand(program);

// capture (src/cli/capture.ts)
registerCaptureCommand(program);

function stripUndef(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    if (isUserFacing(e)) {
      process.stderr.write(`bookwire: ${(e as Error).message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`bookwire: internal error (please report): ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
  }
}

await main();
