/**
 * Optional PostgreSQL sink of the recorder (docs/recording.md, "PostgreSQL sink"): every message the
 * recorder writes to its files also goes to tables <prefix>_raw / _book / _gap, in bulk -- one COPY per
 * table per batch, one transaction per batch.
 *
 * Never on anyone's hot path: `record()` only appends a reference to an in-memory queue and returns.
 * A worker drains the queue in the background. The queue is bounded (bytes); when it is full the NEW
 * events are dropped (the queue keeps a contiguous prefix, so the database has one hole per episode),
 * counted, logged ("postgres sink behind, dropped N") and marked by a row in <prefix>_gap. A lost
 * connection is retried with backoff; a batch whose COMMIT outcome is unknown is checked in
 * <prefix>_batches before it is sent again, so a reconnect neither loses nor duplicates rows.
 */
import { isUtf8 } from 'node:buffer';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
// pg and pg-copy-streams are loaded on first connect: importing bookwire does not pull them in.
import type pg from 'pg';
import { nowMicros } from '../core/clock.js';
import { BookReplica } from '../core/replica.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { ConsolidatedMessage } from '../wire/messages.js';
import { intAfterKey } from '../wire/scan.js';
import type { GapMarker, Stream } from './format.js';

export interface PostgresSinkOptions {
  /** postgresql://user:password@host:port/database */
  url: string;
  /** Table names are <prefix>_raw, <prefix>_book, <prefix>_gap, <prefix>_batches (default bookwire). */
  tablePrefix?: string;
  /** Most events per COPY transaction (default 5000). */
  batch?: number;
  /** Write what is queued at least this often, ms (default 500). */
  flushMs?: number;
  /** Queue bound; past it new events are dropped (default 64 MiB). */
  maxQueueBytes?: number;
  connectTimeoutMs?: number;
  /** A batch that takes longer is abandoned and its connection recycled (default 30 s). */
  batchTimeoutMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  logger?: Logger;
}

export interface PostgresSinkCounters {
  /** Events accepted into the queue. */
  queued: number;
  /** Rows committed, per table. */
  rawRows: number;
  bookRows: number;
  gapRows: number;
  batches: number;
  /** Events dropped because the queue was full (the sink fell behind). */
  dropped: number;
  /** Episodes of falling behind (each is one row in <prefix>_gap). */
  behind: number;
  /** Events that cannot be stored (not UTF-8 text, NUL bytes, undecodable JSON); they are in the files. */
  skipped: number;
  /** Failed batch attempts (each retried after a reconnect). */
  errors: number;
  reconnects: number;
}

export class PostgresSinkError extends Error {
  override name = 'PostgresSinkError';
}

export const POSTGRES_DEFAULTS = {
  tablePrefix: 'bookwire',
  batch: 5000,
  flushMs: 500,
  maxQueueBytes: 64 * 1024 * 1024,
};

const PREFIX_RE = /^[a-z_][a-z0-9_]{0,40}$/;

