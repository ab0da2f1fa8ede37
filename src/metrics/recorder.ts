/** Prometheus metrics of a recorder and of its optional PostgreSQL sink. */
import type client from 'prom-client';
import type { Recorder } from '../recorder/recorder.js';
import type { PostgresSink } from '../recorder/postgres.js';
import { liveGauge, liveTotal } from './exporter.js';

export function registerRecorderMetrics(reg: client.Registry, rec: Recorder, sink?: PostgresSink): void {
  const k = rec.counters;
  const total = (name: string, help: string, read: () => number) => liveTotal(reg, name, help, read);
  total('recorder_received_total', 'Messages received from the bus.', () => k.received);
  total('recorder_recorded_total', 'Records written to segment files.', () => k.recorded);
  total(
    'recorder_gaps_total',
    'Sequence gaps seen in consolidated streams (each written as a gap marker).',
    () => k.gaps,
  );
  total('recorder_behind_total', 'Times the recorder fell behind the disk and paused reading the bus.', () => k.behind);
  total(
    'recorder_duplicates_total',
    'Consolidated messages seen twice (hot-hot arbiters), written once.',
    () => k.duplicates,
  );
  total('recorder_undecodable_total', 'Messages that could not be decoded (skipped, logged).', () => k.undecodable);
  total('recorder_write_errors_total', 'Failed segment writes.', () => k.writeErrors);
  if (!sink) return;
  const s = () => sink.stats();
  total(
    'postgres_rows_total',
    'Rows committed to PostgreSQL (raw, book and gap tables).',
    () => s().rawRows + s().bookRows + s().gapRows,
  );
  total('postgres_batches_total', 'COPY batches committed.', () => s().batches);
  total(
    'postgres_dropped_total',
    'Records dropped because the sink queue was full (a gap row marks them).',
    () => s().dropped,
  );
  total('postgres_errors_total', 'Failed batches (retried).', () => s().errors);
  liveGauge(reg, 'postgres_queue_bytes', 'Bytes waiting for the database.', [], () => [[{}, s().queueBytes]]);
  liveGauge(reg, 'postgres_connected', '1 while connected to the database.', [], () => [[{}, s().connected ? 1 : 0]]);
}
