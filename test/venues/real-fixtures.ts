/** Reading the real recordings in test/fixtures/real (see its README for where each comes from). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../helpers.js';

export const FIXTURES = join(projectRoot(), 'test', 'fixtures', 'real');

/** The lines of a JSON Lines fixture (ccxt_*, tardis_*), without empty ones. */
export function jsonLines(name: string): string[] {
  return readFileSync(join(FIXTURES, name), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}

/** The messages a cryptofeed recording received (`TS: <json>` lines), in order, as the exchange sent them. */
export function cryptofeedReceived(name: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync(join(FIXTURES, name), 'utf8').split('\n')) {
    if (line.length === 0 || line.startsWith('wss://') || line.startsWith('https://')) continue;
    const at = line.indexOf(': ');
    if (at < 0) throw new Error(`not a cryptofeed line: ${line.slice(0, 80)}`);
    out.push(line.slice(at + 2));
  }
  return out;
}
