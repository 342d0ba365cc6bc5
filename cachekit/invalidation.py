"""Invalidation of every process's L1, pushed by the Redis server.

Tracking mode (the default): one RESP3 connection per primary runs
`CLIENT TRACKING ON BCAST PREFIX <namespace>:`, so the server pushes the name of
every key written or deleted under the namespace - by any client, cachekit or not -
to every listening process. BCAST suits a shared cache: no per-key read
bookkeeping on the server, and reads stay one plain GET. Pub/sub mode is the
fallback where tracking is unavailable (no RESP3, or a proxy in between):
cachekit's own writers publish the keys they change on one channel (cluster-wide
in Redis Cluster); writes made outside cachekit are then not seen.

Freshness: each listener sends PING every `heartbeat_s` and notes when it last
heard from its server. L1 serves an entry only while every primary was heard
from within `max_stale_s` (`fresh`); a listener that reconnects (failover, new
primary, restart) first empties L1, since invalidations sent while it was away
are lost, and only then counts as heard. `InvalidationLog` closes the other gap:
a value read from L2 just before an invalidation is not put into L1 after it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import redis

log = logging.getLogger(__name__)

FLUSH = object()
RECHECK_S = 10.0  # how often the primaries are listed again when nothing broke
Address = tuple[str, int]


class InvalidationLog:
    """A counter of invalidations and the most recent ones, to answer "was `key`
    invalidated since `token`?" for reads racing with writes."""

    def __init__(self, size: int = 8192) -> None:
        self.epoch = 0
        self.recent: deque[tuple[int, object]] = deque(maxlen=size)
        self.lock = threading.Lock()

    def record(self, keys: Iterable[object]) -> None:
        with self.lock:
            for key in keys:
                self.epoch += 1
                self.recent.append((self.epoch, key))

    def flush(self) -> None:
        self.record([FLUSH])

    def changed_since(self, token: int, key: object) -> bool:
        if self.epoch == token:
            return False
        with self.lock:
            if not self.recent or self.recent[0][0] > token + 1:
                return True  # the log no longer reaches back to token
            return any(e > token and k in (key, FLUSH) for e, k in reversed(self.recent))


class Listener(threading.Thread):
    """One connection to one server, delivering invalidations until it breaks."""

    def __init__(self, owner: Invalidator, address: Address) -> None:
        super().__init__(name=f"cachekit-invalidation-{address[0]}:{address[1]}", daemon=True)
        self.owner = owner
        self.address = address
        self.heard = 0.0
        self.stopped = threading.Event()
        self.conn: redis.Connection | None = None

    def run(self) -> None:
        try:
            self.conn = self._connect()
            self.owner.connected(self)
            self._loop(self.conn)
        except redis.ResponseError as exc:
            self.owner.refused(exc)
        except Exception as exc:  # any failure ends this link; the supervisor replaces it
            if not self.stopped.is_set():
                log.info("invalidation link to %s:%s lost: %s", *self.address, exc)
        finally:
            if self.conn is not None:
                self.conn.disconnect()
            self.stopped.set()

    def _connect(self) -> redis.Connection:
        owner = self.owner
        tracking = owner.mode == "tracking"
        # With TLS (the login carries the CA) the link is a TLS one like the data
        # clients': a plain socket to a TLS port would only ever be refused.
        kind = redis.SSLConnection if "ssl_ca_data" in owner.login else redis.Connection
        conn = kind(
            host=self.address[0],
            port=self.address[1],
            **owner.login,
            protocol=3 if tracking else 2,
            socket_timeout=owner.timeout_s,
            socket_connect_timeout=owner.timeout_s,
        )
        conn.connect()
        if tracking:
            conn._parser.set_invalidation_push_handler(lambda message: message)
            conn.send_command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", owner.prefix)
        else:
            conn.send_command("SUBSCRIBE", owner.channel)
        reply = conn.read_response()
        if isinstance(reply, redis.ResponseError):
            raise reply
        return conn

    def _loop(self, conn: redis.Connection) -> None:
        owner = self.owner
        next_ping = time.monotonic() + owner.heartbeat_s
        while not self.stopped.is_set():
            wait = max(0.0, next_ping - time.monotonic())
            if conn.can_read(timeout=wait):
                self._handle(conn.read_response(push_request=True))
            now = time.monotonic()
            if now >= next_ping:
                if now - self.heard > owner.max_stale_s:
                    raise redis.TimeoutError("no reply to PING within max_stale_s")
                conn.send_command("PING")
                next_ping = now + owner.heartbeat_s

    def _handle(self, message: Any) -> None:
        self.heard = time.monotonic()
        self.owner.heard()
        if not isinstance(message, list) or len(message) < 2:
            return  # PONG
        kind = _text(message[0])
        if kind == "invalidate":
            keys = message[1]
            self.owner.invalidated(None if keys is None else [_text(k) for k in keys])
        elif kind == "message":
            self.owner.invalidated([_text(message[2])])

    def stop(self) -> None:
        self.stopped.set()


