/**
 * Bus payloads (wire format version 1). JSON, one object per message, `v` is the format version.
 * Documented in docs/wire-format.md -- keep the two in step.
 *
 * Topics:
 *   raw.<venue>.<symbol>            CollectorEvent (collector -> arbiter, ingest channel); the JSON object has no
 *                                   `raw` field: the venue's original message text follows it after one "\n"
 *                                   (so consumers that do not record it never parse or unescape it)
 *   status.<collector>              CollectorStatus (collector -> arbiter, ingest channel)
 *   book.<venue>.<symbol>           ConsolidatedDelta | ConsolidatedSnapshot (arbiter -> clients, book channel)
 *   stats.<venue>.<symbol>          ArbiterStats (arbiter -> anyone, book channel)
 *   ctl.snapshot.<venue>.<symbol>   SnapshotRequest (arbiter -> collectors, book channel)
 */
import { coverStart } from '../core/sequence.js';
import type { BookDelta, BookSnapshot, CollectorEvent, Level } from '../core/types.js';
import type {
  ConsolidatedDelta,
  ConsolidatedHeartbeat,
  ConsolidatedMessage,
  ConsolidatedSnapshot,
} from '../core/consolidated.js';
import { scanCollectorDelta, scanConsolidatedDelta, type LevelsWanted } from './scan.js';

export type { LevelsWanted } from './scan.js';
export type {
  ConsolidatedDelta,
  ConsolidatedHeartbeat,
  ConsolidatedMessage,
  ConsolidatedSnapshot,
} from '../core/consolidated.js';

export const WIRE_VERSION = 1;

export const topics = {
  raw: (venue: string, symbol: string) => `raw.${venue}.${symbol}`,
  status: (collector: string) => `status.${collector}`,
  book: (venue: string, symbol: string) => `book.${venue}.${symbol}`,
  stats: (venue: string, symbol: string) => `stats.${venue}.${symbol}`,
  ctlSnapshot: (venue: string, symbol: string) => `ctl.snapshot.${venue}.${symbol}`,
};

export interface SnapshotRequest {
  v: 1;
  type: 'snapshot-request';
  venue: string;
  symbol: string;
  /** Collector asked to fetch a REST snapshot (others ignore the request). */
  collector: string;
  reason: string;
  /**
   * The arbiter's fast retry of the request it sent this collector just before (lost if the collector's
   * subscription was not up yet): the collector drops it if that request did arrive (REPEAT_WINDOW_MS).
   */
  repeat?: true;
}

/**
 * The arbiter moved a snapshot request elsewhere (the collector it asked has no weight left for a while,
 * another has): the named collector drops it if it is still waiting for the budget, and says 'failed'
 * ('cancelled') so any other arbiter that asked it moves on too.
 */
export interface SnapshotCancel {
  v: 1;
  type: 'snapshot-cancel';
  venue: string;
  symbol: string;
  collector: string;
}

export interface FeedStatus {
  symbol: string;
  connected: boolean;
  messages: number;
  reconnects: number;
  /** Gaps seen in this connection's own sequence. */
  gaps: number;
  snapshots: number;
  /** ms since the last message from the venue. */
  idleMs: number;
}

/**
 * A collector's word on a snapshot an arbiter asked it for (on status.<collector>): `queued` when the venue's
 * rate limit makes it wait (`etaMs` until it can be sent), `failed` when it will not come (the venue refused
 * or failed it). The arbiter then neither asks another collector while one has the request in hand (which
 * would spend the venue's weight twice) nor waits out its timeout for one that will not come.
 */
export interface SnapshotStatus {
  v: 1;
  type: 'snapshot-status';
  venue: string;
  symbol: string;
  collector: string;
  state: 'queued' | 'failed';
  etaMs?: number;
  /** With 'queued' for a request already sent: the collector answers, or says 'failed', within this long. */
  answerWithinMs?: number;
  reason?: string;
}

