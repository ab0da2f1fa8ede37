/**
 * A TCP proxy that delays every byte it forwards, both ways: the lab's links from the regions to the
 * strategy side get their own delay without netem (this kernel has none). Bytes are forwarded whole and in
 * order (jitter never reorders), so ZMTP and CURVE pass through untouched; a cut link (`ip link set down`)
 * stalls the TCP connections on either side of it, as it would without the proxy.
 *
 *   node dist/lab/delay-proxy.js LISTEN_HOST:PORT=TARGET_HOST:PORT@DELAY_MS[+JITTER_MS] ...
 */
import net from 'node:net';

export interface Route {
  listen: { host: string; port: number };
  target: { host: string; port: number };
  delayMs: number;
  jitterMs: number;
}

const SPEC = /^([\d.]+):(\d+)=([\d.]+):(\d+)@([\d.]+)(?:\+([\d.]+))?$/;

export function parseRoute(spec: string): Route {
  const m = SPEC.exec(spec);
  if (!m) throw new Error(`delay-proxy: bad route "${spec}" (want HOST:PORT=HOST:PORT@DELAY_MS[+JITTER_MS])`);
  return {
    listen: { host: m[1], port: Number(m[2]) },
    target: { host: m[3], port: Number(m[4]) },
    delayMs: Number(m[5]),
    jitterMs: Number(m[6] ?? 0),
  };
}

/** from -> to, each chunk `delay + U[0, jitter)` ms after it arrived, never before the chunk ahead of it. */
function pipeDelayed(from: net.Socket, to: net.Socket, r: Route): void {
  const queue: { due: number; data: Buffer }[] = [];
  let lastDue = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const now = performance.now() + 0.5; // timers fire up to ~1 ms early against performance.now()
    while (queue.length && queue[0].due <= now) to.write(queue.shift()!.data);
    if (queue.length) timer = setTimeout(flush, queue[0].due - performance.now());
  };
  from.on('data', (data) => {
    const due = Math.max(lastDue, performance.now() + r.delayMs + Math.random() * r.jitterMs);
    lastDue = due;
    queue.push({ due, data });
    if (!timer) timer = setTimeout(flush, due - performance.now());
  });
  from.on('close', () => {
    if (timer) clearTimeout(timer);
    to.destroy();
  });
}

export function startRoute(r: Route): net.Server {
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ ...r.target, noDelay: true });
    for (const s of [client, upstream]) s.on('error', () => s.destroy());
    pipeDelayed(client, upstream, r);
    pipeDelayed(upstream, client, r);
  });
  server.on('error', (e) => {
    console.error(`delay-proxy: ${r.listen.host}:${r.listen.port}: ${e.message}`);
    process.exit(1);
  });
  server.listen(r.listen.port, r.listen.host);
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const routes = process.argv.slice(2).map(parseRoute);
    if (routes.length === 0) throw new Error('delay-proxy: no route given');
    routes.forEach(startRoute);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
}