/** The tables, created at start if missing (documented in docs/recording.md; keep the two in step). */
export function schemaSql(p: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${p}_raw (
      rec_time  timestamptz NOT NULL,
      venue     text NOT NULL,
      symbol    text NOT NULL,
      collector text NOT NULL,
      kind      text NOT NULL,
      first_seq bigint NOT NULL,
      last_seq  bigint NOT NULL,
      prev_seq  bigint,
      exch_time timestamptz,
      recv_time timestamptz NOT NULL,
      payload   text NOT NULL)`,
    `CREATE INDEX IF NOT EXISTS ${p}_raw_seq ON ${p}_raw (venue, symbol, last_seq)`,
    `CREATE INDEX IF NOT EXISTS ${p}_raw_time ON ${p}_raw USING brin (rec_time)`,
    `CREATE TABLE IF NOT EXISTS ${p}_book (
      rec_time  timestamptz NOT NULL,
      venue     text NOT NULL,
      symbol    text NOT NULL,
      kind      text NOT NULL,
      seq       bigint NOT NULL,
      prev_seq  bigint,
      first_seq bigint,
      exch_time timestamptz,
      recv_time timestamptz,
      pub_time  timestamptz,
      feed      text,
      reason    text,
      bid_px    double precision,
      bid_sz    double precision,
      ask_px    double precision,
      ask_sz    double precision,
      bids      jsonb NOT NULL,
      asks      jsonb NOT NULL)`,
    `CREATE INDEX IF NOT EXISTS ${p}_book_seq ON ${p}_book (venue, symbol, seq)`,
    `CREATE INDEX IF NOT EXISTS ${p}_book_time ON ${p}_book USING brin (rec_time)`,
    `CREATE TABLE IF NOT EXISTS ${p}_gap (
      rec_time   timestamptz NOT NULL,
      stream     text,
      venue      text,
      symbol     text,
      reason     text NOT NULL,
      from_seq   bigint,
      to_seq     bigint,
      paused_ms  bigint,
      dropped    bigint,
      until_time timestamptz)`,
    `CREATE TABLE IF NOT EXISTS ${p}_batches (
      run       bigint NOT NULL,
      batch     bigint NOT NULL,
      committed timestamptz NOT NULL DEFAULT now(),
      raw_rows  integer NOT NULL,
      book_rows integer NOT NULL,
      gap_rows  integer NOT NULL,
      PRIMARY KEY (run, batch))`,
  ];
}

const RAW_COLS =
  'rec_time, venue, symbol, collector, kind, first_seq, last_seq, prev_seq, exch_time, recv_time, payload';
const BOOK_COLS =
  'rec_time, venue, symbol, kind, seq, prev_seq, first_seq, exch_time, recv_time, pub_time, feed, reason, bid_px, bid_sz, ask_px, ask_sz, bids, asks';
const GAP_COLS = 'rec_time, stream, venue, symbol, reason, from_seq, to_seq, paused_ms, dropped, until_time';

interface Item {
  /** 'gap' for gap markers and the sink's own drop marker. */
  stream: Stream | 'gap';
  venue: string;
  symbol: string;
  time: number;
  payload?: Buffer;
  gap?: GapRow;
  bytes: number;
}

interface GapRow {
  stream?: Stream;
  reason: string;
  fromSeq?: number;
  toSeq?: number;
  pausedMs?: number;
  dropped?: number;
  untilTime?: number;
}

/** postgresql://user:secret@host -> postgresql://user:***@host, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

/** A clear message (no stack) for what a user can fix: bad URL, server down, auth, missing database. */
function describe(e: unknown, url: string): string {
  const err = e as NodeJS.ErrnoException & { code?: string };
  const where = redactUrl(url);
  const msg = err.message || err.code || String(e);
  if (err.code === 'ECONNREFUSED')
    return `cannot connect to PostgreSQL at ${where}: connection refused (is the server running?)`;
  if (err.code === 'ENOTFOUND') return `cannot connect to PostgreSQL at ${where}: unknown host`;
  if (err.code === '28P01' || err.code === '28000') return `PostgreSQL authentication failed at ${where}: ${msg}`;
  if (err.code === '3D000') return `PostgreSQL at ${where}: ${msg}`;
  if (/timeout/i.test(msg)) return `cannot connect to PostgreSQL at ${where}: ${msg}`;
  return `PostgreSQL at ${where}: ${msg.split('\n')[0]}`;
}

export class PostgresSink {
  readonly counters: PostgresSinkCounters = {
    queued: 0,
    rawRows: 0,
    bookRows: 0,
    gapRows: 0,
    batches: 0,
    dropped: 0,
    behind: 0,
    skipped: 0,
    errors: 0,
    reconnects: 0,
  };
  readonly prefix: string;
  private readonly o: Required<Omit<PostgresSinkOptions, 'logger' | 'tablePrefix'>>;
  private readonly log: Logger;
  private q: Item[] = [];
  private qHead = 0;
  /** Bytes queued plus bytes of the batch in flight (the bound covers both). */
  private qBytes = 0;
  private inflight: Item[] | undefined;
  private inflightBytes = 0;
  private client: pg.Client | undefined;
  private readonly run = nowMicros();
  private batchNo = 0;
  /** The batch in flight may have been committed before its connection broke: check before resending. */
  private unsure = false;
  private dropping: { n: number; from: number; to: number; logged: number } | undefined;
  private readonly replicas = new Map<string, BookReplica>();
  private worker: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private stopping = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private connected = false;

  constructor(opts: PostgresSinkOptions) {
    this.prefix = opts.tablePrefix ?? POSTGRES_DEFAULTS.tablePrefix;
    if (!PREFIX_RE.test(this.prefix))
      throw new PostgresSinkError(
        `postgres table prefix "${this.prefix}": expected lower-case letters, digits or _ (at most 41), starting with a letter or _`,
      );
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new PostgresSinkError(
        `postgres URL "${redactUrl(opts.url)}": expected postgresql://user[:password]@host[:port]/database`,
      );
    }
    if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
      throw new PostgresSinkError(
        `postgres URL "${redactUrl(opts.url)}": expected postgresql://user[:password]@host[:port]/database`,
      );
    this.o = {
      url: opts.url,
      batch: Math.max(1, opts.batch ?? POSTGRES_DEFAULTS.batch),
      flushMs: Math.max(1, opts.flushMs ?? POSTGRES_DEFAULTS.flushMs),
      maxQueueBytes: Math.max(1, opts.maxQueueBytes ?? POSTGRES_DEFAULTS.maxQueueBytes),
      connectTimeoutMs: opts.connectTimeoutMs ?? 5000,
      batchTimeoutMs: opts.batchTimeoutMs ?? 30_000,
      reconnectMinMs: opts.reconnectMinMs ?? 200,
      reconnectMaxMs: opts.reconnectMaxMs ?? 10_000,
    };
    this.log = opts.logger ?? silentLogger;
  }

  /** Connect and create the tables; a PostgresSinkError with a one-line reason if that fails. */
  async start(): Promise<void> {
    try {
      await this.connect();
      for (const sql of schemaSql(this.prefix)) await this.client!.query(sql);
    } catch (e) {
      await this.dropClient();
      throw new PostgresSinkError(describe(e, this.o.url));
    }
    this.timer = setInterval(() => this.tick(), 10_000);
    this.timer.unref();
    this.worker = this.work();
    this.log.info({ url: redactUrl(this.o.url), prefix: this.prefix, run: this.run }, 'postgres sink started');
  }

  /** Queue one message the recorder wrote (`time`: the recorder's receive time, epoch µs). Never blocks. */
  record(stream: Stream, venue: string, symbol: string, time: number, payload: Buffer): void {
    if (this.stopping) return;
    const bytes = payload.length + 96;
    if (this.qBytes + bytes > this.o.maxQueueBytes) {
      this.drop(time);
      return;
    }
    if (this.dropping) this.endDropping();
    this.enqueue({ stream, venue, symbol, time, payload, bytes });
  }

  /** Queue a gap marker the recorder wrote. Never dropped (small, and it explains a hole). */
  gap(stream: Stream, venue: string, symbol: string, time: number, g: GapMarker): void {
    if (this.stopping) return;
    this.enqueue({
      stream: 'gap',
      venue,
      symbol,
      time,
      bytes: 128,
      gap: { stream, reason: g.reason, fromSeq: g.fromSeq, toSeq: g.toSeq, pausedMs: g.pausedMs },
    });
  }

  get queueLength(): number {
    return this.q.length - this.qHead + (this.inflight?.length ?? 0);
  }

  get queueBytes(): number {
    return this.qBytes;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  stats(): PostgresSinkCounters & { queueLength: number; queueBytes: number; connected: boolean } {
    return { ...this.counters, queueLength: this.queueLength, queueBytes: this.qBytes, connected: this.connected };
  }

  /** Resolves once the queue is empty: everything queued so far is committed (tests, benchmarks). */
  async flush(timeoutMs = 30_000): Promise<void> {
    if (this.dropping) this.endDropping();
    const t0 = Date.now();
    while (this.queueLength > 0) {
      if (Date.now() - t0 > timeoutMs)
        throw new PostgresSinkError(`postgres sink: flush did not finish in ${timeoutMs} ms`);
      this.wake?.();
      await sleep(10);
    }
  }

  /** Write what is queued (up to timeoutMs), then disconnect. Anything left is counted as dropped. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.closed) return;
    if (this.dropping) this.endDropping();
    this.stopping = true;
    const t0 = Date.now();
    while (this.queueLength > 0 && Date.now() - t0 < timeoutMs) {
      this.wake?.();
      await sleep(10);
    }
    this.closed = true;
    this.wake?.();
    const left = this.queueLength;
    // abandon a batch still in flight (or a connect) to a server that does not answer
    if (left > 0 && this.client) destroySocket(this.client);
    await this.worker;
    if (this.timer) clearInterval(this.timer);
    if (left > 0) {
      this.counters.dropped += left;
      this.log.warn({ left }, `postgres sink stopped with ${left} events not written (database too slow or down)`);
    }
    await this.dropClient();
    this.log.info(this.stats(), 'postgres sink stopped');
  }

  private enqueue(it: Item): void {
    this.q.push(it);
    this.qBytes += it.bytes;
    this.counters.queued++;
    if (this.q.length - this.qHead >= this.o.batch) this.wake?.();
  }

  private drop(time: number): void {
    this.counters.dropped++;
    if (!this.dropping) {
      this.counters.behind++;
      this.dropping = { n: 0, from: time, to: time, logged: Date.now() };
      this.log.warn(
        { queueBytes: this.qBytes, behind: this.counters.behind, connected: this.connected },
        'postgres sink behind: queue full, dropping new events (the files still get them)',
      );
    }
    this.dropping.n++;
    this.dropping.to = time;
  }

  /** Space again: log the episode and mark the hole with a gap row. */
  private endDropping(): void {
    const d = this.dropping!;
    this.dropping = undefined;
    this.log.warn({ dropped: d.n, totalDropped: this.counters.dropped }, `postgres sink behind, dropped ${d.n}`);
    this.q.push({
      stream: 'gap',
      venue: '',
      symbol: '',
      time: d.from,
      bytes: 128,
      gap: { reason: 'postgres-sink-behind', dropped: d.n, untilTime: d.to },
    });
    this.qBytes += 128;
  }

  private tick(): void {
    const d = this.dropping;
    if (d && d.n > 0)
      this.log.warn({ dropped: d.n, totalDropped: this.counters.dropped }, `postgres sink behind, dropped ${d.n}`);
    this.log.info(this.stats(), 'postgres sink stats');
  }

  private async connect(): Promise<void> {
    const { default: pgm } = await import('pg');
    copyFrom ??= (await import('pg-copy-streams')).from;
    const c = new pgm.Client({
      connectionString: this.o.url,
      connectionTimeoutMillis: this.o.connectTimeoutMs,
      keepAlive: true,
      application_name: 'bookwire-recorder',
    });
    // A server that goes away emits 'error' on an idle client: handled by the next batch failing.
    c.on('error', (e) => {
      if (this.client === c) this.connected = false;
      this.log.debug({ err: e.message }, 'postgres connection error');
    });
    c.on('end', () => {
      if (this.client === c) this.connected = false;
    });
    this.client = c;
    await c.connect();
    this.connected = true;
  }

  private async dropClient(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.connected = false;
    if (!c) return;
    destroySocket(c);
    await c.end().catch(() => {});
  }

  private async work(): Promise<void> {
    let backoff = this.o.reconnectMinMs;
    let lastFlush = Date.now();
    while (!this.closed) {
      const waiting = this.q.length - this.qHead;
      const due = Date.now() - lastFlush >= this.o.flushMs || this.stopping;
      if (!this.inflight && (waiting === 0 || (waiting < this.o.batch && !due))) {
        await new Promise<void>((r) => {
          this.wake = r;
          setTimeout(r, waiting === 0 ? this.o.flushMs : Math.max(1, this.o.flushMs - (Date.now() - lastFlush)));
        });
        this.wake = undefined;
        continue;
      }
      lastFlush = Date.now();
      if (!this.inflight) this.take();
      try {
        if (!this.client || !this.connected) {
          const wasUp = this.client !== undefined || this.counters.errors > 0;
          await this.dropClient();
          await this.connect();
          if (wasUp) {
            this.counters.reconnects++;
            this.log.warn({ reconnects: this.counters.reconnects }, 'postgres sink reconnected');
          }
        }
        await this.writeInflight();
        backoff = this.o.reconnectMinMs;
      } catch (e) {
        this.counters.errors++;
        this.unsure = true;
        if (this.rejected(e)) {
          await this.dropClient(); // its transaction is aborted
          continue;
        }
        if (this.counters.errors <= 10 || this.counters.errors % 100 === 0)
          this.log.warn(
            {
              err: (e as Error).message.split('\n')[0],
              errors: this.counters.errors,
              queueLength: this.queueLength,
              retryInMs: backoff,
            },
            'postgres sink: batch failed, reconnecting (the files are not affected)',
          );
        await this.dropClient();
        if (this.closed) break;
        await new Promise<void>((r) => {
          this.wake = r;
          setTimeout(r, backoff);
        });
        this.wake = undefined;
        backoff = Math.min(this.o.reconnectMaxMs, backoff * 2);
      }
    }
  }

  /**
   * The server refused the batch itself (a data error, not the connection) three times in a row: give it
   * up rather than retry forever behind it. Counted as dropped, logged, and marked by a gap row.
   */
  private rejected(e: unknown): boolean {
    const code = (e as { code?: unknown }).code;
    const serverSaysData = typeof code === 'string' && /^(22|23|42|54)/.test(code);
    this.inflightFailures = serverSaysData ? this.inflightFailures + 1 : 0;
    if (this.inflightFailures < 3 || !this.inflight) return false;
    const items = this.inflight;
    const n = items.filter((it) => it.stream !== 'gap').length;
    this.counters.dropped += n;
    this.log.error(
      { code, err: (e as Error).message, dropped: n },
      `postgres sink: the server rejected a batch 3 times, dropped ${n} events (they are in the files)`,
    );
    this.qBytes -= this.inflightBytes;
    this.inflight = undefined;
    this.encoded = undefined;
    this.inflightBytes = 0;
    this.inflightFailures = 0;
    this.unsure = false;
    // now, not the batch's times: one of those may be what the server refused
    this.q.splice(this.qHead, 0, {
      stream: 'gap',
      venue: '',
      symbol: '',
      time: nowMicros(),
      bytes: 128,
      gap: { reason: 'postgres-rejected', dropped: n },
    });
    this.qBytes += 128;
    return true;
  }

  private inflightFailures = 0;

  private take(): void {
    const n = Math.min(this.o.batch, this.q.length - this.qHead);
    this.inflight = this.q.slice(this.qHead, this.qHead + n);
    this.qHead += n;
    if (this.qHead > 4096 && this.qHead * 2 > this.q.length) {
      this.q = this.q.slice(this.qHead);
      this.qHead = 0;
    }
    this.inflightBytes = 0;
    for (const it of this.inflight) this.inflightBytes += it.bytes;
    this.batchNo++;
  }

  /** One batch = one transaction: COPY per table, then its row in <prefix>_batches. */
  private async writeInflight(): Promise<void> {
    const c = this.client!;
    const items = this.inflight!;
    const p = this.prefix;
    // Encoded once: a retry sends the same rows (and the book replicas are not advanced twice).
    const enc = (this.encoded ??= this.encode(items));
    if (this.unsure) {
      const r = await c.query(`SELECT 1 FROM ${p}_batches WHERE run = $1 AND batch = $2`, [this.run, this.batchNo]);
      this.unsure = false;
      if (r.rowCount) {
        this.log.info({ batch: this.batchNo }, 'postgres sink: batch was committed before the connection broke');
        this.committed(enc);
        return;
      }
    }
    const timer = setTimeout(() => {
      this.log.warn({ ms: this.o.batchTimeoutMs }, 'postgres sink: batch timed out, dropping the connection');
      destroySocket(c);
    }, this.o.batchTimeoutMs);
    try {
      await c.query('BEGIN');
      if (enc.raw.n) await copy(c, `COPY ${p}_raw (${RAW_COLS}) FROM STDIN`, enc.raw);
      if (enc.book.n) await copy(c, `COPY ${p}_book (${BOOK_COLS}) FROM STDIN`, enc.book);
      if (enc.gap.n) await copy(c, `COPY ${p}_gap (${GAP_COLS}) FROM STDIN`, enc.gap);
      await c.query(
        `INSERT INTO ${p}_batches (run, batch, raw_rows, book_rows, gap_rows) VALUES ($1, $2, $3, $4, $5)`,
        [this.run, this.batchNo, enc.raw.n, enc.book.n, enc.gap.n],
      );
      await c.query('COMMIT');
    } finally {
      clearTimeout(timer);
    }
    this.committed(enc);
  }

  private encoded: Encoded | undefined;

  private committed(enc: Encoded): void {
    this.counters.rawRows += enc.raw.n;
    this.counters.bookRows += enc.book.n;
    this.counters.gapRows += enc.gap.n;
    this.counters.skipped += enc.skipped;
    this.counters.batches++;
    this.qBytes -= this.inflightBytes;
    this.inflight = undefined;
    this.encoded = undefined;
    this.inflightBytes = 0;
    this.inflightFailures = 0;
  }

  private encode(items: Item[]): Encoded {
    const raw = new Rows();
    const book = new Rows();
    const gap = new Rows();
    let skipped = 0;
    for (const it of items) {
      if (it.stream === 'gap') {
        const g = it.gap!;
        gap.add([
          ts(it.time),
          g.stream ?? NULL,
          it.venue ? esc(it.venue) : NULL,
          it.symbol ? esc(it.symbol) : NULL,
          esc(g.reason),
          int(g.fromSeq),
          int(g.toSeq),
          int(g.pausedMs === undefined ? undefined : Math.round(g.pausedMs)),
          int(g.dropped),
          g.untilTime === undefined ? NULL : ts(g.untilTime),
        ]);
        continue;
      }
      const p = it.payload!;
      if (p.indexOf(0) >= 0 || !isUtf8(p)) {
        skipped++;
        continue;
      }
      try {
        const line = it.stream === 'raw' ? rawRow(it, p) : this.bookRow(it, p);
        (it.stream === 'raw' ? raw : book).add(line);
      } catch {
        skipped++;
      }
    }
    if (skipped)
      this.log.warn(
        { skipped },
        'postgres sink: events that cannot be stored as text/JSON skipped (they are in the files)',
      );
    return { raw, book, gap, skipped };
  }

  private bookRow(it: Item, p: Buffer): string[] {
    const m = JSON.parse(p.toString('utf8')) as ConsolidatedMessage;
    if ((m.type !== 'delta' && m.type !== 'snapshot') || !Array.isArray(m.bids) || !Array.isArray(m.asks))
      throw new Error('not a consolidated message');
    const key = `${it.venue}.${it.symbol}`;
    let r = this.replicas.get(key);
    if (!r) this.replicas.set(key, (r = new BookReplica(1000)));
    const v = r.onMessage(m);
    // top of the book after this message; NULL while the replica is out of sync
    const top = (v === 'applied' || v === 'reset' || v === 'stale') && r.synced && r.seq === m.seq;
    const bb = top ? r.book.bestBid() : undefined;
    const ba = top ? r.book.bestAsk() : undefined;
    const d = m.type === 'delta' ? m : undefined;
    const s = m.type === 'snapshot' ? m : undefined;
    return [
      ts(it.time),
      esc(it.venue),
      esc(it.symbol),
      m.type,
      int(m.seq),
      int(d?.prev),
      int(d?.first),
      m.exchTime ? ts(m.exchTime * 1000) : NULL,
      d?.recvTime ? ts(d.recvTime) : NULL,
      m.pubTime ? ts(m.pubTime) : NULL,
      d?.feed !== undefined ? esc(String(d.feed)) : NULL,
      s?.reason !== undefined ? esc(String(s.reason)) : NULL,
      num(bb?.[0]),
      num(bb?.[1]),
      num(ba?.[0]),
      num(ba?.[1]),
      esc(JSON.stringify(m.bids)),
      esc(JSON.stringify(m.asks)),
    ];
  }
}

