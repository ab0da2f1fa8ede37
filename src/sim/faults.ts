/**
 * Per-connection fault injection. A FaultyOutput sits between the fan-out and one websocket: it decides,
 * message by message, whether the client gets it (drop), twice (dup), late (delay/jitter), out of order
 * (reorder), corrupted (malformed), nothing for a while (stall), or loses the connection (disconnect).
 * It never touches the event or the truth: the same pre-serialized string goes to every connection.
 * The regrouping fault (regroupRate) works on events, before encoding: see session.ts.
 */
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import type { Rng } from './prng.js';

export interface FaultProfile {
  /** Probability an event is silently not sent. */
  dropRate?: number;
  /** Probability an event is sent twice. */
  dupRate?: number;
  /** Fixed per-message delay, ms. Order is kept unless reorderRate. */
  delayMs?: number;
  /** Extra uniform random delay in [0, jitterMs), ms. */
  jitterMs?: number;
  /** Probability an event is held back and sent after the next one. */
  reorderRate?: number;
  /** Close the socket (abruptly, no close frame) every N seconds, +-10%. */
  disconnectEveryS?: number;
  /** Every stallEveryS seconds the socket goes silent for stallForS seconds (data is held, then sent in a burst). */
  stallEveryS?: number;
  stallForS?: number;
  /** Probability an event is replaced by a corrupted frame (truncated JSON or a field of the wrong type). */
  malformedRate?: number;
  /**
   * Probability an event reaches this connection with one level's size changed: valid JSON, ids and framing
   * kept, and the checksum the venue computed left as it was (the corruption happens "on the wire", after
   * it). Silent divergence: only a checksum or another feed's copy can reveal it (corruptLevel).
   */
  corruptRate?: number;
  /** Probability a REST depth snapshot fails with snapshotErrorStatus (default 429). */
  snapshotErrorRate?: number;
  /** 429 (with Retry-After and code -1003), 503 (-1008), 500 or any other 4xx/5xx (-1001). Typed as number
   * so config-file values (validated elsewhere) pass straight through. */
  snapshotErrorStatus?: 429 | 500 | 503 | number;
  /** Extra latency of a REST depth snapshot, ms (the snapshot is taken when the request arrives). */
  snapshotDelayMs?: number;
  /**
   * Probability an event is merged with the next event of its book into one message covering both (as real
   * Binance USD-M connections do): Binance U of the first, u of the last, pu of the first; OKX prevSeqId of
   * the first, seqId of the last; levels merged, later sizes winning. Not on Bybit (u counts messages).
   */
  regroupRate?: number;
}

export interface FaultCounters {
  messagesSent: number;
  dropped: number;
  duplicated: number;
  malformed: number;
  /** Events sent with a level's size changed (corruptRate). */
  corrupted: number;
  reordered: number;
  stalls: number;
  disconnects: number;
  /** Connections closed because the client did not read fast enough (send buffer over the limit). */
  slowConsumerDisconnects: number;
}

/** How long a message held for reordering waits for a successor before it goes out anyway. */
const HOLD_MAX_MS = 50;

const FIRST_ID = /"(U|seqId|seq)":(-?\d+)/;
const LAST_ID = /"(u|prevSeqId)":-?\d+/;

function truncate(data: string, rng: Rng): string {
  return data.slice(0, 1 + Math.floor(rng() * Math.max(1, data.length - 2)));
}

/**
 * A corrupted copy of a frame: truncated JSON, or an id field of the wrong type: Binance "U" (OKX "seqId",
 * Bybit "seq") as a string, or Binance "u" (Bybit "u", OKX "prevSeqId") as null.
 */
export function corrupt(data: string, rng: Rng): string {
  const kind = Math.floor(rng() * 3);
  if (kind === 0 || data.length < 3) return truncate(data, rng);
  const re = kind === 1 ? FIRST_ID : LAST_ID;
  if (!re.test(data)) return truncate(data, rng);
  return kind === 1 ? data.replace(FIRST_ID, '"$1":"$2"') : data.replace(LAST_ID, '"$1":null');
}

