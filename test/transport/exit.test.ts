/**
 * close() leaves no handles behind: a child process opens every kind of socket, leaves work pending,
 * closes its transports and must then exit by itself (no process.exit).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/log.js';
import { ZmqTransport } from '../../src/transport/zeromq.js';
import { InprocBus, InprocTransport } from '../../src/transport/inproc.js';
import { startProxy } from '../../src/transport/proxy.js';
import type { Transport } from '../../src/transport/types.js';
import { MessageReader, warmUp } from './helpers.js';

const FIXTURE_ENV = 'BOOKWIRE_TRANSPORT_EXIT_FIXTURE';

async function fixture(kind: string): Promise<void> {
  const ANY = 'tcp://127.0.0.1:*';
  let server: Transport;
  let client: () => Transport;
  let closeProxy = async (): Promise<void> => {};
  if (kind === 'zeromq') {
    const proxy = await startProxy({ frontend: ANY, backend: ANY });
    closeProxy = () => proxy.close();
    const z = new ZmqTransport({ ingest: [ANY], publish: [ANY], snapshot: [ANY] }, { logger: silentLogger });
    server = z;
    client = () => new ZmqTransport(z.boundEndpoints(), { logger: silentLogger });
  } else {
    const bus = new InprocBus();
    server = new InprocTransport(bus);
    client = () => new InprocTransport(bus);
  }
  await server.subscriber('ingest', []); // gets a message it never reads
  const idle = await server.subscriber('ingest', ['nothing.']);
  const book = await server.publisher('book');
  await server.snapshotServer(() => new Promise<Buffer>(() => {})); // never answers
  const c = client();
  const collectorPub = await c.publisher('ingest');
  const bookSub = await c.subscriber('book', ['book.']);
  const snap = await c.snapshotClient();
  const reader = new MessageReader(bookSub);
  await warmUp(() => book.send('book.probe', ''), reader, ['book.probe']);
  for (let i = 0; i < 1000; i++) book.send('book.x', 'queued, never read');
  collectorPub.send('raw.x', 'never read either');
  const pendingNext = idle[Symbol.asyncIterator]().next();
  const pendingRequest = snap.request('book.x', Buffer.alloc(0), 60_000).catch((e: Error) => e.message);
  await Promise.all([c.close(), server.close(), closeProxy()]);
  const [next, req] = await Promise.all([pendingNext, pendingRequest]);
  console.log(JSON.stringify({ closed: true, nextDone: next.done, request: req }));
}

function runChild(kind: string): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
      env: { ...process.env, [FIXTURE_ENV]: kind },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 8000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

if (process.env[FIXTURE_ENV]) {
  await fixture(process.env[FIXTURE_ENV]);
} else {
  for (const kind of ['zeromq', 'inproc']) {
    test(`${kind}: after close() the process exits on its own`, { timeout: 15_000 }, async () => {
      const r = await runChild(kind);
      assert.equal(r.code, 0, `child did not exit cleanly (code ${r.code}, ${r.ms} ms): ${r.stderr}`);
      const out = JSON.parse(r.stdout.trim()) as { closed: boolean; nextDone: boolean; request: string };
      assert.deepEqual(out, { closed: true, nextDone: true, request: 'snapshot client closed' });
      assert.ok(r.ms < 5000, `exit took ${r.ms} ms`);
    });
  }
}
