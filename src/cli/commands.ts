/** The long-running commands: each builds its part from the validated config and runs until a signal. */
import type { Config } from '../config/schema.js';
import { createLogger, type Logger } from '../log.js';
import { createTransport, KafkaTopicMissingError } from '../transport/index.js';
import type { Transport } from '../transport/types.js';
import type { ZmqTransportOptions } from '../transport/zeromq.js';
import { KeyFileError, loadCurveSettings, type CurveSettings } from '../transport/keys.js';
import { reloadAllowLists } from '../transport/allow-watch.js';
import { Collector } from '../collector/collector.js';
import { ArbiterService, type ArbiterServiceOptions } from '../arbiter/service.js';
import { runSimulator } from '../sim/index.js';
import { DEFAULT_VENUE, findVenue } from '../venues/index.js';
import { UserError } from './errors.js';
import { newRegistry, serveMetrics, type MetricsServer } from '../metrics/exporter.js';
import { registerArbiterMetrics } from '../metrics/arbiter.js';
import { registerCollectorMetrics } from '../metrics/collector.js';
import type client from 'prom-client';
import { kafkaSecurity } from './kafka-security.js';

/**
 * The ZeroMQ security options of the config: CURVE keys read (a missing or bad key file is the user's
 * to fix: one clear line), plaintext policy, message size bound.
 */
export function zmqSecurity(cfg: Config): Pick<ZmqTransportOptions, 'curve' | 'insecure' | 'maxMessageSize'> {
  let curve: CurveSettings | undefined;
  if (cfg.bus.curve)
    try {
      curve = loadCurveSettings(cfg.bus.curve);
    } catch (e) {
      if (e instanceof KeyFileError) throw new UserError(e.message);
      throw e;
    }
  return { curve, insecure: cfg.bus.insecure, maxMessageSize: cfg.bus.maxMessageSize };
}

/** `identity`: the routing id a plaintext ingest publisher announces (a collector's id; BusMessage.peer). */
export function busTransport(cfg: Config, log: Logger, identity?: string): Transport {
  if (cfg.bus.kind === 'kafka')
    return createTransport({
      kind: 'kafka',
      brokers: cfg.bus.brokers,
      topicPrefix: cfg.bus.topicPrefix,
      lingerMs: cfg.bus.lingerMs,
      clientId: `bookwire-${log.bindings().name ?? 'cli'}`,
      ...kafkaSecurity(cfg.bus),
      logger: log,
    });
  if (cfg.bus.kind !== 'zeromq')
    throw new UserError(`bus "${cfg.bus.kind}" cannot be used across processes; use --bus zeromq or kafka`);
  return createTransport({
    kind: 'zeromq',
    endpoints: { ingest: cfg.bus.ingest, publish: cfg.bus.publish, snapshot: cfg.bus.snapshot },
    sendHighWaterMark: cfg.bus.sendHighWaterMark,
    receiveHighWaterMark: cfg.bus.receiveHighWaterMark,
    coalesce: cfg.bus.coalesce,
    ...zmqSecurity(cfg),
    identity,
    logger: log,
  });
}

/** The peer arbiters' snapshot services (arbiter.peers), reached over ZeroMQ with this process's keys. */
function peerTransport(cfg: Config, log: Logger): Transport | undefined {
  if (cfg.arbiter.peers.length === 0) return undefined;
  if (cfg.arbiter.group)
    throw new UserError('--peers: an arbiter group restores its books from the committed output; drop --peers');
  return createTransport({
    kind: 'zeromq',
    endpoints: { snapshot: cfg.arbiter.peers },
    ...zmqSecurity(cfg),
    logger: log,
  });
}

/** Where this process talks to the bus, for its startup log line. */
function busWhere(cfg: Config): Record<string, unknown> {
  return cfg.bus.kind === 'kafka'
    ? { bus: 'kafka', brokers: cfg.bus.brokers, topicPrefix: cfg.bus.topicPrefix }
    : { ingest: cfg.bus.ingest };
}

/** Start a part; a missing Kafka topic is the user's to fix: one clear line, not an internal error. */
async function starting(start: () => Promise<void>, transport: Transport): Promise<void> {
  try {
    await start();
  } catch (e) {
    await transport.close().catch(() => undefined); // open client connections would keep the process alive
    if (e instanceof KafkaTopicMissingError) throw new UserError(e.message);
    throw e;
  }
}

