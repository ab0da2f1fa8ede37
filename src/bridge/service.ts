/**
 * The bridge service: forwards the consolidated stream (book.*, stats.*, optionally ctl.*) from one bus to
 * another, e.g. the low-latency ZeroMQ stream into Kafka for durable fan-out, or Kafka into a ZeroMQ
 * endpoint near the strategies. `bookwire bridge` (src/cli/bridge.ts) runs it.
 *
 * The bridge is a client of the source and an arbiter-like publisher on the destination:
 *  - per book it keeps a BookReplica fed from the source stream and forwards only what chains onto it
 *    (duplicates from hot-hot arbiters are dropped, so the destination carries one copy);
 *  - a gap in the source stream (ZeroMQ drops at its high-water mark, a reconnect) is never forwarded:
 *    the bridge holds the deltas, asks the source's snapshot service (ZeroMQ ROUTER or the Kafka
 *    snapshot topic), and publishes the reply as a `resync` snapshot followed by the held deltas that
 *    chain, so destination clients see a snapshot and then gap-free deltas;
 *  - a replica venue's book (Kraken, Coinbase, Gemini v2: every message carries the `epoch` of the arbiter
 *    numbering it) is followed one epoch at a time, as the SDK follows it (BookReplica in one-epoch mode,
 *    EpochWatch's switch rule): hot-hot arbiters' other numberings are not forwarded, and when the followed
 *    arbiter falls silent the bridge takes another's snapshot and publishes it, then that epoch's deltas;
 *  - on a ZeroMQ destination it answers snapshot requests from its replicas (the Clone pattern works
 *    for clients of the bridged endpoint); on a Kafka destination the Kafka publisher copies every
 *    book snapshot into the compacted snapshot topic, which is what Kafka clients read.
 * Only the transport interface is used here: no zeromq or kafkajs import.
 */
import { BookReplica, EpochWatch } from '../core/replica.js';
import { nowMicros } from '../core/clock.js';
import { consolidatedVerdict } from '../core/sequence.js';
import { silentLogger, type Logger } from '../log.js';
import type { BusPublisher, BusSubscriber, SnapshotClient, SnapshotServer, Transport } from '../transport/types.js';
import {
  answerSnapshotQuery,
  decodeConsolidated,
  isHeartbeat,
  encode,
  epochOfPayload,
  type ConsolidatedDelta,
  type ConsolidatedMessage,
  type ConsolidatedSnapshot,
  type SnapshotQuery,
} from '../wire/messages.js';

export interface BridgeOptions {
  source: Transport;
  destination: Transport;
  /** Bus-topic prefixes to forward from the source's consolidated channel (default book. and stats.). */
  topics?: string[];
  /** Answer snapshot requests on the destination from the bridge's replicas (a ZeroMQ destination). */
  serveSnapshots?: boolean;
  /** Timeout of one snapshot request to the source (ms, default 2000). */
  snapshotTimeoutMs?: number;
  /** Least time between two snapshot requests for one book (ms, default 500). */
  snapshotRetryMs?: number;
  /** Deltas held per book while waiting for a snapshot (oldest dropped past it). */
  maxHeld?: number;
  logger?: Logger;
}

export const DEFAULT_BRIDGE_TOPICS = ['book.', 'stats.'];

interface BookState {
  topic: string;
  replica: BookReplica;
  /** When to leave the followed epoch of a replica venue's book (inert on sequenced venues' books). */
  epochs: EpochWatch;
  /** Ours, not the replica's: the replica is only the book and its seq (see onDelta). */
  synced: boolean;
  /** Deltas (with their original bytes) waiting for a snapshot. */
  held: { d: ConsolidatedDelta; payload: Buffer }[];
  requesting: boolean;
  nextRequestAt: number;
}

export interface BridgeCounters {
  received: number;
  forwarded: number;
  /** Book messages not forwarded because the destination already has them (seq <= ours). */
  duplicates: number;
  /** Gaps seen in the source stream (each healed by a snapshot, never forwarded). */
  gaps: number;
  /** Snapshots obtained from the source's snapshot service and published as `resync`. */
  resyncs: number;
  snapshotRequests: number;
  snapshotFailures: number;
  decodeErrors: number;
  /** Deltas dropped from a full hold buffer (healed by the snapshot that follows). */
  heldDropped: number;
  /** Snapshot requests answered on the destination. */
  snapshotsServed: number;
  /** Book messages not forwarded because they are of another epoch than the one followed (another arbiter's numbering). */
  otherEpoch: number;
  /** Times a book left its silent arbiter's epoch for another's (each published as a snapshot of the new one). */
  epochSwitches: number;
}

