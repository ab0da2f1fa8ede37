/**
 * The Kafka test cluster for end-to-end tests: transports on it (`kafkaTestBus`), the in-process pipeline on
 * it (`kafkaParts`), and for arbiter groups (kafka-failover, kafka-replica-failover) `bookwire arbitrate
 * --group` processes, what any Kafka reader sees of the books, and the checks on that stream.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { silentLogger, type Logger } from '../../src/log.js';
import { KafkaTransport } from '../../src/transport/kafka.js';
import { decodeAny, type ArbiterStats, type ConsolidatedMessage } from '../../src/wire/messages.js';
import { CLI_MAIN, sleep, waitFor } from '../helpers.js';
import { startTestBroker, type TestBroker } from '../kafka-helpers.js';
import { startParts, type PartsOptions } from './harness.js';

/**
 * The test cluster (3 brokers) and `transport()`, a new KafkaTransport on it (logging to `logger`); every
 * transport is closed after the test's own `broker.beforeStop` hooks (registered later, so run first) and
 * before the broker stops.
 */
export async function kafkaTestBus(t: { after(fn: () => Promise<void> | void): void }, logger: Logger = silentLogger) {
  const broker: TestBroker = await startTestBroker(t);
  const transports: KafkaTransport[] = [];
  broker.beforeStop(async () => {
    for (const tr of transports) await tr.close();
  });
  const transport = () => {
    const tr = new KafkaTransport({ brokers: broker.bootstrap, logger, closeTimeoutMs: 2000 });
    transports.push(tr);
    return tr;
  };
  return { broker, brokers: broker.bootstrap.join(','), transport };
}

/**
 * startParts on the Kafka test cluster, every part on a KafkaTransport of its own (logging to `logger`); the
 * parts stop after the test's own `broker.beforeStop` hooks, before the transports close. Defaults: not
 * faulty, gaps held 300 ms, snapshot requests retried after 1.5 s.
 */
export async function kafkaParts(
  t: { after(fn: () => Promise<void> | void): void },
  o: Omit<PartsOptions, 'arbiterTransport' | 'mk' | 'faulty' | 'gapTimeoutMs' | 'snapshotTimeoutMs'> &
    Partial<Pick<PartsOptions, 'faulty' | 'gapTimeoutMs' | 'snapshotTimeoutMs'>> & { logger?: Logger },
) {
  const { logger, ...parts } = o;
  const bus = await kafkaTestBus(t, logger);
  const started = await startParts({
    faulty: false,
    gapTimeoutMs: 300,
    snapshotTimeoutMs: 1500,
    ...parts,
    arbiterTransport: bus.transport(),
    mk: bus.transport,
  });
  bus.broker.beforeStop(() => started.stop());
  return { ...started, ...bus };
}

/** What a process printed is kept up to this many characters (the latest). */
const KEEP_OUTPUT = 200_000;

export interface GroupArbiter {
  id: string;
  proc: ChildProcess;
  exited: Promise<void>;
  /** The latest output (stdout without heartbeat lines, and stderr), at most KEEP_OUTPUT characters. */
  output(): string;
  /** How many characters it has printed so far (for `since`). */
  mark(): number;
  /** What it printed after `mark()` returned `from` (what is still kept of it). */
  since(from: number): string;
}

