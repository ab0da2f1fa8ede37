/**
 * `bookwire capture`: write one book of a venue (or of the simulator) as a capture that `bookwire sim
 * --capture` replays (src/sim/captureWriter.ts; docs/venues.md, "Captures"). Ctrl-C ends it with a valid file.
 */
import type { Command } from 'commander';
import { createLogger } from '../log.js';
import { CaptureError, isVenueId, loadCapture } from '../sim/index.js';
import { writeCapture, DEFAULT_CAPTURE_MAX_BYTES, DEFAULT_CAPTURE_MAX_FRAME_BYTES } from '../sim/captureWriter.js';
import { VENUE_IDS, findVenue, underPrefix } from '../venues/index.js';
import type { VenueAdapter } from '../venues/types.js';
import { UserError } from './errors.js';
import { positive } from './options.js';

/** The venue's URLs on a simulator at `base` (http:// or ws://, host and port): under its /<venue> prefix. */
function simUrls(a: VenueAdapter, base: string): { wsUrl: string; restUrl: string } {
  let u: URL;
  try {
    u = new URL(base);
  } catch {
    throw new UserError(`--sim ${base}: expected a URL like http://127.0.0.1:9443`);
  }
  const root = `${u.host}${u.pathname.replace(/\/$/, '')}/${a.id}`;
  const tls = u.protocol === 'https:' || u.protocol === 'wss:';
  return underPrefix(a, `${tls ? 'wss' : 'ws'}://${root}`, `${tls ? 'https' : 'http'}://${root}`);
}

interface CaptureOpts {
  sim?: string;
  venue: string;
  symbol: string;
  out: string;
  wsUrl?: string;
  url?: string;
  restUrl?: string;
  snapshotLimit?: number;
  duration?: number;
  maxBytes?: number;
  maxFrameBytes?: number;
  logLevel?: string;
}

export function registerCaptureCommand(program: Command): void {
  program
    .command('capture')
    .description("write one book's frames as received, for `bookwire sim --capture` (Ctrl-C ends it, file intact)")
    .requiredOption('--venue <id>', `venue: ${VENUE_IDS.join(', ')}`)
    .requiredOption('--symbol <symbol>', 'the book, in the venue spelling or unified (BTC-USDT, BTC/USDT:USDT)')
    .requiredOption('--out <file>', 'NDJSON file to create (an existing file is not overwritten)')
    .option('--duration <seconds>', 'stop after this many seconds (default: until Ctrl-C)', positive('--duration'))
    .option('--ws-url <url>', "venue websocket base URL, as for collect (default the venue's)")
    .option('--url <url>', 'same as --ws-url')
    .option('--rest-url <url>', "REST base URL for the snapshot of REST venues (default the venue's)")
    .option('--sim <base>', "a bookwire simulator's base URL (http://127.0.0.1:9443): the venue's paths under /<venue>")
    .option(
      '--snapshot-limit <n>',
      "REST snapshot depth (default the venue adapter's)",
      positive('--snapshot-limit', { integer: true }),
    )
    .option(
      '--max-bytes <n>',
      `largest file (default ${DEFAULT_CAPTURE_MAX_BYTES})`,
      positive('--max-bytes', { integer: true }),
    )
    .option(
      '--max-frame-bytes <n>',
      `largest frame or REST body (default ${DEFAULT_CAPTURE_MAX_FRAME_BYTES})`,
      positive('--max-frame-bytes', { integer: true }),
    )
    .option('--log-level <level>', 'log level', 'warn')
    .action(async (o: CaptureOpts) => {
      const log = createLogger('capture', o.logLevel as 'warn');
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const a = findVenue(o.venue);
      if (a === undefined) throw new UserError(`--venue ${o.venue}: unknown venue (known: ${VENUE_IDS.join(', ')})`);
      const sim = o.sim === undefined ? undefined : simUrls(a, o.sim);
      const s = await writeCapture({
        venue: o.venue,
        symbol: o.symbol,
        out: o.out,
        wsUrl: o.wsUrl ?? o.url ?? sim?.wsUrl,
        restUrl: o.restUrl ?? sim?.restUrl,
        snapshotLimit: o.snapshotLimit,
        durationS: o.duration,
        maxBytes: o.maxBytes,
        maxFrameBytes: o.maxFrameBytes,
        signal: ac.signal,
        logger: log,
      }).finally(() => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      });
      const why = s.detail !== undefined ? `${s.end}: ${s.detail}` : s.end;
      process.stdout.write(
        `capture: ${s.lines} lines, ${s.bytes} bytes of ${o.venue} ${s.symbol} in ${o.out} (${why})\n`,
      );
      // read it back as the replay will: a capture that cannot be replayed is reported now, not at replay time
      let replayable = false;
      if (isVenueId(o.venue) && s.lines > 0)
        try {
          const d = await loadCapture(o.out, o.venue);
          replayable = true;
          process.stdout.write(
            `replay: bookwire sim --venue ${o.venue} --capture ${o.out} (${d.events.length} events, ${d.gaps} gaps)\n`,
          );
        } catch (e) {
          if (!(e instanceof CaptureError)) throw e;
          process.stdout.write(`not replayable yet: ${e.message}\n`);
        }
      if (!replayable || s.end === 'error' || s.end === 'closed') process.exitCode = 1;
    });
}
