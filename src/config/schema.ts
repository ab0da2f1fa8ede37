/**
 * The one config file for the whole pipeline (bus, venues, collectors, arbiter, simulator, demo, log).
 * Every key is optional; `configSchema.parse({})` is the default config. Unknown keys are rejected so a
 * typo never silently falls back to a default. Error messages are written for humans: load.ts prefixes
 * them with the file and dotted key path. Documented key by key in docs/config.md -- keep the two in step.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { ADAPTERS, DEFAULT_VENUE, VENUE_IDS, venue as venueAdapter, type VenueAdapter } from '../venues/index.js';
import type { FaultProfile } from '../sim/faults.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Venue ids bookwire knows (src/venues/index.ts). */
export const VENUES = VENUE_IDS as readonly [string, ...string[]];
export type VenueName = string;

/** Venues the simulator can serve (src/sim/protocols). */
export const SIM_VENUE_IDS = [
  'binance',
  'binance-usdm',
  'okx',
  'bybit',
  'bybit-linear',
  'kraken',
  'coinbase',
  'gemini',
  'gemini-v2',
] as const;
export type SimVenue = (typeof SIM_VENUE_IDS)[number];

export interface BusConfig {
  kind: 'zeromq' | 'inproc' | 'kafka';
  ingest: string[];
  publish: string[];
  snapshot: string[];
  sendHighWaterMark: number;
  receiveHighWaterMark: number;
  /**
   * ZeroMQ publishers batch (collectors per turn, arbiters while busy) into [batch.<topic>, p1, p2, ...];
   * off by default: every message is [topic, payload] (docs/wire-format.md, Framing).
   */
  coalesce: boolean;
  /** Kafka bus (kind: kafka): bootstrap brokers, topic prefix, TLS/SASL passed to the client as given. */
  brokers: string[];
  topicPrefix: string;
  /** Kafka producer linger (ms, docs/kafka.md "Producer linger"); unset: env BOOKWIRE_KAFKA_LINGER_MS, else 20. */
  lingerMs?: number;
  /** Kafka TLS (docs/kafka.md, "TLS and SASL"): true, or PEM files read at start. */
  ssl?: boolean | KafkaTlsConfig;
  /** Kafka SASL: mechanism, user, and where the password is (an environment variable or a file). */
  sasl?: KafkaSaslConfig;
  /** ZeroMQ CURVE (docs/security.md): this process's key pair, its servers' key, who may connect to it. */
  curve?: BusCurveConfig;
  /** Allow plaintext ZeroMQ binds off loopback (logged as INSECURE); refused otherwise. */
  insecure: boolean;
  /** Largest ZeroMQ message part any socket accepts, bytes; a peer sending more is disconnected. */
  maxMessageSize: number;
}

/** bus.curve: file paths (or Z85 keys) as given; read when a process starts (transport/keys.ts). */
export interface BusCurveConfig {
  /** NAME.key written by `bookwire keygen`: this process's key pair. */
  keyFile: string;
  /** The server key (a .pub file or the Z85 key) this process connects with; serverKeys overrides it per endpoint. */
  serverKey?: string;
  serverKeys?: Record<string, string>;
  /** Servers: every NAME.pub in this directory may connect, as NAME (for a collector: its id); followed while running. */
  allowDir?: string;
  /** Servers: name -> .pub file or Z85 key, besides allowDir. */
  allow?: Record<string, string>;
}

