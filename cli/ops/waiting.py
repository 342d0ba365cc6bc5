"""Waiting for a tier to reach a state, measured: one poll loop for every caller."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
import tenacity

# A node that is down, refusing, loading or read-only answers with one of these.
NOT_YET = (redis.RedisError, OSError)


def wait_until(
    check: Callable[[], object],
    timeout: float,
    what: str,
    interval: float = 0.05,
    not_yet: tuple[type[BaseException], ...] = NOT_YET,
) -> float:
    """Seconds until `check()` returns something true, polled every `interval`;
    the errors in `not_yet` count as not yet. `TimeoutError` names `what`."""
    start = time.monotonic()
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_delay(timeout),
        wait=tenacity.wait_fixed(interval),
        retry=tenacity.retry_if_exception_type(not_yet) | tenacity.retry_if_result(lambda v: not v),
    )
    try:
        retrying(check)
    except tenacity.RetryError:
        raise TimeoutError(f"{what} did not happen within {timeout:.0f}s") from None
    return time.monotonic() - start
