/**
 * Loads the YAML config: file (optional) -> CLI overrides merged on top -> validated, fully defaulted Config.
 * Every problem is reported at once, one line each, as `config <file>: <dotted.key.path>: <problem>`,
 * with the file's line number where the key is in the file.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config, type DeepPartial } from './schema.js';

export class ConfigError extends Error {
  constructor(
    /** One human-readable line per problem. */
    readonly problems: string[],
  ) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

const OVERRIDES_LABEL = 'config (overrides)';

/** `collectors[1].staleAfterMs` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? '(top level)' : out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Objects merge key by key; arrays and scalars in `over` replace; undefined in `over` keeps `base`. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (isPlainObject(over) && (isPlainObject(base) || base == null)) {
    const out: Record<string, unknown> = { ...(base ?? {}) };
    for (const [k, v] of Object.entries(over)) out[k] = deepMerge(out[k], v);
    return out;
  }
  return over;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

/** True when the value at path was set (or replaced wholesale) by the overrides, not the file. */
function fromOverrides(overrides: unknown, path: readonly PropertyKey[]): boolean {
  let v = overrides;
  for (const seg of path) {
    if (v === undefined) return false;
    if (v === null || typeof v !== 'object') return true;
    // an override array replaces the file's array: everything inside it came from the overrides
    if (Array.isArray(v)) return true;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v !== undefined;
}

/** 1-based line of the key (or list item) at path in the YAML document, if it is there. */
function lineOf(doc: Document, lc: LineCounter, path: readonly PropertyKey[]): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined = (node as Node | null)?.range?.[0];
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
      if (!pair) return offset === undefined ? undefined : lc.linePos(offset).line;
      offset = (pair.key as Node | null)?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg]) {
      node = node.items[seg];
      offset = (node as Node).range?.[0] ?? offset;
    } else break;
  }
  return offset === undefined ? undefined : lc.linePos(offset).line;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Keys that were renamed, by dotted path: what to say instead of "unknown key". */
const RENAMED_KEYS: Record<string, string> = {
  'bus.coalesceBook':
    'renamed to bus.coalesce, now false by default (every message one payload); true batches (docs/wire-format.md, Framing)',
};

/** Keys allowed in the mapping the schema expects at path (for "unknown key" hints). */
function allowedKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  let s: any = schema; // eslint-disable-line @typescript-eslint/no-explicit-any -- walks zod's internal defs
  const unwrap = () => {
    for (let guard = 0; guard < 20 && s; guard++) {
      const d = s._zod?.def;
      if (!d) return;
      if (d.type === 'default' || d.type === 'prefault' || d.type === 'optional' || d.type === 'nullable')
        s = d.innerType;
      else if (d.type === 'pipe') s = d.out?._zod?.def?.type === 'transform' ? d.in : d.out;
      else return;
    }
  };
  unwrap();
  for (const seg of path) {
    const d = s?._zod?.def;
    if (d?.type === 'object') s = d.shape[seg as string];
    else if (d?.type === 'array') s = d.element;
    else if (d?.type === 'record') s = d.valueType;
    else return undefined;
    unwrap();
  }
  const d = s?._zod?.def;
  return d?.type === 'object' ? Object.keys(d.shape) : undefined;
}

interface Source {
  file?: string;
  doc?: Document;
  lc?: LineCounter;
  overrides?: unknown;
}

function problemLine(src: Source, path: readonly PropertyKey[], message: string): string {
  if (src.overrides !== undefined && fromOverrides(src.overrides, path))
    return `${OVERRIDES_LABEL}: ${formatPath(path)}: ${message}`;
  const label = src.file !== undefined ? `config ${src.file}` : 'config';
  const line = src.doc && src.lc ? lineOf(src.doc, src.lc, path) : undefined;
  return `${label}: ${formatPath(path)}: ${message}${line !== undefined && path.length > 0 ? ` (line ${line})` : ''}`;
}

function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown, src: Source): string[] {
  const out: string[] = [];
  for (const iss of issues) {
    if (iss.code === 'unrecognized_keys') {
      const allowed = allowedKeys(configSchema, iss.path);
      const hint = allowed ? ` (allowed: ${allowed.join(', ')})` : '';
      for (const key of iss.keys) {
        const renamed = RENAMED_KEYS[[...iss.path, key].join('.')];
        out.push(problemLine(src, [...iss.path, key], renamed ?? `unknown key${hint}`));
      }
      continue;
    }
    const got = valueAt(input, iss.path);
    let msg = iss.message;
    if (got === undefined && iss.code === 'invalid_type') msg = `missing: ${msg}`;
    else if (!msg.includes(show(got))) msg += `, got ${show(got)}`;
    out.push(problemLine(src, iss.path, msg));
  }
  return out;
}

