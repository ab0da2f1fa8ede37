/**
 * Books from a peer arbiter (the ZeroMQ Guide's Clone pattern): a restarted or resyncing arbiter asks a
 * running peer's snapshot service for the consolidated book instead of asking a collector for an exchange
 * snapshot, so a restart costs the venue no REST weight (issue 13). The peer's book is one more snapshot
 * source for the core: it is adopted by the same rules as an exchange snapshot (it must chain onto what the
 * collectors deliver, and another delivering feed must bear its id out), so a wrong peer cannot do more than
 * a wrong collector could. Peers are configured endpoints, authenticated by CURVE off loopback.
 * Books of sequenced venues only: a replica venue's book (Kraken, Coinbase, Gemini v2) is numbered by each
 * arbiter its own way and its feeds resync from their own websocket snapshots (no REST), so a restarted
 * arbiter starts a new epoch of it (docs/wire-format.md "Epochs"; test/e2e/restart-peer-replica.test.ts).
 */
import type { BookSnapshot } from '../core/types.js';
import { PEER_FEED } from '../core/arbiter.js';
import type { ConsolidatedSnapshot } from '../core/consolidated.js';
import { nowMicros } from '../core/clock.js';
import type { SnapshotClient, Transport } from '../transport/types.js';
import { querySnapshot } from '../wire/messages.js';
import { Pacer } from '../util/pacer.js';

export { PEER_FEED };

export type PeerAnswer = { snap: BookSnapshot } | { error: string };

export class PeerSnapshots {
  private client?: Promise<SnapshotClient>;
  /** Below the snapshot service's per-client bounds: a restart of thousands of books is served in turn. */
  private readonly pacer = new Pacer(40, 16);

  constructor(
    private readonly transport: Transport,
    private readonly timeoutMs = 1000,
  ) {}

  /** The peer's current book, as a snapshot for the core; `error` says why there is none. Never rejects. */
  ask(venue: string, symbol: string): Promise<PeerAnswer> {
    return this.pacer.run(() => this.request(venue, symbol), { error: 'stopping' });
  }

  private async request(venue: string, symbol: string): Promise<PeerAnswer> {
    let reply: ConsolidatedSnapshot;
    try {
      const client = await (this.client ??= this.transport.snapshotClient());
      const m = await querySnapshot(client, venue, symbol, this.timeoutMs);
      if (m.type !== 'snapshot') return { error: `answered with a ${m.type}` };
      reply = m;
    } catch (e) {
      return { error: (e as Error).message };
    }
    return peerSnapshot(reply, venue, symbol);
  }

  async close(): Promise<void> {
    this.pacer.close();
    const c = this.client;
    this.client = undefined;
    if (c) await (await c.catch(() => undefined))?.close();
  }
}

/** A peer's reply as a core snapshot, or why it cannot be one (another book, a stale book, bad numbers). */
export function peerSnapshot(m: ConsolidatedSnapshot, venue: string, symbol: string): PeerAnswer {
  if (m.venue !== venue || m.symbol !== symbol) return { error: `answered for ${m.venue}.${m.symbol}` };
  if (m.stale === true) return { error: 'its book is stale' };
  const offset = m.offset ?? 0;
  const seq = m.seq - offset;
  if (!Number.isSafeInteger(m.seq) || !Number.isSafeInteger(offset) || offset < 0 || seq < 0)
    return { error: `implausible numbering (seq ${m.seq}, offset ${offset})` };
  if (!levelsOk(m.bids) || !levelsOk(m.asks)) return { error: 'a level is not [price > 0, size > 0]' };
  const snap: BookSnapshot = {
    type: 'snapshot',
    venue,
    symbol,
    seq,
    recvTime: nowMicros(),
    collector: PEER_FEED,
    bids: m.bids,
    asks: m.asks,
    ...(offset === 0 ? {} : { offset }),
    ...(m.exactTo === undefined ? {} : { exactTo: m.exactTo }),
  };
  return { snap };
}

/** Every level a pair of finite positive numbers (the reply's size is bounded by the bus's maxMessageSize). */
function levelsOk(side: unknown): boolean {
  if (!Array.isArray(side)) return false;
  for (const l of side as unknown[]) {
    if (!Array.isArray(l) || l.length !== 2) return false;
    const [p, q] = l as unknown[];
    if (typeof p !== 'number' || typeof q !== 'number' || !(p > 0 && q > 0 && p < Infinity && q < Infinity))
      return false;
  }
  return true;
}
