/**
 * Example strategy: order-book imbalance with simulated fills. The same class runs on the live
 * consolidated stream (`subscribe`) and on a recording (`replay`), and makes identical decisions on
 * identical data: it sees only the book and the consolidated seq, never the wall clock.
 *
 *   node dist/examples/imbalance.js live   [--symbol BTCUSDT] [--count 2000]
 *   node dist/examples/imbalance.js replay --dir data [--symbol BTCUSDT] [--from ISO] [--to ISO]
 */
import type { OrderBook } from '../src/core/book.js';

export interface Decision {
  seq: number;
  side: 'buy' | 'sell';
  price: number;
  imbalance: number;
}

export interface StrategyOptions {
  /** Levels per side in the imbalance. */
  depth?: number;
  /** Enter when |imbalance| exceeds this. */
  threshold?: number;
  /** Position limit (units). */
  maxPosition?: number;
}

export class ImbalanceStrategy {
  readonly decisions: Decision[] = [];
  position = 0;
  cash = 0;
  private readonly depth: number;
  private readonly threshold: number;
  private readonly maxPosition: number;
  private lastMid = NaN;

  constructor(o: StrategyOptions = {}) {
    this.depth = o.depth ?? 5;
    this.threshold = o.threshold ?? 0.6;
    this.maxPosition = o.maxPosition ?? 3;
  }

  /** One book state; returns the decision taken at this seq, if any. Fills at the touch (taker). */
  onBook(seq: number, book: OrderBook): Decision | undefined {
    const { bids, asks } = book.top(this.depth);
    if (bids.length === 0 || asks.length === 0) return undefined;
    let bv = 0;
    let av = 0;
    for (const [, s] of bids) bv += s;
    for (const [, s] of asks) av += s;
    const imbalance = (bv - av) / (bv + av);
    this.lastMid = (bids[0][0] + asks[0][0]) / 2;
    let d: Decision | undefined;
    if (imbalance > this.threshold && this.position < this.maxPosition) {
      d = { seq, side: 'buy', price: asks[0][0], imbalance };
      this.position++;
      this.cash -= asks[0][0];
    } else if (imbalance < -this.threshold && this.position > -this.maxPosition) {
      d = { seq, side: 'sell', price: bids[0][0], imbalance };
      this.position--;
      this.cash += bids[0][0];
    }
    if (d) this.decisions.push(d);
    return d;
  }

  /** Mark-to-mid profit and loss. */
  get pnl(): number {
    return this.cash + this.position * (Number.isNaN(this.lastMid) ? 0 : this.lastMid);
  }
}

async function main(argv: string[]): Promise<void> {
  const { Command } = await import('commander');
  const program = new Command().name('imbalance');
  program
    .command('live')
    .option('--symbol <s>', 'symbol', 'BTCUSDT')
    .option('--publish <ep>', 'arbiter publish endpoint', 'tcp://127.0.0.1:5556')
    .option('--snapshot <ep>', 'arbiter snapshot endpoint', 'tcp://127.0.0.1:5557')
    .option('--count <n>', 'stop after this many book updates', '2000')
    .action(async (o: { symbol: string; publish: string; snapshot: string; count: string }) => {
      const { subscribe } = await import('../src/client/subscribe.js');
      const s = new ImbalanceStrategy();
      let n = 0;
      for await (const u of subscribe({ symbol: o.symbol, endpoints: { publish: [o.publish], snapshot: [o.snapshot] } })) {
        const d = s.onBook(u.seq, u.book);
        if (d) console.log(JSON.stringify(d));
        if (++n >= Number(o.count)) break;
      }
      console.log(`decisions=${s.decisions.length} position=${s.position} pnl=${s.pnl.toFixed(2)}`);
    });
  program
    .command('replay')
    .requiredOption('--dir <dir>', 'recording directory')
    .option('--symbol <s>', 'symbol', 'BTCUSDT')
    .option('--from <iso>', 'start time')
    .option('--to <iso>', 'end time')
    .action(async (o: { dir: string; symbol: string; from?: string; to?: string }) => {
      const s = await runOnReplay(new ImbalanceStrategy(), o);
      for (const d of s.decisions) console.log(JSON.stringify(d));
      console.log(`decisions=${s.decisions.length} position=${s.position} pnl=${s.pnl.toFixed(2)}`);
    });
  await program.parseAsync(argv);
}

/** Drive a strategy from a recording: the consolidated messages through a BookReplica, as a live client. */
export async function runOnReplay(s: ImbalanceStrategy, o: { dir: string; symbol: string; from?: string; to?: string }): Promise<ImbalanceStrategy> {
  const { replay } = await import('../src/recorder/index.js');
  const { BookReplica } = await import('../src/core/replica.js');
  const r = new BookReplica();
  for await (const item of replay({ dir: o.dir, symbol: o.symbol, from: o.from, to: o.to, speed: 'max' })) {
    if (!item.message) continue;
    const v = r.onMessage(item.message);
    if (v === 'applied' || v === 'reset') s.onBook(r.seq, r.book);
  }
  return s;
}

if (import.meta.url === `file://${process.argv[1]}`) await main(process.argv);