export class Bridge {
  readonly counters: BridgeCounters = {
    received: 0,
    forwarded: 0,
    duplicates: 0,
    gaps: 0,
    resyncs: 0,
    snapshotRequests: 0,
    snapshotFailures: 0,
    decodeErrors: 0,
    heldDropped: 0,
    snapshotsServed: 0,
    otherEpoch: 0,
    epochSwitches: 0,
  };
  private readonly books = new Map<string, BookState>();
  private readonly log: Logger;
  private sub?: BusSubscriber;
  private pub?: BusPublisher;
  private snapServer?: SnapshotServer;
  private snapClient?: Promise<SnapshotClient>;
  private loop?: Promise<void>;
  private stopped = false;

  constructor(private readonly o: BridgeOptions) {
    this.log = o.logger ?? silentLogger;
  }

  async start(): Promise<void> {
    // Destination first: nothing read from the source is lost while it connects.
    this.pub = await this.o.destination.publisher('book');
    if (this.o.serveSnapshots)
      this.snapServer = await this.o.destination.snapshotServer((topic, payload) => this.answer(topic, payload));
    this.sub = await this.o.source.subscriber('book', this.o.topics ?? DEFAULT_BRIDGE_TOPICS);
    this.loop = this.run(this.sub);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.sub?.close();
    await this.loop;
    await this.pub?.flush();
    await this.pub?.close();
    await this.snapServer?.close();
    const c = await this.snapClient?.catch(() => undefined);
    await c?.close();
  }

  /** The bridge's copy of one book (for tests and status). */
  replicaOf(topic: string): { synced: boolean; seq: number; replica: BookReplica } | undefined {
    const st = this.books.get(topic);
    return st && { synced: st.synced, seq: st.replica.seq, replica: st.replica };
  }

  private async run(sub: BusSubscriber): Promise<void> {
    try {
      for await (const m of sub) {
        this.counters.received++;
        if (m.topic.startsWith('book.')) this.onBook(m.topic, m.payload);
        else this.forward(m.topic, m.payload);
      }
    } catch (e) {
      if (!this.stopped) this.log.error({ err: (e as Error).message }, 'bridge source failed');
    }
  }

  private forward(topic: string, payload: Buffer | string): void {
    this.pub!.send(topic, payload);
    this.counters.forwarded++;
  }

  private state(topic: string): BookState {
    let st = this.books.get(topic);
    if (!st) {
      // one epoch at a time; the bridge holds deltas itself (with their bytes), never in the replica
      const replica = new BookReplica(0, true);
      st = {
        topic,
        replica,
        epochs: new EpochWatch(replica),
        synced: false,
        held: [],
        requesting: false,
        nextRequestAt: 0,
      };
      this.books.set(topic, st);
    }
    return st;
  }

  private onBook(topic: string, payload: Buffer): void {
    if (isHeartbeat(payload)) {
      // liveness of the source arbiters, passed on as it is: the destination's clients judge staleness by it;
      // on a book followed by epoch, only its arbiter's (the other's numbering means nothing downstream)
      const st = this.books.get(topic);
      if (st?.replica.epoch !== undefined) {
        const h = { type: 'heartbeat', epoch: epochOfPayload(payload) };
        this.followEpoch(st, h, nowMicros());
        if (st.replica.isOther(h)) {
          this.counters.otherEpoch++;
          return;
        }
      }
      return this.forward(topic, payload);
    }
    let m: ConsolidatedMessage;
    try {
      m = decodeConsolidated(payload);
    } catch (e) {
      this.counters.decodeErrors++;
      if (this.counters.decodeErrors <= 10)
        this.log.warn({ topic, err: (e as Error).message }, 'undecodable book message dropped');
      return;
    }
    const st = this.state(topic);
    this.followEpoch(st, m, nowMicros());
    if (m.type === 'snapshot') this.onSnapshot(st, m, payload);
    else this.onDelta(st, m, payload);
  }

  /**
   * Hear a message of the book for the epoch switch rule; when it says the followed arbiter fell silent while
   * another speaks, drop its book and get another's snapshot (published as the first message of the new epoch).
   */
  private followEpoch(st: BookState, m: { type: string; epoch?: string }, nowUs: number): void {
    st.epochs.heard(m, nowUs);
    if (!st.epochs.leaveSilentEpoch(nowUs)) return;
    this.counters.epochSwitches++;
    this.log.info({ topic: st.topic, epoch: st.replica.epoch }, "the book's arbiter went silent; following another");
    st.synced = false;
    this.requestSnapshot(st);
  }

  private onSnapshot(st: BookState, s: ConsolidatedSnapshot, payload: Buffer): void {
    if (st.replica.isOther(s)) {
      this.counters.otherEpoch++; // another arbiter's numbering, while we follow one
      return;
    }
    if (st.synced && s.seq < st.replica.seq) {
      this.counters.duplicates++; // a second arbiter behind the first
      return;
    }
    // Same seq as ours: the periodic snapshot after the delta we forwarded. Forward it anyway: the
    // destination's late joiners (and Kafka's snapshot topic) live on these.
    this.resetTo(st, s);
    this.forward(st.topic, payload);
    this.drainHeld(st);
  }