/**
 * A collector's REST weight budget: `used` weight counted in the venue's current window against `limit` (what
 * the collector may spend per window), `blockedMs` until REST may resume after a 429/418 (0: not blocked),
 * and the 429 (`rateLimited`) and 418 (`banned`) answers so far.
 */
export interface RestBudget {
  used: number;
  limit: number;
  blockedMs: number;
  rateLimited: number;
  banned: number;
}

export interface CollectorStatus {
  v: 1;
  type: 'collector-status';
  collector: string;
  venue: string;
  time: number;
  feeds: FeedStatus[];
  /** The REST budget, from collectors of venues whose snapshots cost REST weight (absent elsewhere and before). */
  rest?: RestBudget;
}

export interface ArbiterFeedStats {
  collector: string;
  connected: boolean;
  messages: number;
  /** Copies of this feed that arrived after another feed's copy (dropped). */
  duplicates: number;
  /** Copies of this feed that arrived first (published). */
  won: number;
  /** Gaps in this feed that another feed had already filled. */
  gapsFilled: number;
  /** Snapshots (REST) this feed fetched for resyncs. */
  resyncs: number;
  /** Events or snapshots of this feed whose venue checksum the consolidated book failed (OKX; absent before). */
  checksumMismatches?: number;
  /** Messages of this feed refused as errors: implausible sequence jumps, copies crossing the book. */
  errors?: number;
  /** Replica venues (Kraken, Coinbase, Gemini): times this feed's book disagreed with the others' and was resynced. */
  disagreements?: number;
  /** Median / p99 lag behind the first copy of the same event, µs, over the last interval. */
  lagP50: number;
  lagP99: number;
  /** The collector's REST budget as its last status said (CollectorStatus.rest), `time` that status's. */
  rest?: RestBudget & { time: number };
}

export interface ArbiterStats {
  v: 1;
  type: 'arbiter-stats';
  venue: string;
  symbol: string;
  arbiter: string;
  time: number;
  seq: number;
  synced: boolean;
  /**
   * While not synced, why: `reason` the snapshot was requested for (initial, gap, crossed, ...), the request
   * `attempt`, waiting `forMs`; `noCollector` when no collector delivers the book (nobody to ask yet);
   * `rateLimitedMs` while the collector asked holds the request for the venue's rate limit (its 'queued' word).
   */
  waiting?: { reason: string; attempt: number; forMs: number; noCollector?: true; rateLimitedMs?: number };
  /** No live feed or resyncing: the book may be old (since staleSince, epoch µs). */
  stale?: boolean;
  staleSince?: number;
  /** Consolidated updates per second over the last interval. */
  updatesPerSec: number;
  /** Time inside the arbiter from a message's arrival to its consolidated publish, µs (recent window). */
  processingP50: number;
  processingP99: number;
  resyncs: number;
  /** Messages of this book refused as errors of their feed, and feeds forgotten (see core/arbiter.ts). */
  refused?: {
    /** Events (or snapshots) beyond the plausibility window. */
    implausible: number;
    /** Copies that would cross the book, refused while another feed delivered. */
    crossed: number;
    /** Snapshots held back until another feed's stream reached their id. */
    snapshotsUnconfirmed: number;
    /** Feeds forgotten: silent for feedEvictMs, or evicted for a new id at maxFeeds. */
    feedsEvicted: number;
    /** Messages from new ids refused at maxFeeds. */
    feedsRefused: number;
  };
  feeds: ArbiterFeedStats[];
  /**
   * Books published 'confirmed' (docs/venues.md, "Publication"; replica and sequenced venues), since the
   * start: states (a sequenced book's: messages) published when a second feed's copy reached them, on one
   * feed's word (no other copy to compare with), on the venue's checksum (Kraken's top 10, OKX's top 25); how
   * long confirmed states waited for the second copy, µs (recent).
   */
  confirmation?: { confirmed: number; alone: number; vouched: number; waitP50: number; waitP99: number };
  /** The arbiter process's memory, MiB (whole process, all books): tells a growing heap from growing queues. */
  memory?: { rssMiB: number; heapUsedMiB: number; externalMiB: number };
}

