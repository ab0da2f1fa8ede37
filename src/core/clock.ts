import { performance } from 'node:perf_hooks';

const origin = performance.timeOrigin;

/**
 * Wall-clock time in epoch microseconds with sub-millisecond resolution.
 * Date.now() has only ms resolution, too coarse for loopback latency; performance.now() is
 * monotonic and offset by the process's timeOrigin, so two processes on one host agree to a few µs.
 */
export function nowMicros(): number {
  return Math.round((origin + performance.now()) * 1000);
}