class Invalidator:
    """Keeps a listener on every current primary; reports invalidations and freshness.

    `on_keys(keys)` gets the changed keys (namespace stripped); `on_flush()` is
    called when L1 must be emptied (a reconnect, or FLUSHALL on the server).
    """

    def __init__(
        self,
        primaries: Callable[[bool], list[Address]],
        login: Mapping[str, Any],
        namespace: str,
        on_keys: Callable[[list[str]], None],
        on_flush: Callable[[], None],
        mode: str = "tracking",
        heartbeat_s: float = 0.25,
        max_stale_s: float = 1.0,
        timeout_s: float = 2.0,
    ) -> None:
        if mode not in ("auto", "tracking", "pubsub"):
            raise ValueError(f"invalidation mode {mode!r}: expected auto, tracking or pubsub")
        if heartbeat_s * 2 > max_stale_s:
            raise ValueError("heartbeat_s must be at most half of max_stale_s")
        self.primaries = primaries
        self.login = login  # connection options: username, password, TLS CA
        self.prefix = f"{namespace}:"
        self.channel = f"cachekit:invalidate:{namespace}"
        self.on_keys = on_keys
        self.on_flush = on_flush
        self.auto = mode == "auto"
        self.mode = "tracking" if self.auto else mode
        self.heartbeat_s = heartbeat_s
        self.max_stale_s = max_stale_s
        self.timeout_s = timeout_s
        self.listeners: dict[Address, Listener] = {}
        self.floor = 0.0  # min over primaries of the last time heard from (monotonic)
        self.fresh_until = 0.0  # L1 may be served until then (floor + max_stale_s)
        self.received = 0
        self.reconnects = 0
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.next_check = 0.0
        self.supervisor = threading.Thread(
            target=self._supervise, name="cachekit-invalidation", daemon=True
        )

    def start(self, wait_s: float = 5.0) -> bool:
        """Start listening; True once every primary's listener is connected."""
        self.supervisor.start()
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.floor > 0:
                return True
            time.sleep(0.01)
        return False

    def fresh(self, now: float) -> bool:
        return now <= self.fresh_until

    def connected(self, listener: Listener) -> None:
        """Empty L1 before the listener counts as heard: what changed while no
        one listened is unknown."""
        with self.lock:
            self.on_flush()
            self.reconnects += 1
            listener.heard = time.monotonic()
        self.heard()

    def refused(self, exc: redis.ResponseError) -> None:
        """The server refused tracking: in auto mode, fall back to pub/sub."""
        if self.auto and self.mode == "tracking":
            log.warning("CLIENT TRACKING refused (%s): falling back to pub/sub", exc)
            self.mode = "pubsub"
        else:
            log.error("invalidation refused by the server: %s", exc)

    def heard(self) -> None:
        listeners = list(self.listeners.values())
        self.floor = min((li.heard for li in listeners), default=0.0) if listeners else 0.0
        self.fresh_until = self.floor + self.max_stale_s if self.floor else 0.0

    def invalidated(self, keys: list[str] | None) -> None:
        self.received += 1
        if keys is None:
            self.on_flush()
            return
        cut = len(self.prefix)
        self.on_keys([k[cut:] for k in keys if k.startswith(self.prefix)])

    def _supervise(self) -> None:
        while not self.stopped.is_set():
            try:
                self._reconcile()
            except Exception as exc:  # mid-failover topology errors: keep supervising
                log.info("cannot list the primaries yet: %s", exc)
            self.heard()
            self.stopped.wait(self.heartbeat_s / 2)

    def _reconcile(self) -> None:
        broken = any(li.stopped.is_set() for li in self.listeners.values())
        now = time.monotonic()
        if self.listeners and not broken and now < self.next_check:
            return
        self.next_check = now + RECHECK_S
        targets = self.primaries(broken)
        if self.mode == "pubsub":
            targets = targets[:1]  # PUBLISH reaches every node of a cluster
        for address, listener in list(self.listeners.items()):
            if address not in targets or listener.stopped.is_set():
                listener.stop()
                del self.listeners[address]
        for address in targets:
            if address not in self.listeners:
                self.listeners[address] = listener = Listener(self, address)
                listener.start()

    def close(self) -> None:
        self.stopped.set()
        for listener in self.listeners.values():
            listener.stop()
        if self.supervisor.is_alive():
            self.supervisor.join(timeout=2)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