export interface SnapshotQuery {
  v: 1;
  type: 'snapshot-query';
  venue: string;
  symbol: string;
}

export interface ErrorReply {
  v: 1;
  type: 'error';
  message: string;
}

export type BusPayload =
  | (CollectorEvent & { v: 1 })
  | ConsolidatedMessage
  | SnapshotRequest
  | CollectorStatus
  | ArbiterStats
  | SnapshotQuery
  | ErrorReply;

export class DecodeError extends Error {}

/**
 * Most levels per side a raw.* event or snapshot may carry. No collector publishes more (venue parsers stop
 * at venues/decimal.ts MAX_LEVELS_PER_SIDE, the largest REST depth any venue serves), so more is a forged or
 * broken peer: refused (a DecodeError, counted by the caller), never applied.
 */
export const MAX_RAW_LEVELS_PER_SIDE = 5000;

export function encode(msg: object): Buffer {
  return Buffer.from(JSON.stringify(msg));
}

/**
 * Largest price or size a level may carry: the fast scanner's limit too (its mantissa is a safe integer).
 * Anything above is not a market: a hostile or broken feed, refused at decode.
 */
export const MAX_LEVEL_NUMBER = Number.MAX_SAFE_INTEGER;

/** Levels as a book may apply them: price finite, > 0 and <= MAX_LEVEL_NUMBER; size finite, >= 0, same bound. */
function isLevels(x: unknown): x is Level[] {
  if (!Array.isArray(x)) return false;
  for (const l of x) {
    if (!Array.isArray(l) || l.length < 2 || typeof l[0] !== 'number' || typeof l[1] !== 'number') return false;
    if (!(l[0] > 0 && l[0] <= MAX_LEVEL_NUMBER) || !(l[1] >= 0 && l[1] <= MAX_LEVEL_NUMBER)) return false;
  }
  return true;
}

/**
 * A venue sequence number (update id, snapshot id): a non-negative safe integer. `last = 1e300`, -1, 2.5 or
 * NaN would poison the book's position (every real event after it looks stale), so they never pass decode.
 */
function needSeq(r: Record<string, unknown>, key: string, optional = false): void {
  const v = r[key];
  if (optional && v === undefined) return;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new DecodeError(`field "${key}" must be a non-negative integer below 2^53`);
}

/** A time stamp (ms or µs since the epoch): finite and non-negative. */
function needTime(r: Record<string, unknown>, key: string, optional = false): void {
  const v = r[key];
  if (optional && v === undefined) return;
  if (typeof v !== 'number' || !(v >= 0 && v <= Number.MAX_SAFE_INTEGER))
    throw new DecodeError(`field "${key}" must be a non-negative time`);
}

function parse(buf: Buffer | Uint8Array | string): Record<string, unknown> {
  let o: unknown;
  try {
    o = JSON.parse(
      typeof buf === 'string' ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8'),
    );
  } catch (e) {
    throw new DecodeError(`payload is not JSON: ${(e as Error).message}`);
  }
  if (typeof o !== 'object' || o === null) throw new DecodeError('payload is not a JSON object');
  const r = o as Record<string, unknown>;
  if (r.v !== WIRE_VERSION) throw new DecodeError(`unsupported wire version ${String(r.v)} (expected ${WIRE_VERSION})`);
  return r;
}

function need(r: Record<string, unknown>, key: string, kind: 'string' | 'number'): void {
  if (typeof r[key] !== kind) throw new DecodeError(`field "${key}" must be a ${kind}`);
}

/**
 * Encode a collector event for a raw.* topic: JSON without `raw`, then "\n" and the venue's original
 * text. Built by hand for deltas: this runs once per exchange message per collector.
 */
