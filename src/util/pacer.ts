/**
 * Lets async work through at most `perSecond` starts per sliding second and `inFlight` at once, in FIFO
 * order: many snapshot requests (a restarted arbiter's books from a peer, a client following a whole
 * venue) stay below a snapshot service's per-client bounds (transport DEFAULT_SNAPSHOT_LIMITS: 50/s, 32
 * in progress) instead of being refused.
 */
export class Pacer {
  private readonly queue: (() => void)[] = [];
  private running = 0;
  private readonly started: number[] = [];
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly perSecond = 40,
    private readonly inFlight = 16,
  ) {}

  /** Run `work` when its turn comes; after close() it is not run and `onClosed` is returned. */
  async run<T>(work: () => Promise<T>, onClosed: T): Promise<T> {
    await new Promise<void>((go) => {
      this.queue.push(go);
      this.pump();
    });
    if (this.closed) return onClosed;
    try {
      return await work();
    } finally {
      this.running--;
      this.pump();
    }
  }

  /** Work waiting for its turn. */
  get waiting(): number {
    return this.queue.length;
  }

  private pump(): void {
    const now = Date.now();
    while (this.started.length > 0 && now - this.started[0] >= 1000) this.started.shift();
    while (
      this.queue.length > 0 &&
      (this.closed || (this.running < this.inFlight && this.started.length < this.perSecond))
    ) {
      this.running++;
      this.started.push(now);
      this.queue.shift()!();
    }
    if (this.queue.length > 0 && this.timer === undefined && this.started.length >= this.perSecond) {
      this.timer = setTimeout(
        () => {
          this.timer = undefined;
          this.pump();
        },
        1000 - (now - this.started[0]),
      );
    }
  }

  /** Queued work is released without running (run() returns its onClosed value). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pump();
  }
}
