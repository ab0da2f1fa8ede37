/**
 * CURVE key files (docs/security.md). No zeromq import: the CLI reads and checks keys before any socket
 * exists, and `bookwire keygen` loads zeromq only to make a pair.
 *
 *   NAME.key  (mode 0600)  "public <z85>" and "secret <z85>" lines: this process's key pair
 *   NAME.pub               one "<z85>" line: what a server lists in its allow directory, as NAME
 * Lines starting with # are comments.
 */
import fs from 'node:fs';
import path from 'node:path';

/** A Z85-encoded CURVE key: 32 bytes as 40 characters. */
const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

export const isZ85Key = (s: string): boolean => Z85_KEY.test(s);

/** A peer's name (collector id, client name): the file name of its .pub, its routing id on the ingest. */
const NAME = /^[A-Za-z0-9_-]{1,64}$/;

export class KeyFileError extends Error {
  override name = 'KeyFileError';
}

export interface CurveKeyPair {
  publicKey: string;
  secretKey: string;
}

/** CURVE settings of one process, keys already read (ZmqTransportOptions.curve). */
export interface CurveSettings {
  /** This process's key pair: servers use it for their bound sockets, clients for their connections. */
  keyPair: CurveKeyPair;
  /** The key of the server(s) this process connects to; `serverKeys` overrides it per endpoint. */
  serverKey?: string;
  serverKeys?: Record<string, string>;
  /** Public key -> peer name of every client allowed to connect to this process's bound sockets. */
  allow: Map<string, string>;
  /**
   * Where `allow` was read from: servers follow it while running (allow-watch.ts), so a key added to or
   * removed from the directory takes effect without a restart. Absent: `allow` is fixed.
   */
  allowFrom?: { dir?: string; listed?: Record<string, string> };
}

/** Config form (bus.curve), paths not yet read. */
export interface CurveConfig {
  keyFile: string;
  serverKey?: string;
  serverKeys?: Record<string, string>;
  allowDir?: string;
  allow?: Record<string, string>;
}

function readText(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new KeyFileError(
      `cannot read ${what} ${file}: ${code === 'ENOENT' ? 'no such file (make one with bookwire keygen)' : ((e as Error).message ?? code)}`,
    );
  }
}

const contentLines = (text: string): string[] =>
  text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

/** Read a NAME.key file written by `bookwire keygen`. */
export function readKeyPair(file: string): CurveKeyPair {
  const text = readText(file, 'key file');
  if (text.length > 4096) throw new KeyFileError(`key file ${file}: too large to be a key file`);
  let publicKey: string | undefined;
  let secretKey: string | undefined;
  for (const line of contentLines(text)) {
    const m = /^(public|secret)\s+(\S+)$/.exec(line);
    if (!m || !isZ85Key(m[2]))
      throw new KeyFileError(
        `key file ${file}: expected "public <key>" and "secret <key>" lines (40-character Z85 keys)`,
      );
    if (m[1] === 'public') publicKey = m[2];
    else secretKey = m[2];
  }
  if (!publicKey || !secretKey)
    throw new KeyFileError(`key file ${file}: needs both a "public" and a "secret" line (written by bookwire keygen)`);
  return { publicKey, secretKey };
}

/** A public key given in config: the 40-character Z85 key itself, or a .pub (or .key) file holding it. */
export function readPublicKey(keyOrFile: string): string {
  // A file first: a 40-character path can look like a Z85 key (/, -, . and letters are Z85 characters).
  if (isZ85Key(keyOrFile) && !fs.existsSync(keyOrFile)) return keyOrFile;
  const text = readText(keyOrFile, 'public key file');
  if (text.length > 4096) throw new KeyFileError(`public key file ${keyOrFile}: too large to be a key file`);
  const lines = contentLines(text);
  if (lines.length === 1 && isZ85Key(lines[0])) return lines[0];
  const pub = lines.map((l) => /^public\s+(\S+)$/.exec(l)?.[1]).find((k) => k !== undefined && isZ85Key(k));
  if (pub) return pub; // a NAME.key: its public line
  throw new KeyFileError(`public key file ${keyOrFile}: expected one line with a 40-character Z85 key`);
}

