/**
 * Ingest forwarder: collectors connect to `frontend` (a ROUTER, as an arbiter's ingest), arbiters and
 * recorders connect to `backend` (an XPUB) with ingestMode 'connect', so neither side needs to know the
 * other's addresses (e.g. collectors feeding two arbiters through one stable address).
 *
 * Every message goes out as the ROUTER received it, [peer, topic, payload...]: the sender's routing id,
 * which CURVE binds to the sender's key (zap.ts), travels with it, so an arbiter behind the proxy knows
 * the sender as well as one bound directly (BusMessage.peer). Subscribers subscribe to everything and
 * filter by topic themselves (the first frame is the peer, not the topic).
 *
 * Two implementations: 'native' runs libzmq's zmq_proxy in a background thread (zeromq's Proxy class);
 * 'loop' forwards in JavaScript. bench/transport.ts measures both; native is the default (faster, and
 * it keeps forwarding while the JS thread is busy).
 */
import * as zmq from 'zeromq';
import { DEFAULT_MAX_MESSAGE_SIZE, RECONNECT, secureBind } from './zeromq.js';
import { DEFAULT_HIGH_WATER_MARK, errorMessageOf } from './common.js';
import { silentLogger, type Logger } from '../log.js';
import type { CurveSettings } from './keys.js';
import { newSecurityStats, zapHandler, type SecurityStats } from './zap.js';

export interface ProxyOptions {
  /** ROUTER bind endpoint; collectors (ingest publishers) connect here. `tcp://127.0.0.1:*` picks a free port. */
  frontend: string;
  /** XPUB bind endpoint; arbiters and recorders (ingestMode 'connect') connect here. */
  backend: string;
  mode?: 'native' | 'loop';
  /** Per-peer queue bound on both sides (drops past it, like a PUB). Default 100000. */
  highWaterMark?: number;
  /** CURVE on both sides: the frontend admits the allow-listed collectors, the backend the allow-listed arbiters. */
  curve?: CurveSettings;
  /** Allow plaintext binds off loopback. */
  insecure?: boolean;
  /** Largest message part accepted from a collector (bytes). */
  maxMessageSize?: number;
  logger?: Logger;
}

export interface RunningProxy {
  /** Endpoints actually bound (wildcard ports resolved). */
  readonly frontend: string;
  readonly backend: string;
  /** CURVE handshakes allowed and refused on both sides. */
  readonly security: SecurityStats;
  close(): Promise<void>;
}

export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const hwm = opts.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  const log = opts.logger ?? silentLogger;
  const max = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  const security = newSecurityStats();
  const router = new zmq.Router({ receiveHighWaterMark: hwm, linger: 0, handover: true, maxMessageSize: max });
  const xpub = new zmq.XPublisher({ sendHighWaterMark: hwm, sendTimeout: 0, linger: 0, maxMessageSize: 4096 });
  const secure = { curve: opts.curve, insecure: opts.insecure, log, stats: security };
  const releases: Array<() => void> = [];
  let frontend: string;
  let backend: string;
  try {
    const f = await secureBind(router, opts.frontend, 'proxy frontend', { ...secure, bindIdentity: true });
    releases.push(f.release);
    frontend = f.endpoint;
  } catch (e) {
    xpub.close();
    throw e;
  }
  try {
    const b = await secureBind(xpub, opts.backend, 'proxy backend', secure);
    releases.push(b.release);
    backend = b.endpoint;
  } catch (e) {
    router.close();
    releases.forEach((r) => r());
    throw e;
  }
  const release = () => releases.forEach((r) => r());
  // With CURVE the peer frame must be checked (only a routing id our ZAP handler set names someone, zap.ts)
  // and forwarded as the plain name: the native proxy cannot, so CURVE runs the loop.
  return opts.mode === 'loop' || opts.curve
    ? loopProxy(router, xpub, frontend, backend, security, log, release, opts.curve?.allow)
    : nativeProxy(router, xpub, frontend, backend, security, release);
}

function nativeProxy(
  router: zmq.Router,
  xpub: zmq.XPublisher,
  frontend: string,
  backend: string,
  security: SecurityStats,
  release: () => void,
): RunningProxy {
  // Subscriptions coming back from the XPUB reach the ROUTER as messages to an unknown peer: dropped.
  const proxy = new zmq.Proxy(router, xpub);
  const running = proxy.run(); // closes both sockets when terminated
  let closed = false;
  return {
    frontend,
    backend,
    security,
    async close() {
      if (closed) return;
      closed = true;
      proxy.terminate();
      await running;
      release();
    },
  };
}

function loopProxy(
  router: zmq.Router,
  xpub: zmq.XPublisher,
  frontend: string,
  backend: string,
  security: SecurityStats,
  log: Logger,
  release: () => void,
  /** CURVE: the live allow-list each frontend peer's key is checked against (zap.ts, boundName). */
  allow: ReadonlyMap<string, string> | undefined,
): RunningProxy {
  let closed = false;
  const nudged = new Set<string>();
  const onSendError = (e: unknown): void => {
    if (!closed) log.warn({ err: errorMessageOf(e) }, 'proxy forward failed');
  };
  const receiving = async (from: zmq.Socket & zmq.Readable, each: (msg: Buffer[]) => void): Promise<void> => {
    for (;;) {
      let msg: Buffer[];
      try {
        msg = await from.receive();
      } catch (e) {
        if (closed) return;
        log.error({ err: errorMessageOf(e) }, 'proxy receive failed');
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      each(msg);
    }
  };
  // The XPUB has sendTimeout 0: a send never waits (it drops past its HWM), so sends never overlap.
  const data = receiving(router, (msg) => {
    if (allow !== undefined) {
      const name = zapHandler.boundName(msg[0], allow);
      if (name === undefined) {
        security.unbound++;
        const k = msg[0].toString('latin1');
        if (!nudged.has(k) && nudged.size < 1000) {
          nudged.add(k);
          router.send([msg[0], RECONNECT]).then(undefined, () => undefined);
        }
        return;
      }
      msg[0] = Buffer.from(name);
    }
    try {
      xpub.send(msg).then(undefined, onSendError);
    } catch (e) {
      onSendError(e);
    }
  });
  const subscriptions = receiving(xpub, () => undefined); // read and dropped: the ROUTER has no use for them
  return {
    frontend,
    backend,
    security,
    async close() {
      if (closed) return;
      closed = true;
      router.close();
      xpub.close();
      await Promise.all([data, subscriptions]);
      release();
    },
  };
}
