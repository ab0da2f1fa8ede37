/**
 * A venue's own limits, enforced per client IP (the peer address of the socket) or per connection as the venue
 * enforces them, so a test fails if bookwire ever exceeds them: Binance spot and USD-M, OKX, Bybit, and
 * Kraken's connection rate (docs/venues.md, "Limits", has the sources).
 *
 * Binance, as documented (developers.binance.com, spot "LIMITS" rest-api/limits, "WebSocket Streams"
 * web-socket-streams, "WebSocket Limits"; USD-M "General Info" and "Websocket Market Streams"):
 *  - REST: request weight per IP in fixed windows (a 1-minute window starts every minute: 6,000 spot,
 *    2,400 USD-M). Every answer carries X-MBX-USED-WEIGHT-1M. Over the limit: HTTP 429 and a Retry-After
 *    (seconds to wait "to prevent a ban"). Failing to back off after 429s: HTTP 418, an automated IP ban whose
 *    Retry-After says when it ends; bans "scale in duration for repeat offenders, from 2 minutes to 3 days".
 *  - WebSocket: at most 1,024 streams per connection; 300 connections per attempt every 5 minutes per IP
 *    (spot); 5 incoming messages a second per connection on spot, 10 on USD-M (a ping, a pong or a JSON
 *    request each count): "a connection that goes beyond the limit will be disconnected".
 * The simulator's own choices where Binance publishes none: how many 429s an IP may collect in one window
 * before it is banned (banAfter429s), how a refused upgrade looks (HTTP 400 / 429 before the handshake) and
 * the close code of a disconnect (1008, with the reason).
 */
import type { Logger } from '../log.js';

export interface VenueLimits {
  /** REST request weight per IP per window; 0 = not enforced. */
  restWeight: number;
  /** The weight window, ms (Binance: 60,000; fixed windows aligned to the clock, as Binance counts). */
  restWindowMs: number;
  /** 429 answers an IP may collect in one window; the next request over the limit is banned (418). */
  banAfter429s: number;
  /** The first ban, ms; each later ban of the same IP lasts twice the one before, up to banMaxMs. */
  banMs: number;
  banMaxMs: number;
  /** Streams one websocket connection may carry; 0 = not enforced. */
  maxStreams: number;
  /** New websocket connections per IP per connectionWindowMs (sliding); 0 = not enforced. */
  connections: number;
  connectionWindowMs: number;
  /** Incoming messages (text, ping, pong) per connection in any 1-second span; 0 = not enforced. */
  messagesPerSecond: number;
  /** Subscribe/unsubscribe requests per connection per subscribeWindowMs (sliding); 0 = not enforced. */
  subscribes: number;
  subscribeWindowMs: number;
  /** Args (topics, channels) one subscribe request may name; 0 = not enforced. */
  argsPerRequest: number;
  /** Characters of one request's args (their JSON text); 0 = not enforced. */
  argsCharsPerRequest: number;
  /** Characters of every arg one connection holds subscribed (each topic's JSON text); 0 = not enforced. */
  argsCharsPerConnection: number;
}

/** Nothing enforced: the entries below spread it and set what their venue documents. */
const NO_LIMITS: VenueLimits = {
  restWeight: 0,
  restWindowMs: 60_000,
  banAfter429s: 0,
  banMs: 0,
  banMaxMs: 0,
  maxStreams: 0,
  connections: 0,
  connectionWindowMs: 60_000,
  messagesPerSecond: 0,
  subscribes: 0,
  subscribeWindowMs: 3600_000,
  argsPerRequest: 0,
  argsCharsPerRequest: 0,
  argsCharsPerConnection: 0,
};

export const BINANCE_SPOT_LIMITS: VenueLimits = {
  ...NO_LIMITS,
  restWeight: 6000,
  restWindowMs: 60_000,
  banAfter429s: 10,
  banMs: 120_000,
  banMaxMs: 3 * 24 * 3600_000,
  maxStreams: 1024,
  connections: 300,
  connectionWindowMs: 300_000,
  messagesPerSecond: 5,
};

/** USD-M: 2,400 weight a minute, 10 messages a second; no per-IP connection rate is documented for it. */
export const BINANCE_USDM_LIMITS: VenueLimits = {
  ...BINANCE_SPOT_LIMITS,
  restWeight: 2400,
  connections: 0,
  messagesPerSecond: 10,
};

/**
 * Kraken (spot WebSocket v2): about 150 connection attempts per 10 minutes per IP, else a 10-minute ban (the
 * ban is not modelled: the window refuses until it has room again). Nothing else is enforced here.
 */
