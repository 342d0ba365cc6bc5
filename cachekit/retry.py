"""Retrying Redis operations through a failover (tenacity).

During a failover the tier answers with connection errors, timeouts, CLUSTERDOWN,
TRYAGAIN, MASTERDOWN or READONLY until the new primary takes over; redis-py
refreshes its view of the topology (cluster slots, Sentinel's master) on these
errors, so repeating the operation with backoff is what carries it through. The
deadline (`failover_timeout_s`) bounds how long a caller can be held; errors that
a retry cannot fix (wrong password, wrong type, a bug) are raised at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from redis.exceptions import (
    AuthorizationError,
    ClusterDownError,
    MasterDownError,
    ReadOnlyError,
    RedisClusterException,
    TryAgainError,
)
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential_jitter,
)

TRANSIENT = (
    redis.ConnectionError,
    redis.TimeoutError,
    ClusterDownError,
    MasterDownError,
    TryAgainError,
    ReadOnlyError,
    RedisClusterException,
)
PERMANENT = (redis.AuthenticationError, AuthorizationError)


def transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT) and not isinstance(exc, PERMANENT)


def policy(timeout_s: float, on_retry: Callable[[], None]) -> dict[str, Any]:
    def count(_: RetryCallState) -> None:
        on_retry()

    return {
        "retry": retry_if_exception(transient),
        "stop": stop_after_delay(timeout_s),
        "wait": wait_exponential_jitter(multiplier=0.02, max=0.5),
        "before_sleep": count,
        "reraise": True,
    }


def retrying(timeout_s: float, on_retry: Callable[[], None]) -> Retrying:
    return Retrying(**policy(timeout_s, on_retry))


def async_retrying(timeout_s: float, on_retry: Callable[[], None]) -> AsyncRetrying:
    return AsyncRetrying(**policy(timeout_s, on_retry))
