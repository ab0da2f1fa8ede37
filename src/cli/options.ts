/** CLI flags -> config overrides. Every config option is also a flag; flags win over the file. */
import type { Command } from 'commander';
import type { Config, DeepPartial } from '../config/schema.js';
import { UserError } from './errors.js';

export const list = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export function num(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new UserError(`${flag}: expected a number, got "${v}"`);
    return n;
  };
}

/**
 * A number > 0 (or >= 0 with `zero`), optionally an integer, for flags that no config schema checks later
 * (--duration, --depth, ...): a negative duration must not quietly mean "run forever".
 */
export function positive(flag: string, o: { zero?: boolean; integer?: boolean } = {}) {
  const parse = num(flag);
  return (v: string): number => {
    const n = parse(v);
    if ((o.zero ? n < 0 : n <= 0) || (o.integer && !Number.isInteger(n)))
      throw new UserError(
        `${flag}: expected ${o.integer ? 'an integer' : 'a number'} ${o.zero ? '>= 0' : '> 0'}, got "${v}"`,
      );
    return n;
  };
}

export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'YAML config file (see docs/config.md)')
    .option('--log-level <level>', 'trace|debug|info|warn|error|fatal|silent');
}

export function addBusOptions(cmd: Command): Command {
  cmd
    .option('--bus <kind>', 'message bus: zeromq (default) or kafka')
    .option('--brokers <list>', 'Kafka bootstrap brokers host:port, comma separated (with --bus kafka)', list)
    .option('--topic-prefix <prefix>', 'Kafka topic prefix (default bookwire: topics bookwire.raw, bookwire.book, ...)')
    .option(
      '--kafka-linger-ms <ms>',
      'Kafka producer linger in ms: batch records this long when idle (default 20)',
      num('--kafka-linger-ms'),
    )
    .option('--kafka-tls', 'Kafka: connect with TLS (config bus.ssl; the system CAs unless --kafka-ca)')
    .option('--kafka-ca <file>', 'Kafka TLS: PEM file of the CA that signed the brokers (implies --kafka-tls)')
    .option('--kafka-sasl <mechanism>', 'Kafka SASL: plain, scram-sha-256 or scram-sha-512 (config bus.sasl)')
    .option('--kafka-user <name>', 'Kafka SASL user name')
    .option('--kafka-password-env <var>', 'Kafka SASL: environment variable holding the password')
    .option('--ingest <endpoints>', 'ingest endpoint(s), comma separated (collectors -> arbiter)', list)
    .option('--publish <endpoints>', 'consolidated publish endpoint(s), comma separated', list)
    .option('--snapshot <endpoints>', 'snapshot service endpoint(s), comma separated', list);
  return addSecurityOptions(addCoalesceOptions(cmd));
}

/** ZeroMQ CURVE and bounds (config bus.curve, bus.insecure, bus.maxMessageSize; docs/security.md). */
export function addSecurityOptions(cmd: Command): Command {
  return cmd
    .option('--curve-key <file>', "ZeroMQ CURVE: this process's key pair (NAME.key from bookwire keygen)")
    .option(
      '--curve-server-key <file|key>',
      'ZeroMQ CURVE: the key of the servers this process connects to (a .pub file or the Z85 key)',
    )
    .option(
      '--curve-allow <dir>',
      'ZeroMQ CURVE: who may connect to what this process binds: a directory of NAME.pub files',
    )
    .option(
      '--insecure',
      'allow plaintext ZeroMQ binds on addresses other than loopback (anyone reaching them can read and inject)',
    )
    .option(
      '--max-message-size <bytes>',
      'largest ZeroMQ message part accepted (default 8388608)',
      num('--max-message-size'),
    );
}

/** Opt-in batching (config bus.coalesce); --no-coalesce, the default, overrides a file that turns it on. */
export function addCoalesceOptions(cmd: Command): Command {
  return cmd
    .option(
      '--coalesce',
      'ZeroMQ: batch what is published close together as [batch.<topic>, p1, p2, ...] (default off; docs/wire-format.md)',
    )
    .option('--no-coalesce', 'ZeroMQ: every message is exactly [topic, payload] (the default)');
}

export function addSymbolOption(cmd: Command): Command {
  return cmd.option('--symbols <list>', 'symbols, comma separated (e.g. BTCUSDT,ETHUSDT)', (v) =>
    list(v).map(upperSymbol),
  );
}

type Opts = Record<string, unknown>;

/** Build the overrides object from parsed flags (undefined values are ignored by the merge). */
export function overridesFrom(o: Opts): DeepPartial<Config> {
  const ov: DeepPartial<Config> = {};
  if (o.logLevel !== undefined) ov.log = { level: o.logLevel as Config['log']['level'] };
  // --coalesce and --no-coalesce are both defined, so commander leaves o.coalesce undefined unless one is given
  const coalesce = typeof o.coalesce === 'boolean' ? o.coalesce : undefined;
  const curve =
    o.curveKey !== undefined || o.curveServerKey !== undefined || o.curveAllow !== undefined
      ? Object.fromEntries(
          Object.entries({ keyFile: o.curveKey, serverKey: o.curveServerKey, allowDir: o.curveAllow }).filter(
            ([, v]) => v !== undefined,
          ),
        )
      : undefined;
  if (
    curve !== undefined ||
    o.insecure !== undefined ||
    o.maxMessageSize !== undefined ||
    o.bus !== undefined ||
    o.ingest ||
    o.publish ||
    o.snapshot ||
    o.brokers ||
    o.topicPrefix !== undefined ||
    o.kafkaLingerMs !== undefined ||
    o.kafkaTls !== undefined ||
    o.kafkaCa !== undefined ||
    o.kafkaSasl !== undefined ||
    coalesce !== undefined
  )
    ov.bus = {
      ssl: o.kafkaCa !== undefined ? { caFile: o.kafkaCa as string } : o.kafkaTls === true ? true : undefined,
      sasl:
        o.kafkaSasl !== undefined
          ? ({
              mechanism: o.kafkaSasl,
              username: o.kafkaUser,
              passwordEnv: o.kafkaPasswordEnv,
            } as unknown as Config['bus']['sasl'])
          : undefined,
      lingerMs: o.kafkaLingerMs as number,
      coalesce,
      kind: o.bus as Config['bus']['kind'],
      ingest: o.ingest as string[],
      publish: o.publish as string[],
      snapshot: o.snapshot as string[],
      brokers: o.brokers as string[],
      topicPrefix: o.topicPrefix as string,
      curve,
      insecure: o.insecure as boolean | undefined,
      maxMessageSize: o.maxMessageSize as number | undefined,
    };
  if (o.symbols) ov.symbols = o.symbols as string[];
  return ov;
}

/** Symbols are upper case on the bus and on disk (BTCUSDT), whatever case the user typed. */
export function upperSymbol(v: string): string {
  return v.trim().toUpperCase();
}