/** Validate already-parsed input (e.g. from YAML or JSON) with overrides merged on top. */
export function validateConfig(input: unknown, overrides?: DeepPartial<Config>): Config {
  return validate(input, overrides, {});
}

function validate(input: unknown, overrides: DeepPartial<Config> | undefined, src: Source): Config {
  const merged = deepMerge(input ?? {}, overrides);
  const r = configSchema.safeParse(merged);
  if (r.success) return r.data;
  throw new ConfigError(describeIssues(r.error.issues, merged, { ...src, overrides }));
}

/**
 * The last file parsed, by path and text: a command that loads its config more than once (collect does,
 * to find its own entry first) parses it once. The text is compared, so an edited file is parsed again.
 * Nothing here mutates what was parsed (deepMerge copies, zod returns new objects).
 */
let lastParsed: { file: string; text: string; parsed: { data: unknown; doc: Document; lc: LineCounter } } | undefined;

function readYaml(file: string): { data: unknown; doc: Document; lc: LineCounter } {
  const text = readBounded(file);
  if (lastParsed?.file === file && lastParsed.text === text) return lastParsed.parsed;
  const parsed = parseYaml(file, text);
  lastParsed = { file, text, parsed };
  return parsed;
}

/**
 * A config file is a few kilobytes (2,000 symbols are ~30 KB); anything past MAX_CONFIG_BYTES is refused
 * before parsing, so a stray log file or a hostile 100 MB value costs neither minutes nor gigabytes.
 */
export const MAX_CONFIG_BYTES = 1 << 20;
/** YAML aliases a file may expand: enough for shared fault profiles, not for a billion laughs. */
const MAX_ALIASES = 100;

/** Read the file, refusing what is not a regular file (a FIFO or /dev/zero would never end) or too big. */
function readBounded(file: string): string {
  let fd: number | undefined;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new ConfigError([`config ${file}: cannot read: is a directory, not a file`]);
    if (!st.isFile()) throw new ConfigError([`config ${file}: cannot read: not a regular file`]);
    if (st.size > MAX_CONFIG_BYTES) throw tooBig(file);
    // Read at most one byte past the bound: the file may have grown since fstat.
    const buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let len = 0;
    for (let r; len < buf.length && (r = readSync(fd, buf, len, buf.length - len, null)) > 0;) len += r;
    if (len > MAX_CONFIG_BYTES) throw tooBig(file);
    return buf.toString('utf8', 0, len);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOENT' ? 'file not found' : err.code === 'EISDIR' ? 'is a directory, not a file' : err.message;
    throw new ConfigError([`config ${file}: cannot read: ${why}`]);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function tooBig(file: string): ConfigError {
  return new ConfigError([
    `config ${file}: more than ${MAX_CONFIG_BYTES} bytes, too big for a config file (is this the right file?)`,
  ]);
}

function parseYaml(file: string, text: string): { data: unknown; doc: Document; lc: LineCounter } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lc.linePos(e.pos[0]);
        const firstLine = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
        return `config ${file}: line ${pos.line}, column ${pos.col}: YAML syntax error: ${firstLine}`;
      }),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (e) {
    // yaml throws a ReferenceError for an alias bomb (or an alias to nothing): the file's fault, not ours.
    throw new ConfigError([`config ${file}: YAML aliases: ${(e as Error).message}`]);
  }
  if (data !== null && data !== undefined && !isPlainObject(data))
    throw new ConfigError([
      `config ${file}: expected a mapping (key: value lines) at the top level, got ${Array.isArray(data) ? 'a list' : show(data)}`,
    ]);
  return { data, doc, lc };
}

/**
 * Read the YAML file at `path` (if given), merge `overrides` on top (objects key by key, arrays replace,
 * undefined ignored), validate and fill in defaults. Throws ConfigError listing every problem.
 */
export function loadConfig(path?: string, overrides?: DeepPartial<Config>): Config {
  if (path === undefined) return validate({}, overrides, {});
  const { data, doc, lc } = readYaml(path);
  return validate(data, overrides, { file: path, doc, lc });
}
