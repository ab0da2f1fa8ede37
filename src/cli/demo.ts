/**
 * `bookwire demo`: the whole pipeline on this machine, each part its own process, as in production:
 * simulator, two collectors (one through the simulator's `flaky` fault profile), one arbiter, and a
 * live view of the consolidated book checked against the simulator's true book.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, writeFileSync, closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log.js';
import { startView } from '../view/index.js';
import { busTransport } from './commands.js';
import { LiveBookView } from './watch.js';
import { UserError } from './errors.js';
import { freePort } from '../util/freePort.js';
import { makeDir } from '../util/fs.js';

export interface DemoOptions {
  durationS?: number;
  faults: boolean;
  /** Run a recorder child too (into cfg.recorder.dir); the collectors also publish to its ingest endpoint. */
  record?: boolean;
  logDir: string;
  /** Exit non-zero if the consolidated book ever differed from the truth (used by tests/CI). */
  strict?: boolean;
  /** Prometheus metrics on 127.0.0.1: the arbiter at this port, collector i at port + 1 + i, then the recorder. */
  metricsPort?: number;
}

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<number | null>;
}

export async function runDemo(cfg: Config, o: DemoOptions): Promise<number> {
  const log = createLogger('demo', cfg.log.level === 'info' ? 'warn' : cfg.log.level);
  makeDir(o.logDir);
  if (cfg.sim.port === 0) cfg = { ...cfg, sim: { ...cfg.sim, port: await freePort(cfg.sim.host) } };
  const simBase = `http://${cfg.sim.host}:${cfg.sim.port}`;
  const wsBase = `ws://${cfg.sim.host}:${cfg.sim.port}`;
  const faulty = o.faults ? cfg.demo.faultyCollector : null;
  // Every child reads one resolved config: collectors pointed at the simulator, the faulty one via /p/flaky.
  const childCfg: Config = {
    ...cfg,
    bus: o.record ? { ...cfg.bus, ingest: [...new Set([...cfg.bus.ingest, cfg.recorder.ingest])] } : cfg.bus,
    recorder: {
      ...cfg.recorder,
      dir: path.resolve(cfg.recorder.dir),
      metrics: o.metricsPort ? `127.0.0.1:${o.metricsPort + 1 + cfg.collectors.length}` : cfg.recorder.metrics,
    },
    arbiter: o.metricsPort ? { ...cfg.arbiter, metrics: `127.0.0.1:${o.metricsPort}` } : cfg.arbiter,
    collectors: cfg.collectors.map((c, i) => {
      const prefix = c.id === faulty ? '/p/flaky' : '';
      const metrics = o.metricsPort ? `127.0.0.1:${o.metricsPort + 1 + i}` : c.metrics;
      return { ...c, wsUrl: wsBase + prefix, restUrl: simBase + prefix, metrics };
    }),
  };
  const cfgFile = path.join(o.logDir, 'demo-config.yaml');
  writeFileSync(cfgFile, stringify(childCfg));

  const children: Child[] = [];
  const start = (name: string, args: string[]): Child => {
    const fd = openSync(path.join(o.logDir, `${name}.log`), 'a');
    const proc = spawn(process.execPath, [MAIN, ...args, '--config', cfgFile], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    const c = { name, proc, exited };
    children.push(c);
    return c;
  };
  // if this process dies unexpectedly, its children must not outlive it
  process.once('exit', () => children.forEach((c) => c.proc.exitCode === null && c.proc.kill('SIGKILL')));
  const stopAll = async () => {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGTERM');
    const t = setTimeout(() => children.forEach((c) => c.proc.exitCode === null && c.proc.kill('SIGKILL')), 6000);
    await Promise.all(children.map((c) => c.exited));
    clearTimeout(t);
  };

  const sim = start('sim', ['sim']);
  await waitForHttp(`${simBase}/api/v3/ping`, sim, 10_000);
  const arb = start('arbiter', ['arbitrate']);
  // Before the collectors, so it sees their first messages; a recorder that dies does not end the demo.
  if (o.record) start('recorder', ['record']);
  for (const c of childCfg.collectors) start(`collector-${c.id}`, ['collect', '--id', c.id]);

  const transport = busTransport(cfg, log);
  const view = new LiveBookView({
    transport,
    venue: 'binance',
    symbol: cfg.symbols[0],
    title: `bookwire demo — ${childCfg.collectors.length} collectors${faulty ? ` (${faulty} faulty)` : ''}, logs in ${o.logDir}`,
    simRestBase: simBase,
    faultyFeed: faulty ?? undefined,
    logger: log,
  });
  view.start();
  const screen = startView(() => view.state(), { out: process.stdout });

  let reason = '';
  await new Promise<void>((resolve) => {
    const end = (why: string) => {
      reason ||= why;
      resolve();
    };
    process.once('SIGINT', () => end('SIGINT'));
    process.once('SIGTERM', () => end('SIGTERM'));
    if (o.durationS) setTimeout(() => end('duration elapsed'), o.durationS * 1000).unref();
    // A collector dying is what the pipeline is built to survive (the view shows it DOWN); the
    // simulator or the arbiter dying ends the demo.
    for (const c of [sim, arb]) void c.exited.then((code) => end(`${c.name} exited with code ${code}`));
  });
  screen.stop();
  await view.stop();
  await transport.close();
  await stopAll();
  const t = view.truthSummary;
  process.stdout.write(
    `\nbookwire demo stopped (${reason}). Truth checks: ${t.ok} OK, ${t.diff} DIFF. Logs: ${o.logDir}\n`,
  );
  if (reason.includes('exited')) return 1;
  if (o.strict && (t.diff > 0 || t.ok === 0)) return 1;
  return 0;
}

async function waitForHttp(url: string, c: Child, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (c.proc.exitCode !== null) throw new UserError(`the simulator exited (code ${c.proc.exitCode}); see its log`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(500) });
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new UserError(`the simulator did not answer on ${url} within ${timeoutMs} ms`);
}