interface Encoded {
  raw: Rows;
  book: Rows;
  gap: Rows;
  skipped: number;
}

/** COPY text-format rows, in chunks of about 1 MiB. */
class Rows {
  n = 0;
  chunks: string[] = [];
  private cur: string[] = [];
  private curLen = 0;
  add(fields: string[]): void {
    const line = fields.join('\t') + '\n';
    this.cur.push(line);
    this.curLen += line.length;
    this.n++;
    if (this.curLen >= 1 << 20) this.cut();
  }
  private cut(): void {
    if (this.cur.length) this.chunks.push(this.cur.join(''));
    this.cur = [];
    this.curLen = 0;
  }
  get done(): string[] {
    this.cut();
    return this.chunks;
  }
}

interface RawHead {
  type: string;
  collector: string;
  first: number;
  last: number;
  prev?: number;
  exchTime?: number;
  recvTime: number;
}

const RAW_DELTA_PREFIX = '{"v":1,"type":"delta",';

/** The head fields of a raw.* payload: read in place for the collectors' own delta encoding, JSON.parse otherwise. */
function rawHead(head: string): RawHead {
  if (head.startsWith(RAW_DELTA_PREFIX)) {
    const first = intAfterKey(head, '"first":');
    const last = intAfterKey(head, '"last":');
    const recvTime = intAfterKey(head, '"recvTime":');
    const c = head.indexOf('"collector":"');
    const ce = c < 0 ? -1 : head.indexOf('"', c + 13);
    const collector = ce < 0 ? '' : head.slice(c + 13, ce);
    // ids are plain ([A-Za-z0-9_-]); anything else (an escape) takes the parser
    const prev = intAfterKey(head, '"prev":');
    const exchTime = intAfterKey(head, '"exchTime":');
    const plain =
      first !== undefined &&
      last !== undefined &&
      recvTime !== undefined &&
      (prev !== undefined || !head.includes('"prev":')) &&
      (exchTime !== undefined || !head.includes('"exchTime":')) &&
      /^[\w-]+$/.test(collector);
    if (plain) return { type: 'delta', collector, first, last, prev, exchTime, recvTime };
  }
  const h = JSON.parse(head) as Record<string, unknown>;
  const snap = h.type === 'snapshot';
  const first = snap ? h.seq : h.first;
  const last = snap ? h.seq : h.last;
  if ((!snap && h.type !== 'delta') || typeof h.collector !== 'string' || typeof h.recvTime !== 'number')
    throw new Error('not a collector event');
  if (typeof first !== 'number' || typeof last !== 'number') throw new Error('no sequence');
  return {
    type: snap ? 'snapshot' : 'delta',
    collector: h.collector,
    first,
    last,
    prev: typeof h.prev === 'number' ? h.prev : undefined,
    exchTime: typeof h.exchTime === 'number' ? h.exchTime : undefined,
    recvTime: h.recvTime,
  };
}