/** One venue's endpoints and defaults (config key venues.<id>). */
export interface VenueConfig {
  wsUrl: string;
  restUrl: string;
  /** Binance spot only: combined or raw streams, 100ms or 1000ms updates. */
  streamMode: 'combined' | 'raw';
  speed: '100ms' | '1000ms';
  /** REST snapshot depth, where the venue snapshots by REST. */
  snapshotLimit: number;
  /** Where resync snapshots come from: the venue's own way (default), or REST where the venue offers both (OKX). */
  snapshotSource?: 'rest' | 'websocket';
  /** This venue's symbols (venue spelling); the default venue's are the top-level `symbols`. */
  symbols?: string[];
  /**
   * When the arbiter publishes a book state (replica venues by state, sequenced venues by their ids): the first
   * copy's arrival (absent, 'first') or once a second feed's copy confirmed it ('confirmed'; PublishPolicy).
   */
  publish?: 'first' | 'confirmed';
  /**
   * How long (ms) a feed's copy may stay apart from the others before the arbiter judges it (absent: the
   * arbiters' default, 1000): a replica feed out of step, unconfirmed steps or held copies ('confirmed').
   */
  divergeMs?: number;
}

/** Bounds of venues.<id>.divergeMs (and of the flag arbitrate --diverge-ms that sets it for every venue), ms. */
export const DIVERGE_MS = { min: 10, max: 60_000 } as const;

/** @deprecated the binance entry of Config.venues; kept for code written against one venue. */
export type BinanceVenueConfig = VenueConfig;

/** One collector, with the venue's URLs and the top-level symbols already filled in. */
export interface CollectorConfig {
  id: string;
  venue: VenueName;
  symbols: string[];
  wsUrl: string;
  restUrl: string;
  staleAfterMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** REST weight per window of the venue's limit; absent: the venue's whole limit (Binance spot 6,000/min). */
  restWeightPerMinute?: number;
  /** Local address the collector's connections leave from (each collector its own IP); absent: the system's. */
  localAddress?: string;
  reconnectEveryS: number;
  /** Prometheus metrics listen address ("127.0.0.1:9465"); absent = off. */
  metrics?: string;
}

export interface KafkaTlsConfig {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  rejectUnauthorized?: boolean;
  servername?: string;
}

export interface KafkaSaslConfig {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  passwordEnv?: string;
  passwordFile?: string;
}

export interface ArbiterConfig {
  id: string;
  gapTimeoutMs: number;
  /** Heartbeat on a book topic silent this long (0 = none): clients tell a quiet book from a dead arbiter. */
  heartbeatMs: number;
  snapshotIntervalMs: number;
  /** Levels per second all periodic snapshots together may carry; many books stretch each one's period. */
  periodicLevelsPerSec: number;
  /** Most events held by all books together (waiting for a snapshot or a gap's filling). */
  maxHeldTotal: number;
  snapshotTimeoutMs: number;
  statsIntervalMs: number;
  /** Stats messages per second over all books; many books stretch each one's period. */
  statsPerSec: number;
  /**
   * A collector is live (snapshot requests, `connected`) while it delivered valid data this recently; a book
   * with no live collector is stale.
   */
  feedTimeoutMs: number;
  /** Plausibility window for every venue (ids past the book's seq); absent: each venue's default (VenueAdapter.seqWindow). */
  seqWindow?: number;
  /** Most collectors tracked per book. */
  maxFeeds: number;
  /** Forget a collector silent this long. */
  feedEvictMs: number;
  /** A book position no other collector reached this long while they delivered below it was forged: resync. */
  leadTimeoutMs: number;
  /** Kafka consumer group shared by arbiters that split the books between them (exactly once); absent: one arbiter. */
  group?: string;
  /**
   * Snapshot endpoints of peer arbiters (hot-hot): a book that needs a snapshot is taken from a peer first, so a
   * restart costs the venue no REST call while a peer is up. CURVE keys per endpoint in bus.curve.serverKeys.
   */
  peers: string[];
  /** Prometheus metrics listen address ("127.0.0.1:9464"); absent = off. */
  metrics?: string;
}