export function encodeCollectorEvent(ev: CollectorEvent): string {
  let head: string;
  if (ev.type === 'delta') {
    head =
      `{"v":1,"type":"delta","venue":${JSON.stringify(ev.venue)},"symbol":${JSON.stringify(ev.symbol)},"first":${ev.first},"last":${ev.last},` +
      (ev.prev !== undefined ? `"prev":${ev.prev},` : '') +
      (ev.reset === true ? '"reset":true,' : '') +
      `"exchTime":${ev.exchTime},"recvTime":${ev.recvTime},"collector":${JSON.stringify(ev.collector)},` +
      `"bids":${ev.bidsJson ?? JSON.stringify(ev.bids)},"asks":${ev.asksJson ?? JSON.stringify(ev.asks)}}`;
  } else {
    // integrity (a venue's check value, which its parse may keep) is never on the bus: the arbiter reads raw
    const { raw: _raw, integrity: _integrity, ...rest } = ev;
    head = JSON.stringify({ v: 1, ...rest });
  }
  // A string, not a Buffer: ZeroMQ copies a string in one go, while a Buffer over 128 bytes is sent
  // zero-copy and released through a callback on the main thread (measured: ~1.2 µs less CPU per message).
  return ev.raw === undefined ? head : `${head}\n${ev.raw}`;
}

/**
 * Encode a consolidated delta for book.* from the winning collector event. Built by hand: it runs once
 * per consolidated event, and the level arrays are serialized as they arrived.
 */
export function encodeConsolidatedDelta(
  ev: BookDelta,
  prev: number,
  pubTime: number,
  offset = 0,
  epoch?: string,
): string {
  const seq = ev.last + offset;
  // a venue reset covers only itself: its prev is in the old id space
  const first = ev.reset === true ? seq : coverStart(ev) + 1 + offset;
  return (
    `{"v":1,"type":"delta","venue":${JSON.stringify(ev.venue)},"symbol":${JSON.stringify(ev.symbol)},` +
    `"seq":${seq},"prev":${prev},"first":${first},${offset === 0 ? '' : `"offset":${offset},`}"bids":${ev.bidsJson ?? JSON.stringify(ev.bids)},"asks":${ev.asksJson ?? JSON.stringify(ev.asks)},` +
    `"exchTime":${ev.exchTime},"recvTime":${ev.recvTime},"pubTime":${pubTime},"feed":${JSON.stringify(ev.collector)}` +
    (epoch === undefined ? '}' : `,"epoch":${JSON.stringify(epoch)}}`)
  );
}

const NL = 10;

/**
 * Decode a raw.* payload into a collector event; throws DecodeError on anything malformed.
 * `withRaw` also returns the venue's original text (recorders); the arbiter skips it. `wanted` (arbiter) may
 * say a copy's levels are not needed (it will be dropped as already seen): they are then not read.
 */
export function decodeCollectorEvent(
  buf: Buffer | Uint8Array | string,
  withRaw = false,
  wanted?: LevelsWanted,
): CollectorEvent {
  let raw: string | undefined;
  let text: string;
  if (typeof buf === 'string') {
    const i = buf.indexOf('\n');
    if (i >= 0 && withRaw) raw = buf.slice(i + 1);
    text = i >= 0 ? buf.slice(0, i) : buf;
  } else {
    // decode the head straight from the bytes: no intermediate Buffer views (two objects per message)
    const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    const i = b.indexOf(NL);
    if (i >= 0 && withRaw) raw = b.toString('utf8', i + 1);
    text = b.toString('utf8', 0, i >= 0 ? i : b.length);
  }
  const ev = decodeCollectorEventHead(text, wanted);
  if (raw !== undefined) ev.raw = raw;
  return ev;
}