function rawRow(it: Item, p: Buffer): string[] {
  const s = p.toString('utf8');
  const nl = s.indexOf('\n');
  const h = rawHead(nl < 0 ? s : s.slice(0, nl));
  return [
    ts(it.time),
    esc(it.venue),
    esc(it.symbol),
    esc(h.collector),
    h.type,
    int(h.first),
    int(h.last),
    int(h.prev),
    h.exchTime !== undefined && h.exchTime > 0 ? ts(h.exchTime * 1000) : NULL,
    ts(h.recvTime),
    esc(s),
  ];
}

const NULL = '\\N';
const ESC: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const NEEDS_ESC = /[\\\n\r\t]/;

/** A COPY text-format field. */
function esc(s: string): string {
  return NEEDS_ESC.test(s) ? s.replace(/[\\\n\r\t]/g, (c) => ESC[c]) : s;
}

function int(n: unknown): string {
  return typeof n === 'number' && Number.isSafeInteger(n) ? String(n) : NULL;
}

function num(n: number | undefined): string {
  return typeof n === 'number' && Number.isFinite(n) ? String(n) : NULL;
}

let tsSecond = NaN;
let tsPrefix = '';

/** Epoch µs -> ISO 8601 with µs (timestamptz input); the date part is cached per second (rows come in time order). */
function ts(us: number): string {
  if (!Number.isFinite(us)) return NULL;
  const sec = Math.floor(us / 1e6);
  if (sec !== tsSecond) {
    const d = new Date(sec * 1000);
    if (Number.isNaN(d.getTime())) return NULL;
    tsSecond = sec;
    tsPrefix = d.toISOString().slice(0, 20); // YYYY-MM-DDTHH:MM:SS.
  }
  const frac = Math.round(us - sec * 1e6);
  return `${tsPrefix}${frac >= 1e6 ? '999999' : String(frac).padStart(6, '0')}Z`;
}

let copyFrom: typeof import('pg-copy-streams').from | undefined;

async function copy(c: pg.Client, sql: string, rows: Rows): Promise<void> {
  const sink = c.query(copyFrom!(sql));
  // pg errors a COPY cut off by a lost connection once more when the client closes: never an uncaught 'error'
  sink.on('error', () => {});
  await pipeline(Readable.from(rows.done), sink);
}

function destroySocket(c: pg.Client): void {
  (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