/**
 * Serve Prometheus metrics when `listen` is set. Called before the service starts, so a taken port fails
 * fast with a clear message instead of after the process joined the bus.
 */
export async function serveMetricsFor(
  listen: string | undefined,
  labels: Record<string, string>,
  register: (reg: client.Registry) => void,
  log: Logger,
  health?: () => string[],
): Promise<MetricsServer | undefined> {
  if (!listen) return undefined;
  const reg = newRegistry(labels);
  register(reg);
  try {
    return await serveMetrics(listen, reg, log, health);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
}

/** Run until SIGINT/SIGTERM (or `durationS`), then stop cleanly; SIGHUP re-reads the allow-lists. */
export async function untilSignal(log: Logger, stop: () => Promise<void>, durationS?: number): Promise<void> {
  const onHangup = () => {
    log.info('SIGHUP: re-reading the CURVE allow-lists');
    reloadAllowLists('SIGHUP');
  };
  await new Promise<void>((resolve) => {
    const done = (why: string) => {
      log.info({ why }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', () => done('SIGINT'));
    process.once('SIGTERM', () => done('SIGTERM'));
    // SIGHUP re-reads the CURVE allow directory now (it is also followed on its own: docs/security.md).
    process.on('SIGHUP', onHangup);
    if (durationS && durationS > 0) setTimeout(() => done('duration elapsed'), durationS * 1000).unref();
  });
  process.off('SIGHUP', onHangup);
  const force = setTimeout(() => {
    log.error('clean shutdown took over 5 s; exiting');
    process.exit(1);
  }, 5000);
  force.unref();
  await stop();
  clearTimeout(force);
}

/** Every book the config names, as venue.SYMBOL keys: the default venue's symbols and each venues.<id>.symbols. */
export function configuredBooks(cfg: Config): string[] {
  const keys = new Set(cfg.symbols.map((s) => `${DEFAULT_VENUE}.${s}`));
  for (const [id, v] of Object.entries(cfg.venues)) {
    const a = findVenue(id);
    for (const s of v.symbols ?? []) keys.add(`${id}.${a?.venueSymbol(s) ?? s}`);
  }
  for (const c of cfg.collectors) for (const s of c.symbols) keys.add(`${c.venue}.${s}`);
  return [...keys];
}

export async function runSimCommand(
  cfg: Config,
  durationS?: number,
  extra: { recordSendTimes?: boolean; symbols?: string[] } = {},
): Promise<void> {
  const log = createLogger('sim', cfg.log.level);
  const sim = await runSimulator({
    host: cfg.sim.host,
    port: cfg.sim.port,
    symbols: extra.symbols ?? cfg.symbols,
    seed: cfg.sim.seed,
    eventsPerSec: cfg.sim.eventsPerSec,
    levels: cfg.sim.levels,
    venues: cfg.sim.venues,
    okx: { checksum: cfg.sim.okxChecksum },
    capture: cfg.sim.capture,
    faults: cfg.sim.faults,
    limits: { enabled: cfg.sim.limits },
    logger: log,
    recordSendTimes: extra.recordSendTimes,
  });
  process.stdout.write(`simulator listening: ${sim.wsBase} (websocket) ${sim.restBase} (REST)\n`);
  if (sim.venues.length > 1 || sim.venues[0] !== 'binance')
    process.stdout.write(
      `venues: ${sim.venues.map((v) => `${sim.venueWsBase(v)} (${sim.booksOf(v).join(', ')})`).join(' ')}\n`,
    );
  await untilSignal(log, () => sim.stop(), durationS);
}

export async function runCollectCommand(cfg: Config, id: string, durationS?: number): Promise<void> {
  const cc = cfg.collectors.find((c) => c.id === id);
  if (!cc)
    throw new UserError(`no collector "${id}" in the config (known: ${cfg.collectors.map((c) => c.id).join(', ')})`);
  const log = createLogger('collector', cfg.log.level);
  const transport = busTransport(cfg, log, cc.id);
  const v = cfg.venues[cc.venue];
  const c = new Collector({
    id: cc.id,
    venue: cc.venue,
    symbols: cc.symbols,
    wsUrl: cc.wsUrl,
    restUrl: cc.restUrl,
    streamMode: v.streamMode,
    speed: v.speed,
    snapshotLimit: v.snapshotLimit,
    snapshotSource: v.snapshotSource,
    staleAfterMs: cc.staleAfterMs,
    reconnectMinMs: cc.reconnectMinMs,
    reconnectMaxMs: cc.reconnectMaxMs,
    restWeightPerMinute: cc.restWeightPerMinute,
    localAddress: cc.localAddress,
    reconnectEveryS: cc.reconnectEveryS,
    transport,
    logger: log,
  });
  let metrics: MetricsServer | undefined;
  await starting(async () => {
    metrics = await serveMetricsFor(
      cc.metrics,
      { process: 'collector', id: cc.id },
      (reg) => registerCollectorMetrics(reg, c),
      log,
    );
    await c.start().catch(async (e: unknown) => {
      await metrics?.close();
      throw e;
    });
  }, transport);
  log.info(
    { symbols: cc.symbols, ws: cc.wsUrl, from: cc.localAddress, ...busWhere(cfg), metrics: metrics?.url },
    'collector running',
  );
  await untilSignal(
    log,
    async () => {
      await c.stop();
      await transport.close();
      await metrics?.close();
    },
    durationS,
  );
}

/** The arbiter's per-venue settings (venues.<id>.publish, .divergeMs), by venue id. */
export function venueArbiterOptions(cfg: Config): Pick<ArbiterServiceOptions, 'publish' | 'divergeMs'> {
  const venues = Object.entries(cfg.venues);
  return {
    publish: Object.fromEntries(venues.map(([id, v]) => [id, v.publish])),
    divergeMs: Object.fromEntries(venues.map(([id, v]) => [id, v.divergeMs])),
  };
}

export async function runArbitrateCommand(cfg: Config, durationS?: number): Promise<void> {
  const log = createLogger('arbiter', cfg.log.level);
  if (cfg.arbiter.group && cfg.bus.kind !== 'kafka')
    throw new UserError(`--group ${cfg.arbiter.group}: arbiter groups need the Kafka bus (--bus kafka --brokers ...)`);
  const transport = busTransport(cfg, log);
  // benchmark instrumentation (bench/e2e.ts), not a user setting: loaded only when asked for
  const arrivalLog = process.env.BOOKWIRE_ARRIVAL_LOG;
  const probe = arrivalLog ? new (await import('../bench-hooks/arrivals.js')).ArrivalLog(arrivalLog) : undefined;
  const peers = peerTransport(cfg, log);
  const a = new ArbiterService({
    id: cfg.arbiter.id,
    group: cfg.arbiter.group,
    transport,
    symbols: configuredBooks(cfg),
    gapTimeoutMs: cfg.arbiter.gapTimeoutMs,
    heartbeatMs: cfg.arbiter.heartbeatMs,
    snapshotIntervalMs: cfg.arbiter.snapshotIntervalMs,
    periodicLevelsPerSec: cfg.arbiter.periodicLevelsPerSec,
    maxHeldTotal: cfg.arbiter.maxHeldTotal,
    snapshotTimeoutMs: cfg.arbiter.snapshotTimeoutMs,
    statsIntervalMs: cfg.arbiter.statsIntervalMs,
    statsPerSec: cfg.arbiter.statsPerSec,
    feedTimeoutMs: cfg.arbiter.feedTimeoutMs,
    seqWindow: cfg.arbiter.seqWindow,
    maxFeeds: cfg.arbiter.maxFeeds,
    feedEvictMs: cfg.arbiter.feedEvictMs,
    leadTimeoutMs: cfg.arbiter.leadTimeoutMs,
    ...venueArbiterOptions(cfg),
    peers,
    probe,
    logger: log,
  });
  let metrics: MetricsServer | undefined;
  await starting(async () => {
    metrics = await serveMetricsFor(
      cfg.arbiter.metrics,
      { process: 'arbiter', id: cfg.arbiter.id },
      (reg) => registerArbiterMetrics(reg, a),
      log,
      () => a.staleBooks().map((b) => `stale: ${b.book} since ${new Date(b.since / 1000).toISOString()}`),
    );
    await a.start().catch(async (e: unknown) => {
      await metrics?.close();
      throw e;
    });
  }, transport);
  log.info(
    {
      ...(cfg.bus.kind === 'kafka'
        ? { ...busWhere(cfg), group: cfg.arbiter.group }
        : { ingest: cfg.bus.ingest[0], publish: cfg.bus.publish[0], snapshot: cfg.bus.snapshot[0] }),
      metrics: metrics?.url,
    },
    'arbiter running',
  );
  await untilSignal(
    log,
    async () => {
      await a.stop();
      await transport.close();
      await peers?.close();
      await metrics?.close();
    },
    durationS,
  );
}