export interface SimConfig {
  host: string;
  port: number;
  seed: number;
  eventsPerSec: number;
  levels: number;
  /** Venues served on the one port (src/sim/index.ts); the first path segment /<venue> picks one. */
  venues: SimVenue[];
  /** OKX: send the legacy CRC32 checksum instead of 0. */
  okxChecksum: boolean;
  /** A recording of the first venue's messages to replay (docs/venues.md, "Captures"). */
  capture?: string;
  /** Fault profiles (the simulator's FaultProfile, every setting filled in). Always holds the built-in
   * `flaky` profile unless the file redefines it. */
  faults: Record<string, Required<FaultProfile>>;
  /** Enforce each venue's own limits per client IP (src/sim/limits.ts); default true, as the venue does. */
  limits: boolean;
}

/** The recorder (`bookwire record`, and inside the demo): docs/recording.md. */
export interface RecorderConfig {
  dir: string;
  /** The recorder binds its own ingest endpoint; list it in bus.ingest so collectors publish to it too. */
  ingest: string;
  book: boolean;
  raw: boolean;
  codec: 'brotli' | 'gzip' | 'none';
  level: number;
  blockBytes: number;
  flushIntervalMs: number;
  fsync: 'none' | 'interval' | 'every-block';
  fsyncIntervalMs: number;
  segmentBytes: number;
  segmentMinutes: number;
  maxPendingBytes: number;
  /** Book stream: a checkpoint of the book every this many records (0: none); book-at applies at most this many. */
  checkpointEvents: number;
  /** Where blocks are compressed: the recorder's main thread (less CPU) or libuv's thread pool. */
  compressIn: 'main-thread' | 'thread-pool';
  /** Consolidated messages as binary records (format 02) or as the JSON received. */
  encoding: 'binary' | 'json';
  /** Optional PostgreSQL sink (src/recorder/postgres.ts); absent = off. */
  postgres?: RecorderPostgresConfig;
  /** Prometheus metrics listen address ("127.0.0.1:9467"); absent = off. */
  metrics?: string;
}

export interface RecorderPostgresConfig {
  url: string;
  tablePrefix: string;
  batch: number;
  flushMs: number;
  maxQueueBytes: number;
}

export interface Config {
  bus: BusConfig;
  venues: Record<string, VenueConfig>;
  symbols: string[];
  collectors: CollectorConfig[];
  arbiter: ArbiterConfig;
  sim: SimConfig;
  /** faultyCollector: collector routed through the `flaky` profile by the demo; null = none. */
  demo: { faultyCollector: string | null };
  log: { level: LogLevel };
  recorder: RecorderConfig;
}

/** Objects merge key by key, arrays and scalars replace. */
export type DeepPartial<T> = T extends (infer U)[]
  ? DeepPartial<U>[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

// ---- building blocks, each with one message for every way the value can be wrong ----

function intIn(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  const what =
    max !== Number.MAX_SAFE_INTEGER
      ? `an integer from ${min} to ${max}`
      : min === 1
        ? 'a positive integer'
        : min === 0
          ? 'an integer >= 0'
          : `an integer >= ${min}`;
  const error = `expected ${what}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/** venues.<id>.divergeMs's check (also the flag arbitrate --diverge-ms's, which sets it for every venue). */
export const divergeMsSchema = intIn(DIVERGE_MS.min, DIVERGE_MS.max);

const nonNegNumber = () => z.number({ error: 'expected a number >= 0' }).min(0, { error: 'expected a number >= 0' });
const posNumber = () => z.number({ error: 'expected a number > 0' }).positive({ error: 'expected a number > 0' });
const probability = () => {
  const error = 'expected a probability from 0 to 1';
  return z.number({ error }).min(0, { error }).max(1, { error });
};

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.join(', ')}` });
}

const nonEmptyString = (what: string) => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });

