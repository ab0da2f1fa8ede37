/**
 * The ZAP handler (ZeroMQ Authentication Protocol 1.0, RFC 27): libzmq asks it, over
 * inproc://zeromq.zap.01 in the same context, whether a CURVE client may finish its handshake with one of
 * our server sockets. One per process (one bind per context), shared by every ZmqTransport: each server
 * socket registers a ZAP domain of its own with its allow-list.
 *
 * Identity binding: libzmq applies the metadata of a ZAP reply to the connection, and an "Identity"
 * property there sets the peer's routing id on a ROUTER, replacing the one the client claimed in its
 * handshake. So the ingest ROUTER receives every message prefixed by the name the client's key is
 * allowed under, whatever routing id the client chose: a key allowed as `a` can only speak as `a`.
 * But libzmq applies the client's own metadata after sending the ZAP request, and a reply read before
 * that (a handler that answers while libzmq's I/O thread is preempted: seen under load) loses to the
 * client's claim. So the Identity we set carries a secret of this process, `name#token`: a routing id
 * with the token was set here; one without it is the client's claim and names nobody (boundName ->
 * undefined; the ingest drops its messages, counted, and asks that client to reconnect).
 *
 * Revocation: the routing id also carries the key the connection authenticated with (`name#n#key#token`),
 * so a ROUTER checks every message against the allow-list as it is now (boundName): once a key is removed,
 * its open connections' messages are dropped and the peer is asked to reconnect (where ZAP refuses it),
 * while every other peer's connection stays as it is. Sockets without a routing id per peer (PUB) cannot
 * tell their peers apart and are rebound instead (zeromq.ts, secureBind).
 */
import { randomBytes } from 'node:crypto';
import * as zmq from 'zeromq';
import type { Logger } from '../log.js';
import { z85Encode } from './keys.js';
import { errorMessageOf } from './common.js';

export const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
const Z85_KEY_LENGTH = 40;

/** Who a routing id set by the ZAP handler names: the allow-list's name and the key it authenticated with. */
export interface BoundPeer {
  name: string;
  key: string;
}

/** Handshake outcomes of one transport's server sockets (read by the metrics room through ZmqTransport.security). */
export interface SecurityStats {
  /** CURVE handshakes accepted. */
  allowed: number;
  /** CURVE handshakes refused (unknown key; a client retries, so one peer counts many times). */
  refused: number;
  /** Distinct refused keys seen (each logged once), up to MAX_REMEMBERED_REFUSED. */
  refusedPeers: number;
  /** Ingest messages dropped because their routing id was the sender's claim, not bound to its key. */
  unbound: number;
}

export const newSecurityStats = (): SecurityStats => ({ allowed: 0, refused: 0, refusedPeers: 0, unbound: 0 });

export interface ZapPolicy {
  /** Public key (Z85) -> peer name. */
  allow: ReadonlyMap<string, string>;
  /**
   * Set the peer's routing id to its name and key (ROUTER sockets whose routing id is the sender's
   * identity: true; one routing id per key, so a reconnecting peer takes its old place with `handover`), or
   * to that and a number of this handshake ('per-connection': one key may hold several connections to a
   * ROUTER, which refuses a second peer under a routing id it already has).
   */
  bindIdentity: boolean | 'per-connection';
  /** What the socket is, for the log: "ingest tcp://0.0.0.0:5555". */
  what: string;
  stats: SecurityStats;
  log: Logger;
}

/** Past this many distinct refused keys per domain, further ones are counted but no longer logged one by one. */
const MAX_REMEMBERED_REFUSED = 1000;

interface Domain extends ZapPolicy {
  refusedKeys: Set<string>;
  /** Keys admitted at least once (at most the allow-list's size): a revoked one may still be connected. */
  admittedKeys: Set<string>;
  floodLogged: boolean;
}

