/**
 * One websocket client of the simulator, whatever the venue: its book subscriptions, its fault-injecting
 * output, and the regrouping fault (merging consecutive events of a book into one message). The venue's
 * protocol module reads its requests and encodes what it is sent.
 */
import { mergeEvents, type BookEvent, type Frame } from './feed.js';
import type { FaultyOutput } from './faults.js';
import type { MessageMeter } from './limits.js';
import type { Rng } from './prng.js';
import type { VenueProtocol } from './protocols/types.js';

/** One subscription of a session to one book: a Binance stream, an OKX channel arg, a Bybit topic. */
export interface Sub {
  /** The venue's name for it (unique within the session). */
  readonly key: string;
  /** Canonical symbol. */
  readonly symbol: string;
  /** Index of the event view it carries (BookChanges.views), or -1 for every touched level. */
  readonly view: number;
}

/** The venue's fan-out index, where sessions register for a symbol's events. */
export interface SessionHost {
  add(symbol: string, s: Session): void;
  remove(symbol: string, s: Session): void;
  counters: { regrouped: number };
}

/** How long a message held for regrouping waits for the next event of its book before it goes alone. */
const GROUP_HOLD_MS = 500;
/** At most this many events in one regrouped message. */
const GROUP_MAX = 10;

interface Held {
  ev: BookEvent;
  sub: Sub;
  timer: NodeJS.Timeout;
}

export class Session {
  /** Data subscriptions by key, in subscription order. */
  readonly subs = new Map<string, Sub>();
  /** Canonical symbol -> its subscriptions. */
  readonly bySymbol = new Map<string, Sub[]>();
  /** Binance: payloads wrapped as {"stream","data"} (/stream, or SET_PROPERTY combined). */
  combined = false;
  /** OKX connId, Bybit conn_id. */
  connId = '';
  lastPongMs = Date.now();
  /** The client's IP (limits are per IP). */
  ip = 'unknown';
  /** The venue's meter of this connection's subscribe/unsubscribe requests (limits.ts), where it limits them. */
  subscribes?: MessageMeter;
  /** Characters of the args this connection holds subscribed (Bybit's 21,000 per connection). */
  argsChars = 0;
  /** Close the connection with a websocket close code and reason (a limit broken); set by the engine. */
  kick: (code: number, reason: string) => void = () => {};
  private readonly held = new Map<string, Held>();

  constructor(
    readonly id: number,
    readonly profileName: string,
    readonly out: FaultyOutput,
    readonly protocol: VenueProtocol,
    private readonly host: SessionHost,
    private readonly rng: Rng,
  ) {}

  /** Add a subscription; false if its key is already subscribed. */
  subscribe(sub: Sub): boolean {
    if (this.subs.has(sub.key)) return false;
    this.subs.set(sub.key, sub);
    const list = this.bySymbol.get(sub.symbol);
    if (list) list.push(sub);
    else {
      this.bySymbol.set(sub.symbol, [sub]);
      this.host.add(sub.symbol, this);
    }
    return true;
  }

  unsubscribe(key: string): Sub | undefined {
    const sub = this.subs.get(key);
    if (sub === undefined) return undefined;
    this.subs.delete(key);
    this.dropHeld(key);
    const list = this.bySymbol.get(sub.symbol)!;
    list.splice(list.indexOf(sub), 1);
    if (list.length === 0) {
      this.bySymbol.delete(sub.symbol);
      this.host.remove(sub.symbol, this);
    }
    return sub;
  }

  /** A reply to the client: never dropped or corrupted, in order with the data. */
  control(text: string): void {
    this.out.sendControl(text);
  }

  /** A book snapshot for one subscription: as reliable as a reply; a regrouped message it supersedes is dropped. */
  snapshot(sub: Sub, frame: Frame): void {
    this.dropHeld(sub.key);
    this.out.sendControl(frame);
  }

  /** An event of a subscribed book: through the regrouping fault and the output's faults. */
  deliver(ev: BookEvent, sub: Sub): void {
    // a depth with its own id space sends nothing when its view did not change (Bybit)
    if (ev.viewLast !== undefined && sub.view >= 0 && ev.viewLast[sub.view] === 0) return;
    const rate = this.protocol.regroup ? (this.out.profile().regroupRate ?? 0) : 0;
    if (rate <= 0 && this.held.size === 0) {
      this.out.send(this.protocol.encode(ev, sub, this));
      return;
    }
    const h = this.held.get(sub.key);
    if (h !== undefined) {
      clearTimeout(h.timer);
      this.held.delete(sub.key);
      ev = mergeEvents(h.ev, ev);
      this.host.counters.regrouped++;
    }
    if (rate > 0 && ev.count < GROUP_MAX && this.rng() < rate) {
      const timer = setTimeout(() => this.flushHeld(sub.key), GROUP_HOLD_MS);
      this.held.set(sub.key, { ev, sub, timer });
      return;
    }
    this.out.send(this.protocol.encode(ev, sub, this));
  }

  /** Drop every subscription (connection closed). */
  detach(): void {
    for (const key of [...this.held.keys()]) this.dropHeld(key);
    for (const symbol of this.bySymbol.keys()) this.host.remove(symbol, this);
    this.bySymbol.clear();
    this.subs.clear();
    this.out.close();
  }

  private flushHeld(key: string): void {
    const h = this.held.get(key);
    if (h === undefined) return;
    this.held.delete(key);
    this.out.send(this.protocol.encode(h.ev, h.sub, this));
  }

  private dropHeld(key: string): void {
    const h = this.held.get(key);
    if (h === undefined) return;
    clearTimeout(h.timer);
    this.held.delete(key);
  }
}
