import { test } from 'node:test';
import assert from 'node:assert/strict';

test("the package's public entry point resolves by name and exports the SDK", async () => {
  const name: string = 'bookwire';
  const mod = (await import(name)) as Record<string, unknown>;
  for (const k of ['subscribe', 'OrderBook', 'BookArbiter', 'ArbiterService', 'Collector', 'BinanceSimulator', 'createTransport', 'loadConfig'])
    assert.equal(typeof mod[k], 'function', `bookwire.${k}`);
});
