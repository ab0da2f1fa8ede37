/**
 * Child process of storage-limit.test.ts, run under `prlimit --fsize=N` so that the kernel refuses to grow
 * any file past N bytes (EFBIG after a partial write -- what a full disk does, on a real file system).
 * Writes a synthetic consolidated stream with the recorder's StreamWriter and prints what it reports.
 *   node dist/test/recorder/fsize-writer.js <dir> <messages>
 */
import { silentLogger } from '../../src/log.js';
import { DEFAULT_STORAGE, StreamWriter } from '../../src/recorder/segment.js';
import { synthStream } from './helpers.js';

const [dir, n] = process.argv.slice(2);
const errors: string[] = [];
const log = { ...silentLogger, error: (_o: unknown, m: string) => errors.push(m) } as unknown as typeof silentLogger;
const w = new StreamWriter(dir, 'book', 'binance', 'BTCUSDT', { ...DEFAULT_STORAGE, blockBytes: 8 * 1024 }, log);
const msgs = synthStream(Number(n));
for (let i = 0; i < msgs.length; i++) {
  w.appendConsolidated(msgs[i].time, msgs[i].payload);
  if (i % 500 === 499) await w.drain(); // a live recorder writes as it goes, not all at the end
}
await w.close();
console.log(JSON.stringify({ writtenRecords: w.writtenRecords, writeErrors: w.counters.writeErrors, errors }));
