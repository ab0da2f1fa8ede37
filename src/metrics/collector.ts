/** Prometheus metrics of a collector: its venue connection per symbol and its publish counters. */
import type client from 'prom-client';
import type { Collector } from '../collector/collector.js';
import { liveCounter, liveGauge, liveTotal } from './exporter.js';

export function registerCollectorMetrics(reg: client.Registry, c: Collector): void {
  const perSymbol = (f: (x: ReturnType<Collector['status']>['feeds'][number]) => number) => () =>
    c.status().feeds.map((x): [Record<string, string>, number] => [{ symbol: x.symbol }, f(x)]);
  const L = ['symbol'];
  liveGauge(
    reg,
    'collector_connected',
    '1 while the websocket to the venue is open.',
    L,
    perSymbol((x) => (x.connected ? 1 : 0)),
  );
  liveGauge(
    reg,
    'collector_idle_seconds',
    'Time since the last message from the venue (absent while disconnected).',
    L,
    () =>
      c
        .status()
        .feeds.filter((x) => x.idleMs >= 0)
        .map((x): [Record<string, string>, number] => [{ symbol: x.symbol }, x.idleMs / 1000]),
  );
  liveCounter(
    reg,
    'collector_venue_messages_total',
    'Depth messages received from the venue.',
    L,
    perSymbol((x) => x.messages),
  );
  liveCounter(
    reg,
    'collector_reconnects_total',
    'Websocket reconnects.',
    L,
    perSymbol((x) => x.reconnects),
  );
  liveCounter(
    reg,
    'collector_gaps_total',
    "Gaps in this connection's own sequence.",
    L,
    perSymbol((x) => x.gaps),
  );
  liveCounter(
    reg,
    'collector_snapshots_total',
    'REST snapshots fetched.',
    L,
    perSymbol((x) => x.snapshots),
  );
  const k = c.counters;
  liveTotal(reg, 'collector_published_total', 'Events published onto the bus.', () => k.published);
  liveTotal(
    reg,
    'collector_parse_errors_total',
    'Venue frames that could not be parsed (logged, dropped).',
    () => k.parseErrors,
  );
  liveTotal(reg, 'collector_snapshot_errors_total', 'Failed REST snapshot fetches.', () => k.snapshotErrors);
  liveTotal(
    reg,
    'collector_snapshots_cancelled_total',
    'Snapshot requests an arbiter moved to another collector while they waited for REST weight here (no weight spent).',
    () => k.snapshotsCancelled,
  );
  liveTotal(
    reg,
    'collector_connection_gaps_total',
    "Skips in a venue's per-connection message numbering (Coinbase sequence_num); each resyncs that connection's books.",
    () => k.connectionGaps,
  );
  liveTotal(
    reg,
    'collector_resyncs_delayed_total',
    "Websocket resyncs deferred because a connection's subscribe budget (VenueAdapter.subscribeLimit) was spent.",
    () => k.resyncsDelayed,
  );
  liveTotal(reg, 'collector_rest_weight_total', 'REST request weight spent (requests sent).', () => k.restWeight);
  liveTotal(
    reg,
    'collector_rest_rate_limited_total',
    'REST answers 429 (over the venue limit): should stay 0.',
    () => k.rateLimited,
  );
  liveTotal(reg, 'collector_rest_banned_total', 'REST answers 418 (IP banned): should stay 0.', () => k.banned);
  liveGauge(reg, 'collector_rest_weight_used', "REST weight counted in the venue's current window.", [], () => [
    [{}, c.restBudget().used],
  ]);
  liveGauge(reg, 'collector_rest_weight_limit', 'REST weight the collector may spend per window.', [], () => [
    [{}, c.restBudget().limit],
  ]);
  liveGauge(
    reg,
    'collector_rest_blocked_seconds',
    'Time until REST may resume after a 429/418 (0: not blocked).',
    [],
    () => [[{}, c.restBudget().blockedMs / 1000]],
  );
}
