/**
 * The Kafka test cluster for tests: librdkafka's mock cluster (test/kafka-broker/, built once by
 * test/kafka-broker/ensure.sh into .cache/kafka-broker/), started per test file on random ports.
 * Without the binary, Kafka tests skip with `kafkaSkip` as the reason -- unless BOOKWIRE_REQUIRE_KAFKA=1
 * (CI), where a missing broker is a failure.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOPIC_LAYOUT } from '../src/transport/kafka-topics.js';
import { freePort } from './helpers.js';

// dist/test/kafka-helpers.js (or test/kafka-helpers.ts) -> the repository root
const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.basename(path.dirname(here)) === 'dist' ? path.resolve(here, '../..') : path.resolve(here, '..');

export const BROKER_BINARY =
  process.env.BOOKWIRE_KAFKA_BROKER ??
  path.join(process.env.BOOKWIRE_KAFKA_BROKER_DIR ?? path.join(ROOT, '.cache/kafka-broker'), 'mockkafka');

const required = process.env.BOOKWIRE_REQUIRE_KAFKA === '1';

/** Reason to skip Kafka tests, or false to run them. */
export const kafkaSkip: string | false =
  existsSync(BROKER_BINARY) || required
    ? false
    : `Kafka test broker not built (${BROKER_BINARY}); build it once with test/kafka-broker/ensure.sh (about 2 min)`;

/** Every bookwire topic with its suggested partition count, as -t specs for a prefix. */
export function bookwireTopics(prefix = 'bookwire', rf = 3): string[] {
  return Object.entries(TOPIC_LAYOUT).map(([family, parts]) => `${prefix}.${family}:${parts}:${rf}`);
}

export interface TestBroker {
  /** host:port of every broker. */
  bootstrap: string[];
  pid: number;
  /** Send one control command (`down 2`, `up 2`, `leader t 0 1`, `create t 3 3`); resolves with the answer line. */
  control(cmd: string): Promise<string>;
  stop(): Promise<void>;
  /**
   * Run `fn` at teardown before the broker is killed (t.after hooks run first-registered first, and
   * the broker's hook is registered before anything that uses it). Hooks run last-registered first.
   */
  beforeStop(fn: () => Promise<void> | void): void;
}

interface AfterHook {
  after(fn: () => Promise<void> | void): void;
}

/** Start a cluster of `brokers` (default 3) with `topics` (`name:partitions[:rf]`, default: bookwire's). */
export async function startTestBroker(
  t: AfterHook,
  o: { brokers?: number; topics?: string[] } = {},
): Promise<TestBroker> {
  if (!existsSync(BROKER_BINARY))
    throw new Error(`Kafka test broker missing at ${BROKER_BINARY}: run test/kafka-broker/ensure.sh (BOOKWIRE_REQUIRE_KAFKA=1 is set)`);
  const ctlPort = await freePort();
  const args = ['-b', String(o.brokers ?? 3), '-c', String(ctlPort)];
  for (const topic of o.topics ?? bookwireTopics()) args.push('-t', topic);
  const proc = spawn(BROKER_BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const bootstrap = await new Promise<string[]>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`test broker did not start in 10 s: ${stderr}`)), 10_000);
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /BOOTSTRAP=(\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].split(','));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`test broker exited with ${code}: ${stderr}`));
    });
  });
  let stopped = false;
  const hooks: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const h of hooks.reverse()) await h();
    if (proc.exitCode === null && proc.signalCode === null) {
      process.kill(proc.pid!, 'SIGTERM');
      const k = setTimeout(() => proc.exitCode === null && process.kill(proc.pid!, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(k);
    }
  };
  t.after(stop);
  const control = (cmd: string) =>
    new Promise<string>((resolve, reject) => {
      const s = net.connect(ctlPort, '127.0.0.1');
      let buf = '';
      s.setTimeout(5000, () => s.destroy(new Error(`control "${cmd}": no answer`)));
      s.on('connect', () => s.write(cmd + '\n'));
      s.on('data', (d) => {
        buf += d.toString();
        const nl = buf.indexOf('\n');
        if (nl >= 0) {
          s.end();
          const line = buf.slice(0, nl).trim();
          if (line.startsWith('ERR')) reject(new Error(`control "${cmd}": ${line}`));
          else resolve(line);
        }
      });
      s.on('error', reject);
    });
  return { bootstrap, pid: proc.pid!, control, stop, beforeStop: (fn) => void hooks.push(fn) };
}