  private onDelta(st: BookState, d: ConsolidatedDelta, payload: Buffer): void {
    if (!st.synced) {
      this.hold(st, d, payload);
      this.requestSnapshot(st);
      return;
    }
    if (st.replica.isOther(d)) {
      this.counters.otherEpoch++;
      return;
    }
    const seq = st.replica.seq;
    const verdict = consolidatedVerdict(seq, d);
    if (verdict === 'stale') {
      this.counters.duplicates++;
      return;
    }
    if (verdict === 'apply') {
      st.replica.book.apply(d.bids, d.asks);
      st.replica.seq = d.seq;
      st.epochs.took('applied', nowMicros());
      this.forward(st.topic, payload);
      return;
    }
    // A gap: forwarding it would break every destination client; heal it from the source first.
    this.counters.gaps++;
    this.log.info(
      { topic: st.topic, seq, prev: d.prev, got: d.seq },
      'gap in the source stream; resyncing from its snapshot service',
    );
    st.synced = false;
    st.replica.release(); // (so that its one-epoch check, too, knows we are unsynced)
    this.hold(st, d, payload);
    this.requestSnapshot(st);
  }

  private resetTo(st: BookState, s: ConsolidatedSnapshot): void {
    st.replica.synced = false; // the replica's own staleness check is ours (above)
    st.replica.onSnapshot(s); // (its epoch is the one followed from now)
    st.epochs.took('reset', nowMicros());
    st.synced = true;
  }

  private hold(st: BookState, d: ConsolidatedDelta, payload: Buffer): void {
    if (st.held.length >= (this.o.maxHeld ?? 100_000)) {
      st.held.shift();
      this.counters.heldDropped++;
    }
    st.held.push({ d, payload });
  }

  /** After a snapshot: forward the held deltas that chain; one that does not is a new gap. */
  private drainHeld(st: BookState): void {
    const held = st.held;
    st.held = [];
    for (let i = 0; i < held.length; i++) {
      if (!st.synced) {
        st.held.push(...held.slice(i));
        break;
      }
      this.onDelta(st, held[i].d, held[i].payload);
    }
  }

  private requestSnapshot(st: BookState): void {
    if (st.requesting || this.stopped) return;
    const wait = st.nextRequestAt - Date.now();
    st.requesting = true;
    void (async () => {
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (this.stopped || st.synced) {
        st.requesting = false;
        return;
      }
      st.nextRequestAt = Date.now() + (this.o.snapshotRetryMs ?? 500);
      this.counters.snapshotRequests++;
      const [venue, symbol] = splitBook(st.topic);
      let reply: ConsolidatedMessage | undefined;
      try {
        const client = await (this.snapClient ??= this.o.source.snapshotClient());
        const buf = await client.request(
          st.topic,
          encode({ v: 1, type: 'snapshot-query', venue, symbol } satisfies SnapshotQuery),
          this.o.snapshotTimeoutMs ?? 2000,
        );
        reply = decodeConsolidated(buf);
      } catch (e) {
        this.counters.snapshotFailures++;
        this.log.debug(
          { topic: st.topic, err: (e as Error).message },
          'snapshot request to the source failed; will retry',
        );
      }
      st.requesting = false;
      if (this.stopped) return;
      if (reply?.type === 'snapshot' && !st.synced) {
        // The source's `reply` is never published as such; on the destination it is a rebuild.
        const s: ConsolidatedSnapshot = { ...reply, reason: 'resync' };
        st.epochs.heard(s, nowMicros(), false);
        this.counters.resyncs++;
        this.resetTo(st, s);
        this.forward(st.topic, encode(s));
        this.drainHeld(st);
      }
      // Still not synced (failed, or the reply was older than what we hold): try again later,
      // unless an in-stream snapshot heals us first.
      if (!st.synced) this.requestSnapshot(st);
    })();
  }

  private answer(topic: string, payload: Buffer): Buffer {
    return answerSnapshotQuery(
      payload,
      (q) => (topic.startsWith('book.') ? topic.slice('book.'.length) : `${q.venue}.${q.symbol}`),
      (name) => {
        const st = this.books.get(`book.${name}`);
        return (
          st && {
            synced: st.synced,
            snapshot: (): ConsolidatedSnapshot => {
              const { bids, asks } = st.replica.book.snapshot();
              const [venue, symbol] = splitBook(`book.${name}`);
              this.counters.snapshotsServed++;
              return {
                v: 1,
                type: 'snapshot',
                venue,
                symbol,
                seq: st.replica.seq,
                // the numbering the seq is in (replica venues): a client follows the epoch of its snapshot
                ...(st.replica.epoch === undefined ? {} : { epoch: st.replica.epoch }),
                bids,
                asks,
                exchTime: 0,
                pubTime: nowMicros(),
                reason: 'reply',
              };
            },
          }
        );
      },
    );
  }
}

function splitBook(topic: string): [string, string] {
  const rest = topic.slice('book.'.length);
  const dot = rest.indexOf('.');
  return dot < 0 ? [rest, ''] : [rest.slice(0, dot), rest.slice(dot + 1)];
}
