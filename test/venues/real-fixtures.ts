/** Reading the real recordings in test/fixtures/real (see its README for where each comes from). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (nearest folder with package.json), so tests run the same from src or dist. */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the test file');
    dir = up;
  }
  return dir;
}

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
