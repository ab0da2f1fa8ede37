/** Prometheus metrics of an arbiter: per book, per feed of a book, and the ingest counters. */
import type client from 'prom-client';
import type { ArbiterService } from '../arbiter/service.js';
import { liveCounter, liveGauge, liveTotal } from './exporter.js';

export function registerArbiterMetrics(reg: client.Registry, arb: ArbiterService): void {
  type Book = ReturnType<ArbiterService['latestStats']>[number];
  type Feed = Book['feeds'][number];
  type Sample = [Record<string, string>, number];
  const books = () => arb.latestStats();
  const bookL = ['venue', 'symbol'];
  const feedL = ['venue', 'symbol', 'collector'];
  const bookLabels = (s: Book) => ({ venue: s.venue, symbol: s.symbol });
  const feedLabels = (s: Book, x: Feed) => ({ venue: s.venue, symbol: s.symbol, collector: x.collector });
  // stats carry p50/p99 in µs; Prometheus wants seconds and a quantile label
  const twoQuantiles = (labels: Record<string, string>, p50us: number, p99us: number): Sample[] => [
    [{ ...labels, quantile: '0.5' }, p50us / 1e6],
    [{ ...labels, quantile: '0.99' }, p99us / 1e6],
  ];
  const perBook = (f: (s: Book) => number) => () => books().map((s): Sample => [bookLabels(s), f(s)]);
  const perFeed = (f: (x: Feed) => number) => () =>
    books().flatMap((s) => s.feeds.map((x): Sample => [feedLabels(s, x), f(x)]));

  const k = arb.counters;
  const bus = arb.opts.transport;
  if (bus.counters)
    liveCounter(
      reg,
      'bus_events_total',
      'Security and bound events of the bus (event: curve_handshakes_refused, curve_keys_refused, ingest_unbound_dropped, snapshot_requests_rate_limited, snapshot_requests_over_outstanding, snapshot_requests_not_allowed, snapshot_requests_busy, snapshot_replies_dropped, sends_dropped).',
      ['event'],
      () => Object.entries(bus.counters?.() ?? {}).map(([event, v]): Sample => [{ event }, v]),
    );
  liveTotal(
    reg,
    'arbiter_messages_received_total',
    'Ingest messages received (every copy of every collector).',
    () => k.received,
  );
  liveTotal(reg, 'arbiter_decode_errors_total', 'Ingest messages dropped as undecodable.', () => k.decodeErrors);
  liveTotal(
    reg,
    'arbiter_processing_errors_total',
    'Ingest messages whose processing failed (a bug; logged).',
    () => k.processErrors,
  );
  liveTotal(
    reg,
    'arbiter_unknown_symbol_total',
    'Ingest messages for a book not configured here.',
    () => k.unknownSymbol,
  );
  liveTotal(
    reg,
    'arbiter_peer_mismatch_total',
    'Ingest messages refused: collector field differs from the authenticated peer.',
    () => k.peerMismatch,
  );

  liveGauge(
    reg,
    'arbiter_books',
    'Books of this arbiter by state: synced, gap (a hole held for another feed to fill), waiting_snapshot (a snapshot requested), no_collector (no collector delivers the book yet).',
    ['state'],
    () => Object.entries(arb.bookStates()).map(([state, v]): Sample => [{ state }, v]),
  );
  liveGauge(
    reg,
    'arbiter_group_books',
    'Arbiter groups: books this instance holds per raw partition it owns (the balance of the group; none outside a group).',
    ['partition'],
    () => [...arb.booksByPartition()].map(([p, v]): Sample => [{ partition: String(p) }, v]),
  );
  liveTotal(
    reg,
    'arbiter_held_shed_total',
    'Held events dropped because all books together held more than arbiter.maxHeldTotal (those books resync).',
    () => k.shed,
  );
  liveTotal(
    reg,
    'arbiter_peer_snapshots_total',
    "Books taken from a peer arbiter's snapshot service instead of an exchange snapshot.",
    () => k.peerSnapshots,
  );
  liveTotal(
    reg,
    'arbiter_snapshots_moved_total',
    'Snapshot requests moved from a collector with no REST weight left for a while to one with weight (the first is told to drop it).',
    () => k.snapshotsMoved,
  );
  liveTotal(
    reg,
    'arbiter_peer_failures_total',
    'Peer arbiter requests that could not be served (collectors were asked instead).',
    () => k.peerFailures,
  );
  liveGauge(
    reg,
    'book_seq',
    'Last consolidated exchange sequence of the book.',
    bookL,
    perBook((s) => s.seq),
  );
  liveGauge(
    reg,
    'book_synced',
    '1 when the book is in sync (not waiting for a snapshot).',
    bookL,
    perBook((s) => (s.synced ? 1 : 0)),
  );
  liveGauge(
    reg,
    'book_stale',
    '1 when the book may be old: no live feed carries it, or it is resyncing (/healthz fails meanwhile).',
    bookL,
    perBook((s) => (s.stale ? 1 : 0)),
  );
  liveGauge(
    reg,
    'book_updates_per_second',
    'Consolidated updates per second (last stats interval).',
    bookL,
    perBook((s) => s.updatesPerSec),
  );
  liveCounter(
    reg,
    'book_resyncs_total',
    'Book rebuilds from a snapshot after a gap no feed filled.',
    bookL,
    perBook((s) => s.resyncs),
  );
  liveCounter(
    reg,
    'book_confirmation_total',
    "Books' states published under venues.<id>.publish: confirmed (how: confirmed, when a second feed's copy reached them; alone, no other copy to compare with; vouched, the venue's checksum covered every changed level).",
    [...bookL, 'how'],
    () =>
      books().flatMap((s): Sample[] => {
        const c = s.confirmation;
        if (c === undefined) return [];
        const l = bookLabels(s);
        return [
          [{ ...l, how: 'confirmed' }, c.confirmed],
          [{ ...l, how: 'alone' }, c.alone],
          [{ ...l, how: 'vouched' }, c.vouched],
        ];
      }),
  );
  liveGauge(
    reg,
    'book_confirmation_wait_seconds',
    "publish: confirmed: a state's first copy -> the second copy that confirmed it (the latency the policy adds), recent window.",
    [...bookL, 'quantile'],
    () =>
      books().flatMap((s) =>
        s.confirmation === undefined ? [] : twoQuantiles(bookLabels(s), s.confirmation.waitP50, s.confirmation.waitP99),
      ),
  );
  liveCounter(
    reg,
    'book_refused_total',
    'Messages of this book refused as errors of their feed (reason: implausible, crossed), snapshots held back (snapshot_unconfirmed), feeds forgotten (feed_evicted) or refused at the bound (feed_refused).',
    [...bookL, 'reason'],
    () =>
      books().flatMap((s): Sample[] => {
        const r = s.refused;
        if (r === undefined) return [];
        const l = bookLabels(s);
        return [
          [{ ...l, reason: 'implausible' }, r.implausible],
          [{ ...l, reason: 'crossed' }, r.crossed],
          [{ ...l, reason: 'snapshot_unconfirmed' }, r.snapshotsUnconfirmed],
          [{ ...l, reason: 'feed_evicted' }, r.feedsEvicted],
          [{ ...l, reason: 'feed_refused' }, r.feedsRefused],
        ];
      }),
  );
  liveGauge(
    reg,
    'arbiter_processing_seconds',
    'Time inside the arbiter from a message arrival to its consolidated publish (recent window).',
    [...bookL, 'quantile'],
    () => books().flatMap((s) => twoQuantiles(bookLabels(s), s.processingP50, s.processingP99)),
  );

  liveGauge(
    reg,
    'feed_connected',
    '1 when the collector is connected and was heard from recently.',
    feedL,
    perFeed((f) => (f.connected ? 1 : 0)),
  );
  liveCounter(
    reg,
    'feed_messages_total',
    'Messages from this feed for this book.',
    feedL,
    perFeed((f) => f.messages),
  );
  liveCounter(
    reg,
    'feed_duplicates_total',
    "This feed's copies that arrived after another feed's (dropped).",
    feedL,
    perFeed((f) => f.duplicates),
  );
  liveCounter(
    reg,
    'feed_won_total',
    "This feed's copies that arrived first (published).",
    feedL,
    perFeed((f) => f.won),
  );
  liveCounter(
    reg,
    'feed_errors_total',
    "This feed's messages refused as errors (sequence jumps past the plausibility window, copies crossing the book).",
    feedL,
    perFeed((f) => f.errors ?? 0),
  );
  liveCounter(
    reg,
    'feed_gaps_filled_total',
    'Gaps in this feed that another feed had already filled.',
    feedL,
    perFeed((f) => f.gapsFilled),
  );
  liveCounter(
    reg,
    'feed_checksum_mismatches_total',
    "This feed's events whose venue checksum the consolidated book failed (each resynced the book; OKX).",
    feedL,
    perFeed((f) => f.checksumMismatches ?? 0),
  );
  liveCounter(
    reg,
    'feed_disagreements_total',
    "Times this feed's copy or book said something else than the other feeds' (silent corruption caught by comparison; each resynced a book or the feed).",
    feedL,
    perFeed((f) => f.disagreements ?? 0),
  );
  liveCounter(
    reg,
    'feed_snapshots_requested_total',
    'REST snapshots this arbiter asked this collector for.',
    feedL,
    perFeed((f) => f.resyncs),
  );
  liveGauge(
    reg,
    'feed_lag_seconds',
    "This feed's lag behind the first copy of the same event (last stats interval).",
    [...feedL, 'quantile'],
    () => books().flatMap((s) => s.feeds.flatMap((f) => twoQuantiles(feedLabels(s, f), f.lagP50, f.lagP99))),
  );
}
