/**
 * A throwaway PostgreSQL server per test file: initdb into a temp dir, `postgres` on a free loopback port
 * with its unix socket in that dir, trust auth, fsync off. Uses Debian's binaries in
 * /usr/lib/postgresql/<ver>/bin (the `postgresql` package). PostgreSQL refuses to run as root, so as root
 * initdb/postgres run as the `postgres` user via runuser. Without the binaries, tests skip with `pgSkip`
 * as the reason -- unless BOOKWIRE_REQUIRE_PG=1 (CI), where that is a failure.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import pg from 'pg';
import { BookReplica } from '../src/core/replica.js';
import { KIND_GAP, KIND_MESSAGE } from '../src/recorder/format.js';
import { readRecords } from '../src/recorder/reader.js';
import { decodeConsolidated } from '../src/wire/messages.js';
import { isAlive } from '../src/util/process.js';
import { freePort, sleep } from './helpers.js';

/** Newest /usr/lib/postgresql/<ver>/bin that has initdb and postgres (BOOKWIRE_PG_BIN overrides). */
function findPgBin(): string | undefined {
  const env = process.env.BOOKWIRE_PG_BIN;
  if (env) return existsSync(path.join(env, 'initdb')) ? env : undefined;
  const root = '/usr/lib/postgresql';
  let versions: string[];
  try {
    versions = readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    return undefined;
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = path.join(root, v, 'bin');
    if (existsSync(path.join(bin, 'initdb')) && existsSync(path.join(bin, 'postgres'))) return bin;
  }
  return undefined;
}

export const PG_BIN = findPgBin();
const required = process.env.BOOKWIRE_REQUIRE_PG === '1';
const isRoot = process.getuid?.() === 0;

/** Reason to skip PostgreSQL tests, or false to run them. */
export const pgSkip: string | false =
  PG_BIN || required
    ? false
    : 'PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin (apt-get install postgresql)';

export interface TestPostgres {
  /** postgresql://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  /** The postmaster's PID (from postmaster.pid), or 0 while stopped. */
  pid: number;
  /** Immediate shutdown (SIGQUIT): every backend dies and clients lose their connections, as in a crash. */
  kill(): Promise<void>;
  /** Start it again on the same port and data directory. */
  restart(): Promise<void>;
  /** Fast shutdown and remove the data directory (also registered with t.after). */
  stop(): Promise<void>;
  /** A connected client (closed at stop). */
  client(): Promise<pg.Client>;
}

interface AfterHook {
  after(fn: () => Promise<void> | void): void;
}

/** Run a PostgreSQL binary, as the postgres user when we are root. */
function asPg(cmd: string, args: string[]): [string, string[]] {
  return isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}


async function waitGone(pid: number, ms: number): Promise<boolean> {
  const t0 = Date.now();
  while (isAlive(pid)) {
    if (Date.now() - t0 > ms) return false;
    await sleep(20);
  }
  return true;
}

/** `durable`: keep fsync on (benchmarks); tests turn it off for speed. */
export async function startTestPostgres(t: AfterHook, o: { durable?: boolean } = {}): Promise<TestPostgres> {
  if (!PG_BIN)
    throw new Error(
      'PostgreSQL binaries missing in /usr/lib/postgresql/*/bin (BOOKWIRE_REQUIRE_PG=1 is set): apt-get install postgresql',
    );
  let owner: { uid: number; gid: number } | undefined;
  if (isRoot) {
    try {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
      owner = { uid, gid };
    } catch (e) {
      throw new Error('running as root but there is no "postgres" user to run the test server as', { cause: e });
    }
  }
  // as root, /tmp: the postgres user must be able to reach the directory (a root-only TMPDIR would not do)
  const dir = mkdtempSync(path.join(isRoot ? '/tmp' : os.tmpdir(), 'bookwire-pg-'));
  const data = path.join(dir, 'data');
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const [ic, ia] = asPg(path.join(PG_BIN, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
    '--no-instructions',
  ]);
  try {
    execFileSync(ic, ia, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`initdb failed: ${err.stderr?.toString() || err.message}`, { cause: e });
  }
  const port = await freePort();
  const clients: pg.Client[] = [];
  let log = '';
  let pid = 0;

  const launch = async () => {
    const [c, a] = asPg(path.join(PG_BIN!, 'postgres'), [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=20',
      '-c',
      'shared_buffers=128MB',
      ...(o.durable ? [] : ['-c', 'fsync=off', '-c', 'full_page_writes=off']),
    ]);
    const proc = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
    proc.stdout.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    proc.stderr.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    let exited = false;
    proc.once('exit', () => (exited = true));
    const t0 = Date.now();
    for (;;) {
      if (exited) throw new Error(`postgres exited at start: ${log}`);
      if (Date.now() - t0 > 20_000) {
        proc.kill('SIGKILL');
        throw new Error(`postgres did not accept connections in 20 s: ${log}`);
      }
      try {
        pid = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
        const cl = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
        cl.on('error', () => {});
        await cl.connect();
        await cl.end();
        return;
      } catch {
        await sleep(50);
      }
    }
  };
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;

  const signal = async (sig: NodeJS.Signals) => {
    if (!pid) return;
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
    if (!(await waitGone(pid, 10_000))) process.kill(pid, 'SIGKILL');
    await waitGone(pid, 5000);
    pid = 0;
  };

  let stopped = false;
  const server: TestPostgres = {
    url,
    port,
    get pid() {
      return pid;
    },
    kill: () => signal('SIGQUIT'),
    restart: launch,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const c of clients) await c.end().catch(() => {});
      await signal('SIGINT');
      rmSync(dir, { recursive: true, force: true });
    },
    async client() {
      const c = new pg.Client({ connectionString: url });
      c.on('error', () => {});
      await c.connect();
      clients.push(c);
      return c;
    },
  };
  t.after(() => server.stop());
  try {
    await launch();
  } catch (e) {
    await server.stop();
    throw e;
  }
  return server;
}

