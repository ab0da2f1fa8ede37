/**
 * Drives the live view. On a terminal: redraws the frame in place every ~250 ms. Anywhere else (pipe,
 * file, CI log): one status line every few seconds, so a log stays readable and small.
 */
import { renderOverview, renderOverviewLine, renderStatusLine, renderView, type RenderOptions } from './render.js';
import type { OverviewState, ViewState } from './state.js';

export interface ViewOptions {
  /** Default process.stdout. */
  out?: NodeJS.WriteStream;
  /** Default 250 ms on a terminal, 5000 ms otherwise. */
  intervalMs?: number;
  /** Default: colors when the terminal supports them and NO_COLOR is unset. */
  color?: boolean;
  /**
   * Keys typed on a terminal (raw mode, only when both `input` and `out` are terminals): each keypress's
   * text goes to onKey, then the frame is redrawn. Ctrl-C and q raise SIGINT, as in a cooked terminal.
   */
  keys?: { input?: NodeJS.ReadStream; onKey(key: string): void };
  /** Most book rows of the overview (RenderOptions.rows); default what fits the terminal. */
  rows?: number;
}

const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const HOME = '\x1b[H';
const CLEAR_SCREEN = '\x1b[2J';
const CLEAR_TO_EOL = '\x1b[K';
const CLEAR_BELOW = '\x1b[J';

/** One book: header, ladder, feeds (bookwire watch, the single-venue demo). */
export function startView(getState: () => ViewState, opts: ViewOptions = {}): { stop(): void } {
  return drive(getState, renderView, renderStatusLine, opts);
}

/** Several books: one row each and the selected one in detail (the multi-venue demo). */
export function startOverview(getState: () => OverviewState, opts: ViewOptions = {}): { stop(): void } {
  return drive(getState, renderOverview, renderOverviewLine, opts);
}

function drive<S>(
  getState: () => S,
  frameOf: (s: S, o: RenderOptions) => string,
  lineOf: (s: S) => string,
  opts: ViewOptions,
): { stop(): void } {
  const out = opts.out ?? process.stdout;
  const tty = out.isTTY === true;
  const intervalMs = opts.intervalMs ?? (tty ? 250 : 5000);
  const color = opts.color ?? (tty && !process.env.NO_COLOR && (out.hasColors?.() ?? true));

  const state = (): S | Error => {
    try {
      return getState();
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
  };

  const drawFrame = () => {
    const s = state();
    const width = Math.max(40, Math.min(out.columns || 80, 120));
    const height = out.rows || undefined;
    const frame =
      s instanceof Error
        ? `view: cannot read state: ${s.message}`
        : frameOf(s, { width, color, height, rows: opts.rows });
    // Home, then overwrite line by line and clear what is left: no full clear per frame, so no flicker.
    out.write(HOME + frame.split('\n').join(`${CLEAR_TO_EOL}\n`) + CLEAR_TO_EOL + CLEAR_BELOW);
  };
  const printLine = () => {
    const s = state();
    out.write(`${s instanceof Error ? `view: cannot read state: ${s.message}` : lineOf(s)}\n`);
  };

  const restoreCursor = () => out.write(SHOW_CURSOR);
  let onResize: (() => void) | undefined;
  if (tty) {
    out.write(HIDE_CURSOR + HOME + CLEAR_SCREEN);
    process.once('exit', restoreCursor); // a crash or process.exit must not leave the cursor hidden
    onResize = () => drawFrame();
    out.on('resize', onResize);
    drawFrame();
  }
  const input = tty && opts.keys ? (opts.keys.input ?? process.stdin) : undefined;
  let onData: ((d: Buffer | string) => void) | undefined;
  if (tty && input?.isTTY && opts.keys) {
    const onKey = opts.keys.onKey;
    onData = (d) => {
      const key = String(d);
      if (key === '\x03' || key === 'q') {
        process.kill(process.pid, 'SIGINT');
        return;
      }
      onKey(key);
      drawFrame();
    };
    input.setRawMode(true);
    input.on('data', onData);
    input.resume();
  }
  const timer = setInterval(tty ? drawFrame : printLine, intervalMs);
  timer.unref(); // the view never keeps a process alive on its own

  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (input && onData) {
        input.off('data', onData);
        input.setRawMode(false);
        input.pause();
      }
      if (tty) {
        if (onResize) out.off('resize', onResize);
        process.off('exit', restoreCursor);
        drawFrame();
        out.write(`\n${SHOW_CURSOR}`);
      }
    },
  };
}
