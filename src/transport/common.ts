/**
 * Pieces shared by the ZeroMQ and in-process transports (kept out of zeromq.ts so the in-process bus
 * never loads the native addon). Snapshot errors are the same for both, so a client sees the same
 * rejections whether the server is in-process or behind a ROUTER socket.
 */
import { encode, type ErrorReply } from '../wire/messages.js';

/** Default per-peer queue bound (PUB send HWM, SUB receive HWM, inproc subscriber queue). */
export const DEFAULT_HIGH_WATER_MARK = 100_000;

/** The request got no reply in time (no server reachable, or the server was too slow). */
export class SnapshotTimeoutError extends Error {
  override name = 'SnapshotTimeoutError';
}

/** The server answered with an ErrorReply (its handler threw, or it refused the request). */
export class SnapshotServerError extends Error {
  override name = 'SnapshotServerError';
}

export function encodeErrorReply(message: string): Buffer {
  const reply: ErrorReply = { v: 1, type: 'error', message };
  return encode(reply);
}

// encode() keeps key order, so every ErrorReply starts with these bytes; checking the prefix avoids
// JSON-parsing every (possibly large) snapshot reply.
const ERROR_PREFIX = Buffer.from('{"v":1,"type":"error"');

/** The message of an ErrorReply payload, or undefined if the payload is not one. */
export function errorReplyMessage(payload: Buffer): string | undefined {
  if (payload.length < ERROR_PREFIX.length || ERROR_PREFIX.compare(payload, 0, ERROR_PREFIX.length) !== 0)
    return undefined;
  try {
    const r = JSON.parse(payload.toString('utf8')) as { message?: unknown };
    return typeof r.message === 'string' ? r.message : 'unknown error';
  } catch {
    return 'malformed error reply';
  }
}

export function errorMessageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