function urlWith(protocols: string[], example: string) {
  const error = `expected a ${protocols.map((p) => `${p}//`).join(' or ')} URL like ${example}`;
  return z.string({ error }).refine(
    (s) => {
      try {
        return protocols.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    },
    { error },
  );
}

const idPattern = /^[A-Za-z0-9_-]+$/;
const anId = (what: string) => {
  const error = `expected ${what} made of letters, digits, _ or -`;
  return z.string({ error }).regex(idPattern, { error });
};

/** A list, or a single value taken as a list of one. */
function listOf<T extends z.ZodType>(item: T, what: string) {
  return z.preprocess(
    (v) => (typeof v === 'string' ? [v] : v),
    z
      .array(item, { error: `expected a list of ${what}` })
      .min(1, { error: `expected at least one ${what.replace(/s$/, '')}` }),
  );
}

const endpoint = z
  .string({ error: 'expected a ZeroMQ endpoint like tcp://127.0.0.1:5556' })
  .regex(/^(tcp|ipc|inproc|pgm|epgm|ws|wss):\/\/\S+$/, {
    error: 'expected a ZeroMQ endpoint like tcp://127.0.0.1:5556',
  });
const endpoints = (dflt: string) => listOf(endpoint, 'endpoints').default([dflt]);

// Any venue's spelling (BTCUSDT, BTC-USDT-SWAP) or the unified one (BTC/USDT:USDT); the venue's adapter
// checks it further (crossCheck). Never a '.': topics are <kind>.<venue>.<symbol>.
const symbol = z.string({ error: 'expected a symbol like BTCUSDT' }).regex(/^[A-Z0-9][A-Z0-9/:_-]{1,39}$/, {
  error: 'expected an upper-case symbol like BTCUSDT, BTC-USDT-SWAP or BTC/USDT (2-40 letters, digits, / : _ -)',
});
const symbolList = listOf(symbol, 'symbols').refine((l) => new Set(l).size === l.length, {
  error: 'symbols must not repeat',
});

/** A metrics listen address: a port (loopback) or host:port, normalized to host:port. */
const metricsListen = z
  .union([z.number(), z.string()], { error: 'expected a metrics listen address like 9464 or 127.0.0.1:9464' })
  .transform((v, ctx) => {
    const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):)?(\d{1,5})$/.exec(String(v).trim());
    if (!m || Number(m[2]) > 65535) {
      ctx.issues.push({
        code: 'custom',
        input: v,
        message: 'expected a metrics listen address like 9464 or 127.0.0.1:9464',
      });
      return z.NEVER;
    }
    return `${m[1] ?? '127.0.0.1'}:${m[2]}`;
  });

/** A mapping whose keys are all optional: an absent or empty (`key:` with nothing below) section gets every default. */
function section<S extends z.core.$ZodLooseShape>(shape: S) {
  const obj = z.strictObject(shape, {
    error: (iss) => (iss.code === 'invalid_type' ? 'expected a mapping (key: value lines)' : undefined),
  });
  // Every key of a section is optional, which the generic signature cannot see.
  return z.preprocess((v) => (v === null ? undefined : v), obj.prefault({} as z.input<typeof obj>));
}

// ---- the sections ----

const keyOrFile = nonEmptyString('a .pub file or a 40-character Z85 key');
const peerName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'peer names are 1-64 letters, digits, _ or -' });

const curveSchema = z
  .strictObject(
    {
      keyFile: nonEmptyString('a key file written by bookwire keygen (NAME.key)'),
      serverKey: keyOrFile.optional(),
      serverKeys: z.record(endpoint, keyOrFile, { error: 'expected a mapping of endpoint to server key' }).optional(),
      allowDir: nonEmptyString('a directory of NAME.pub files').optional(),
      allow: z.record(peerName, keyOrFile, { error: 'expected a mapping of peer name to public key' }).optional(),
    },
    { error: (iss) => (iss.code === 'invalid_type' ? 'expected a mapping with at least a keyFile' : undefined) },
  )
  .optional();

