/** Shared test helpers: free loopback ports, polling, and a sim+collectors+arbiter pipeline on real ZeroMQ. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/util/freePort.js';

export { freePort };

export async function freeEndpoints(): Promise<{ ingest: string[]; publish: string[]; snapshot: string[] }> {
  const [a, b, c] = [await freePort(), await freePort(), await freePort()];
  return {
    ingest: [`tcp://127.0.0.1:${a}`],
    publish: [`tcp://127.0.0.1:${b}`],
    snapshot: [`tcp://127.0.0.1:${c}`],
  };
}

/** The `--ingest/--publish/--snapshot` flags of a `bookwire` command for these endpoints. */
export function busFlags(ep: { ingest: string[]; publish: string[]; snapshot: string[] }): string[] {
  return ['--ingest', ep.ingest.join(','), '--publish', ep.publish.join(','), '--snapshot', ep.snapshot.join(',')];
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll until cond() is true; throws with `what` after timeoutMs. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (await cond()) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** The built `bookwire` CLI entry point. */
export const CLI_MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `bookwire <args>` to completion; rejects (and kills it) if it has not exited within timeoutMs. */
export function runCli(args: string[], timeoutMs = 30_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`bookwire ${args.join(' ')} did not exit within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Start `bookwire <args>` in the background: its process, its exit, and everything it printed so far. */
export function startCli(args: string[]) {
  const proc = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, exited, output: () => out };
}

/** The project root (nearest folder with package.json), so tests run the same from src or dist. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the test file');
    dir = up;
  }
  return dir;
}
