import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeDir } from '../../src/util/fs.js';

test('makeDir: creates every missing component, accepts an existing directory, refuses a file in the path', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bookwire-fs-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const deep = path.join(root, 'a', 'b', 'c');
  makeDir(deep);
  assert.ok(fs.statSync(deep).isDirectory());
  makeDir(deep); // again: nothing to do
  fs.writeFileSync(path.join(root, 'file'), '');
  assert.throws(() => makeDir(path.join(root, 'file', 'sub')), { code: 'ENOTDIR' });
});

test('makeDir under /proc fails at once (Node\'s recursive mkdirSync never returns there)', { skip: !fs.existsSync('/proc/self') }, () => {
  assert.throws(() => makeDir('/proc/bookwire-no-such/dir'), { code: 'ENOENT' });
});