const busSchema = section({
  kind: oneOf(['zeromq', 'inproc', 'kafka']).default('zeromq'),
  ingest: endpoints('tcp://127.0.0.1:5555'),
  publish: endpoints('tcp://127.0.0.1:5556'),
  snapshot: endpoints('tcp://127.0.0.1:5557'),
  sendHighWaterMark: intIn(0).default(100_000),
  receiveHighWaterMark: intIn(0).default(100_000),
  coalesce: z.boolean({ error: 'expected true or false' }).default(false),
  curve: curveSchema,
  insecure: z.boolean({ error: 'expected true or false' }).default(false),
  // 5000 levels a side is ~0.5 MB; at least 64 KiB so that no ordinary message can be refused
  maxMessageSize: intIn(64 * 1024, 1024 * 1024 * 1024).default(8 * 1024 * 1024),
  brokers: listOf(
    z.string({ error: 'expected a Kafka broker like 127.0.0.1:9092' }).regex(/^[^\s:,]+:\d{1,5}$/, {
      error: 'expected a Kafka broker like 127.0.0.1:9092',
    }),
    'brokers',
  ).default(['127.0.0.1:9092']),
  topicPrefix: z
    .string({ error: 'expected a Kafka topic prefix like bookwire' })
    .regex(/^[A-Za-z0-9._-]{1,200}$/, {
      error: 'expected a Kafka topic prefix like bookwire (letters, digits, ., _, -)',
    })
    .default('bookwire'),
  lingerMs: intIn(0, 10_000).optional(),
  // Kafka TLS: true (the system's CAs), or files to read (docs/kafka.md, "TLS and SASL").
  ssl: z
    .union(
      [
        z.boolean(),
        z.strictObject(
          {
            caFile: nonEmptyString('a PEM file').optional(),
            certFile: nonEmptyString('a PEM file').optional(),
            keyFile: nonEmptyString('a PEM file').optional(),
            rejectUnauthorized: z.boolean({ error: 'expected true or false' }).optional(),
            servername: nonEmptyString('a host name').optional(),
          },
          { error: 'expected true, or { caFile, certFile, keyFile, rejectUnauthorized, servername }' },
        ),
      ],
      { error: 'expected true, or { caFile, certFile, keyFile, rejectUnauthorized, servername }' },
    )
    .refine((v) => typeof v === 'boolean' || (v.certFile === undefined) === (v.keyFile === undefined), {
      error: 'certFile and keyFile go together (a client certificate and its key)',
    })
    .optional(),
  // Kafka SASL: the password from an environment variable or a file, never written in the config itself.
  sasl: z
    .strictObject(
      {
        mechanism: oneOf(['plain', 'scram-sha-256', 'scram-sha-512']),
        username: nonEmptyString('a user name'),
        passwordEnv: z
          .string({ error: 'expected an environment variable name' })
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' })
          .optional(),
        passwordFile: nonEmptyString('a file path').optional(),
      },
      { error: 'expected { mechanism, username, passwordEnv | passwordFile }' },
    )
    .refine((v) => (v.passwordEnv === undefined) !== (v.passwordFile === undefined), {
      error: 'expected exactly one of passwordEnv and passwordFile',
    })
    .optional(),
});

const venueSchema = (a: VenueAdapter) =>
  section({
    wsUrl: urlWith(['ws:', 'wss:'], a.defaultWsUrl).default(a.defaultWsUrl),
    restUrl: urlWith(['http:', 'https:'], a.defaultRestUrl).default(a.defaultRestUrl),
    streamMode: oneOf(['combined', 'raw']).default('combined'),
    speed: oneOf(['100ms', '1000ms']).default('100ms'),
    snapshotLimit: intIn(1, 5000).default(a.defaultSnapshotLimit),
    snapshotSource: oneOf(['rest', 'websocket']).optional(),
    symbols: symbolList.optional(),
    publish: oneOf(['first', 'confirmed']).optional(),
    divergeMs: divergeMsSchema.optional(),
  });

