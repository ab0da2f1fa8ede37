/**
 * What a read of a damaged recording skipped: the detail every reader passes to `onWarning`, and a log
 * that keeps each skipped stretch once (book-at and a replay `from` an instant look at some segments
 * twice) and prints one line per stretch for the CLI.
 */

/** One stretch of a recording that could not be read (the `detail` of an onWarning call). */
export type Skipped = {
  /** The segment file. */
  file: string;
  /** Byte range [from, to) of the file, when the file could be opened. */
  from?: number;
  to?: number;
  reason: string;
  /** Records lost, when the segment's index says (else unknown). */
  records?: number;
  /**
   * The lost records lie between these receive times (epoch µs): the last readable record before the
   * damage (or the segment's first time, from its name) and the first readable one after it (or the next
   * segment's first time); undefined when open-ended.
   */
  afterTime?: number;
  beforeTime?: number;
};

export type OnWarning = (msg: string, detail: Record<string, unknown>) => void;

const iso = (t: number) => new Date(t / 1000).toISOString();

/** "records between X and Y", "records after X", or "" when nothing is known about the times. */
export function lostTimes(s: Pick<Skipped, 'afterTime' | 'beforeTime'>): string {
  const a = s.afterTime;
  const b = s.beforeTime;
  if (a !== undefined && b !== undefined) return `records between ${iso(a)} and ${iso(b)}`;
  if (a !== undefined) return `records after ${iso(a)}`;
  if (b !== undefined) return `records before ${iso(b)}`;
  return '';
}

/** One line for one skipped stretch (no stack, no JSON). */
export function describeSkip(msg: string, d: Record<string, unknown>): string {
  if (typeof d.file !== 'string') {
    const at = typeof d.time === 'number' ? ` at ${iso(d.time)}` : '';
    return `skipped ${msg.replace(/ skipped$/, '')}${at}${typeof d.err === 'string' ? `: ${d.err}` : ''}`;
  }
  const s = d as Skipped;
  const bytes = s.from !== undefined && s.to !== undefined ? ` bytes ${s.from}-${s.to}` : '';
  const times = lostTimes(s);
  const what =
    s.records === undefined
      ? times
      : times
        ? times.replace(/^records/, `${s.records} records`)
        : `${s.records} records`;
  return `skipped ${s.file}${bytes}: ${s.reason}${what ? ` (${what} unreadable)` : ''}`;
}

/** Every distinct skip reported through `add` (usable as an onWarning), in the order first seen. */
export class SkipLog {
  private readonly seen = new Map<string, { msg: string; detail: Record<string, unknown> }>();

  constructor(private readonly onNew?: OnWarning) {}

  readonly add: OnWarning = (msg, detail) => {
    const key =
      typeof detail.file === 'string' ? `${detail.file}|${detail.from}|${detail.to}` : `${msg}|${detail.time}`;
    if (this.seen.has(key)) return;
    this.seen.set(key, { msg, detail });
    this.onNew?.(msg, detail);
  };

  get size(): number {
    return this.seen.size;
  }

  /** One line per skip, by file (segment names sort by time) and offset. */
  lines(): string[] {
    const key = (d: Record<string, unknown>) => [String(d.file ?? ''), Number(d.from ?? d.time ?? 0)] as const;
    return [...this.seen.values()]
      .sort((a, b) => {
        const [fa, oa] = key(a.detail);
        const [fb, ob] = key(b.detail);
        return fa < fb ? -1 : fa > fb ? 1 : oa - ob;
      })
      .map((s) => describeSkip(s.msg, s.detail));
  }
}
