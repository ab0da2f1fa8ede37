/**
 * `bookwire bridge`: the command that runs the bridge service (src/bridge/service.ts) between two buses:
 * its flags, both sides resolved from them and the config file, the two transports, status lines, stop.
 */
import type { Command } from 'commander';
import type { Config, DeepPartial } from '../config/schema.js';
import { Bridge, DEFAULT_BRIDGE_TOPICS } from '../bridge/service.js';
import { createLogger, type Logger } from '../log.js';
import { createTransport } from '../transport/index.js';
import type { Transport } from '../transport/types.js';
import { addCoalesceOptions, addCommonOptions, positive } from './options.js';
import { untilSignal, zmqSecurity } from './commands.js';
import { UserError } from './errors.js';
import { kafkaSecurity } from './kafka-security.js';

type Opts = Record<string, unknown>;
type ConfigFn = (o: Opts, extra?: DeepPartial<Config>) => Config;
type BusKind = 'zeromq' | 'kafka';

const list = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export type BridgeSide =
  { kind: 'zeromq'; publish: string[]; snapshot: string[] } | { kind: 'kafka'; brokers: string[]; topicPrefix: string };

function busKind(flag: string, v: unknown): BusKind {
  if (v === 'zeromq' || v === 'kafka') return v;
  if (v === undefined) throw new UserError(`${flag} is required: zeromq or kafka`);
  throw new UserError(`${flag}: expected zeromq or kafka, got "${String(v)}"`);
}

/**
 * Both sides from the flags: --from-X/--to-X name one side; the plain --publish, --snapshot, --brokers,
 * --topic-prefix (and the config file's bus section) fill in the side of that bus kind not given.
 */
export function resolveSides(o: Opts, cfg: Config): { from: BridgeSide; to: BridgeSide; topics: string[] } {
  const fromKind = busKind('--from', o.from);
  const toKind = busKind('--to', o.to);
  const side = (which: 'from' | 'to', kind: BusKind): BridgeSide => {
    const own = (k: string) => o[`${which}${k}`] as string[] | string | undefined;
    if (kind === 'zeromq')
      return {
        kind,
        publish: (own('Publish') as string[]) ?? cfg.bus.publish,
        snapshot: (own('Snapshot') as string[]) ?? cfg.bus.snapshot,
      };
    const brokers =
      (own('Brokers') as string[] | undefined) ??
      (o.brokers as string[] | undefined) ??
      (cfg.bus.kind === 'kafka' ? cfg.bus.brokers : undefined);
    if (!brokers || brokers.length === 0)
      throw new UserError(`--brokers is required for the Kafka side (--${which} kafka): --brokers host:port,...`);
    for (const b of brokers)
      if (!/^[^\s:,]+:\d{1,5}$/.test(b))
        throw new UserError(`--brokers: expected a Kafka broker like 127.0.0.1:9092, got "${b}"`);
    return { kind, brokers, topicPrefix: (own('TopicPrefix') as string | undefined) ?? cfg.bus.topicPrefix };
  };
  const from = side('from', fromKind);
  const to = side('to', toKind);
  if (from.kind === 'zeromq' && to.kind === 'zeromq') {
    const clash =
      from.publish.find((e) => to.publish.includes(e)) ?? from.snapshot.find((e) => to.snapshot.includes(e));
    if (clash)
      throw new UserError(
        `same bus on both sides with the same endpoints (${clash}): a ZeroMQ-to-ZeroMQ bridge needs --to-publish/--to-snapshot (or --from-publish/--from-snapshot) that differ`,
      );
    if (to.publish[0] === to.snapshot[0])
      throw new UserError(`--to-publish and --to-snapshot must differ (${to.publish[0]})`);
  }
  if (
    from.kind === 'kafka' &&
    to.kind === 'kafka' &&
    from.topicPrefix === to.topicPrefix &&
    from.brokers.some((b) => to.brokers.includes(b))
  )
    throw new UserError(
      `same bus on both sides with the same endpoints (Kafka ${from.brokers.join(',')}, topic prefix ${from.topicPrefix}): give --to-brokers or --to-topic-prefix`,
    );
  if (to.kind === 'zeromq' && to.publish[0] === to.snapshot[0])
    throw new UserError(`--publish and --snapshot must differ (${to.publish[0]})`);
  const topics = (o.topics as string[] | undefined) ?? DEFAULT_BRIDGE_TOPICS;
  if (topics.length === 0) throw new UserError('--topics: expected prefixes like book.,stats.');
  for (const t of topics)
    if (!/^(book|stats|ctl)(\.|$)/.test(t))
      throw new UserError(
        `--topics: "${t}" is not on the consolidated stream; expected prefixes of book., stats. or ctl.`,
      );
  return { from, to, topics };
}