const collectorSchema = z
  .strictObject(
    {
      id: anId('a collector id'),
      venue: oneOf(VENUES).default(DEFAULT_VENUE),
      symbols: symbolList.optional(),
      wsUrl: urlWith(['ws:', 'wss:'], 'ws://127.0.0.1:9443').optional(),
      restUrl: urlWith(['http:', 'https:'], 'http://127.0.0.1:9443').optional(),
      staleAfterMs: intIn(1).default(10_000),
      reconnectMinMs: intIn(1).default(250),
      reconnectMaxMs: intIn(1).default(30_000),
      restWeightPerMinute: intIn(1).optional(),
      localAddress: z
        .string({ error: 'expected an IP address' })
        .refine((v) => isIP(v) !== 0, { error: 'expected an IP address such as 127.0.0.2' })
        .optional(),
      reconnectEveryS: nonNegNumber().default(82_800),
      metrics: metricsListen.optional(),
    },
    { error: (iss) => (iss.code === 'invalid_type' ? 'expected a mapping with at least an id' : undefined) },
  )
  .refine((c) => c.reconnectMaxMs >= c.reconnectMinMs, {
    error: 'reconnectMaxMs must be >= reconnectMinMs',
    path: ['reconnectMaxMs'],
  });

const faultProfileSchema = section({
  dropRate: probability().default(0),
  dupRate: probability().default(0),
  delayMs: nonNegNumber().default(0),
  jitterMs: nonNegNumber().default(0),
  reorderRate: probability().default(0),
  disconnectEveryS: nonNegNumber().default(0),
  stallEveryS: nonNegNumber().default(0),
  stallForS: nonNegNumber().default(0),
  malformedRate: probability().default(0),
  corruptRate: probability().default(0),
  snapshotErrorRate: probability().default(0),
  snapshotErrorStatus: intIn(400, 599).default(500),
  snapshotDelayMs: nonNegNumber().default(0),
  regroupRate: probability().default(0),
});

/** A and B have the same keys, each of the same type. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// src/sim/faults.ts declares the settings; a key this schema lacks, or has beyond them, fails the build here.
const _faultSchemaInStep: Same<z.output<typeof faultProfileSchema>, Required<FaultProfile>> = true;

/** Built-in `flaky` profile: what the demo's faulty collector goes through. */
export const FLAKY_PROFILE: Required<FaultProfile> = {
  dropRate: 0.02,
  dupRate: 0.02,
  delayMs: 0,
  jitterMs: 0,
  reorderRate: 0,
  disconnectEveryS: 20,
  stallEveryS: 0,
  stallForS: 0,
  malformedRate: 0.001,
  corruptRate: 0,
  snapshotErrorRate: 0,
  snapshotErrorStatus: 500,
  snapshotDelayMs: 0,
  regroupRate: 0,
};

const profileName = z.string().regex(idPattern, { error: 'fault profile names are letters, digits, _ or -' });

const simSchema = section({
  host: nonEmptyString('a host name or IP address').default('127.0.0.1'),
  port: intIn(0, 65535).default(9443),
  seed: intIn(0).default(42),
  eventsPerSec: posNumber().default(10),
  levels: intIn(1).default(1000),
  venues: listOf(oneOf(SIM_VENUE_IDS), 'venues')
    .refine((l) => new Set(l).size === l.length, { error: 'venues must not repeat' })
    .default([DEFAULT_VENUE]),
  okxChecksum: z.boolean({ error: 'expected true or false' }).default(false),
  limits: z.boolean({ error: 'expected true or false' }).default(true),
  capture: nonEmptyString('a file path').optional(),
  faults: z
    .preprocess(
      (v) => (v === null ? undefined : v),
      z
        .record(profileName, faultProfileSchema, { error: 'expected a mapping of profile name to fault settings' })
        .default({}),
    )
    .transform((f): Record<string, Required<FaultProfile>> => ({ flaky: { ...FLAKY_PROFILE }, ...f })),
});

