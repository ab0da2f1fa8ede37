/**
 * HTTP plumbing shared by the venues' REST endpoints: JSON replies, the REST snapshot faults (errors,
 * latency), request-rate windows, path prefixes. The endpoints themselves are in protocols/<venue>.ts; the
 * test-only /sim/ endpoints in simulator.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { FaultProfile } from './faults.js';
import type { Rng } from './prng.js';

export interface RestCounters {
  restRequests: number;
  snapshotsServed: number;
  snapshotErrors: number;
}

/** Split an optional /p/<profile> prefix off a path. */
export function splitProfile(pathname: string): { profile: string | undefined; path: string } {
  const m = /^\/p\/([^/]+)(\/.*)?$/.exec(pathname);
  if (m === null) return { profile: undefined, path: pathname };
  return { profile: decodeURIComponent(m[1]), path: m[2] ?? '/' };
}

/** Requests (or weight) counted in fixed windows: Binance's used weight per minute, OKX's 40 per 2 s... */
export class RateWindow {
  private window = 0;
  private used = 0;
  constructor(private readonly windowMs: number) {}
  /** Count `w` more; the total used in the current window. */
  add(w: number): number {
    const k = Math.floor(Date.now() / this.windowMs);
    if (k !== this.window) {
      this.window = k;
      this.used = 0;
    }
    this.used += w;
    return this.used;
  }
}

/** What a venue answers when a snapshot fault fires with HTTP `status`. */
export type SnapshotErrorBody = (status: number) => { body: unknown; headers?: Record<string, string> };

export class HttpTools {
  private readonly delayed = new Set<NodeJS.Timeout>();

  constructor(
    readonly counters: RestCounters,
    private readonly rng: Rng,
    private readonly profiles: (name: string | undefined) => FaultProfile,
    readonly logger: Logger,
  ) {}

  send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Type': 'application/json;charset=UTF-8', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  }

  /**
   * Serve a REST book snapshot under the profile's snapshot faults: it fails with snapshotErrorStatus
   * (default 429) at snapshotErrorRate, and arrives snapshotDelayMs late (read when the request arrived).
   * `body` builds the success body, only when the snapshot does not fail.
   */
  snapshot(
    res: ServerResponse,
    profile: string | undefined,
    body: () => string,
    error: SnapshotErrorBody,
    headers: Record<string, string> = {},
  ): void {
    const f = this.profiles(profile);
    if (f.snapshotErrorRate && this.rng() < f.snapshotErrorRate) {
      this.counters.snapshotErrors++;
      const st = f.snapshotErrorStatus;
      const status = st !== undefined && Number.isInteger(st) && st >= 400 && st <= 599 ? st : 429;
      const e = error(status);
      return this.send(res, status, e.body, { ...headers, ...e.headers });
    }
    const text = body();
    this.counters.snapshotsServed++;
    if (f.snapshotDelayMs && f.snapshotDelayMs > 0) {
      const timer = setTimeout(() => {
        this.delayed.delete(timer);
        this.send(res, 200, text, headers);
      }, f.snapshotDelayMs);
      this.delayed.add(timer);
    } else this.send(res, 200, text, headers);
  }

  /** Cancel responses still waiting on snapshotDelayMs. */
  close(): void {
    for (const t of this.delayed) clearTimeout(t);
    this.delayed.clear();
  }
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      s += c;
      if (s.length > 1_000_000) reject(new Error('body too large'));
    });
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}