/** Every table row equals the files: raw payloads byte for byte, book rows field by field, gap markers. */
export async function assertTablesEqualFiles(db: TestPostgres, dir: string, symbols: string[]): Promise<void> {
  const c = await db.client();
  for (const symbol of symbols) {
    const fileRaw = [...readRecords({ dir, venue: 'binance', symbol, stream: 'raw' })].filter(
      (r) => r.kind === KIND_MESSAGE,
    );
    const dbRaw = await c.query<{ payload: string }>(
      `SELECT payload FROM bookwire_raw WHERE venue = 'binance' AND symbol = $1`,
      [symbol],
    );
    assert.equal(dbRaw.rowCount, fileRaw.length, `${symbol}: raw row count`);
    // as multisets (rows have no order): byte for byte, nothing lost, nothing twice
    const fileBytes = fileRaw.map((r) => r.bytes).sort(Buffer.compare);
    const dbBytes = dbRaw.rows.map((r) => Buffer.from(r.payload, 'utf8')).sort(Buffer.compare);
    dbBytes.forEach((b, i) => assert.ok(b.equals(fileBytes[i]), `${symbol}: raw payload ${i} differs`));

    const fileBook = [...readRecords({ dir, venue: 'binance', symbol, stream: 'book' })];
    const msgs = fileBook.filter((r) => r.kind === KIND_MESSAGE).map((r) => decodeConsolidated(r.bytes));
    const dbBook = await c.query(
      `SELECT kind, seq, prev_seq, first_seq, bids, asks, bid_px, ask_px, feed, reason FROM bookwire_book
       WHERE venue = 'binance' AND symbol = $1 ORDER BY rec_time, seq, kind`,
      [symbol],
    );
    assert.equal(dbBook.rowCount, msgs.length, `${symbol}: book row count`);
    const replica = new BookReplica();
    msgs.forEach((m, i) => {
      const row = dbBook.rows[i];
      assert.equal(row.kind, m.type);
      assert.equal(Number(row.seq), m.seq, `${symbol}: book row ${i} seq`);
      assert.deepEqual(row.bids, m.bids);
      assert.deepEqual(row.asks, m.asks);
      if (m.type === 'delta') {
        assert.equal(Number(row.prev_seq), m.prev);
        assert.equal(Number(row.first_seq), m.first);
        assert.equal(row.feed, m.feed);
      } else assert.equal(row.reason, m.reason);
      const v = replica.onMessage(m);
      if ((v === 'applied' || v === 'reset') && replica.synced)
        assert.equal(row.bid_px, replica.book.bestBidPrice(), `${symbol}: top of book after seq ${m.seq}`);
    });
    const fileGaps = fileBook.filter((r) => r.kind === KIND_GAP).map((r) => JSON.parse(r.bytes.toString()));
    const dbGaps = await c.query(
      `SELECT from_seq, to_seq FROM bookwire_gap WHERE symbol = $1 AND stream = 'book' ORDER BY rec_time`,
      [symbol],
    );
    assert.deepEqual(
      dbGaps.rows.map((g) => [Number(g.from_seq), Number(g.to_seq)]),
      fileGaps.map((g: { fromSeq: number; toSeq: number }) => [g.fromSeq, g.toSeq]),
      `${symbol}: gap markers`,
    );
  }
}
