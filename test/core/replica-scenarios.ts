/**
 * The replica merge's property runs (replicaArbiter.test.ts, replicaArbiter.confirm.test.ts): a venue's book
 * changes (ops), how many feeds carry them, the order their messages arrive in, and faults on the way.
 */
import fc from 'fast-check';

export interface ReplicaRun {
  ops: { side: boolean; tick: number; size: number }[];
  feeds: number;
  order: number[];
  faults: { feed: number; at: number; kind: 'bus' | 'venue' | 'corrupt' }[];
}

/** Runs of up to `ops` changes, `order` deliveries and `faults` faults, on 1-3 feeds. */
export function replicaRuns(limits: { ops: number; order: number; faults: number }): fc.Arbitrary<ReplicaRun> {
  return fc.record({
    ops: fc.array(
      fc.record({
        side: fc.boolean(),
        tick: fc.integer({ min: 0, max: 12 }),
        size: fc.integer({ min: 0, max: 3 }),
      }),
      { minLength: 1, maxLength: limits.ops },
    ),
    feeds: fc.integer({ min: 1, max: 3 }),
    order: fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: limits.order }),
    faults: fc.array(
      fc.record({
        feed: fc.integer({ min: 0, max: 2 }),
        at: fc.nat(limits.ops),
        kind: fc.constantFrom('bus' as const, 'venue' as const, 'corrupt' as const),
      }),
      { maxLength: limits.faults },
    ),
  });
}