const rawSchema = z.strictObject({
  bus: busSchema,
  venues: section(Object.fromEntries(ADAPTERS.map((a) => [a.id, venueSchema(a)]))),
  symbols: symbolList.default(['BTCUSDT', 'ETHUSDT']),
  collectors: z
    .array(collectorSchema, { error: 'expected a list of collectors' })
    .min(1, { error: 'expected at least one collector' })
    .prefault([{ id: 'a' }, { id: 'b' }]),
  arbiter: section({
    id: anId('an arbiter id').default('arb-1'),
    gapTimeoutMs: intIn(0).default(50),
    heartbeatMs: intIn(0).default(1000),
    snapshotIntervalMs: intIn(1).default(1000),
    periodicLevelsPerSec: intIn(1000).default(500_000),
    maxHeldTotal: intIn(1000).default(1_000_000),
    snapshotTimeoutMs: intIn(1).default(3000),
    statsIntervalMs: intIn(1).default(1000),
    statsPerSec: intIn(10).default(500),
    feedTimeoutMs: intIn(100).default(3000),
    seqWindow: intIn(1).optional(),
    maxFeeds: intIn(1, 100_000).default(64),
    feedEvictMs: intIn(1).default(300_000),
    leadTimeoutMs: intIn(1).default(10_000),
    group: anId('a consumer group name').optional(),
    peers: z
      .preprocess(
        (v) => (typeof v === 'string' ? [v] : v),
        z.array(endpoint, { error: 'expected a list of endpoints' }),
      )
      .refine((l) => l.length <= 16, { error: 'at most 16 peers' })
      .default([]),
    metrics: metricsListen.optional(),
  }),
  sim: simSchema,
  demo: section({
    faultyCollector: anId('a collector id').nullable().optional(),
  }),
  log: section({ level: oneOf(LOG_LEVELS).default('info') }),
  recorder: section({
    dir: nonEmptyString('a directory').default('./data'),
    ingest: endpoint.default('tcp://127.0.0.1:5558'),
    book: z.boolean({ error: 'expected true or false' }).default(true),
    raw: z.boolean({ error: 'expected true or false' }).default(true),
    codec: oneOf(['brotli', 'gzip', 'none']).default('brotli'),
    level: intIn(0, 11).default(1),
    blockBytes: intIn(1024).default(256 * 1024),
    flushIntervalMs: intIn(1).default(200),
    fsync: oneOf(['none', 'interval', 'every-block']).default('interval'),
    fsyncIntervalMs: intIn(1).default(1000),
    segmentBytes: intIn(65536).default(64 * 1024 * 1024),
    segmentMinutes: posNumber().default(60),
    maxPendingBytes: intIn(1024 * 1024).default(64 * 1024 * 1024),
    checkpointEvents: intIn(0, 10_000_000).default(2500),
    compressIn: oneOf(['main-thread', 'thread-pool']).default('main-thread'),
    encoding: oneOf(['binary', 'json']).default('binary'),
    metrics: metricsListen.optional(),
    postgres: z
      .strictObject(
        {
          url: urlWith(['postgres:', 'postgresql:'], 'postgresql://user:password@127.0.0.1:5432/bookwire'),
          tablePrefix: z
            .string({ error: 'expected a table prefix like bookwire' })
            .regex(/^[a-z_][a-z0-9_]{0,40}$/, {
              error: 'expected a table prefix like bookwire (lower-case letters, digits, _)',
            })
            .default('bookwire'),
          batch: intIn(1).default(5000),
          flushMs: intIn(1).default(500),
          maxQueueBytes: intIn(1024 * 1024).default(64 * 1024 * 1024),
        },
        { error: (iss) => (iss.code === 'invalid_type' ? 'expected a mapping with at least a url' : undefined) },
      )
      .nullable()
      .optional()
      .transform((v) => v ?? undefined),
  }),
});

type RawConfig = z.output<typeof rawSchema>;

