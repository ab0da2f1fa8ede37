/**
 * A transport whose implementation is imported on first use. createTransport hands these out for the
 * ZeroMQ and Kafka buses, so that importing bookwire (the SDK, the CLI) loads no bus client it does not
 * use: neither zeromq's native addon nor kafkajs and its patches.
 */
import type {
  BusPublisher,
  BusSubscriber,
  Channel,
  GroupIngest,
  GroupIngestOptions,
  SnapshotClient,
  SnapshotServer,
  SubscribeOptions,
  Transport,
} from './types.js';

export class LazyTransport implements Transport {
  private loaded?: Promise<Transport>;
  /** Present when the bus has consumer groups (`groups`), as on the transport it stands for. */
  readonly groupIngest?: (o: GroupIngestOptions) => Promise<GroupIngest>;

  constructor(
    readonly kind: string,
    private readonly load: () => Promise<Transport>,
    groups = false,
  ) {
    if (groups) this.groupIngest = async (o) => (await this.transport()).groupIngest!(o);
  }

  /** The implementation once built (counters() reads it synchronously). */
  private impl?: Transport;

  /** The implementation: imported and built at the first call. */
  transport(): Promise<Transport> {
    return (this.loaded ??= this.load().then((t) => (this.impl = t)));
  }

  counters(): Record<string, number> {
    return this.impl?.counters?.() ?? {};
  }

  async publisher(channel: Channel): Promise<BusPublisher> {
    return (await this.transport()).publisher(channel);
  }

  async subscriber(channel: Channel, topicPrefixes: string[], opts?: SubscribeOptions): Promise<BusSubscriber> {
    return (await this.transport()).subscriber(channel, topicPrefixes, opts);
  }

  async snapshotServer(handler: (topic: string, payload: Buffer) => Promise<Buffer> | Buffer): Promise<SnapshotServer> {
    return (await this.transport()).snapshotServer(handler);
  }

  async snapshotClient(): Promise<SnapshotClient> {
    return (await this.transport()).snapshotClient();
  }

  /** Closes the implementation if it was ever built; one that failed to load has nothing open. */
  async close(): Promise<void> {
    const t = await this.loaded?.catch(() => undefined);
    await t?.close();
  }
}
