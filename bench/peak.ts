/**
 * Peak sustained rate of the ZeroMQ pipeline alone (the same search `npm run bench` runs):
 *   node dist/bench/peak.js [rate ...] [--coalesce]    default 10000 15000 20000 30000 40000
 * --coalesce: collectors and arbiter batch (default: one payload per message, as shipped).
 */
import { formatLatency, framingLine, peakSustained, SUSTAINED_RULE } from './e2e.js';

const rates = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const coalesce = process.argv.includes('--coalesce');
const peak = await peakSustained(rates.length ? rates : [10_000, 15_000, 20_000, 30_000, 40_000], 4, coalesce);
console.log(framingLine(coalesce));
console.log(formatLatency(peak.rows));
console.log(`peak sustained rate: ${peak.peak} events/s (${SUSTAINED_RULE})`);