/** Checks that span sections; run once every value has the right type. */
function crossCheck(c: RawConfig, ctx: z.core.$RefinementCtx<RawConfig>): void {
  const problem = (path: (string | number)[], message: string, input: unknown) =>
    ctx.issues.push({ code: 'custom', path, message, input });
  // Each venue's symbol list once (of the venues a collector uses): understood by the adapter, in venue spelling.
  const listedOf = new Map<string, Set<string> | undefined>();
  const listed = (venue: string): Set<string> | undefined => {
    if (listedOf.has(venue)) return listedOf.get(venue);
    const a = venueAdapter(venue);
    const own = (c.venues as Record<string, { symbols?: string[] }>)[venue]?.symbols;
    const list = venueSymbols(c, venue);
    const set = list === undefined ? undefined : new Set<string>();
    list?.forEach((s, j) => {
      const v = a.venueSymbol(s);
      if (v === undefined)
        problem(own ? ['venues', venue, 'symbols', j] : ['symbols', j], `"${s}" is not a ${a.name} symbol`, s);
      else set!.add(v);
    });
    listedOf.set(venue, set);
    return set;
  };
  const seen = new Map<string, number>();
  c.collectors.forEach((col, i) => {
    const first = seen.get(col.id);
    if (first !== undefined)
      problem(['collectors', i, 'id'], `duplicate collector id "${col.id}" (also collectors[${first}])`, col.id);
    else seen.set(col.id, i);
    const a = venueAdapter(col.venue);
    const set = listed(col.venue);
    col.symbols?.forEach((s, j) => {
      const v = a.venueSymbol(s);
      if (v === undefined) problem(['collectors', i, 'symbols', j], `"${s}" is not a ${a.name} symbol`, s);
      else if (set !== undefined && !set.has(v))
        problem(
          ['collectors', i, 'symbols', j],
          `"${s}" is not in the ${col.venue} symbols (${venueSymbols(c, col.venue)!.join(', ')})`,
          s,
        );
    });
    if (col.symbols === undefined && set === undefined)
      problem(
        ['collectors', i, 'symbols'],
        `no symbols for ${col.venue}: set venues.${col.venue}.symbols or collectors[${i}].symbols`,
        undefined,
      );
  });
  const fc = c.demo.faultyCollector;
  if (fc != null && !seen.has(fc))
    problem(['demo', 'faultyCollector'], `"${fc}" is not a collector id (${[...seen.keys()].join(', ')})`, fc);
}

/** A venue's symbol list: venues.<id>.symbols, or the top-level symbols for the default venue. */
function venueSymbols(c: RawConfig, venue: string): string[] | undefined {
  const own = (c.venues as Record<string, { symbols?: string[] }>)[venue]?.symbols;
  return own ?? (venue === DEFAULT_VENUE ? c.symbols : undefined);
}

function resolve(c: RawConfig): Config {
  const venueOf = (v: VenueName) => (c.venues as Record<string, VenueConfig>)[v];
  const collectors: CollectorConfig[] = c.collectors.map((col) => ({
    ...col,
    // in the venue's spelling (crossCheck made sure each one is understood)
    symbols: (col.symbols ?? venueSymbols(c, col.venue) ?? []).map((s) => venueAdapter(col.venue).venueSymbol(s) ?? s),
    wsUrl: col.wsUrl ?? venueOf(col.venue).wsUrl,
    restUrl: col.restUrl ?? venueOf(col.venue).restUrl,
  }));
  // Unset: the last of two or more collectors (b by default), so the demo always has a healthy feed.
  const fc = c.demo.faultyCollector;
  const faultyCollector = fc !== undefined ? fc : collectors.length >= 2 ? collectors[collectors.length - 1].id : null;
  const { capture, ...sim } = c.sim;
  return {
    ...c,
    sim: capture === undefined ? sim : { ...sim, capture },
    collectors,
    demo: { faultyCollector },
  };
}

/** Validates raw (parsed YAML + overrides) input and returns the fully defaulted Config. */
export const configSchema = rawSchema.superRefine(crossCheck).transform(resolve);

export function defaultConfig(): Config {
  return configSchema.parse({});
}
