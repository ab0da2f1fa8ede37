import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { freePort } from '../../src/util/freePort.js';

const ephemeralLow = existsSync('/proc/sys/net/ipv4/ip_local_port_range')
  ? Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
  : NaN;

test('freePort: bindable, and below the ephemeral range so no outgoing connection can take it first', async (t) => {
  const ports = new Set<number>();
  for (let i = 0; i < 20; i++) {
    const p = await freePort();
    if (ephemeralLow > 12_000) assert.ok(p >= 10_000 && p < ephemeralLow, `port ${p} outside [10000, ${ephemeralLow})`);
    ports.add(p);
  }
  assert.ok(ports.size > 15, 'spread over the range, not one port again and again');
  // a port it returned can be bound at once
  const p = await freePort();
  const s = net.createServer();
  t.after(() => s.close());
  await new Promise<void>((resolve, reject) => s.once('error', reject).listen(p, '127.0.0.1', resolve));
});
