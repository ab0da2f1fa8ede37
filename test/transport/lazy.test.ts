/**
 * Bus clients load on demand: importing bookwire (the SDK entry point) loads neither zeromq (its native
 * addon) nor kafkajs (and its patches); createTransport loads the one bus a transport is made for, when it
 * is first used. A child process imports the package with a resolve hook that reports every module URL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

const INDEX = new URL('../../src/index.js', import.meta.url).href;

/** Reports every resolved module URL on stderr (a hook runs on its own thread: write synchronously). */
const HOOKS = `data:text/javascript,${encodeURIComponent(`
import { writeSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  writeSync(2, 'resolved ' + r.url + '\\n');
  return r;
}`)}`;

/** The bus packages among the modules a child loads: `body` runs after `bookwire` is imported as `bw`. */
function busesLoaded(body: string): Promise<string[]> {
  const script = `
    import { register, createRequire } from 'node:module';
    register(${JSON.stringify(HOOKS)});
    const bw = await import(${JSON.stringify(INDEX)});
    ${body}
    // CommonJS modules required from CommonJS do not pass the hook; they are in the require cache.
    for (const f of Object.keys(createRequire(import.meta.url).cache)) process.stderr.write('resolved ' + f + '\\n');
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`child exited with ${code}:\n${stderr}`));
      const buses = new Set<string>();
      for (const line of stderr.split('\n'))
        for (const m of line.matchAll(/node_modules\/(kafkajs|zeromq)\//g)) buses.add(m[1]);
      resolve([...buses].sort());
    });
  });
}

test('importing bookwire, or making and closing transports unused, loads no bus client', async () => {
  assert.deepEqual(await busesLoaded(''), []);
  const body = `
    await bw.createTransport({ kind: 'zeromq' }).close();
    await bw.createTransport({ kind: 'kafka', brokers: ['127.0.0.1:1'] }).close();`;
  assert.deepEqual(await busesLoaded(body), []);
});

test('a ZeroMQ transport loads zeromq on first use, and not kafkajs', async () => {
  const body = `
    const t = bw.createTransport({ kind: 'zeromq', endpoints: { snapshot: ['tcp://127.0.0.1:1'] } });
    await (await t.snapshotClient()).close();
    await t.close();`;
  assert.deepEqual(await busesLoaded(body), ['zeromq']);
});

test('a Kafka transport loads kafkajs on first use, and not zeromq', async () => {
  // No broker: the subscriber gives up at once; loading the client is what counts.
  const body = `
    const t = bw.createTransport({ kind: 'kafka', brokers: ['127.0.0.1:1'], connectTimeoutMs: 1 });
    await t.subscriber('book', ['book.']).then((s) => s.close(), () => undefined);
    await t.close();`;
  assert.deepEqual(await busesLoaded(body), ['kafkajs']);
});
