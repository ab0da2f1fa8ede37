/**
 * BookReplica: follows a consolidated stream (book.<venue>.<symbol>) and keeps an exact copy of the
 * arbiter's book, or knows that it does not. Pure; the client SDK and the recorder's replay drive it.
 *
 * Rules (docs/wire-format.md): a snapshot replaces the book unless it is older than what we have;
 * a delta applies when it covers seq+1 (first <= seq+1 <= delta.seq) -- for one arbiter that is
 * exactly prev === seq; with hot-hot arbiters a copy we already have is stale and dropped; anything
 * else is a gap: the replica stops applying until a snapshot arrives, never guessing.
 */
import { OrderBook } from './book.js';
import { consolidatedVerdict } from './sequence.js';
import type { Level } from './types.js';
import type {
  ConsolidatedDelta,
  ConsolidatedHeartbeat,
  ConsolidatedMessage,
  ConsolidatedSnapshot,
} from './consolidated.js';

const CHECK_DEPTH = 20;

/**
 * How long the epoch a reader follows may be silent, while another speaks, before the reader takes another
 * arbiter's book (µs; arbiters send a heartbeat every second at least). One rule for every reader: the SDK's
 * follower and the recorder (docs/wire-format.md, "Epochs").
 */
export const EPOCH_SILENT_US = 2_500_000;

/**
 * The second half of the switch rule: a followed epoch silent for EPOCH_SILENT_US is given up, or sooner, when
 * another epoch published this many deltas over at least EPOCH_BUSY_US since ours last spoke (both arbiters
 * publish the same venue updates, so a busy other epoch means ours has stopped).
 */
export const EPOCH_BUSY_DELTAS = 5;
export const EPOCH_BUSY_US = 250_000;

/** 'other': a message of another epoch than the one followed (another arbiter's numbering): ignored. */
export type ReplicaVerdict = 'applied' | 'reset' | 'stale' | 'gap' | 'buffered' | 'other';

export class BookReplica {
  readonly book = new OrderBook();
  seq = -1;
  /** The numbering followed (ConsolidatedDelta.offset): 0 until the venue resets its ids. */
  offset = 0;
  /**
   * The arbiter numbering followed on a replica venue's book (ConsolidatedDelta.epoch; undefined on
   * sequenced venues' books): while synced, messages of another epoch are 'other' and ignored.
   */
  epoch: string | undefined;
  synced = false;
  gaps = 0;
  /** In-stream snapshots at our own seq whose top levels differed from our book (should stay 0). */
  divergences = 0;
  /** Deltas held while unsynced, to replay on top of the next snapshot (bounded). */
  private held: ConsolidatedDelta[] = [];

  constructor(
    private readonly maxHeld = 10_000,
    /**
     * Live, hot-hot (the SDK's follower): while synced, messages of another epoch than the one followed are
     * 'other' and ignored; the driver decides when to release() and take another. Off (recordings, which
     * hold one epoch at a time, switching by snapshot): epochs are not looked at.
     */
    private readonly oneEpoch = false,
  ) {}

  /** Whether a message is of another epoch than the one followed (one epoch at a time, while synced). */
  isOther(m: { epoch?: string }): boolean {
    return this.oneEpoch && this.synced && m.epoch !== this.epoch;
  }

  onMessage(m: ConsolidatedMessage): ReplicaVerdict {
    return m.type === 'delta' ? this.onDelta(m) : this.onSnapshot(m);
  }

  /**
   * A heartbeat says where its arbiter's book is. Synced below it in the same numbering means the messages
   * in between were lost (the last ones before a quiet spell: nothing else would reveal it): a gap.
   */
  onHeartbeat(h: ConsolidatedHeartbeat): ReplicaVerdict {
    if (this.isOther(h)) return 'other';
    if (!this.synced || (h.offset ?? 0) !== this.offset || h.seq <= this.seq) return 'stale';
    this.synced = false;
    this.gaps++;
    this.held = [];
    return 'gap';
  }

  /** Stop following: the next snapshot, of any epoch, is taken (a follower whose arbiter fell silent). */
  release(): void {
    this.synced = false;
    this.held = [];
  }

