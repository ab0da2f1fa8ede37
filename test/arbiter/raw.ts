/** Raw collector events for the arbiter service tests (what a collector would publish on raw.*). */
import { encodeCollectorEvent } from '../../src/wire/messages.js';

/** An empty Binance delta covering exactly `seq`, as collector `collector` received it. */
export function rawDelta(symbol: string, seq: number, collector = 'a'): string {
  return encodeCollectorEvent({
    type: 'delta',
    venue: 'binance',
    symbol,
    first: seq,
    last: seq,
    exchTime: 0,
    recvTime: 0,
    collector,
    bids: [],
    asks: [],
  });
}

/** A one-level Binance snapshot at `seq` from collector a. */
export function rawSnapshot(symbol: string, seq: number): string {
  return encodeCollectorEvent({
    type: 'snapshot',
    venue: 'binance',
    symbol,
    seq,
    recvTime: 0,
    collector: 'a',
    bids: [[1, 1]],
    asks: [[2, 1]],
  });
}