/** The venue's original text in a raw.* payload (what follows its first "\n"), or undefined when it has none. */
export function collectorRawText(buf: Buffer | Uint8Array | string): string | undefined {
  if (typeof buf === 'string') {
    const i = buf.indexOf('\n');
    return i < 0 ? undefined : buf.slice(i + 1);
  }
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const i = b.indexOf(NL);
  return i < 0 ? undefined : b.toString('utf8', i + 1);
}

function decodeCollectorEventHead(text: string, wanted?: LevelsWanted): CollectorEvent {
  const ev = decodeCollectorEventBody(text, wanted);
  if (ev.bids.length > MAX_RAW_LEVELS_PER_SIDE || ev.asks.length > MAX_RAW_LEVELS_PER_SIDE)
    throw new DecodeError(
      `${ev.bids.length} bids / ${ev.asks.length} asks: more than ${MAX_RAW_LEVELS_PER_SIDE} levels per side`,
    );
  return ev;
}

function decodeCollectorEventBody(text: string, wanted?: LevelsWanted): CollectorEvent {
  const fast = scanCollectorDelta(text, wanted);
  if (fast !== undefined) return fast;
  const r = parse(text);
  need(r, 'venue', 'string');
  need(r, 'symbol', 'string');
  need(r, 'collector', 'string');
  needTime(r, 'recvTime');
  needTime(r, 'exchTime', true);
  if (!isLevels(r.bids) || !isLevels(r.asks))
    throw new DecodeError(
      'bids/asks must be arrays of [price,size] with price > 0, size >= 0, both finite and below 2^53',
    );
  if (r.type === 'delta') {
    needSeq(r, 'first');
    needSeq(r, 'last');
    needSeq(r, 'prev', true);
    if ((r.first as number) > (r.last as number)) throw new DecodeError('first > last');
    return r as unknown as BookDelta;
  }
  if (r.type === 'snapshot') {
    needSeq(r, 'seq');
    // a consolidated book's numbering and depth come from a peer arbiter (arbiter/peers.ts), never from a
    // collector: one that claimed them could renumber the book or hide how shallow it is
    delete r.offset;
    delete r.exactTo;
    return r as unknown as BookSnapshot;
  }
  throw new DecodeError(`unexpected type ${String(r.type)} on a raw topic`);
}

/** Decode a book.* payload (or a snapshot reply); a heartbeat is refused (decodeBookMessage takes it). */
export function decodeConsolidated(buf: Buffer | Uint8Array | string): ConsolidatedMessage {
  const m = decodeBook(buf);
  if (m.type === 'heartbeat') throw new DecodeError('unexpected type heartbeat here');
  return m;
}

/** Decode a book.* payload that may also be a heartbeat (what a client of the book topic receives). */
export function decodeBookMessage(buf: Buffer | Uint8Array | string): ConsolidatedMessage | ConsolidatedHeartbeat {
  return decodeBook(buf);
}

const EPOCH_KEY = Buffer.from('"epoch":"');

/**
 * The epoch of a book.* payload (docs/wire-format.md "Epochs") without parsing it; undefined when it has none
 * (sequenced venues' books). Readers that store the stream (the recorder) follow one epoch with it.
 */
export function epochOfPayload(buf: Buffer): string | undefined {
  const i = buf.indexOf(EPOCH_KEY);
  if (i < 0) return undefined;
  const from = i + EPOCH_KEY.length;
  const end = buf.indexOf(34 /* " */, from);
  if (end < 0 || end - from > MAX_EPOCH_CHARS) return undefined;
  return buf.toString('utf8', from, end);
}

/** Longest epoch a book message may carry (an arbiter id and a start time). */
const MAX_EPOCH_CHARS = 200;

