"""No stampedes: one load per key at a time in a process, and early recomputation.

`SingleFlight` makes concurrent callers of one key share the first caller's
load. `should_recompute` is XFetch (Vattani, Chierichetti, Lowenstein, "Optimal
Probabilistic Cache Stampede Prevention", VLDB 2015): each reader recomputes
early with a probability that grows as expiry nears and with how long the value
took to compute, so on a hot key one reader refreshes it before it expires and
the others keep hitting - instead of all of them missing at once.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


def should_recompute(
    soft_expiry: float, delta: float, beta: float, now: float, rand: float | None = None
) -> bool:
    """XFetch: recompute when now - delta * beta * ln(rand) >= expiry."""
    if beta <= 0 or delta <= 0:
        return now >= soft_expiry
    r = random.random() if rand is None else rand
    return now - delta * beta * math.log(r or 1e-12) >= soft_expiry


class SingleFlight:
    """Thread-level single-flight: the first caller of a key runs `fn`; callers
    arriving while it runs wait for its result (or its exception)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[Hashable, Future[Any]] = {}

    def do(self, key: Hashable, fn: Callable[[], T]) -> tuple[T, bool]:
        """(result, True if this caller ran fn)."""
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if call is None:
                call = self._calls[key] = Future()
        if not leader:
            return call.result(), False
        try:
            result = fn()
        except BaseException as exc:
            call.set_exception(exc)
            raise
        else:
            call.set_result(result)
            return result, True
        finally:
            with self._lock:
                del self._calls[key]

    def running(self, key: Hashable) -> bool:
        return key in self._calls


class AsyncSingleFlight:
    """The same for coroutines of one event loop."""

    def __init__(self) -> None:
        self._calls: dict[Hashable, asyncio.Future[Any]] = {}

    async def do(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        call = self._calls.get(key)
        if call is not None:
            return await asyncio.shield(call), False
        call = self._calls[key] = asyncio.get_running_loop().create_future()
        try:
            result = await fn()
        except BaseException as exc:
            call.set_exception(exc)
            call.exception()  # followers may be none: mark it retrieved
            raise
        else:
            call.set_result(result)
            return result, True
        finally:
            del self._calls[key]

    def running(self, key: Hashable) -> bool:
        return key in self._calls
