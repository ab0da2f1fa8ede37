/**
 * One book as a client follows it (the Clone pattern's client side): a BookReplica fed by the book topic
 * and by snapshot replies, plus what makes a book stale to the strategy (silence on the topic, or every
 * arbiter heard from saying it has no live feed). No I/O: subscribe() (one book) and subscribeVenue() (every
 * book of a venue) drive it, so both follow one rule.
 */
import { BookReplica, EpochWatch } from '../core/replica.js';
import type { ConsolidatedHeartbeat, ConsolidatedMessage } from '../core/consolidated.js';
import type { OrderBook } from '../core/book.js';
import type { Logger } from '../log.js';

export interface BookUpdate {
  venue: string;
  symbol: string;
  /**
   * snapshot/delta: the book changed. stale: the book stopped being current (see `staleSince`): do not act
   * on it as if it were. fresh: it is current again without having changed (a quiet book whose feed returned).
   */
  kind: 'snapshot' | 'delta' | 'stale' | 'fresh';
  /** True while the book may be old: no live feed at any arbiter, or no arbiter heard from. */
  stale: boolean;
  /** Epoch µs since when the book has been stale (while `stale`). */
  staleSince?: number;
  /** Consolidated sequence (the exchange's last update id) the book is at. */
  seq: number;
  /** The live book (mutated by later updates: copy what you keep). */
  book: OrderBook;
  /** What caused the update: the consolidated message, or for stale/fresh the heartbeat (a silence: one made up here, arbiter ''). */
  message: ConsolidatedMessage | ConsolidatedHeartbeat;
  /** Local receive time, epoch µs. */
  receivedAt: number;
  /** Gaps detected (and healed by snapshot) so far. */
  gaps: number;
}

/** What one arbiter last said of the book in a heartbeat. */
interface ArbiterWord {
  stale: boolean;
  since: number;
  /** Local time (µs) it was heard. */
  at: number;
}

/** What the driver must do after a message: yield an update, and/or ask the snapshot service. */
export interface Step {
  update?: BookUpdate;
  /** The book needs a snapshot (a gap): ask now unless a request is outstanding. */
  ask?: true;
}

const NOTHING: Step = {};

/**
 * The Clone pattern's slow joiner: a SUB's subscription reaches the publisher some time after connect(), and
 * what is published meanwhile never arrives. A snapshot taken before it does is followed by deltas the client
 * never gets: a gap, and a second snapshot, at every start. So a book's first snapshot is asked once its
 * topic delivers (a delta, or the heartbeat a quiet book gets every second), or this long (µs) after the
 * follower was made.
 */
const FIRST_ASK_US = 1_500_000;

/** Data applied this recently proves some arbiter live (arbiters' default heartbeat period). */
const LIVE_DATA_US = 1_000_000;

export class BookFollower {
  /** One epoch at a time on replica venues' books (docs/wire-format.md "Epochs"). */
  readonly replica = new BookReplica(10_000, true);
  private readonly staleAfterUs: number;
  private lastHeard: number;
  private lastApplied = 0;
  private readonly words = new Map<string, ArbiterWord>();
  private staleSince: number | undefined;
  /** When to leave the followed epoch for another (the rule the bridge follows too). */
  private readonly epochs = new EpochWatch(this.replica);
  /** A snapshot request is outstanding; when the next may go if the last failed (epoch µs). */
  asking = false;
  nextAskAt: number;
  /** The topic has delivered something: the subscription is up. */
  private heardTopic = false;

  constructor(
    readonly venue: string,
    readonly symbol: string,
    staleAfterMs: number,
    nowUs: number,
    private readonly log: Logger,
  ) {
    this.staleAfterUs = staleAfterMs * 1000;
    this.lastHeard = nowUs;
    this.nextAskAt = nowUs + FIRST_ASK_US;
  }

  /** Times the book left a silent arbiter's epoch for another's. */
  get epochSwitches(): number {
    return this.epochs.switches;
  }

  /** Whether the book is stale now (as the last update said). */
  get stale(): boolean {
    return this.staleSince !== undefined;
  }

  /** Whether a snapshot request is due by time alone (cheap: no epoch bookkeeping; the timer's question). */
  askDue(nowUs: number): boolean {
    return !this.asking && !this.replica.synced && nowUs >= this.nextAskAt;
  }

  /** Whether a snapshot request should go now (unsynced, none outstanding, not backing off). */
  wantsSnapshot(nowUs: number): boolean {
    const r = this.replica;
    // the arbiter whose numbering we follow fell silent while another speaks: take the other's book
    if (this.epochs.leaveSilentEpoch(nowUs))
      this.log.info(
        { book: `${this.venue}.${this.symbol}`, epoch: r.epoch },
        "the book's arbiter went silent; following another",
      );
    return !this.asking && !r.synced && nowUs >= this.nextAskAt;
  }