export const KRAKEN_LIMITS: VenueLimits = {
  ...NO_LIMITS,
  connections: 150,
  connectionWindowMs: 600_000,
};

/**
 * OKX v5 public websocket (okx.com/docs-v5, "WebSocket" overview: "Connection limit: 3 requests per second
 * (based on IP)"; "The total number of 'subscribe'/'unsubscribe'/'login' requests per connection is limited
 * to 480 times per hour"; "the total length of multiple channels cannot exceed 64 KB"). REST books (40 per
 * 2 s) stays in the protocol module. Over a limit: a refused upgrade (HTTP 429), an error event 60014
 * "Requests too frequent." and the connection closed, or an error event 60013 for args too long: OKX
 * documents the limits and the code, the simulator chose how they are delivered.
 */
export const OKX_LIMITS: VenueLimits = {
  ...NO_LIMITS,
  connections: 3,
  connectionWindowMs: 1000,
  subscribes: 480,
  subscribeWindowMs: 3600_000,
  argsCharsPerRequest: 64 * 1024,
};

/**
 * Bybit v5 public websocket (bybit-exchange.github.io/docs/v5/ws/connect, "IP Limits" and "Public channel -
 * Args limits"; v5/rate-limit, "Websocket IP limit"): at most 500 new connections per 5 minutes (per domain);
 * "for one public connection, you cannot have length of "args" array over 21,000 characters"; spot: "up to
 * 10 args for each subscription request". No subscribe rate is documented. Over a limit: a refused upgrade
 * (HTTP 429), or {"success":false,"ret_msg":"args size >10"} as Bybit answers (rust-bybit issue 24), and for
 * the 21,000 characters a refusal in the same shape whose wording is the simulator's.
 */
export const BYBIT_SPOT_LIMITS: VenueLimits = {
  ...NO_LIMITS,
  connections: 500,
  connectionWindowMs: 300_000,
  argsPerRequest: 10,
  argsCharsPerConnection: 21_000,
};

/** Bybit linear: as spot, with no documented args per request ("No args limit for Futures"). */
export const BYBIT_LINEAR_LIMITS: VenueLimits = { ...BYBIT_SPOT_LIMITS, argsPerRequest: 0 };

/** Simulator option: limits on (default) or off, and per-venue overrides (tests shorten the windows). */
export interface SimLimitOptions {
  /** false: enforce nothing (counters still count). Default true, as the venue does. */
  enabled?: boolean;
  /** Overrides of a venue's documented limits, by venue id. */
  venues?: Record<string, Partial<VenueLimits>>;
}

export interface LimitCounters {
  /** REST answers 429 (over the weight limit) and 418 (banned IP). */
  rest429: number;
  rest418: number;
  /** Websocket upgrades refused: too many streams, too many new connections from the IP. */
  wsRefusedStreams: number;
  wsRefusedConnections: number;
  /** Connections closed for sending too many messages, or subscribing past the stream limit. */
  wsMessageRateDisconnects: number;
  wsStreamLimitDisconnects: number;
  /** Connections closed for sending more subscribe/unsubscribe requests than the venue allows (OKX 60014). */
  wsSubscribeRateDisconnects: number;
  /** Subscribe requests refused for naming too many args or too long ones (Bybit "args size >10"). */
  wsRefusedSubscribes: number;
}

/** Every time a client went past a venue's limit, whatever the limit (a test of bookwire wants 0). */
export function limitViolations(c: LimitCounters): number {
  return (
    c.rest429 +
    c.rest418 +
    c.wsRefusedStreams +
    c.wsRefusedConnections +
    c.wsMessageRateDisconnects +
    c.wsStreamLimitDisconnects +
    c.wsSubscribeRateDisconnects +
    c.wsRefusedSubscribes
  );
}

/** What one IP did against one venue. */
export interface IpUsage {
  requests: number;
  weight: number;
  /** Most weight used in one window. */
  peakWindowWeight: number;
  status429: number;
  status418: number;
  bans: number;
  connections: number;
  connectionsRefused: number;
}

interface IpState extends IpUsage {
  window: number;
  used: number;
  strikes: number;
  bannedUntil: number;
  /** Accepted connection times, oldest first, at most `connections` of them. */
  opened: number[];
}

export type RestVerdict =
  { status: 200; used: number } | { status: 429 | 418; used: number; retryAfterS: number; bannedUntil?: number };

export type UpgradeVerdict = { ok: true } | { ok: false; status: 400 | 429; reason: string; retryAfterS?: number };

