/**
 * One websocket to a venue carrying some of a collector's books: connect, subscribe, the venue's
 * application-level ping, reconnect with backoff and jitter, stale detection, make-before-break rolls, and
 * subscription frames paced within the venue's budget per connection (VenueAdapter.subscribeLimit).
 * The collector opens as many as its venue allows books per connection (VenueAdapter.maxBooksPerConnection)
 * and hands every frame to one parser; this class knows nothing of wire formats.
 */
import { WebSocket } from 'ws';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import type { StreamOptions, VenueAdapter } from '../venues/index.js';
import { backoffDelay } from './rateLimiter.js';

const now = () => performance.now();

/**
 * A venue's window as this side counts it: longer than the venue's, since the venue counts a connection or
 * a frame when it arrives, and a burst's first ones can arrive late (a busy link or server) while later
 * ones do not. `slackMs`: the lateness allowed for (subscription frames: 1 s; connections, which come
 * first on an idle link: 250 ms).
 */
export const paddedWindowMs = (windowMs: number, slackMs = 1000) => windowMs * 1.05 + slackMs;

export interface ConnectionOptions {
  venue: VenueAdapter;
  /** Books this connection carries (venue spelling). */
  symbols: readonly string[];
  wsBase: string;
  stream: StreamOptions;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Largest websocket frame accepted, bytes (ws's own default is 100 MiB). */
  maxPayload: number;
  log: Logger;
  /** Local address the socket leaves from (the venue limits per IP); default the system's choice. */
  localAddress?: string;
  /**
   * ms to wait before a new connection may be opened (the venue's connection-rate limit per IP), 0 = now;
   * opened() when its upgrade was answered (accepted or refused) or failed.
   */
  mayOpen?(): number;
  opened?(): void;
  /**
   * Subscription frames (subscribe, unsubscribe) one socket may send per window, counted from its open (OKX:
   * 480 an hour); frames past it wait their turn. Absent: sent at once.
   */
  subscribeBudget?: { requests: number; windowMs: number };
  /** A text frame, and the socket it came on (during a make-before-break roll two sockets deliver). */
  onText(text: string, socket: object): void;
  /** A socket opened and its subscribe frames were sent. */
  onOpen?(socket: object): void;
}

/** A rolled connection's old socket is closed this long after the new one delivered its first message. */
const RETIRE_AFTER_FIRST_MS = 1000;
/** ...and at the latest this long after the new one opened (a new socket that never delivers). */
const RETIRE_CAP_MS = 15_000;

export class VenueConnection {
  private ws?: WebSocket;
  /** The socket being replaced during a make-before-break roll. */
  private retiring?: WebSocket;
  /** Closes the retiring socket (RETIRE_CAP_MS after the new one opened, or soon after it delivered). */
  private retireTimer?: NodeJS.Timeout;
  /** The new socket has delivered: the retiring one is closed RETIRE_AFTER_FIRST_MS later. */
  private retireSoon = false;
  connected = false;
  reconnects = 0;
  lastMsgAt = 0;
  private connectedAt = 0;
  private attempt = 0;
  private stopped = false;
  private reconnectTimer?: NodeJS.Timeout;
  /** This socket's subscription frames: when each was sent (oldest first), and those waiting for the budget. */
  private requestTimes: number[] = [];
  private pending: string[] = [];
  private pendingTimer?: NodeJS.Timeout;
  /** Subscription frames sent, and sent after waiting for the venue's budget. */
  requestsSent = 0;
  requestsDelayed = 0;
  readonly url: string;

  constructor(private readonly o: ConnectionOptions) {
    this.url = o.venue.wsUrl(o.wsBase, o.symbols, o.stream);
  }

