/**
 * XSUB/XPUB forwarder: publishers connect to `frontend`, subscribers connect to `backend`, so neither side
 * needs to know the other's addresses (e.g. collectors feeding two arbiters through one stable address;
 * arbiters then use ingestMode 'connect').
 *
 * Two implementations: 'native' runs libzmq's zmq_proxy in a background thread (zeromq's Proxy class);
 * 'loop' forwards in JavaScript. bench/transport.ts measures both; native is the default (faster, and
 * it keeps forwarding while the JS thread is busy).
 */
import * as zmq from 'zeromq';
import { bindEndpoint } from './zeromq.js';
import { DEFAULT_HIGH_WATER_MARK, errorMessageOf } from './common.js';
import { silentLogger, type Logger } from '../log.js';

export interface ProxyOptions {
  /** XSUB bind endpoint; publishers connect here. `tcp://127.0.0.1:*` picks a free port. */
  frontend: string;
  /** XPUB bind endpoint; subscribers connect here. */
  backend: string;
  mode?: 'native' | 'loop';
  /** Per-peer queue bound on both sides (drops past it, like a PUB). Default 100000. */
  highWaterMark?: number;
  logger?: Logger;
}

export interface RunningProxy {
  /** Endpoints actually bound (wildcard ports resolved). */
  readonly frontend: string;
  readonly backend: string;
  close(): Promise<void>;
}

export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const hwm = opts.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  const log = opts.logger ?? silentLogger;
  const xsub = new zmq.XSubscriber({ receiveHighWaterMark: hwm, sendTimeout: 0, linger: 0 });
  const xpub = new zmq.XPublisher({ sendHighWaterMark: hwm, sendTimeout: 0, linger: 0 });
  let frontend: string;
  let backend: string;
  try {
    frontend = await bindEndpoint(xsub, opts.frontend);
  } catch (e) {
    xpub.close();
    throw e;
  }
  try {
    backend = await bindEndpoint(xpub, opts.backend);
  } catch (e) {
    xsub.close();
    throw e;
  }
  return opts.mode === 'loop'
    ? loopProxy(xsub, xpub, frontend, backend, log)
    : nativeProxy(xsub, xpub, frontend, backend);
}

function nativeProxy(xsub: zmq.XSubscriber, xpub: zmq.XPublisher, frontend: string, backend: string): RunningProxy {
  const proxy = new zmq.Proxy(xsub, xpub);
  const running = proxy.run(); // closes both sockets when terminated
  let closed = false;
  return {
    frontend,
    backend,
    async close() {
      if (closed) return;
      closed = true;
      proxy.terminate();
      await running;
    },
  };
}

function loopProxy(
  xsub: zmq.XSubscriber,
  xpub: zmq.XPublisher,
  frontend: string,
  backend: string,
  log: Logger,
): RunningProxy {
  let closed = false;
  const onSendError = (e: unknown): void => {
    if (!closed) log.warn({ err: errorMessageOf(e) }, 'proxy forward failed');
  };
  // Both sockets have sendTimeout 0: a send never waits (XPUB drops past its HWM), so it never overlaps.
  const forward = async (from: zmq.Socket & zmq.Readable, to: zmq.Socket & zmq.Writable): Promise<void> => {
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
      try {
        to.send(msg).then(undefined, onSendError);
      } catch (e) {
        onSendError(e);
      }
    }
  };
  const data = forward(xsub, xpub);
  const subscriptions = forward(xpub, xsub);
  return {
    frontend,
    backend,
    async close() {
      if (closed) return;
      closed = true;
      xsub.close();
      xpub.close();
      await Promise.all([data, subscriptions]);
    },
  };
}
