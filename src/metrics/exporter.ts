/**
 * Prometheus metrics over HTTP for the long-running processes (arbiter, collector, recorder):
 * `GET /metrics` in the text exposition format, `GET /healthz` for liveness probes. Off unless a listen
 * address is given (`--metrics [host:]port`, or `metrics:` in the process's config section).
 *
 * Every bookwire metric is read from the process's own counters when scraped (prom-client `collect`), so
 * the hot path pays nothing for it. Node's default process metrics (CPU, memory, GC, event-loop lag) come
 * with them, prefixed `bookwire_`.
 */
import http from 'node:http';
import client from 'prom-client';
import type { Logger } from '../log.js';

export const METRICS_PREFIX = 'bookwire_';

/** `9464`, `127.0.0.1:9464`, `[::1]:9464` -> host and port; loopback unless a host is named. */
export function parseListen(spec: string | number): { host: string; port: number } {
  const s = String(spec).trim();
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):)?(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new Error(`expected a metrics listen address like 9464 or 127.0.0.1:9464, got "${s}"`);
  const host = m[1] ? m[1].replace(/^\[|\]$/g, '') : '127.0.0.1';
  return { host, port };
}

/** A registry with Node's process metrics and `labels` (e.g. { process: 'arbiter', id: 'arb-1' }) on every series. */
export function newRegistry(labels: Record<string, string>): client.Registry {
  const reg = new client.Registry();
  reg.setDefaultLabels(labels);
  client.collectDefaultMetrics({ register: reg, prefix: METRICS_PREFIX });
  return reg;
}

type Labels = Record<string, string | number>;
type Sample = [labels: Labels, value: number];

/** Options of a metric whose samples are computed at scrape time, from `read`. */
function liveOptions<M extends { reset(): void }>(
  reg: client.Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => Sample[],
  put: (m: M, labels: Labels, v: number) => void,
) {
  return {
    name: METRICS_PREFIX + name,
    help,
    labelNames,
    registers: [reg],
    collect(this: M) {
      this.reset(); // series that are gone (a book dropped, a feed lost) disappear instead of keeping their last value
      for (const [l, v] of read()) if (Number.isFinite(v)) put(this, l, v);
    },
  };
}

/** A gauge whose samples are computed at scrape time. */
export function liveGauge(
  reg: client.Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => Sample[],
): void {
  new client.Gauge(liveOptions<client.Gauge>(reg, name, help, labelNames, read, (m, l, v) => m.set(l, v)));
}

/** A counter (monotonic total, name ends in _total) whose value is read from the process at scrape time. */
export function liveCounter(
  reg: client.Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => Sample[],
): void {
  new client.Counter(
    liveOptions<client.Counter>(reg, name, help, labelNames, read, (m, l, v) => v >= 0 && m.inc(l, v)),
  );
}

/** A process-wide counter without labels, read at scrape time. */
export function liveTotal(reg: client.Registry, name: string, help: string, read: () => number): void {
  liveCounter(reg, name, help, [], () => [[{}, read()]]);
}

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9464/metrics */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serve `reg` on `listen`; rejects with a readable message when the address is taken or invalid. `health` (optional) lists what is wrong right now: /healthz answers 503 with
 * those lines while there are any, 200 "ok" otherwise.
 */
export async function serveMetrics(
  listen: string | number,
  reg: client.Registry,
  log?: Logger,
  health?: () => string[],
): Promise<MetricsServer> {
  const { host, port } = parseListen(listen);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      reg.metrics().then(
        (text) => res.writeHead(200, { 'content-type': reg.contentType }).end(text),
        (e: unknown) => {
          log?.warn({ err: (e as Error).message }, 'metrics collection failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n');
        },
      );
    } else if (path === '/healthz') {
      const problems = health?.() ?? [];
      if (problems.length === 0) res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      else res.writeHead(503, { 'content-type': 'text/plain' }).end(problems.slice(0, 100).join('\n') + '\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new Error(
          e.code === 'EADDRINUSE'
            ? `cannot serve metrics on ${host}:${port}: address already in use`
            : `cannot serve metrics on ${host}:${port}: ${e.message}`,
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`;
  log?.info({ url }, 'metrics served');
  return {
    url,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