  /**
   * Staleness now: since when, or undefined while current. An arbiter that says "stale" is believed only
   * while no data came for a heartbeat period: a busy arbiter sends deltas, not heartbeats, so with hot-hot
   * arbiters the word of one cut off from its collectors must not outvote the other's live stream (the
   * region lab's partition once gave 7 false stale notices). One arbiter losing its feeds says so after
   * feedTimeoutMs without data, long past that period.
   */
  private judge(now: number): number | undefined {
    if (now - this.lastHeard > this.staleAfterUs) return this.lastHeard;
    if (now - this.lastApplied < LIVE_DATA_US) return undefined;
    let since: number | undefined;
    for (const w of this.words.values()) {
      if (now - w.at > this.staleAfterUs) continue;
      if (!w.stale || w.at < this.lastApplied) return undefined; // one arbiter live, or data since it spoke
      since = since === undefined ? w.since : Math.min(since, w.since);
    }
    return since;
  }

  /** The timer's question: did staleness change with time alone? Then the update saying so. */
  tick(nowUs: number): BookUpdate | undefined {
    if (!this.replica.synced) return undefined;
    const since = this.judge(nowUs);
    if ((since === undefined) === (this.staleSince === undefined)) return undefined;
    this.staleSince = since;
    const silent: ConsolidatedHeartbeat = {
      v: 1,
      type: 'heartbeat',
      venue: this.venue,
      symbol: this.symbol,
      seq: this.replica.seq,
      pubTime: 0,
      arbiter: '',
      stale: since !== undefined,
      ...(since === undefined ? {} : { staleSince: since }),
    };
    this.log.info(
      { book: `${this.venue}.${this.symbol}`, stale: since !== undefined },
      since === undefined ? 'book fresh again' : 'book stale',
    );
    return this.update(since === undefined ? 'fresh' : 'stale', silent, nowUs);
  }

  /** A snapshot reply (or why there is none: then retry in 500 ms; the periodic snapshot may heal first). */
  onReply(m: ConsolidatedMessage | Error, nowUs: number): Step {
    this.asking = false;
    if (m instanceof Error) {
      this.log.debug({ err: m.message, book: `${this.venue}.${this.symbol}` }, 'snapshot request failed');
      this.nextAskAt = nowUs + 500_000;
      return NOTHING;
    }
    // Synced meanwhile by the stream (the arbiter's first snapshot was published while we asked): the stream
    // is whole, so a reply ahead of it would only be a needless resync (its deltas are on their way). One at
    // our seq is still a free consistency check; a reply of another epoch is ignored by the replica anyway.
    const r = this.replica;
    if (r.synced && m.type === 'snapshot' && m.seq > r.seq && !r.isOther(m) && (m.offset ?? 0) === r.offset)
      return NOTHING;
    return this.onMessage(m, nowUs, false);
  }

  /** A message from the book topic (heard: it proves the arbiter alive), or a reply (not heard). */
  onMessage(m: ConsolidatedMessage | ConsolidatedHeartbeat, nowUs: number, heard = true): Step {
    if (heard) {
      this.lastHeard = nowUs;
      if (!this.heardTopic) {
        this.heardTopic = true;
        if (!this.replica.synced && !this.asking) this.nextAskAt = 0; // the subscription is up: ask now
      }
    }
    this.epochs.heard(m, nowUs, heard);
    const book = `${this.venue}.${this.symbol}`;
    if (m.type === 'heartbeat') {
      this.words.set(m.arbiter, { stale: m.stale, since: m.staleSince ?? nowUs, at: nowUs });
      if (this.words.size > 16) this.words.delete(this.words.keys().next().value!); // a few arbiters at most
      if (this.replica.onHeartbeat(m) === 'gap') {
        this.log.info(
          { book, seq: this.replica.seq, arbiterSeq: m.seq },
          'heartbeat ahead of our book: messages lost; resyncing',
        );
        return { ask: true };
      }
      const since = this.replica.synced ? this.judge(nowUs) : undefined;
      if (this.replica.synced && (since === undefined) !== (this.staleSince === undefined)) {
        this.staleSince = since;
        return { update: this.update(since === undefined ? 'fresh' : 'stale', m, nowUs) };
      }
      return NOTHING;
    }
    const v = this.replica.onMessage(m);
    if (v === 'gap') {
      this.log.info({ book, seq: this.replica.seq, got: m.seq }, 'gap in consolidated stream; resyncing by snapshot');
      return { ask: true };
    }
    if (v !== 'applied' && v !== 'reset') return NOTHING;
    this.epochs.took(v, nowUs); // (a snapshot of another epoch may just have become ours)
    // a snapshot that says the arbiter has no live feed is the old book: still stale
    if (m.type === 'snapshot' && m.stale) this.staleSince = m.staleSince ?? this.staleSince ?? nowUs;
    else {
      this.lastApplied = nowUs;
      this.staleSince = undefined;
    }
    return { update: this.update(m.type, m, nowUs) };
  }

  private update(kind: BookUpdate['kind'], m: ConsolidatedMessage | ConsolidatedHeartbeat, nowUs: number): BookUpdate {
    return {
      venue: this.venue,
      symbol: this.symbol,
      kind,
      stale: this.staleSince !== undefined,
      ...(this.staleSince === undefined ? {} : { staleSince: this.staleSince }),
      seq: this.replica.seq,
      book: this.replica.book,
      message: m,
      receivedAt: nowUs,
      gaps: this.replica.gaps,
    };
  }
}
