#!/usr/bin/env python3
"""Follow one consolidated bookwire order book from Python with pyzmq.

Keeps a local copy of the book from the arbiter's snapshots and deltas (docs/wire-format.md) and prints
the best bid and ask after every update:

    python3 examples/python_subscriber.py --topic book.binance.BTCUSDT

Needs only pyzmq (Debian/Ubuntu: apt-get install python3-zmq; elsewhere: pip install pyzmq).
Start the pipeline first, e.g. `npx bookwire demo` in another terminal.

CURVE (an arbiter run with bus.curve, docs/security.md): give the arbiter's public key and this client's
key pair, as files written by `bookwire keygen` (its NAME.pub must be in the arbiter's allow directory):

    python3 examples/python_subscriber.py --endpoint tcp://arb-host:5556 \
        --curve-server-key keys/arb.pub --curve-key keys/strategy.key

In pyzmq that is three socket options, set before connect():

    sock.curve_serverkey = b"<arbiter's 40-character Z85 public key>"
    sock.curve_publickey = b"<this client's public key>"
    sock.curve_secretkey = b"<this client's secret key>"

Framing: every message is exactly [topic, payload], so `topic, payload = sock.recv_multipart()` is all it
takes. A pipeline run with batching opted in (bus.coalesce: true, --coalesce) also sends batches
[batch.<topic>, payload, payload, ...] under their own topic, which the plain subscription below never
receives (it would see gaps instead); --batched reads them too.

The rules, in full:
  * a snapshot replaces the book (unless it is older than the book we have: a second, lagging arbiter);
  * a delta applies iff its "prev" equals our seq; then our seq becomes its "seq";
  * a delta with seq <= ours is a copy we already have: ignore it;
  * anything else is a gap (we missed messages, e.g. this process was too slow): stop applying and wait
    for the next snapshot. The arbiter publishes one every second; --snapshot-endpoint asks for one at
    start instead of waiting.
"""
import argparse
import json
import sys
import time

import zmq

WIRE_VERSION = 1
BATCH_PREFIX = b"batch."  # topic frame of a batch, [batch.<topic>, payload, payload, ...] (bus.coalesce only)


def parse_args():
    ap = argparse.ArgumentParser(description="Print the best bid/ask of a bookwire consolidated book.")
    ap.add_argument("--endpoint", default="tcp://127.0.0.1:5556", help="arbiter publish endpoint (default %(default)s)")
    ap.add_argument("--topic", default="book.binance.BTCUSDT", help="book topic, book.<venue>.<symbol> (default %(default)s)")
    ap.add_argument("--snapshot-endpoint", default=None,
                    help="arbiter snapshot endpoint (e.g. tcp://127.0.0.1:5557): ask for a snapshot at start")
    ap.add_argument("--batched", action="store_true",
                    help="also read batches [batch.<topic>, payload, ...] (only sent with bus.coalesce: true)")
    ap.add_argument("--curve-server-key", default=None,
                    help="CURVE: the arbiter's public key, a NAME.pub file or the 40-character Z85 key")
    ap.add_argument("--curve-key", default=None,
                    help="CURVE: this client's key pair, a NAME.key file written by bookwire keygen")
    ap.add_argument("--count", type=int, default=0, help="exit 0 after this many book updates printed (0 = forever)")
    ap.add_argument("--timeout", type=float, default=0,
                    help="exit 1 if --count updates were not printed within this many seconds (0 = no limit)")
    args = ap.parse_args()
    if (args.curve_server_key is None) != (args.curve_key is None):
        ap.error("CURVE needs both --curve-server-key and --curve-key")
    args.curve = read_curve(args.curve_server_key, args.curve_key) if args.curve_key else None
    return args


def key_lines(path):
    with open(path) as f:
        return [l.strip() for l in f if l.strip() and not l.strip().startswith("#")]


def read_curve(server_key, key_file):
    """(server public, own public, own secret) as Z85 bytes, from bookwire keygen's files (docs/security.md):
    NAME.pub holds one key line; NAME.key holds "public <key>" and "secret <key>" lines."""
    server = server_key if len(server_key) == 40 and not server_key.endswith(".pub") else key_lines(server_key)[-1]
    pair = dict(line.split(None, 1) for line in key_lines(key_file))
    for what, key in (("server", server), ("public", pair.get("public", "")), ("secret", pair.get("secret", ""))):
        if len(key) != 40:
            sys.exit(f"CURVE {what} key: expected 40 Z85 characters (files from bookwire keygen)")
    return server.encode(), pair["public"].encode(), pair["secret"].encode()


def use_curve(sock, curve):
    """Make `sock` a CURVE client of the arbiter (before connect): encrypted, and admitted only if the
    arbiter allows our public key."""
    if curve is not None:
        sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = curve


