/**
 * Drives the live view. On a terminal: redraws the frame in place every ~250 ms. Anywhere else (pipe,
 * file, CI log): one status line every few seconds, so a log stays readable and small.
 */
import { renderStatusLine, renderView } from './render.js';
import type { ViewState } from './state.js';

export interface ViewOptions {
  /** Default process.stdout. */
  out?: NodeJS.WriteStream;
  /** Default 250 ms on a terminal, 5000 ms otherwise. */
  intervalMs?: number;
  /** Default: colors when the terminal supports them and NO_COLOR is unset. */
  color?: boolean;
}

const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const HOME = '\x1b[H';
const CLEAR_SCREEN = '\x1b[2J';
const CLEAR_TO_EOL = '\x1b[K';
const CLEAR_BELOW = '\x1b[J';

export function startView(getState: () => ViewState, opts: ViewOptions = {}): { stop(): void } {
  const out = opts.out ?? process.stdout;
  const tty = out.isTTY === true;
  const intervalMs = opts.intervalMs ?? (tty ? 250 : 5000);
  const color = opts.color ?? (tty && !process.env.NO_COLOR && (out.hasColors?.() ?? true));

  const state = (): ViewState | Error => {
    try {
      return getState();
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
  };

  const drawFrame = () => {
    const s = state();
    const width = Math.max(40, Math.min(out.columns || 80, 120));
    const frame = s instanceof Error ? `view: cannot read state: ${s.message}` : renderView(s, { width, color });
    // Home, then overwrite line by line and clear what is left: no full clear per frame, so no flicker.
    out.write(HOME + frame.split('\n').join(`${CLEAR_TO_EOL}\n`) + CLEAR_TO_EOL + CLEAR_BELOW);
  };
  const printLine = () => {
    const s = state();
    out.write(`${s instanceof Error ? `view: cannot read state: ${s.message}` : renderStatusLine(s)}\n`);
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
  const timer = setInterval(tty ? drawFrame : printLine, intervalMs);
  timer.unref(); // the view never keeps a process alive on its own

  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (tty) {
        if (onResize) out.off('resize', onResize);
        process.off('exit', restoreCursor);
        drawFrame();
        out.write(`\n${SHOW_CURSOR}`);
      }
    },
  };
}
