/**
 * Starts the real pipeline as separate processes (as a user runs it): simulator, arbiter, 2 collectors,
 * on free loopback ports. Used by the end-to-end latency and memory benchmarks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { FaultProfile } from '../src/sim/faults.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export interface Pipeline {
  rest: string;
  ingest: string;
  publish: string;
  snapshot: string;
  procs: Record<string, ChildProcess>;
  logDir: string;
  stop(): Promise<void>;
}

export async function startPipeline(o: {
  rate: number;
  symbol: string;
  collectors?: string[];
  nodeArgs?: string[];
  recordSendTimes?: boolean;
  /** The arbiter logs every delta copy's arrival to this file when it stops (src/bench-hooks/arrivals.ts). */
  arrivalLog?: string;
  /** Collectors and arbiter batch (`--coalesce`); default: one payload per message. */
  coalesce?: boolean;
  /**
   * Per collector id, the simulator's fault profile its connections go through (`/p/<id>`): delay, jitter,
   * loss of its path to the exchange (bench/regions.ts).
   */
  paths?: Record<string, FaultProfile>;
}): Promise<Pipeline> {
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'bookwire-bench-'));
  let simConfig: string[] = [];
  if (o.paths) {
    const file = path.join(logDir, 'sim-paths.yaml');
    writeFileSync(file, stringify({ sim: { faults: o.paths } }));
    simConfig = ['--config', file];
  }
  const simPort = await freePort();
  const ep = async () => `tcp://127.0.0.1:${await freePort()}`;
  const [ingest, publish, snapshot] = [await ep(), await ep(), await ep()];
  const procs: Record<string, ChildProcess> = {};
  const nodeArgs = o.nodeArgs ?? (process.env.BOOKWIRE_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const start = (name: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
    (procs[name] = spawnPart(logDir, name, args, { env, nodeArgs }));
  // an interrupted benchmark must not leave its pipeline running
  const killAll = () => Object.values(procs).forEach((p) => p.exitCode === null && p.kill('SIGKILL'));
  const interrupted = () => {
    killAll();
    process.exit(130);
  };
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, interrupted);
  const rest = `http://127.0.0.1:${simPort}`;
  start('sim', [
    'sim',
    '--port',
    String(simPort),
    '--symbols',
    o.symbol,
    '--rate',
    String(o.rate),
    ...(o.recordSendTimes ? ['--record-send-times'] : []),
    ...simConfig,
  ]);
  await waitForSim(rest, logDir);
  const bus = ['--publish', publish, '--snapshot', snapshot, ...(o.coalesce ? ['--coalesce'] : [])];
  start(
    'arbiter',
    ['arbitrate', '--symbols', o.symbol, '--ingest', ingest, ...bus],
    o.arrivalLog ? { BOOKWIRE_ARRIVAL_LOG: o.arrivalLog } : {},
  );
  for (const id of o.collectors ?? ['a', 'b'])
    start(`collector-${id}`, [
      ...collectArgs(id, o.symbol, simPort, o.paths?.[id] ? `/p/${id}` : ''),
      '--ingest',
      ingest,
      ...bus,
    ]);
  return {
    rest,
    ingest,
    publish,
    snapshot,
    procs,
    logDir,
    async stop() {
      const exits = Object.values(procs).map((p) =>
        p.exitCode === null ? new Promise((r) => p.once('exit', r)) : null,
      );
      for (const p of Object.values(procs)) if (p.exitCode === null) p.kill('SIGTERM');
      const t = setTimeout(() => Object.values(procs).forEach((p) => p.exitCode === null && p.kill('SIGKILL')), 5000);
      await Promise.all(exits);
      clearTimeout(t);
      // one pipeline after another in a run: do not pile up handlers (MaxListenersExceededWarning)
      process.removeListener('exit', killAll);
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.removeListener(sig, interrupted);
    },
  };
}

/**
 * One `bookwire <args>` process of a benchmark, its output in `<logDir>/<name>.log`. Log level warn, or
 * BOOKWIRE_BENCH_LOG.
 */
export function spawnPart(
  logDir: string,
  name: string,
  args: string[],
  o: { env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {},
): ChildProcess {
  const fd = openSync(path.join(logDir, `${name}.log`), 'a');
  try {
    return spawn(
      process.execPath,
      [...(o.nodeArgs ?? []), MAIN, ...args, '--log-level', process.env.BOOKWIRE_BENCH_LOG ?? 'warn'],
      {
        stdio: ['ignore', fd, fd],
        env: { ...process.env, ...o.env },
      },
    );
  } finally {
    closeSync(fd);
  }
}

/** Wait until the simulator at `rest` answers its ping (10 s at most). */
export async function waitForSim(rest: string, logDir: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${rest}/api/v3/ping`)).ok) return;
    } catch {
      /* not up yet */
    }
    if (i > 100) throw new Error(`simulator did not start; see ${logDir}/sim.log`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `bookwire collect` arguments for collector `id` on the local simulator's port (bus flags not included). */
export function collectArgs(id: string, symbols: string, simPort: number, pathPrefix = ''): string[] {
  return [
    'collect',
    '--id',
    id,
    '--symbols',
    symbols,
    '--ws-url',
    `ws://127.0.0.1:${simPort}${pathPrefix}`,
    '--rest-url',
    `http://127.0.0.1:${simPort}${pathPrefix}`,
  ];
}

/** Resident set size of a process in MiB, from /proc (Linux). */
export function rssMiB(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const s = require_fs().readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(s);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU time (µs) of a process so far, from /proc (Linux); NaN elsewhere. */
export function cpuMicros(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / 100; // utime + stime, clock ticks (100 per second on Linux)
  } catch {
    return NaN;
  }
}

/** A 3-broker Kafka test cluster for one benchmark run, stopped by `stop()` (test-style hooks without a test). */
export async function benchBroker(): Promise<{ b: TestBroker; stop: () => Promise<void> }> {
  const hooks: (() => Promise<void> | void)[] = [];
  const b = await startTestBroker({ after: (fn) => void hooks.push(fn) }, { brokers: 3 });
  // An interrupted benchmark (Ctrl-C, a closed pipe) must not leave the broker running.
  const kill = () => {
    try {
      process.kill(b.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  process.once('exit', kill);
  return {
    b,
    stop: async () => {
      await Promise.all(hooks.map((h) => h()));
      process.removeListener('exit', kill);
    },
  };
}

import * as fs from 'node:fs';
import { freePort } from '../src/util/freePort.js';
import { startTestBroker, type TestBroker } from '../test/kafka-helpers.js';

export { freePort };
function require_fs() {
  return fs;
}