  connect(): void {
    if (this.stopped) return;
    const wait = this.o.mayOpen?.() ?? 0;
    if (wait > 0) {
      // at start, the gate paces the collector's connections (not news); a reconnect held back is
      const first = this.reconnects === 0 && this.attempt === 0;
      this.o.log[first ? 'debug' : 'warn'](
        { url: this.url, waitMs: wait },
        'connection delayed by the venue connection-rate limit',
      );
      this.reconnectTimer = setTimeout(() => this.connect(), wait);
      return;
    }
    const { url } = this;
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      maxPayload: this.o.maxPayload,
      localAddress: this.o.localAddress,
    });
    this.ws = ws;
    let answered = false;
    const answer = () => {
      if (answered) return;
      answered = true;
      this.o.opened?.();
    };
    /** A refused upgrade's Retry-After (the venue's connection-rate limit): no attempt before it. */
    let retryAfterMs = 0;
    ws.on('unexpected-response', (_req, res) => {
      answer();
      const retry = Number(res.headers['retry-after']);
      if (Number.isFinite(retry) && retry > 0) retryAfterMs = retry * 1000;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body = (body + c).slice(0, 300)));
      res.on('end', () => {
        this.o.log.warn(
          { status: res.statusCode, retryAfterS: retryAfterMs / 1000 || undefined, body, url },
          'websocket upgrade refused by the venue',
        );
        ws.terminate(); // 'close' schedules the next attempt, not before the Retry-After
      });
    });
    ws.on('open', () => {
      answer();
      this.o.log.info({ url, books: this.o.symbols.length, from: this.o.localAddress }, 'connected');
      this.connected = true;
      this.connectedAt = now();
      this.lastMsgAt = now();
      // the venue counts subscription frames per connection: a new socket starts afresh, and resyncs
      // waiting for the old one's budget are covered by subscribing everything again
      this.requestTimes = [];
      this.pending = [];
      if (this.pendingTimer) clearTimeout(this.pendingTimer);
      this.pendingTimer = undefined;
      this.request(this.o.venue.subscribeMessages(this.o.symbols));
      this.o.onOpen?.(ws);
      // make-before-break: the old socket keeps delivering until the new one does (below), at most this long
      const old = this.retiring;
      if (old !== undefined) this.retireTimer = setTimeout(() => this.retire(old), RETIRE_CAP_MS);
    });
    ws.on('message', (data: Buffer) => {
      if (ws !== this.ws && ws !== this.retiring) return;
      // the new socket delivers: the old one goes a moment later (its books' data now comes twice; the
      // arbiter drops the overlap), so no book waits on a socket that is only subscribing
      const old = this.retiring;
      if (ws === this.ws && old !== undefined && !this.retireSoon) {
        this.retireSoon = true;
        clearTimeout(this.retireTimer);
        this.retireTimer = setTimeout(() => this.retire(old), RETIRE_AFTER_FIRST_MS);
      }
      this.lastMsgAt = now();
      if (this.attempt > 0 && this.lastMsgAt - this.connectedAt > 5000) this.attempt = 0;
      this.o.onText(data.toString('utf8'), ws);
    });
    ws.on('error', (err) => this.o.log.warn({ err: err.message, url }, 'websocket error'));
    ws.on('close', (code) => {
      answer();
      if (ws !== this.ws) return; // a retired socket closing is expected
      this.connected = false;
      if (this.stopped) return;
      const delay = Math.max(retryAfterMs, backoffDelay(this.attempt++, this.o.reconnectMinMs, this.o.reconnectMaxMs));
      this.reconnects++;
      this.o.log.warn({ code, delayMs: delay, url }, 'disconnected; reconnecting');
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
    });
  }

  /** The socket frames are sent on now, if connected. */
  get socket(): object | undefined {
    return this.connected ? this.ws : undefined;
  }

  /** Send text frames (subscribe, resubscribe, ping) if the socket is up; false otherwise. */
  send(frames: readonly string[]): boolean {
    const ws = this.ws;
    if (!ws || !this.connected) return false;
    for (const f of frames) ws.send(f);
    return true;
  }

  /**
   * Send subscription frames (subscribe, unsubscribe) within the venue's budget for this socket: at once
   * where it has room, the rest as it frees up, in order. false if the socket is not up.
   */
  request(frames: readonly string[]): boolean {
    if (!this.ws || !this.connected) return false;
    this.pending.push(...frames);
    this.drain();
    return true;
  }

  /** ms until `n` more subscription frames may go on this socket (0: now). */
  requestDelay(n: number): number {
    const b = this.o.subscribeBudget;
    if (b === undefined) return 0;
    const t = now();
    this.prune(t);
    const over = this.requestTimes.length + this.pending.length + n - b.requests;
    if (over <= 0) return 0;
    // the over-th oldest send must leave the window first (frames still waiting: a whole window, roughly)
    const oldest = this.requestTimes[over - 1];
    return oldest === undefined ? paddedWindowMs(b.windowMs) : oldest + paddedWindowMs(b.windowMs) - t;
  }

  private prune(t: number): void {
    const b = this.o.subscribeBudget;
    if (b === undefined) return;
    const w = paddedWindowMs(b.windowMs);
    let i = 0;
    while (i < this.requestTimes.length && t - this.requestTimes[i] >= w) i++;
    if (i > 0) this.requestTimes.splice(0, i);
  }

  /** Send what the budget allows; `late`: a timer's call, so what goes now has waited. */
  private drain(late = false): void {
    const ws = this.ws;
    if (this.pendingTimer !== undefined || !ws || !this.connected) return;
    const b = this.o.subscribeBudget;
    const t = now();
    this.prune(t);
    while (this.pending.length > 0 && (b === undefined || this.requestTimes.length < b.requests)) {
      ws.send(this.pending.shift()!);
      this.requestsSent++;
      if (late) this.requestsDelayed++;
      if (b !== undefined) this.requestTimes.push(t);
    }
    if (this.pending.length === 0 || b === undefined) return;
    const wait = Math.max(1, this.requestTimes[0] + paddedWindowMs(b.windowMs) - t);
    if (!late)
      this.o.log.warn(
        { url: this.url, waiting: this.pending.length, waitMs: Math.round(wait) },
        "subscription frames delayed by the venue's limit per connection",
      );
    this.pendingTimer = setTimeout(() => {
      this.pendingTimer = undefined;
      if (ws === this.ws) this.drain(true);
    }, wait);
  }

  /** Make-before-break reconnect (a venue's scheduled disconnects never take the feed down). */
  roll(): void {
    // one roll at a time: a socket still retiring is not joined by a second
    if (this.stopped || !this.ws || !this.connected || this.retiring !== undefined) return;
    this.o.log.info({ url: this.url }, 'scheduled reconnect (make-before-break)');
    this.retiring = this.ws;
    this.ws = undefined;
    this.reconnects++;
    this.connect();
  }

  private retire(old: WebSocket): void {
    if (this.retiring === old) this.retiring = undefined;
    this.retireSoon = false;
    old.terminate();
  }

  /** Reconnect when nothing arrived for staleAfterMs. */
  checkStale(staleAfterMs: number): void {
    if (!this.ws || !this.connected) return;
    const idle = now() - this.lastMsgAt;
    if (idle > staleAfterMs) {
      this.o.log.warn({ idleMs: Math.round(idle), url: this.url }, 'feed stale; reconnecting');
      this.ws.terminate(); // 'close' schedules the reconnect
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    clearTimeout(this.retireTimer);
    if (this.pendingTimer) clearTimeout(this.pendingTimer);
    this.ws?.terminate();
    this.retiring?.terminate();
    this.connected = false;
  }
}