/** ZAP metadata: name length (1 byte), name, value length (4 bytes BE), value. */
function metadata(props: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(props)) {
    const kb = Buffer.from(k);
    const vb = Buffer.from(v);
    const b = Buffer.alloc(1 + kb.length + 4 + vb.length);
    b[0] = kb.length;
    kb.copy(b, 1);
    b.writeUInt32BE(vb.length, 1 + kb.length);
    vb.copy(b, 5 + kb.length);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

class ZapHandler {
  /** Secret suffix of the routing ids this handler sets: a client cannot claim one. */
  private readonly token = randomBytes(12).toString('base64url');
  private readonly suffix = Buffer.from(`#${this.token}`);
  private sock: zmq.Router | undefined;

  /** The name and key in a routing id this handler set (`name#n#key#token`), or undefined for any other one. */
  boundPeer(routingId: Buffer): BoundPeer | undefined {
    const n = routingId.length - this.suffix.length;
    if (n < Z85_KEY_LENGTH + 4 || this.suffix.compare(routingId, n) !== 0) return undefined;
    const s = routingId.toString('utf8', 0, n);
    const hash = s.indexOf('#');
    if (hash <= 0) return undefined;
    return { name: s.slice(0, hash), key: s.slice(s.length - Z85_KEY_LENGTH) };
  }

  /**
   * The name a routing id this handler set speaks for, while its key is still allowed under that name in
   * `allow` (the live list: a removed key's open connections name nobody from then on); else undefined.
   */
  boundName(routingId: Buffer, allow: ReadonlyMap<string, string>): string | undefined {
    const p = this.boundPeer(routingId);
    return p !== undefined && allow.get(p.key) === p.name ? p.name : undefined;
  }
  /** Handshakes bound per connection so far: numbers each one. */
  private connections = 0;
  private starting: Promise<void> | undefined;
  private readonly domains = new Map<string, Domain>();
  private nextDomain = 1;

  /** Register a server socket's policy; resolves (handler bound) with the ZAP domain to set on the socket. */
  async register(policy: ZapPolicy): Promise<string> {
    const domain = `bookwire-${process.pid}-${this.nextDomain++}`;
    this.domains.set(domain, { ...policy, refusedKeys: new Set(), admittedKeys: new Set(), floodLogged: false });
    try {
      await (this.starting ??= this.start());
    } catch (e) {
      this.domains.delete(domain);
      throw e;
    }
    return domain;
  }

  /** Whether any of `keys` passed a handshake on `domain` (its connection may still be open). */
  admittedAny(domain: string, keys: readonly string[]): boolean {
    const d = this.domains.get(domain);
    return d !== undefined && keys.some((k) => d.admittedKeys.has(k));
  }

  unregister(domain: string): void {
    this.domains.delete(domain);
    if (this.domains.size === 0 && this.sock) {
      // An open socket with a pending receive keeps the process alive: close it when nobody needs it.
      this.sock.close();
      this.sock = undefined;
      this.starting = undefined;
    }
  }

  private async start(): Promise<void> {
    // A handler closed a moment ago may still hold the inproc name until libzmq reaps it: retry briefly.
    for (let attempt = 0; ; attempt++) {
      const sock = new zmq.Router({ linger: 0, sendTimeout: 0 });
      try {
        await sock.bind(ZAP_ENDPOINT);
        this.sock = sock;
        void this.loop(sock);
        return;
      } catch (e) {
        sock.close();
        if ((e as { code?: string }).code !== 'EADDRINUSE' || attempt >= 100)
          throw new Error(`cannot start the ZAP handler on ${ZAP_ENDPOINT}: ${errorMessageOf(e)}`, { cause: e });
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  private async loop(sock: zmq.Router): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await sock.receive();
      } catch {
        return; // closed
      }
      const reply = this.answer(frames);
      if (reply === undefined) continue;
      const send = () => {
        try {
          sock.send(reply).then(undefined, () => undefined); // a vanished connection needs no answer
        } catch {
          // closed meanwhile
        }
      };
      // An identity-binding reply waits a moment so that libzmq has applied the client's own metadata
      // first (see above): without it the honest client loses the race now and then and is re-asked.
      if (reply.length === 8 && reply[7].length > 0) setTimeout(send, IDENTITY_REPLY_DELAY_MS);
      else send();
    }
  }

  /** [routing id, empty, version, request id, domain, address, identity, mechanism, credentials...] -> reply. */
  private answer(f: Buffer[]): Buffer[] | undefined {
    if (f.length < 8) return undefined; // not a ZAP request; libzmq never sends one
    const [rid, empty, version, requestId, domainF, addressF, , mechanismF] = f;
    const deny = (code: string, text: string) => [rid, empty, '1.0', requestId, code, text, '', ''].map(toBuf);
    if (version.toString() !== '1.0') return deny('500', 'unsupported ZAP version');
    const d = this.domains.get(domainF.toString());
    if (d === undefined) return deny('400', 'unknown domain');
    const mechanism = mechanismF.toString();
    const address = addressF.toString();
    if (mechanism !== 'CURVE' || f.length < 9 || f[8].length !== 32) {
      d.stats.refused++;
      this.logRefused(d, `${mechanism}@${address}`, { mechanism, address }, 'refused a peer without a CURVE key');
      return deny('400', 'CURVE required');
    }
    const key = z85Encode(f[8]);
    const name = d.allow.get(key);
    if (name === undefined) {
      d.stats.refused++;
      this.logRefused(d, key, { key, address }, 'refused a peer whose key is not allowed');
      return deny('400', 'key not allowed');
    }
    d.stats.allowed++;
    d.admittedKeys.add(key);
    // Refused before, allowed now (added to the allow directory): if it is revoked later, say so again.
    if (d.refusedKeys.delete(key)) d.stats.refusedPeers = d.refusedKeys.size;
    d.log.debug({ socket: d.what, peer: name, address }, 'peer authenticated');
    const n = d.bindIdentity === 'per-connection' ? ++this.connections : 0;
    const meta = d.bindIdentity ? metadata({ Identity: `${name}#${n}#${key}#${this.token}` }) : EMPTY;
    return [rid, empty, toBuf('1.0'), requestId, toBuf('200'), toBuf('OK'), toBuf(name), meta];
  }

  /** Once per refused key (a refused client retries every reconnect interval), bounded. */
  private logRefused(d: Domain, id: string, fields: Record<string, unknown>, msg: string): void {
    if (d.refusedKeys.has(id)) return;
    if (d.refusedKeys.size >= MAX_REMEMBERED_REFUSED) {
      if (!d.floodLogged)
        d.log.warn(
          { socket: d.what },
          `${msg}: more than ${MAX_REMEMBERED_REFUSED} refused peers, no longer logged one by one`,
        );
      d.floodLogged = true;
      return;
    }
    d.refusedKeys.add(id);
    d.stats.refusedPeers = d.refusedKeys.size;
    d.log.warn({ socket: d.what, ...fields }, msg);
  }
}

const EMPTY = Buffer.alloc(0);
const IDENTITY_REPLY_DELAY_MS = 2;
const toBuf = (s: string | Buffer): Buffer => (typeof s === 'string' ? Buffer.from(s) : s);

/** The process's one ZAP handler. */
export const zapHandler = new ZapHandler();