function decodeBook(buf: Buffer | Uint8Array | string): ConsolidatedMessage | ConsolidatedHeartbeat {
  const text =
    typeof buf === 'string'
      ? buf
      : Buffer.isBuffer(buf)
        ? buf.toString('utf8')
        : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8');
  const fast = scanConsolidatedDelta(text);
  if (fast !== undefined) return fast;
  const r = parse(text);
  if (r.type === 'error') throw new DecodeError(`error reply: ${String(r.message)}`);
  need(r, 'venue', 'string');
  need(r, 'symbol', 'string');
  if (r.epoch !== undefined && (typeof r.epoch !== 'string' || r.epoch.length > MAX_EPOCH_CHARS))
    throw new DecodeError(`field "epoch" must be a string of at most ${MAX_EPOCH_CHARS} characters`);
  if (r.type === 'heartbeat') {
    need(r, 'arbiter', 'string');
    if (!Number.isSafeInteger(r.seq) || (r.seq as number) < -1) throw new DecodeError('field "seq" must be an integer');
    if (typeof r.stale !== 'boolean') throw new DecodeError('field "stale" must be a boolean');
    return r as unknown as ConsolidatedHeartbeat;
  }
  need(r, 'seq', 'number');
  if (!isLevels(r.bids) || !isLevels(r.asks)) throw new DecodeError('bids/asks must be arrays of [price,size] numbers');
  if (r.type === 'delta') {
    need(r, 'prev', 'number');
    return r as unknown as ConsolidatedDelta;
  }
  if (r.type === 'snapshot') return r as unknown as ConsolidatedSnapshot;
  throw new DecodeError(`unexpected type ${String(r.type)} on a book topic`);
}

const HEARTBEAT_PREFIX = '{"v":1,"type":"heartbeat"';

/** True when a book.* payload is a heartbeat (the arbiter's encoding), without parsing it. */
export function isHeartbeat(buf: Buffer): boolean {
  return (
    buf.length > HEARTBEAT_PREFIX.length && buf.toString('latin1', 0, HEARTBEAT_PREFIX.length) === HEARTBEAT_PREFIX
  );
}

/** Encode a heartbeat (key order fixed: isHeartbeat relies on the prefix). */
export function encodeHeartbeat(h: Omit<ConsolidatedHeartbeat, 'v' | 'type'>): Buffer {
  return encode({ v: 1, type: 'heartbeat', ...h });
}

/** Decode any v1 payload by its type field, loosely (for status/stats/ctl messages). */
export function decodeAny(buf: Buffer | Uint8Array | string): BusPayload {
  const r = parse(buf);
  if (typeof r.type !== 'string') throw new DecodeError('field "type" must be a string');
  return r as unknown as BusPayload;
}

/**
 * Ask a snapshot service for one book (the client side of answerSnapshotQuery): its consolidated message.
 * Rejects on timeout, on an error reply and on an answer that does not decode. `client` is any snapshot
 * client of the transport (typed by shape: the wire room does not import the transport).
 */
export async function querySnapshot(
  client: { request(topic: string, payload: Buffer, timeoutMs?: number): Promise<Buffer> },
  venue: string,
  symbol: string,
  timeoutMs: number,
): Promise<ConsolidatedMessage> {
  const q = encode({ v: 1, type: 'snapshot-query', venue, symbol });
  return decodeConsolidated(await client.request(topics.book(venue, symbol), q, timeoutMs));
}

/**
 * The snapshot service's reply to a SnapshotQuery: the named book's snapshot, or an error reply saying
 * why not (undecodable query, unknown book, book resyncing). `name` picks the book a query asks for.
 */
export function answerSnapshotQuery(
  payload: Buffer,
  name: (q: SnapshotQuery) => string,
  find: (name: string) => { synced: boolean; snapshot(): ConsolidatedSnapshot } | undefined,
): Buffer {
  let q: SnapshotQuery;
  try {
    q = decodeAny(payload) as SnapshotQuery;
  } catch (e) {
    return encode({ v: 1, type: 'error', message: (e as Error).message });
  }
  const n = name(q);
  const b = find(n);
  if (!b) return encode({ v: 1, type: 'error', message: `unknown book ${n}` });
  if (!b.synced) return encode({ v: 1, type: 'error', message: `book ${n} is resyncing` });
  return encode(b.snapshot());
}