/** One file (or config entry) of an allow-list that cannot be used, and why. */
export interface AllowListProblem {
  where: string;
  message: string;
}

/** Every entry of an allow-list: its name, where it is, and a reader that throws KeyFileError. */
function allowEntries(
  dir: string | undefined,
  listed: Record<string, string>,
): Array<{ name: string; where: string; key: () => string }> {
  const entries: Array<{ name: string; where: string; key: () => string }> = [];
  if (dir !== undefined) {
    let files: string[];
    try {
      files = fs.readdirSync(dir).filter((f) => f.endsWith('.pub'));
    } catch (e) {
      throw new KeyFileError(`cannot read the allow directory ${dir}: ${(e as Error).message}`);
    }
    for (const f of files.sort()) {
      const file = path.join(dir, f);
      entries.push({ name: path.basename(f, '.pub'), where: file, key: () => readPublicKey(file) });
    }
  }
  for (const [name, key] of Object.entries(listed))
    entries.push({ name, where: `allow.${name}`, key: () => readPublicKey(key) });
  return entries;
}

/** Add `name` -> `key` to `allow` (key -> name), or say why not: a bad name, or a key that is already another name. */
function allowProblem(allow: Map<string, string>, name: string, key: string): string | undefined {
  if (!NAME.test(name)) return `"${name}" is not a peer name (1-64 letters, digits, _ or -)`;
  const other = allow.get(key);
  if (other !== undefined && other !== name)
    return `the key of "${name}" is already allowed as "${other}" (one key, one name)`;
  allow.set(key, name);
  return undefined;
}

/**
 * The allow-list: every NAME.pub in `dir` (NAME is the peer's name) plus `listed` (name -> key or file).
 * A key listed twice under two names is refused: a key is one identity. Strict (read at start): the first
 * problem throws.
 */
export function readAllowList(dir: string | undefined, listed: Record<string, string> = {}): Map<string, string> {
  const allow = new Map<string, string>();
  for (const e of allowEntries(dir, listed)) {
    const problem = allowProblem(allow, e.name, e.key());
    if (problem !== undefined) throw new KeyFileError(`${e.where}: ${problem}`);
  }
  return allow;
}

/**
 * The allow-list re-read while a server runs (allow-watch.ts): never throws. An entry that cannot be used
 * is a problem, and its name keeps the key it has in `previous` (if any): a file caught half-written or
 * broken by mistake revokes nobody. An unreadable directory gives `allow` undefined (keep the old list).
 */
export function readAllowListLenient(
  dir: string | undefined,
  listed: Record<string, string> = {},
  previous: ReadonlyMap<string, string> = new Map(),
): { allow: Map<string, string> | undefined; problems: AllowListProblem[] } {
  let entries;
  try {
    entries = allowEntries(dir, listed);
  } catch (e) {
    return { allow: undefined, problems: [{ where: dir ?? '', message: (e as Error).message }] };
  }
  const previousKey = new Map([...previous].map(([key, name]) => [name, key]));
  const allow = new Map<string, string>();
  const problems: AllowListProblem[] = [];
  for (const e of entries) {
    let key: string | undefined;
    try {
      key = e.key();
    } catch (err) {
      problems.push({ where: e.where, message: (err as Error).message });
      key = previousKey.get(e.name);
      if (key === undefined) continue;
    }
    const problem = allowProblem(allow, e.name, key);
    if (problem !== undefined) problems.push({ where: e.where, message: problem });
  }
  return { allow, problems };
}

/** Config -> settings: reads every file named; throws KeyFileError with the file and what is wrong. */
export function loadCurveSettings(c: CurveConfig): CurveSettings {
  const keyPair = readKeyPair(c.keyFile);
  const serverKeys = c.serverKeys
    ? Object.fromEntries(Object.entries(c.serverKeys).map(([ep, k]) => [ep, readPublicKey(k)]))
    : undefined;
  return {
    keyPair,
    serverKey: c.serverKey !== undefined ? readPublicKey(c.serverKey) : undefined,
    serverKeys,
    allow: readAllowList(c.allowDir, c.allow),
    allowFrom: { dir: c.allowDir, listed: c.allow },
  };
}

/**
 * CURVE for an SDK client (subscribe({ curve }), subscribeVenue({ curve })): files or the keys themselves.
 * A client only connects, so it needs no allow-list.
 */