function sideTransport(s: BridgeSide, cfg: Config, log: Logger, role: 'source' | 'destination'): Transport {
  if (s.kind === 'kafka')
    return createTransport({
      kind: 'kafka',
      brokers: s.brokers,
      topicPrefix: s.topicPrefix,
      lingerMs: cfg.bus.lingerMs,
      clientId: `bookwire-bridge-${role}`,
      ...kafkaSecurity(cfg.bus),
      logger: log,
    });
  return createTransport({
    kind: 'zeromq',
    endpoints: { ingest: [], publish: s.publish, snapshot: s.snapshot },
    sendHighWaterMark: cfg.bus.sendHighWaterMark,
    receiveHighWaterMark: cfg.bus.receiveHighWaterMark,
    coalesce: cfg.bus.coalesce,
    ...zmqSecurity(cfg),
    logger: log,
  });
}

const where = (s: BridgeSide) =>
  s.kind === 'kafka'
    ? `kafka ${s.brokers.join(',')} (prefix ${s.topicPrefix})`
    : `zeromq publish ${s.publish.join(',')} snapshot ${s.snapshot.join(',')}`;

export function registerBridgeCommand(program: Command, config: ConfigFn): void {
  addCoalesceOptions(addCommonOptions(program.command('bridge')))
    .description('forward the consolidated stream between buses (ZeroMQ <-> Kafka), healing source gaps by snapshot')
    .option('--from <bus>', 'source bus: zeromq or kafka')
    .option('--to <bus>', 'destination bus: zeromq or kafka')
    .option('--topics <prefixes>', 'bus-topic prefixes to forward, comma separated (default book.,stats.)', list)
    .option('--brokers <list>', 'Kafka brokers host:port, comma separated (the Kafka side)', list)
    .option('--topic-prefix <prefix>', 'Kafka topic prefix (the Kafka side; default bookwire)')
    .option(
      '--publish <endpoints>',
      'ZeroMQ publish endpoint(s) of the ZeroMQ side: connected as source, bound as destination',
      list,
    )
    .option('--snapshot <endpoints>', 'ZeroMQ snapshot endpoint(s) of the ZeroMQ side', list)
    .option('--from-publish <endpoints>', 'source ZeroMQ publish endpoint(s)', list)
    .option('--from-snapshot <endpoints>', 'source ZeroMQ snapshot endpoint(s)', list)
    .option('--from-brokers <list>', 'source Kafka brokers', list)
    .option('--from-topic-prefix <prefix>', 'source Kafka topic prefix')
    .option('--to-publish <endpoints>', 'destination ZeroMQ publish endpoint (bound)', list)
    .option('--to-snapshot <endpoints>', 'destination ZeroMQ snapshot endpoint (bound)', list)
    .option('--to-brokers <list>', 'destination Kafka brokers', list)
    .option('--to-topic-prefix <prefix>', 'destination Kafka topic prefix')
    .option(
      '--snapshot-timeout-ms <ms>',
      'timeout of a snapshot request to the source',
      positive('--snapshot-timeout-ms'),
    )
    .option('--duration <seconds>', 'stop after this many seconds', positive('--duration'))
    .action(async (o: Opts) => {
      const cfg = config(o, {
        bus: {
          publish: o.publish as string[] | undefined,
          snapshot: o.snapshot as string[] | undefined,
          topicPrefix: o.topicPrefix as string | undefined,
        },
      });
      const { from, to, topics } = resolveSides(o, cfg);
      const log = createLogger('bridge', cfg.log.level);
      const source = sideTransport(from, cfg, log, 'source');
      const destination = sideTransport(to, cfg, log, 'destination');
      const bridge = new Bridge({
        source,
        destination,
        topics,
        serveSnapshots: to.kind === 'zeromq',
        snapshotTimeoutMs: o.snapshotTimeoutMs as number | undefined,
        logger: log,
      });
      try {
        await bridge.start();
      } catch (e) {
        await Promise.allSettled([source.close(), destination.close()]);
        if ((e as Error).name === 'KafkaTopicMissingError') throw new UserError((e as Error).message);
        throw e;
      }
      log.info({ from: where(from), to: where(to), topics }, 'bridge running');
      const status = setInterval(() => log.info({ ...bridge.counters }, 'bridge status'), 10_000);
      status.unref();
      await untilSignal(
        log,
        async () => {
          clearInterval(status);
          await bridge.stop();
          await Promise.allSettled([source.close(), destination.close()]);
          log.info({ ...bridge.counters }, 'bridge stopped');
        },
        o.duration as number | undefined,
      );
    });
}
