/**
 * Making a capture (`bookwire capture`): one book of a live venue (or of the simulator) written in the format
 * capture.ts replays (docs/venues.md, "Captures"): NDJSON, the venue's own frames as received, one per line.
 * Where to connect, what to subscribe, the heartbeat and the REST snapshot request are the venue adapter's
 * (src/venues/); this file only moves text.
 *   REST venues (Binance): the stream is opened first and its frames held; once the first frame arrived the
 *     REST snapshot is fetched and written as line 1, then the held frames, then the stream as it comes, so
 *     no update between the two is missed (stale ones are dropped on replay).
 *   websocket-snapshot venues (OKX, Bybit, Gemini, Kraken, Coinbase, Gemini v2): every frame from the
 *     connection's start (acks, heartbeats too); the venue's snapshot is the first book frame (Kraken's
 *     subscribe ack names the depth the replay cuts its book to).
 * Bounds: the file (maxBytes: the frame that would pass it is not written and the capture ends), one frame
 * (maxFrameBytes: the websocket refuses it and the capture ends, as does a REST body over it), the frames held
 * before the snapshot (maxBytes too), and the duration. Every line is written whole with one synchronous
 * write, so an interrupted capture (Ctrl-C, a closed connection, a bound) is a valid file up to its last
 * line; the file is fsynced on close. An existing file is never overwritten; a capture that received nothing
 * leaves no file.
 */
import { closeSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { WebSocket } from 'ws';
import type { Logger } from '../log.js';
import { venue as venueAdapter, venueSymbolFrom } from '../venues/index.js';
import type { VenueAdapter } from '../venues/types.js';

export interface CaptureWriterOptions {
  /** Venue id (any of src/venues: binance, binance-usdm, okx, bybit, bybit-linear, gemini, kraken, coinbase, gemini-v2). */
  venue: string;
  /** The book, in any venue's spelling or the unified one. */
  symbol: string;
  /** File to create (refused if it exists). */
  out: string;
  /** Websocket and REST bases (default the venue's production endpoints). */
  wsUrl?: string;
  restUrl?: string;
  /** REST snapshot depth (REST venues), default the adapter's. */
  snapshotLimit?: number;
  /** Stop after this long, seconds (default: until aborted, or a bound). */
  durationS?: number;
  /** Largest file, bytes; default 256 MiB (the replay reads at most 512 MiB). */
  maxBytes?: number;
  /** Largest frame (or REST body), bytes; default 4 MiB. */
  maxFrameBytes?: number;
  signal?: AbortSignal;
  logger?: Logger;
}

export type CaptureEnd = 'duration' | 'interrupted' | 'max-bytes' | 'closed' | 'error';

export interface CaptureSummary {
  /** The book as the venue spells it. */
  symbol: string;
  lines: number;
  bytes: number;
  /** REST venues: whether line 1, the REST snapshot, was written; websocket venues: true (a frame holds it). */
  snapshot: boolean;
  end: CaptureEnd;
  /** What ended it, for end 'closed' or 'error' (and 'max-bytes'). */
  detail?: string;
}

/** A capture that cannot start (unknown venue or symbol, existing file): one line for the user. */
export class CaptureWriteError extends Error {
  override readonly name = 'CaptureError';
}

export const DEFAULT_CAPTURE_MAX_BYTES = 256 * 1024 * 1024;
export const DEFAULT_CAPTURE_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** One line of the file: JSON whitespace may hold newlines, a string cannot, so removing them keeps the frame. */
const oneLine = (text: string) => (text.includes('\n') ? text.replace(/\r?\n/g, '') : text) + '\n';

export async function writeCapture(o: CaptureWriterOptions): Promise<CaptureSummary> {
  let a: VenueAdapter;
  try {
    a = venueAdapter(o.venue);
  } catch (e) {
    throw new CaptureWriteError(`capture: ${(e as Error).message}`);
  }
  const symbol = venueSymbolFrom(a.id, o.symbol);
  if (symbol === undefined) throw new CaptureWriteError(`capture: "${o.symbol}" is not a ${a.name} symbol`);
  const maxBytes = o.maxBytes ?? DEFAULT_CAPTURE_MAX_BYTES;
  const maxFrame = o.maxFrameBytes ?? DEFAULT_CAPTURE_MAX_FRAME_BYTES;
  let fd: number;
  try {
    fd = openSync(o.out, 'wx');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CaptureWriteError(
      code === 'EEXIST' ? `capture: ${o.out} exists (not overwritten)` : `capture: cannot create ${o.out}: ${code}`,
    );
  }
  const rest = a.snapshotSource === 'rest';
  const s: CaptureSummary = { symbol, lines: 0, bytes: 0, snapshot: !rest, end: 'interrupted' };
  /** REST venues: frames received before the snapshot is written. */
  let held: string[] | undefined = rest ? [] : undefined;
  let heldBytes = 0;
  let finish!: (end: CaptureEnd, detail?: string) => void;
  const ended = new Promise<void>((resolve) => {
    finish = (end, detail) => {
      if (finished) return;
      finished = true;
      s.end = end;
      if (detail !== undefined) s.detail = detail;
      resolve();
    };
  });
  let finished = false;

  /** Append one line; false (and the capture ends) when it would pass maxBytes. */
  const write = (text: string): boolean => {
    const line = Buffer.from(oneLine(text));
    if (s.bytes + line.length > maxBytes) {
      finish('max-bytes', `the next line would pass ${maxBytes} bytes`);
      return false;
    }
    writeSync(fd, line);
    s.bytes += line.length;
    s.lines++;
    return true;
  };

  const ws = new WebSocket(a.wsUrl(o.wsUrl ?? a.defaultWsUrl, [symbol]), {
    maxPayload: maxFrame,
    perMessageDeflate: false,
  });
  let ping: NodeJS.Timeout | undefined;
  ws.on('open', () => {
    for (const m of a.subscribeMessages([symbol])) ws.send(m);
    if (a.ping) {
      const text = a.ping.text;
      ping = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send(text), a.ping.intervalMs);
    }
  });
  ws.on('message', (data, isBinary) => {
    if (finished || isBinary) return;
    const text = data.toString();
    if (held === undefined) {
      write(text);
      return;
    }
    heldBytes += Buffer.byteLength(text) + 1;
    if (heldBytes > maxBytes) return finish('max-bytes', 'frames held while the REST snapshot was awaited');
    held.push(text);
    if (held.length === 1) void snapshot();
  });
  ws.on('close', (code, reason) => finish('closed', `websocket closed (${code}${reason.length ? ` ${reason}` : ''})`));
  ws.on('error', (e) => finish('error', `websocket: ${e.message}`));

  /** REST venues: the snapshot (line 1), then the frames held meanwhile. */
  const snapshot = async (): Promise<void> => {
    const req = a.snapshotRequest!(o.restUrl ?? a.defaultRestUrl, symbol, o.snapshotLimit ?? a.defaultSnapshotLimit);
    try {
      const res = await fetch(req.url, { signal: AbortSignal.timeout(10_000) });
      const body = await res.text();
      if (finished) return;
      if (!res.ok) return finish('error', `REST snapshot: HTTP ${res.status} ${body.slice(0, 200)}`);
      if (body.length > maxFrame) return finish('error', `REST snapshot: ${body.length} bytes, over ${maxFrame}`);
      const parsed = a.parseSnapshot?.(body, symbol, 'capture', Date.now());
      if (parsed?.error !== undefined) return finish('error', `REST snapshot: ${parsed.error}`);
      if (!write(body)) return;
      s.snapshot = true;
      const frames = held!;
      held = undefined;
      for (const f of frames) if (!write(f)) return;
    } catch (e) {
      finish('error', `REST snapshot: ${(e as Error).message}`);
    }
  };

  const timer = o.durationS !== undefined ? setTimeout(() => finish('duration'), o.durationS * 1000) : undefined;
  const onAbort = () => finish('interrupted');
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  await ended;
  o.signal?.removeEventListener('abort', onAbort);
  if (timer) clearTimeout(timer);
  if (ping) clearInterval(ping);
  ws.removeAllListeners('message');
  ws.on('error', () => {});
  ws.terminate();
  fsyncSync(fd);
  closeSync(fd);
  // nothing received: no file, so that a retry is not refused as overwriting one
  if (s.lines === 0) rmSync(o.out, { force: true });
  o.logger?.info({ ...s, out: o.out }, 'capture written');
  return s;
}
