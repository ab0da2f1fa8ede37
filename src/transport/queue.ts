/**
 * The receive side shared by the in-process and Kafka subscribers: topic-prefix matching and an
 * unbounded FIFO of messages with waiting readers. What happens at a high-water mark (drop for the
 * in-process bus, like ZeroMQ; wait for Kafka, which keeps what was not fetched) stays with the caller.
 */
import type { BusMessage } from './types.js';

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };
const DONE_PROMISE = Promise.resolve(DONE);

/** A topic filter from subscription prefixes; none (or '') matches everything. */
export function prefixMatcher(prefixes: readonly string[]): (topic: string) => boolean {
  if (prefixes.length === 0 || prefixes.includes('')) return () => true;
  return (topic) => {
    for (let i = 0; i < prefixes.length; i++) if (topic.startsWith(prefixes[i])) return true;
    return false;
  };
}

export class MessageQueue {
  private queue: BusMessage[] = [];
  private head = 0;
  private waiters: Array<(r: IteratorResult<BusMessage, undefined>) => void> = [];
  private closed = false;

  /** @param onTake called after every message handed out (e.g. to release backpressure). */
  constructor(private readonly onTake?: () => void) {}

  get size(): number {
    return this.queue.length - this.head;
  }

  /** A reader waiting gets it at once; otherwise it is queued. */
  push(msg: BusMessage): void {
    if (this.closed) return;
    if (this.waiters.length > 0) this.waiters.shift()!({ done: false, value: msg });
    else this.queue.push(msg);
  }

  next(): Promise<IteratorResult<BusMessage, undefined>> {
    if (this.head < this.queue.length) {
      const value = this.queue[this.head++];
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      } else if (this.head >= 4096 && this.head * 2 >= this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.onTake?.();
      return Promise.resolve({ done: false, value });
    }
    if (this.closed) return DONE_PROMISE;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Ends every pending and later next() with done; queued messages are discarded. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.head = 0;
    for (const w of this.waiters.splice(0)) w(DONE);
  }
}