/** '::ffff:127.0.0.2' -> '127.0.0.2'. */
export function peerIp(addr: string | undefined): string {
  if (addr === undefined) return 'unknown';
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}

export class IpLimits {
  private readonly ips = new Map<string, IpState>();

  constructor(
    readonly venue: string,
    readonly limits: VenueLimits,
    /** false: count, never refuse. */
    readonly enforced: boolean,
    private readonly counters: LimitCounters,
    private readonly logger: Logger,
  ) {}

  private state(ip: string): IpState {
    let s = this.ips.get(ip);
    if (s === undefined) {
      s = {
        requests: 0,
        weight: 0,
        peakWindowWeight: 0,
        status429: 0,
        status418: 0,
        bans: 0,
        connections: 0,
        connectionsRefused: 0,
        window: 0,
        used: 0,
        strikes: 0,
        bannedUntil: 0,
        opened: [],
      };
      this.ips.set(ip, s);
    }
    return s;
  }

  /** Roll the IP's weight window to now. */
  private roll(s: IpState, now: number): void {
    const w = Math.floor(now / this.limits.restWindowMs);
    if (w !== s.window) {
      s.window = w;
      s.used = 0;
      s.strikes = 0;
    }
  }

  /** The weight the IP has used in the current window. */
  used(ip: string, now = Date.now()): number {
    const s = this.state(ip);
    this.roll(s, now);
    return s.used;
  }

  /**
   * A REST request of `weight` from `ip`: counted, or refused (429 over the limit, 418 banned). Refused
   * requests cost no weight; a 429 beyond banAfter429s in one window bans the IP.
   */
  rest(ip: string, weight: number, now = Date.now()): RestVerdict {
    const L = this.limits;
    const s = this.state(ip);
    this.roll(s, now);
    s.requests++;
    if (this.enforced && now < s.bannedUntil) return this.refuse418(s, ip, now);
    if (this.enforced && L.restWeight > 0 && s.used + weight > L.restWeight) {
      if (s.strikes >= L.banAfter429s) {
        s.bans++;
        const ms = Math.min(L.banMaxMs, L.banMs * 2 ** Math.min(s.bans - 1, 40));
        s.bannedUntil = now + ms;
        this.logger.warn(
          { venue: this.venue, ip, banMs: ms, bans: s.bans },
          'IP banned (418): it kept sending after 429s',
        );
        return this.refuse418(s, ip, now);
      }
      s.strikes++;
      s.status429++;
      this.counters.rest429++;
      const retryAfterS = Math.max(1, Math.ceil(((s.window + 1) * L.restWindowMs - now) / 1000));
      if (s.strikes === 1)
        this.logger.warn(
          { venue: this.venue, ip, used: s.used, limit: L.restWeight, retryAfterS },
          'REST weight limit exceeded (429)',
        );
      return { status: 429, used: s.used, retryAfterS };
    }
    s.used += weight;
    s.weight += weight;
    if (s.used > s.peakWindowWeight) s.peakWindowWeight = s.used;
    return { status: 200, used: s.used };
  }

  private refuse418(s: IpState, ip: string, now: number): RestVerdict {
    s.status418++;
    this.counters.rest418++;
    return {
      status: 418,
      used: s.used,
      retryAfterS: Math.max(1, Math.ceil((s.bannedUntil - now) / 1000)),
      bannedUntil: s.bannedUntil,
    };
  }

  /** A websocket upgrade from `ip` naming `streams` streams: accepted (and counted) or refused. */
  upgrade(ip: string, streams: number, now = Date.now()): UpgradeVerdict {
    const L = this.limits;
    const s = this.state(ip);
    if (this.enforced && L.maxStreams > 0 && streams > L.maxStreams) {
      s.connectionsRefused++;
      this.counters.wsRefusedStreams++;
      const reason = `too many streams: ${streams} in one connection (limit ${L.maxStreams})`;
      this.logger.warn({ venue: this.venue, ip, streams }, `websocket refused: ${reason}`);
      return { ok: false, status: 400, reason };
    }
    if (L.connections > 0) {
      while (s.opened.length > 0 && now - s.opened[0] >= L.connectionWindowMs) s.opened.shift();
      if (this.enforced && s.opened.length >= L.connections) {
        s.connectionsRefused++;
        this.counters.wsRefusedConnections++;
        const retryAfterS = Math.max(1, Math.ceil((s.opened[0] + L.connectionWindowMs - now) / 1000));
        const reason = `too many new connections: ${L.connections} per ${L.connectionWindowMs / 1000} s per IP`;
        this.logger.warn({ venue: this.venue, ip, retryAfterS }, `websocket refused: ${reason}`);
        return { ok: false, status: 429, reason, retryAfterS };
      }
      s.opened.push(now);
      if (s.opened.length > L.connections) s.opened.shift();
    }
    s.connections++;
    return { ok: true };
  }