/**
 * A level size in the venue's spelling: Kraken `"qty":0.5`, the second string of a
 * `["price","size"...` pair (Binance, OKX, Bybit), or Coinbase's `"new_quantity":"0.5"`.
 */
const SIZE = /("qty":)(\d+(?:\.\d+)?)|(\["\d+(?:\.\d+)?",")(\d+(?:\.\d+)?)(")|("new_quantity":")(\d+(?:\.\d+)?)(")/;

/**
 * The frame with its first level's size changed in its last digit (same length, same format, never 0: a
 * size became another size, the level did not vanish); undefined when the frame has no level.
 */
export function corruptLevel(data: string): string | undefined {
  const m = SIZE.exec(data);
  if (m === null) return undefined;
  const size = m[2] ?? m[4] ?? m[7];
  const last = size.charCodeAt(size.length - 1) - 48;
  let changed = size.slice(0, -1) + String((last + 1) % 10);
  if (!/[1-9]/.test(changed)) changed = size.slice(0, -1) + '1';
  const head = m[1] ?? m[3] ?? m[6];
  const tail = m[5] ?? m[8] ?? '';
  return data.slice(0, m.index) + head + changed + tail + data.slice(m.index + m[0].length);
}

/** A frame: stream payloads come pre-encoded (shared by all connections), replies as strings. */
type Frame = Buffer | string;

interface Queued {
  due: number;
  data: Frame;
}

/** Buffers are sent as text frames, as Binance does. */
const TEXT = { binary: false };

export class FaultyOutput {
  private queue: Queued[] = [];
  private qHead = 0;
  private lastDue = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushAt = Infinity;
  private held: Frame | undefined;
  private heldTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private disconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** True while a stall is in progress (nothing is written, pings included). */
  stalled = false;

  constructor(
    private readonly ws: WebSocket,
    /** The connection's fault profile, as it is now. */
    readonly profile: () => FaultProfile,
    private readonly rng: Rng,
    private readonly counters: FaultCounters,
    private readonly maxBufferedBytes: number,
  ) {
    this.startTimers();
  }

  /**
   * Batch the writes of one generation tick into one syscall (the tick emits many events at high rates;
   * one writev per event per socket was a third of the simulator's CPU at 10k events/s).
   */
  cork(): void {
    (this.ws as unknown as { _socket?: { cork(): void } })._socket?.cork();
  }

  uncork(): void {
    (this.ws as unknown as { _socket?: { uncork(): void } })._socket?.uncork();
  }

  /** A stream event: subject to every fault of the profile. */
  send(data: Frame): void {
    if (this.closed) return;
    const f = this.profile();
    const plain =
      !f.dropRate && !f.dupRate && !f.delayMs && !f.jitterMs && !f.reorderRate && !f.malformedRate && !f.corruptRate;
    if (plain && !this.stalled && this.qHead === this.queue.length && this.held === undefined) {
      this.write(data);
      return;
    }
    const rng = this.rng;
    if (f.dropRate && rng() < f.dropRate) {
      this.counters.dropped++;
      return;
    }
    if (f.malformedRate && rng() < f.malformedRate) {
      data = corrupt(data.toString(), rng);
      this.counters.malformed++;
    }
    if (f.corruptRate && rng() < f.corruptRate) {
      const c = corruptLevel(data.toString());
      if (c !== undefined) {
        data = c;
        this.counters.corrupted++;
      }
    }
    if (f.reorderRate && this.held === undefined && rng() < f.reorderRate) {
      this.held = data;
      this.counters.reordered++;
      this.heldTimer = setTimeout(() => this.releaseHeld(), HOLD_MAX_MS);
      return;
    }
    this.enqueue(data, f);
    if (f.dupRate && rng() < f.dupRate) {
      this.enqueue(data, f);
      this.counters.duplicated++;
    }
    this.releaseHeld();
  }

  /** A reply to a client request: never dropped or corrupted, but it waits behind queued data and stalls. */
  sendControl(data: Frame): void {
    if (this.closed) return;
    this.enqueue(data, {});
  }

  /** Re-read the profile's timed faults (after setFaults). */
  refresh(): void {
    this.clearTimers();
    this.startTimers();
  }

  close(): void {
    this.closed = true;
    this.clearTimers();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.heldTimer) clearTimeout(this.heldTimer);
    this.queue = [];
    this.qHead = 0;
    this.held = undefined;
  }

  private releaseHeld(): void {
    if (this.heldTimer) clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    const h = this.held;
    if (h === undefined) return;
    this.held = undefined;
    this.enqueue(h, this.profile());
  }

  private enqueue(data: Frame, f: FaultProfile): void {
    const now = performance.now();
    let due = now + (f.delayMs ?? 0) + (f.jitterMs ? this.rng() * f.jitterMs : 0);
    if (due < this.lastDue) due = this.lastDue; // jitter delays, it does not reorder
    this.lastDue = due;
    if (!this.stalled && due <= now && this.qHead === this.queue.length) {
      this.write(data);
      return;
    }
    this.queue.push({ due, data });
    this.arm(now);
  }

  private arm(now: number): void {
    if (this.stalled || this.qHead === this.queue.length) return;
    const due = this.queue[this.qHead].due;
    if (this.flushTimer && this.flushAt <= due) return;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushAt = due;
    this.flushTimer = setTimeout(() => this.flush(), Math.max(0, due - now));
  }

  private flush(): void {
    this.flushTimer = undefined;
    this.flushAt = Infinity;
    if (this.closed || this.stalled) return;
    const now = performance.now() + 0.5; // timers fire up to ~1 ms early relative to performance.now()
    const q = this.queue;
    while (this.qHead < q.length && q[this.qHead].due <= now) {
      this.write(q[this.qHead].data);
      this.qHead++;
      if (this.closed) return;
    }
    if (this.qHead === q.length) {
      this.queue = [];
      this.qHead = 0;
    } else if (this.qHead > 4096) {
      this.queue = q.slice(this.qHead);
      this.qHead = 0;
    }
    this.arm(performance.now());
  }

  private write(data: Frame): void {
    const ws = this.ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > this.maxBufferedBytes) {
      // Binance disconnects clients that cannot keep up; so do we, rather than buffer without bound
      this.counters.slowConsumerDisconnects++;
      this.close();
      ws.terminate();
      return;
    }
    ws.send(data, TEXT);
    this.counters.messagesSent++;
  }

  private startTimers(): void {
    const f = this.profile();
    if (f.disconnectEveryS && f.disconnectEveryS > 0) {
      const ms = f.disconnectEveryS * 1000 * (0.9 + 0.2 * this.rng());
      this.disconnectTimer = setTimeout(() => {
        if (this.closed) return;
        this.counters.disconnects++;
        this.close();
        this.ws.terminate();
      }, ms);
    }
    this.startStallCycle();
  }

  private startStallCycle(): void {
    const f = this.profile();
    if (!(f.stallEveryS && f.stallEveryS > 0 && f.stallForS && f.stallForS > 0)) return;
    const length = f.stallForS * 1000;
    this.stallTimer = setTimeout(() => {
      this.stalled = true;
      this.counters.stalls++;
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      this.flushAt = Infinity;
      this.stallTimer = setTimeout(() => {
        this.stalled = false;
        this.flush();
        this.startStallCycle();
      }, length);
    }, f.stallEveryS * 1000);
  }

  private clearTimers(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    if (this.disconnectTimer) clearTimeout(this.disconnectTimer);
    this.stallTimer = undefined;
    this.disconnectTimer = undefined;
    if (this.stalled) {
      this.stalled = false;
      this.flush();
    }
  }
}
