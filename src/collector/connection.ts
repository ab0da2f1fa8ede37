/**
 * One websocket to a venue carrying some of a collector's books: connect, subscribe, the venue's
 * application-level ping, reconnect with backoff and jitter, stale detection, make-before-break rolls.
 * The collector opens as many as its venue allows books per connection (VenueAdapter.maxBooksPerConnection)
 * and hands every frame to one parser; this class knows nothing of wire formats.
 */
import { WebSocket } from 'ws';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import type { StreamOptions, VenueAdapter } from '../venues/index.js';
import { backoffDelay } from './rateLimiter.js';

const now = () => performance.now();

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
  /** ms to wait before a new connection may be opened (the venue's connection-rate limit per IP), 0 = now. */
  mayOpen?(): number;
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
  readonly url: string;

  constructor(private readonly o: ConnectionOptions) {
    this.url = o.venue.wsUrl(o.wsBase, o.symbols, o.stream);
  }

  connect(): void {
    if (this.stopped) return;
    const wait = this.o.mayOpen?.() ?? 0;
    if (wait > 0) {
      this.o.log.warn({ url: this.url, waitMs: wait }, 'connection delayed by the venue connection-rate limit');
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
    /** A refused upgrade's Retry-After (the venue's connection-rate limit): no attempt before it. */
    let retryAfterMs = 0;
    ws.on('unexpected-response', (_req, res) => {
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
      this.o.log.info({ url, books: this.o.symbols.length, from: this.o.localAddress }, 'connected');
      this.connected = true;
      this.connectedAt = now();
      this.lastMsgAt = now();
      for (const m of this.o.venue.subscribeMessages(this.o.symbols)) ws.send(m);
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
    this.ws?.terminate();
    this.retiring?.terminate();
    this.connected = false;
  }
}