/** `bookwire arbitrate --bus kafka --brokers <brokers> --group g --id <id> <flags>` as a process of its own. */
export function groupArbiter(id: string, brokers: string, flags: string[]): GroupArbiter {
  const args = ['arbitrate', '--bus', 'kafka', '--brokers', brokers, '--group', 'g', '--id', id, ...flags];
  const proc = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let printed = 0;
  const add = (s: string) => {
    printed += s.length;
    out = (out + s).slice(-KEEP_OUTPUT);
  };
  proc.stdout.on('data', (d: Buffer) =>
    add(
      d
        .toString()
        .split('\n')
        .filter((l) => !l.includes('Heartbeat'))
        .join('\n'),
    ),
  );
  proc.stderr.on('data', (d: Buffer) => add(d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    id,
    proc,
    exited,
    output: () => out,
    mark: () => printed,
    since: (from) => out.slice(Math.max(0, out.length - (printed - from))),
  };
}

/** SIGKILL every process still running (a stopped one too) and wait for their exits. */
export async function killAll(procs: { proc: ChildProcess; exited: Promise<unknown> }[]): Promise<void> {
  for (const p of procs) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
}

/** The arbiters' own last lines (not kafkajs' rebalance chatter), for a failure message. */
export function arbiterTails(arbs: GroupArbiter[], lines = 30): string {
  return arbs
    .map(
      (a) =>
        `--- arbiter ${a.id}:\n${a
          .output()
          .split('\n')
          .filter((l) => !l.includes('"logger":"kafkajs"'))
          .slice(-lines)
          .join('\n')}`,
    )
    .join('\n');
}

/** A `.catch` that rethrows with the arbiters' last lines appended. */
export const withTails =
  (arbs: GroupArbiter[]) =>
  (e: Error): never => {
    throw new Error(`${e.message}\n${arbiterTails(arbs)}`);
  };

/**
 * What any Kafka reader sees of a venue's books from now on: every consolidated record per book in Kafka
 * order (`records(symbol)`), the last stats of each book and who publishes it (the arbiter of its last
 * synced stats).
 */
export async function watchBookTopic(transport: KafkaTransport, venue: string) {
  const records = new Map<string, ConsolidatedMessage[]>();
  const recordsOf = (symbol: string) => {
    let r = records.get(symbol);
    if (!r) records.set(symbol, (r = []));
    return r;
  };
  const owner = new Map<string, string>();
  const lastStats = new Map<string, ArbiterStats>();
  const reader = await transport.subscriber('book', [`book.${venue}.`, `stats.${venue}.`]);
  void (async () => {
    for await (const m of reader) {
      const msg = decodeAny(m.payload) as ConsolidatedMessage | ArbiterStats;
      if (msg.type === 'arbiter-stats') {
        lastStats.set(msg.symbol, msg);
        if (msg.synced) owner.set(msg.symbol, msg.arbiter);
      } else if (msg.type === 'delta' || msg.type === 'snapshot') recordsOf(msg.symbol).push(msg);
    }
  })();
  return { records: recordsOf, owner, lastStats };
}

/** Every consolidated record of one book, in Kafka order: a delta chains on what came before, no seq twice. */
export function recordChainProblems(msgs: ConsolidatedMessage[]): { problems: string[]; deltas: number } {
  const problems: string[] = [];
  const seen = new Set<number>();
  let seq = -1;
  let deltas = 0;
  for (const m of msgs) {
    if (m.type === 'delta') {
      if (seen.has(m.seq)) problems.push(`delta seq ${m.seq} twice`);
      else if (seq >= 0 && m.prev !== seq) problems.push(`delta ${m.first}..${m.seq} prev ${m.prev} after ${seq}`);
      seen.add(m.seq);
      deltas++;
    } else if (m.seq < seq) problems.push(`snapshot ${m.seq} after ${seq}`);
    seq = m.seq;
  }
  return { problems, deltas };
}

/**
 * The snapshots from record `from` on that jump ahead of the record before them: a new owner that resynced
 * instead of continuing the committed output (a resync would hide lost or repeated events behind it).
 */
export function snapshotsJumpingAhead(msgs: ConsolidatedMessage[], from: number): string[] {
  const jumps: string[] = [];
  let seq = from > 0 ? msgs[from - 1].seq : -1;
  for (const m of msgs.slice(from)) {
    if (m.type === 'snapshot' && seq >= 0 && m.seq > seq) jumps.push(`snapshot ${m.seq} (${m.epoch}) after ${seq}`);
    seq = m.seq;
  }
  return jumps;
}

/**
 * Wake a frozen owner (SIGCONT): it believes it still owns its books. Give it time to act on that, then wait
 * for its rejoin: the rebalance it starts (~6 s on a quiet host, over 30 s seen on a loaded one) ends when it
 * is assigned partitions again, and only then is the group settled for the checks. Returns its `mark()` at
 * waking.
 */
export async function wakeZombie(zombie: GroupArbiter, arbs: GroupArbiter[]): Promise<number> {
  const from = zombie.mark();
  zombie.proc.kill('SIGCONT');
  await sleep(2000);
  await waitFor(
    () => zombie.since(from).includes('arbiter group: partitions assigned'),
    60_000,
    'the zombie to rejoin the group',
  ).catch(withTails(arbs));
  return from;
}
