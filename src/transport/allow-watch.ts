/**
 * Live allow-lists (docs/security.md "Changing the allow-list"): a server's CURVE allow-list follows its
 * allow directory without a restart.
 *
 * When: fs.watch on the directory (inotify on Linux: a change is applied within DEBOUNCE_MS, which also
 * lets a file being copied in finish), SIGHUP (the CLI calls reloadAllowLists(): an explicit "apply now"
 * for scripts), and a re-read every POLL_MS. The poll is the safety net for what fs.watch misses: network
 * and some container filesystems send no events, and a directory replaced as a whole (a Kubernetes
 * ConfigMap swaps a symlink) leaves the watch on the old one. A re-read is a few small files, so polling
 * costs nothing worth saving.
 *
 * How: the new list is computed leniently (readAllowListLenient) and applied to the same Map in place, so
 * every ZAP domain holding it sees the change at its next handshake. A file that cannot be used (malformed,
 * unreadable, a bad name, a key already allowed under another name) is logged once and ignored: a name it
 * allowed before keeps its old key, so a half-written copy never revokes anyone. An unreadable directory
 * keeps the whole old list. Listeners hear about removed keys (zeromq.ts disconnects their connections).
 *
 * No zeromq import: keys.ts and this file are plain file handling.
 */
import fs from 'node:fs';
import type { Logger } from '../log.js';
import { readAllowListLenient, type CurveSettings } from './keys.js';
import { errorMessageOf } from './common.js';

export const DEBOUNCE_MS = 200;
export const POLL_MS = 30_000;

export interface AllowListChange {
  /** Names newly allowed (or allowed with a new key). */
  added: string[];
  /** Keys no longer allowed, with the name they had. */
  removed: Array<{ key: string; name: string }>;
}

type Listener = (change: AllowListChange) => void;

/** One watcher per allow Map (several transports may share one CurveSettings), started by its first listener. */
class AllowListWatcher {
  readonly listeners = new Set<Listener>();
  private watcher: fs.FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  /** Problems already logged: file -> message (logged again only if the message changes). */
  private readonly reported = new Map<string, string>();

  constructor(
    private readonly curve: CurveSettings,
    private readonly log: Logger,
    private readonly pollMs: number,
  ) {}

  start(): void {
    const dir = this.curve.allowFrom?.dir;
    if (dir !== undefined) this.watch(dir);
    this.poll = setInterval(() => this.reload('periodic check'), this.pollMs);
    this.poll.unref();
  }

  private watch(dir: string): void {
    try {
      this.watcher = fs.watch(dir, { persistent: false }, () => this.soon());
      this.watcher.on('error', (e) => {
        // The directory went away (or was replaced): the poll keeps re-reading; watch again when it can.
        this.log.warn({ dir, err: errorMessageOf(e) }, 'allow directory watch failed; re-reading it periodically');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (e) {
      this.log.warn({ dir, err: errorMessageOf(e) }, 'cannot watch the allow directory; re-reading it periodically');
    }
  }

  private soon(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.reload('directory changed'), DEBOUNCE_MS);
    this.debounce.unref();
  }

  stop(): void {
    clearTimeout(this.debounce);
    clearInterval(this.poll);
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** Re-read and apply; never throws (a server must not die of a bad file). */
  reload(why: string): AllowListChange {
    const from = this.curve.allowFrom;
    const change: AllowListChange = { added: [], removed: [] };
    if (from === undefined) return change;
    if (from.dir !== undefined && this.watcher === undefined && fs.existsSync(from.dir)) this.watch(from.dir);
    const { allow: next, problems } = readAllowListLenient(from.dir, from.listed, this.curve.allow);
    const seen = new Set<string>();
    for (const p of problems) {
      seen.add(p.where);
      if (this.reported.get(p.where) === p.message) continue;
      this.reported.set(p.where, p.message);
      this.log.warn({ file: p.where, why }, `allow-list: ${p.message}; ignored (the rest of the list applies)`);
    }
    for (const where of this.reported.keys()) if (!seen.has(where)) this.reported.delete(where);
    if (next === undefined) return change; // the directory could not be read: the old list stays
    const allow = this.curve.allow;
    for (const [key, name] of allow)
      if (next.get(key) !== name) {
        allow.delete(key);
        change.removed.push({ key, name });
      }
    for (const [key, name] of next)
      if (!allow.has(key)) {
        allow.set(key, name);
        change.added.push(name);
      }
    if (change.added.length > 0 || change.removed.length > 0) {
      this.log.info(
        { why, added: change.added, removed: change.removed.map((r) => r.name), allowed: allow.size },
        'allow-list changed',
      );
      for (const l of this.listeners) l(change);
    }
    return change;
  }
}

const watchers = new Map<Map<string, string>, AllowListWatcher>();

/**
 * Follow `curve.allowFrom` for as long as the returned function is not called; `onChange` hears of every
 * applied change. Without `allowFrom` (keys given in code) there is nothing to follow: a no-op.
 */
export function watchAllowList(
  curve: CurveSettings,
  log: Logger,
  onChange: Listener,
  pollMs: number = POLL_MS,
): () => void {
  if (curve.allowFrom === undefined) return () => undefined;
  let w = watchers.get(curve.allow);
  if (w === undefined) {
    w = new AllowListWatcher(curve, log, pollMs);
    watchers.set(curve.allow, w);
    w.start();
  }
  const watcher = w;
  watcher.listeners.add(onChange);
  return () => {
    watcher.listeners.delete(onChange);
    if (watcher.listeners.size === 0) {
      watcher.stop();
      watchers.delete(curve.allow);
    }
  };
}

/** Re-read every followed allow-list now (the CLI's SIGHUP). */
export function reloadAllowLists(why = 'SIGHUP'): void {
  for (const w of watchers.values()) w.reload(why);
}
