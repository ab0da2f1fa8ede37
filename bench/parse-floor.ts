/**
 * The floor under Binance spot parse + apply (issue 11 asks 1.0 M events/s): what this machine does with
 * the same depthUpdate texts when it does (almost) nothing with them. One process, one stream
 * (bench/gen.ts), the passes interleaved over several repeats, the best of each kept:
 *   read bytes   a loop over every character of each text (charCodeAt, summed): what any parser that
 *                looks at its input at least once pays, and no more
 *   JSON.parse   the engine's native parser (where tardis-dev and ccxt start), objects built, nothing applied
 *   parse        bookwire's Binance adapter (its scanner): the normalized delta, nothing applied
 *   parse+apply  the adapter, its sequence rule, OrderBook.apply: what bench/book.ts times as bookwire incl
 * Printed: events/s of each and bookwire's parse + apply as a ratio to the floors of the same run. The final
 * book must equal the generator's truth (else the run fails).
 *
 *   node dist/bench/parse-floor.js [n=200000] [repeats=5]
 */
import { OrderBook } from '../src/core/book.js';
import { venue as adapterOf } from '../src/venues/index.js';
import type { Level } from '../src/core/types.js';
import { generateStream } from './gen.js';

const n = Number(process.argv[2] ?? 200_000);
const repeats = Number(process.argv[3] ?? 5);
const s = generateStream(n, 7);
const a = adapterOf('binance');
const toLevels = (xs: [string, string][]): Level[] => xs.map(([p, q]) => [Number(p), Number(q)]);

type Pass = { name: string; run(texts: string[]): number };
const passes: Pass[] = [
  {
    name: 'read bytes (floor)',
    run(texts) {
      let sum = 0;
      for (let i = 0; i < texts.length; i++) {
        const t = texts[i];
        for (let j = 0; j < t.length; j++) sum += t.charCodeAt(j);
      }
      return sum;
    },
  },
  {
    name: 'JSON.parse (floor of the peers)',
    run(texts) {
      let sum = 0;
      for (let i = 0; i < texts.length; i++) sum += (JSON.parse(texts[i]) as { u: number }).u;
      return sum;
    },
  },
  {
    name: 'bookwire parse',
    run(texts) {
      let sum = 0;
      for (let i = 0; i < texts.length; i++) sum += a.parse(texts[i], 'bench', 0).delta!.last;
      return sum;
    },
  },
  {
    name: 'bookwire parse + apply',
    run(texts) {
      const book = new OrderBook();
      book.applySnapshot(toLevels(s.snapshot.bids), toLevels(s.snapshot.asks));
      let seq = s.snapshot.lastUpdateId;
      for (let i = 0; i < texts.length; i++) {
        const d = a.parse(texts[i], 'bench', 0).delta!;
        const v = a.rule.check(seq, d);
        if (v === 'apply') {
          book.apply(d.bids, d.asks);
          seq = d.last;
        } else if (v === 'gap') throw new Error(`gap after ${seq}`);
      }
      const top = book.top(10);
      const whole = texts.length === s.events.length; // (the warm-up runs a part)
      if (whole && (JSON.stringify(top.bids) !== JSON.stringify(s.truth.bids) || seq !== s.truth.lastUpdateId))
        throw new Error('the book does not equal the truth');
      return seq;
    },
  },
];

// warm-up (JIT), then interleaved repeats: a busy moment of a shared host hits every pass alike
for (const p of passes) p.run(s.events.slice(0, 20_000));
const best = passes.map(() => Infinity);
let sink = 0;
for (let r = 0; r < repeats; r++)
  passes.forEach((p, i) => {
    const t0 = process.hrtime.bigint();
    sink += p.run(s.events);
    best[i] = Math.min(best[i], Number(process.hrtime.bigint() - t0) / 1e9);
  });
const rate = best.map((sec) => n / sec);
const bytes = s.events.reduce((x, t) => x + t.length, 0) / n;
console.log(
  `Binance spot depthUpdate, ${n} events of ${bytes.toFixed(0)} bytes on average, best of ${repeats} (${sink > 0 ? 'ok' : ''})`,
);
passes.forEach((p, i) =>
  console.log(`  ${p.name.padEnd(34)} ${Math.round(rate[i]).toLocaleString('en-US').padStart(12)} ev/s`),
);
const full = rate[3];
console.log(
  `  bookwire parse + apply = ${(full / rate[0]).toFixed(2)}x the byte-reading floor, ${(full / rate[1]).toFixed(2)}x JSON.parse alone`,
);