class Book:
    """Price -> size per side. Fine for an example; use sortedcontainers.SortedDict for deep, fast books."""

    def __init__(self):
        self.bids = {}
        self.asks = {}
        self.seq = -1
        self.synced = False

    def replace(self, msg):
        self.bids = {p: s for p, s in msg["bids"]}
        self.asks = {p: s for p, s in msg["asks"]}
        self.seq = msg["seq"]
        self.synced = True
        self.epoch = msg.get("epoch")
        self.epoch_heard = time.monotonic()

    def apply(self, msg):
        for side, levels in ((self.bids, msg["bids"]), (self.asks, msg["asks"])):
            for price, size in levels:
                if size == 0:
                    side.pop(price, None)  # size 0 deletes the level
                else:
                    side[price] = size  # sizes are absolute, not increments
        self.seq = msg["seq"]

    def other_epoch(self, msg):
        """A message in another arbiter's numbering (books of Kraken, Coinbase, Gemini carry an "epoch",
        docs/wire-format.md "Epochs"): ignored while ours speaks; when ours was silent for 2.5 s, the next
        snapshot of any epoch is taken."""
        now = time.monotonic()
        if msg.get("epoch") == getattr(self, "epoch", None):
            self.epoch_heard = now
            return False
        if self.synced and now - getattr(self, "epoch_heard", now) > 2.5:
            print(f"arbiter of epoch {self.epoch} silent; following another", file=sys.stderr)
            self.synced = False
        return self.synced

    def on_message(self, msg):
        """Returns True if the book changed."""
        if self.other_epoch(msg):
            return False
        if msg["type"] == "snapshot":
            if self.synced and msg["seq"] < self.seq:
                return False  # older than ours (another arbiter behind this one)
            self.replace(msg)
            return True
        if msg["type"] != "delta" or not self.synced:
            return False
        if msg["seq"] <= self.seq:
            return False  # already have it
        if msg["prev"] == self.seq:
            self.apply(msg)
            return True
        print(f"gap: book at {self.seq}, delta {msg['prev']}->{msg['seq']}; waiting for a snapshot", file=sys.stderr)
        self.synced = False
        return False


def request_snapshot(ctx, endpoint, topic, timeout_s, curve=None):
    """Ask the arbiter's snapshot service (a ROUTER) for the current book. REQ frames: [topic, query]."""
    _, venue, symbol = topic.split(".", 2)
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    use_curve(req, curve)
    req.connect(endpoint)
    try:
        query = {"v": WIRE_VERSION, "type": "snapshot-query", "venue": venue, "symbol": symbol}
        req.send_multipart([topic.encode(), json.dumps(query).encode()])
        if not req.poll(int(timeout_s * 1000)):
            print(f"no snapshot reply from {endpoint} within {timeout_s} s", file=sys.stderr)
            return None
        reply = json.loads(req.recv())
        if reply.get("type") == "error":
            print(f"snapshot service: {reply.get('message')}", file=sys.stderr)
            return None
        return reply
    finally:
        req.close()


def top_line(book, kind):
    bid = max(book.bids) if book.bids else None
    ask = min(book.asks) if book.asks else None
    b = f"{bid!r} x {book.bids[bid]!r}" if bid is not None else "-"
    a = f"{ask!r} x {book.asks[ask]!r}" if ask is not None else "-"
    spread = f"{ask - bid:.10f}".rstrip("0").rstrip(".") if bid is not None and ask is not None else "-"
    return f"seq={book.seq} bid={b} ask={a} spread={spread} ({kind})"


def main():
    args = parse_args()
    deadline = time.monotonic() + args.timeout if args.timeout > 0 else None
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    use_curve(sub, args.curve)
    sub.connect(args.endpoint)
    # ZeroMQ filters by prefix: book.binance.BTCUSDT would also match book.binance.BTCUSDTX, so the topic
    # frame is compared exactly below.
    sub.setsockopt_string(zmq.SUBSCRIBE, args.topic)
    topic_bytes = args.topic.encode()
    if args.batched:
        sub.setsockopt(zmq.SUBSCRIBE, BATCH_PREFIX + topic_bytes)

    book = Book()
    printed = 0
    warned_version = False

    def show(kind):
        nonlocal printed
        print(top_line(book, kind), flush=True)
        printed += 1

    try:
        if args.snapshot_endpoint:
            snap = request_snapshot(ctx, args.snapshot_endpoint, args.topic, 2.0, args.curve)
            if snap is not None and snap.get("v") == WIRE_VERSION:
                book.on_message(snap)
                show("snapshot reply")
        stale = {}  # arbiter id -> what its last heartbeat said
        while args.count == 0 or printed < args.count:
            wait_ms = 1000 if deadline is None else int((deadline - time.monotonic()) * 1000)
            if wait_ms <= 0:
                break
            if not sub.poll(wait_ms):
                continue
            if args.batched:
                topic, *payloads = sub.recv_multipart()  # [topic, payload] or [batch.<topic>, payload, ...]
                if topic.startswith(BATCH_PREFIX):
                    topic = topic[len(BATCH_PREFIX):]
            else:
                topic, payload = sub.recv_multipart()  # bookwire's framing: exactly [topic, payload]
                payloads = [payload]
            if topic != topic_bytes:
                continue
            for payload in payloads:
                msg = json.loads(payload)
                if msg.get("v") != WIRE_VERSION:
                    if not warned_version:
                        print(f"ignoring wire version {msg.get('v')} (this script reads {WIRE_VERSION})", file=sys.stderr)
                        warned_version = True
                    continue
                if msg["type"] == "heartbeat":
                    if book.other_epoch(msg):
                        continue
                    # the arbiter is alive; "stale": no collector carries the book there (docs/wire-format.md)
                    if msg["stale"] != stale.get(msg["arbiter"], False):
                        stale[msg["arbiter"]] = msg["stale"]
                        print(f"arbiter {msg['arbiter']}: book {'STALE' if msg['stale'] else 'fresh again'}", file=sys.stderr)
                    if book.synced and msg.get("offset", 0) == 0 and msg["seq"] > book.seq:
                        print(f"heartbeat at {msg['seq']} ahead of our book at {book.seq}: messages lost", file=sys.stderr)
                        book.synced = False
                    continue
                if book.on_message(msg):
                    show(msg["type"] if msg["type"] == "delta" else f"snapshot {msg.get('reason', '')}".strip())
                if args.count and printed >= args.count:
                    break
    except KeyboardInterrupt:
        return 130
    finally:
        ctx.destroy(linger=0)
    if args.count and printed < args.count:
        print(f"timeout: {printed} of {args.count} book updates after {args.timeout} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
