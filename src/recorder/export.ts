/**
 * Export a recording to Parquet (read directly by DuckDB, pandas, polars) through DuckDB itself
 * (@duckdb/node-api, loaded only when exporting). Two files per export:
 *   top.parquet     one row per consolidated message applied: the book's best bid/ask after it
 *   levels.parquet  one row per price level a consolidated delta changed (size 0 = level deleted)
 * Times are the recorder's receive times (TIMESTAMP, µs); `seq` is the consolidated (exchange) sequence.
 */
import { DEFAULT_VENUE } from '../venues/index.js';
import path from 'node:path';
import { BookReplica } from '../core/replica.js';
import { replaySync, type Instant } from './replay.js';
import { makeDir } from '../util/fs.js';

export interface ExportOptions {
  dir: string;
  venue?: string;
  symbols: string[];
  from?: Instant;
  to?: Instant;
  /** Output directory (created). */
  out: string;
  onWarning?: (msg: string, detail: Record<string, unknown>) => void;
  /** Called now and then with the number of messages exported so far and the last receive time. */
  onProgress?: (messages: number, time: number) => void;
}

export interface ExportResult {
  files: { top: string; levels: string };
  topRows: number;
  levelRows: number;
  gaps: number;
}

/** A problem with the export's inputs or output location (reported to the user, not a bug). */
export class ExportError extends Error {
  override name = 'ExportError';
}

export async function exportParquet(o: ExportOptions): Promise<ExportResult> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  try {
    makeDir(o.out);
  } catch (e) {
    throw new ExportError(`cannot create the output directory ${o.out}: ${(e as Error).message}`);
  }
  const files = { top: path.join(o.out, 'top.parquet'), levels: path.join(o.out, 'levels.parquet') };
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  try {
    await con.run(
      'CREATE TABLE top (time_us BIGINT, venue VARCHAR, symbol VARCHAR, seq BIGINT, kind VARCHAR, synced BOOLEAN, bid DOUBLE, bid_size DOUBLE, ask DOUBLE, ask_size DOUBLE)',
    );
    await con.run(
      'CREATE TABLE levels (time_us BIGINT, venue VARCHAR, symbol VARCHAR, seq BIGINT, side VARCHAR, price DOUBLE, size DOUBLE)',
    );
    const top = await con.createAppender('top');
    const levels = await con.createAppender('levels');
    const replicas = new Map<string, BookReplica>();
    let topRows = 0;
    let levelRows = 0;
    let gaps = 0;
    const venue = o.venue ?? DEFAULT_VENUE;
    for (const it of replaySync({
      dir: o.dir,
      venue,
      symbol: o.symbols,
      from: o.from,
      to: o.to,
      onWarning: o.onWarning,
    })) {
      if (it.kind === 'gap') {
        gaps++;
        continue;
      }
      const m = it.message!;
      let r = replicas.get(it.symbol);
      if (!r) replicas.set(it.symbol, (r = new BookReplica()));
      const v = r.onMessage(m);
      if (v !== 'applied' && v !== 'reset') continue;
      const t = BigInt(Math.round(it.time));
      const seq = BigInt(r.seq);
      const bid = r.book.bestBid();
      const ask = r.book.bestAsk();
      top.appendBigInt(t);
      top.appendVarchar(venue);
      top.appendVarchar(it.symbol);
      top.appendBigInt(seq);
      top.appendVarchar(m.type);
      top.appendBoolean(r.synced);
      if (bid) {
        top.appendDouble(bid[0]);
        top.appendDouble(bid[1]);
      } else {
        top.appendNull();
        top.appendNull();
      }
      if (ask) {
        top.appendDouble(ask[0]);
        top.appendDouble(ask[1]);
      } else {
        top.appendNull();
        top.appendNull();
      }
      top.endRow();
      topRows++;
      if (m.type === 'delta')
        for (const [side, ls] of [
          ['bid', m.bids],
          ['ask', m.asks],
        ] as const)
          for (const [price, size] of ls) {
            levels.appendBigInt(t);
            levels.appendVarchar(venue);
            levels.appendVarchar(it.symbol);
            levels.appendBigInt(seq);
            levels.appendVarchar(side);
            levels.appendDouble(price);
            levels.appendDouble(size);
            levels.endRow();
            levelRows++;
          }
      if ((topRows & 8191) === 0) o.onProgress?.(topRows, it.time);
    }
    top.closeSync();
    levels.closeSync();
    const q = (f: string) => `'${f.replace(/'/g, "''")}'`;
    await con.run(
      `COPY (SELECT make_timestamp(time_us) AS time, * EXCLUDE (time_us) FROM top) TO ${q(files.top)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    await con.run(
      `COPY (SELECT make_timestamp(time_us) AS time, * EXCLUDE (time_us) FROM levels) TO ${q(files.levels)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    return { files, topRows, levelRows, gaps };
  } finally {
    con.closeSync();
    db.closeSync();
  }
}
