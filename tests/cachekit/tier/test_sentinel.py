"""cachekit on a real Sentinel tier: one call from the outputs, the master set's
primary found through Sentinel, invalidation across caches."""

from __future__ import annotations

import time
import uuid

import pytest

import cachekit
from tests.cachekit.tier.conftest import Tier

pytestmark = [pytest.mark.integration, pytest.mark.engine]


def test_sentinel_outputs_connect_and_invalidate(sentinel: Tier) -> None:
    namespace = f"s{uuid.uuid4().hex[:6]}"
    a = cachekit.connect(outputs=sentinel.outputs, namespace=namespace, master_set="shard-1")
    b = cachekit.connect(outputs=sentinel.outputs, namespace=namespace, master_set="shard-1")
    try:
        assert a.linked and a.core.invalidator.mode == "tracking"
        primary = next(
            n for n in sentinel.outputs["redisNodes"] if n["masterSet"] == "shard-1"
        )  # the first node of a group starts as its primary
        assert list(a.core.invalidator.listeners) == [("127.0.0.1", primary["hostPort"])]
        a.set_many({f"k{i}": i for i in range(20)})
        end = time.monotonic() + 2
        while b.stats()["invalidations"] < 20 and time.monotonic() < end:
            time.sleep(0.005)  # the pushes of a's writes reach b too
        assert b.get_many([f"k{i}" for i in range(20)]) == {f"k{i}": i for i in range(20)}
        assert b.get("k3") == 3 and b.stats()["l1_hits"] == 1
        a.set("k3", "new")
        end = time.monotonic() + 2
        while b.get("k3") != "new" and time.monotonic() < end:
            time.sleep(0.005)
        assert b.get("k3") == "new" and b.stats()["invalidations"] >= 1
    finally:
        a.close()
        b.close()
