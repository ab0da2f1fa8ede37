/**
 * One simulated venue inside the engine: its books (a Feed per symbol, ids from the venue's IdSpace), its
 * protocol module, its websocket sessions and their fan-out index, its server pings and keep-alives.
 */
import { WebSocket } from 'ws';
import type { BookEvent, Feed } from './feed.js';
import type { FaultProfile } from './faults.js';
import { IdSpace } from './ids.js';
import { hash32, mulberry32 } from './prng.js';
import type { OkxSimOptions, VenueContext, VenueId, VenueProtocol } from './protocols/types.js';
import { PROTOCOLS } from './protocols/index.js';
import type { HttpTools } from './rest.js';
import { IpLimits, venueLimits, type LimitCounters, type SimLimitOptions } from './limits.js';
import type { Session, SessionHost } from './session.js';
import { simSymbol } from './symbols.js';

export interface VenueCounters {
  eventsGenerated: number;
  regrouped: number;
  keepAlives: number;
  pongTimeouts: number;
}

export interface VenueHooks {
  counters: VenueCounters;
  profile(name: string | undefined): FaultProfile;
  /** Every event generated (not keep-alives), just before it is handed to the sockets. */
  onEvent?(venue: VenueId, ev: BookEvent): void;
  limitCounters: LimitCounters;
  limits?: SimLimitOptions;
}

export class Venue implements VenueContext, SessionHost {
  readonly protocol: VenueProtocol;
  readonly idSpace: IdSpace;
  readonly counters: VenueCounters;
  readonly limits?: IpLimits;
  /** Open websocket connections. */
  readonly sockets = new Map<Session, WebSocket>();
  private readonly feedMap = new Map<string, Feed>();
  private readonly feedList: Feed[] = [];
  private readonly subs = new Map<string, Set<Session>>();
  private readonly lastEventAt = new Map<string, number>();
  private pingTimer: NodeJS.Timeout | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: VenueId,
    readonly okx: OkxSimOptions,
    readonly http: HttpTools,
    private readonly hooks: VenueHooks,
    seed: number,
  ) {
    this.counters = hooks.counters;
    this.protocol = PROTOCOLS[id](this);
    const limits = venueLimits(id, this.protocol.limits, hooks.limits);
    if (limits !== undefined)
      this.limits = new IpLimits(id, limits, hooks.limits?.enabled !== false, hooks.limitCounters, http.logger);
    this.idSpace = new IdSpace(this.protocol.ids, mulberry32(seed ^ hash32(`ids:${id}`)));
  }

  // ---- VenueContext ----

  feed(symbol: string): Feed | undefined {
    return this.feedMap.get(symbol);
  }

  feeds(): readonly Feed[] {
    return this.feedList;
  }

  subscribers(symbol: string): Iterable<Session> {
    return this.subs.get(symbol) ?? [];
  }

  profile(name: string | undefined): FaultProfile {
    return this.hooks.profile(name);
  }

  generate(symbol: string): BookEvent | undefined {
    const feed = this.feedMap.get(symbol);
    return feed === undefined ? undefined : this.emit(feed, Date.now());
  }

  // ---- SessionHost ----

  add(symbol: string, s: Session): void {
    let set = this.subs.get(symbol);
    if (!set) this.subs.set(symbol, (set = new Set()));
    set.add(s);
  }

  remove(symbol: string, s: Session): void {
    this.subs.get(symbol)?.delete(s);
  }

  // ---- engine ----

  addFeed(feed: Feed): void {
    const i = this.feedList.findIndex((f) => f.symbol === feed.symbol);
    if (i >= 0) this.feedList[i] = feed;
    else this.feedList.push(feed);
    this.feedMap.set(feed.symbol, feed);
  }

  /** Whether a name given to the simulator (any spelling, symbols.ts) is one of this venue's books. */
  resolveName(name: string): boolean {
    const c = simSymbol(this.protocol, name);
    return c !== undefined && this.feedMap.has(c);
  }

  /** The canonical symbol of a name in the venue's or the canonical spelling, if simulated. */
  resolve(name: string): Feed | undefined {
    const c = this.protocol.canonicalSymbol(name);
    return c === undefined ? undefined : this.feedMap.get(c);
  }

  /** Advance one book by one event and send it; undefined when the feed is exhausted. */
  emit(feed: Feed, E: number): BookEvent | undefined {
    const ev = feed.next(E);
    if (ev === undefined) return undefined;
    this.protocol.stamp?.(ev, feed);
    this.counters.eventsGenerated++;
    this.lastEventAt.set(feed.symbol, E);
    this.hooks.onEvent?.(this.id, ev);
    this.publish(ev);
    return ev;
  }

  publish(ev: BookEvent): void {
    const set = this.subs.get(ev.symbol);
    if (set === undefined) return;
    for (const s of set) {
      const subs = s.bySymbol.get(ev.symbol);
      if (subs === undefined) continue;
      for (let i = 0; i < subs.length; i++) s.deliver(ev, subs[i]);
    }
  }

  start(pingIntervalMs: number | undefined, pongTimeoutMs: number | undefined): void {
    const ping = this.protocol.ping;
    if (ping) {
      const timeout = pongTimeoutMs ?? ping.timeoutMs;
      this.pingTimer = setInterval(() => this.pingAll(timeout), pingIntervalMs ?? ping.intervalMs);
      this.pingTimer.unref();
    }
    const ka = this.protocol.keepAliveMs;
    if (ka && ka > 0 && this.protocol.keepAlive) {
      const now = Date.now();
      for (const f of this.feedList) this.lastEventAt.set(f.symbol, now);
      this.keepAliveTimer = setInterval(() => this.keepAlives(ka), Math.max(10, Math.min(1000, ka / 4)));
      this.keepAliveTimer.unref();
    }
    const tick = this.protocol.tick;
    if (tick && this.protocol.tickMs && this.protocol.tickMs > 0) {
      this.tickTimer = setInterval(() => {
        for (const s of this.sockets.keys()) tick.call(this.protocol, s);
      }, this.protocol.tickMs);
      this.tickTimer.unref();
    }
  }

  stop(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    if (this.tickTimer) clearInterval(this.tickTimer);
    for (const [s, ws] of this.sockets) {
      s.detach();
      ws.terminate();
    }
    this.sockets.clear();
    this.subs.clear();
  }

  private keepAlives(ms: number): void {
    const now = Date.now();
    for (const feed of this.feedList) {
      if (now - (this.lastEventAt.get(feed.symbol) ?? now) < ms) continue;
      this.lastEventAt.set(feed.symbol, now);
      this.counters.keepAlives++;
      this.publish(this.protocol.keepAlive!(feed));
    }
  }

  /** Server pings; a connection that has not answered within `timeout` is dropped. */
  private pingAll(timeout: number): void {
    const now = Date.now();
    for (const [s, ws] of this.sockets) {
      if (now - s.lastPongMs > timeout) {
        this.counters.pongTimeouts++;
        s.detach();
        ws.terminate();
      } else if (!s.out.stalled && ws.readyState === WebSocket.OPEN) ws.ping();
    }
  }
}