  onSnapshot(s: ConsolidatedSnapshot): ReplicaVerdict {
    if (this.isOther(s)) return 'other';
    if (this.synced && s.seq < this.seq) return 'stale';
    this.offset = s.offset ?? 0;
    this.epoch = s.epoch;
    // Same seq as ours (the periodic snapshot after the delta we applied): a free consistency check.
    if (this.synced && s.seq === this.seq) {
      if (sameLevels(this.book.top(CHECK_DEPTH), s)) return 'stale';
      this.divergences++;
    }
    this.book.applySnapshot(s.bids, s.asks);
    this.seq = s.seq;
    this.synced = true;
    const held = this.held;
    this.held = [];
    for (const d of held) this.onDelta(d);
    return 'reset';
  }

  onDelta(d: ConsolidatedDelta): ReplicaVerdict {
    if (!this.synced) {
      if (this.held.length >= this.maxHeld) this.held.shift();
      this.held.push(d);
      return 'buffered';
    }
    // (held ones of another epoch end here after the snapshot)
    if (this.isOther(d)) return 'other';
    // Another numbering: the venue reset its ids. The reset itself chains on our seq (prev); past it, an arbiter
    // numbering differently (it saw another reset) can only be compared by seq.
    const offset = d.offset ?? 0;
    const verdict =
      offset === this.offset
        ? consolidatedVerdict(this.seq, d)
        : d.prev === this.seq
          ? 'apply'
          : d.seq <= this.seq
            ? 'stale'
            : 'gap';
    if (verdict === 'apply') this.offset = offset;
    if (verdict === 'stale') return 'stale';
    if (verdict === 'apply') {
      this.book.apply(d.bids, d.asks);
      this.seq = d.seq;
      return 'applied';
    }
    this.synced = false;
    this.gaps++;
    this.held = [d];
    return 'gap';
  }
}

/**
 * When a live reader of a replica venue's book leaves the epoch it follows for another (docs/wire-format.md
 * "Epochs", rule 2): its epoch silent for EPOCH_SILENT_US while another is heard, or another published
 * EPOCH_BUSY_DELTAS deltas over EPOCH_BUSY_US since ours last spoke. The one implementation of the rule, for
 * the SDK's follower and the bridge: they report what they hear and take, and ask leaveSilentEpoch().
 */
export class EpochWatch {
  /** When a message of the followed epoch, and of another epoch, was last heard (µs). */
  private ownAt = 0;
  private otherAt = 0;
  /** Deltas of other epochs since ours last spoke. */
  private otherDeltas = 0;
  /** Times the book left a silent arbiter's epoch for another's. */
  switches = 0;

  constructor(private readonly replica: BookReplica) {}

  /** A message of the book, before the replica takes it: heard on its topic, or a snapshot reply (not heard). */
  heard(m: { type: string; epoch?: string }, nowUs: number, heard = true): void {
    if (m.epoch === undefined) return;
    if (m.epoch === this.replica.epoch) {
      this.ownAt = nowUs;
      this.otherDeltas = 0;
    } else if (heard) {
      this.otherAt = nowUs;
      if (m.type === 'delta') this.otherDeltas++;
    }
  }

  /** The replica took a message: applied a delta, or reset to a snapshot (perhaps of another epoch, now ours). */
  took(v: 'applied' | 'reset', nowUs: number): void {
    this.ownAt = nowUs;
    if (v === 'reset') this.otherDeltas = 0;
  }

  /** The rule: when it says so, release the replica (its next snapshot, of any epoch, is taken) and say true. */
  leaveSilentEpoch(nowUs: number): boolean {
    const r = this.replica;
    const ownSilentUs = nowUs - this.ownAt;
    const leave =
      r.synced &&
      r.epoch !== undefined &&
      nowUs - this.otherAt < EPOCH_SILENT_US &&
      (ownSilentUs > EPOCH_SILENT_US || (this.otherDeltas >= EPOCH_BUSY_DELTAS && ownSilentUs > EPOCH_BUSY_US));
    if (!leave) return false;
    r.release();
    this.switches++;
    this.otherDeltas = 0;
    return true;
  }
}

function sameLevels(a: { bids: Level[]; asks: Level[] }, s: { bids: Level[]; asks: Level[] }): boolean {
  const eq = (x: Level[], y: Level[]) => {
    const n = Math.min(CHECK_DEPTH, y.length);
    if (x.length !== n) return false;
    for (let i = 0; i < n; i++) if (x[i][0] !== y[i][0] || x[i][1] !== y[i][1]) return false;
    return true;
  };
  return eq(a.bids, s.bids) && eq(a.asks, s.asks);
}