export interface ClientCurveOptions {
  /** The server's (arbiter's) public key: the 40-character Z85 key, or its NAME.pub file. */
  serverKey: string;
  /** Per endpoint, for servers with keys of their own (hot-hot arbiters): endpoint -> key or file. */
  serverKeys?: Record<string, string>;
  /** This client's key pair: a NAME.key file written by `bookwire keygen` ... */
  keyFile?: string;
  /** ... or the pair itself (Z85), e.g. from a secret store. */
  publicKey?: string;
  secretKey?: string;
}

/** ClientCurveOptions -> CurveSettings; throws KeyFileError saying what is missing or wrong. */
export function clientCurveSettings(o: ClientCurveOptions): CurveSettings {
  let keyPair: CurveKeyPair;
  if (o.keyFile !== undefined) {
    if (o.publicKey !== undefined || o.secretKey !== undefined)
      throw new KeyFileError('curve: give either keyFile or publicKey and secretKey, not both');
    keyPair = readKeyPair(o.keyFile);
  } else {
    if (o.publicKey === undefined || o.secretKey === undefined)
      throw new KeyFileError("curve: this client's key pair is needed: keyFile, or publicKey and secretKey");
    for (const [what, k] of [
      ['publicKey', o.publicKey],
      ['secretKey', o.secretKey],
    ] as const)
      if (!isZ85Key(k)) throw new KeyFileError(`curve.${what}: expected a 40-character Z85 key`);
    keyPair = { publicKey: o.publicKey, secretKey: o.secretKey };
  }
  return {
    keyPair,
    serverKey: readPublicKey(o.serverKey),
    serverKeys: o.serverKeys
      ? Object.fromEntries(Object.entries(o.serverKeys).map(([ep, k]) => [ep, readPublicKey(k)]))
      : undefined,
    allow: new Map(),
  };
}

/**
 * Write NAME.key (0600) and NAME.pub into `dir`. Existing files are kept unless `force`; the secret file
 * is created with O_EXCL-like care so it is never world-readable, even for an instant.
 */
export function writeKeyPair(
  dir: string,
  name: string,
  pair: CurveKeyPair,
  force = false,
): { keyFile: string; pubFile: string } {
  if (!NAME.test(name)) throw new KeyFileError(`--name ${name}: expected 1-64 letters, digits, _ or -`);
  const keyFile = path.join(dir, `${name}.key`);
  const pubFile = path.join(dir, `${name}.pub`);
  if (!force)
    for (const f of [keyFile, pubFile])
      if (fs.existsSync(f)) throw new KeyFileError(`${f} already exists (use --force to replace it)`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    const keyText =
      `# bookwire CURVE key pair "${name}": keep this file private (mode 0600); share ${name}.pub\n` +
      `public ${pair.publicKey}\nsecret ${pair.secretKey}\n`;
    if (force) fs.rmSync(keyFile, { force: true });
    fs.writeFileSync(keyFile, keyText, { mode: 0o600, flag: 'wx' });
    fs.chmodSync(keyFile, 0o600); // whatever the umask
    fs.writeFileSync(pubFile, `# bookwire CURVE public key "${name}"\n${pair.publicKey}\n`, { mode: 0o644 });
    fs.chmodSync(pubFile, 0o644);
  } catch (e) {
    throw new KeyFileError(`cannot write keys into ${dir}: ${(e as Error).message}`);
  }
  return { keyFile, pubFile };
}

const Z85_CHARS = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

/** Z85 text of `data` (its length a multiple of 4): how ZAP's binary CURVE credential is compared with keys. */
export function z85Encode(data: Uint8Array): string {
  let out = '';
  for (let i = 0; i < data.length; i += 4) {
    let v = ((data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]) >>> 0;
    let chunk = '';
    for (let j = 0; j < 5; j++) {
      chunk = Z85_CHARS[v % 85] + chunk;
      v = Math.floor(v / 85);
    }
    out += chunk;
  }
  return out;
}

/** A new key pair (libzmq's generator); zeromq is loaded only when this is called. */
export async function generateKeyPair(): Promise<CurveKeyPair> {
  const { curveKeyPair } = await import('zeromq');
  return curveKeyPair();
}