  /** A per-connection meter of incoming messages; undefined when not enforced. */
  messageMeter(): MessageMeter | undefined {
    const n = this.limits.messagesPerSecond;
    return this.enforced && n > 0 ? new MessageMeter(n) : undefined;
  }

  /** A per-connection meter of subscribe/unsubscribe requests; undefined when not enforced. */
  subscribeMeter(): MessageMeter | undefined {
    const n = this.limits.subscribes;
    return this.enforced && n > 0 ? new MessageMeter(n, this.limits.subscribeWindowMs) : undefined;
  }

  /** A connection closed for sending more subscribe/unsubscribe requests than `subscribes` per window. */
  subscribeRateDisconnect(ip: string): void {
    this.counters.wsSubscribeRateDisconnects++;
    this.logger.warn(
      { venue: this.venue, ip, limit: this.limits.subscribes, windowMs: this.limits.subscribeWindowMs },
      'websocket closed: too many subscribe requests',
    );
  }

  /**
   * Why a subscribe request naming `args` (their JSON text `argsChars` long) may not be served on a
   * connection already holding `heldChars` of args; undefined: it may (or limits are off).
   */
  subscribeRefusal(args: number, argsChars: number, heldChars: number): string | undefined {
    const L = this.limits;
    if (!this.enforced) return undefined;
    if (L.argsPerRequest > 0 && args > L.argsPerRequest) return `args size >${L.argsPerRequest}`;
    if (L.argsCharsPerRequest > 0 && argsChars > L.argsCharsPerRequest)
      return `args too long: ${argsChars} characters in one request (limit ${L.argsCharsPerRequest})`;
    if (L.argsCharsPerConnection > 0 && heldChars + argsChars > L.argsCharsPerConnection)
      return `args too long: ${heldChars + argsChars} characters on one connection (limit ${L.argsCharsPerConnection})`;
    return undefined;
  }

  /** A subscribe request refused (subscribeRefusal). */
  subscribeRefused(ip: string, reason: string): void {
    this.counters.wsRefusedSubscribes++;
    this.logger.warn({ venue: this.venue, ip, reason }, 'subscribe refused');
  }

  /** Whether a connection may carry `streams` streams (live SUBSCRIBE). */
  streamsAllowed(streams: number): boolean {
    return !this.enforced || this.limits.maxStreams <= 0 || streams <= this.limits.maxStreams;
  }

  /** A connection closed for subscribing past maxStreams. */
  streamLimitDisconnect(ip: string, streams: number): void {
    this.counters.wsStreamLimitDisconnects++;
    this.logger.warn({ venue: this.venue, ip, streams }, 'websocket closed: too many streams');
  }

  /** A connection closed for sending more than messagesPerSecond. */
  messageRateDisconnect(ip: string): void {
    this.counters.wsMessageRateDisconnects++;
    this.logger.warn(
      { venue: this.venue, ip, limit: this.limits.messagesPerSecond },
      'websocket closed: too many incoming messages',
    );
  }

  /** Per IP: what it did. */
  usage(): Record<string, IpUsage> {
    const out: Record<string, IpUsage> = {};
    for (const [ip, s] of this.ips) {
      const { requests, weight, peakWindowWeight, status429, status418, bans, connections, connectionsRefused } = s;
      out[ip] = { requests, weight, peakWindowWeight, status429, status418, bans, connections, connectionsRefused };
    }
    return out;
  }
}

/** At most `n` messages in any span of `windowMs` (default a second): the times of the last n, in a ring. */
export class MessageMeter {
  private readonly times: number[];
  private i = 0;

  constructor(
    private readonly n: number,
    private readonly windowMs = 1000,
  ) {
    this.times = new Array<number>(n).fill(-Infinity);
  }

  /** Count one message; false if it is the (n+1)th within the window. */
  hit(now = Date.now()): boolean {
    const oldest = this.times[this.i];
    this.times[this.i] = now;
    this.i = (this.i + 1) % this.n;
    return now - oldest >= this.windowMs;
  }
}

/** A venue's effective limits: its documented ones with the simulator options' overrides. */
export function venueLimits(
  venue: string,
  base: VenueLimits | undefined,
  o: SimLimitOptions | undefined,
): VenueLimits | undefined {
  if (base === undefined) return undefined;
  return { ...base, ...(o?.venues?.[venue] ?? {}) };
}
