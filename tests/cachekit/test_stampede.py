import asyncio
import threading
import time

import pytest

from cachekit.stampede import AsyncSingleFlight, SingleFlight, should_recompute


def test_200_concurrent_callers_share_one_call() -> None:
    flight = SingleFlight()
    calls = []
    barrier = threading.Barrier(200)
    results: list[tuple[str, bool]] = []

    def load() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "value"

    def caller() -> None:
        barrier.wait()
        results.append(flight.do("key", load))

    threads = [threading.Thread(target=caller) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert [r for r in results if r[1]] == [("value", True)]
    assert all(value == "value" for value, _ in results) and len(results) == 200
    assert not flight.running("key")


def test_the_leaders_exception_reaches_every_waiter_and_the_key_is_released() -> None:
    flight = SingleFlight()
    started = threading.Event()
    errors: list[BaseException] = []

    def fail() -> str:
        started.set()
        time.sleep(0.1)
        raise KeyError("boom")

    def follower() -> None:
        started.wait()
        try:
            flight.do("k", lambda: "never")
        except KeyError as exc:
            errors.append(exc)

    t = threading.Thread(target=follower)
    t.start()
    with pytest.raises(KeyError):
        flight.do("k", fail)
    t.join()
    assert len(errors) == 1
    assert flight.do("k", lambda: "again") == ("again", True)


def test_async_single_flight_200_coroutines_one_load() -> None:
    async def main() -> tuple[int, list[str]]:
        flight = AsyncSingleFlight()
        calls = 0

        async def load() -> str:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.1)
            return "v"

        results = await asyncio.gather(*(flight.do("k", load) for _ in range(200)))
        return calls, [value for value, _ in results]

    calls, values = asyncio.run(main())
    assert calls == 1 and values == ["v"] * 200


def test_xfetch_probability_grows_near_expiry_and_with_delta() -> None:
    expiry = 1000.0
    # rand = e^-1: recompute iff now + delta * beta >= expiry
    r = 0.36787944117144233
    assert not should_recompute(expiry, delta=1.0, beta=1.0, now=998.9, rand=r)
    assert should_recompute(expiry, delta=1.0, beta=1.0, now=999.1, rand=r)
    assert should_recompute(expiry, delta=5.0, beta=1.0, now=996.0, rand=r)
    assert not should_recompute(expiry, delta=5.0, beta=0.1, now=996.0, rand=r)
    assert should_recompute(expiry, delta=0.0, beta=1.0, now=1000.0)
    assert not should_recompute(expiry, delta=0.0, beta=1.0, now=999.99)


def test_xfetch_fires_rarely_far_from_expiry_and_often_close_to_it() -> None:
    far = sum(should_recompute(100.0, 0.1, 1.0, now=98.0) for _ in range(10_000))
    near = sum(should_recompute(100.0, 0.1, 1.0, now=99.95) for _ in range(10_000))
    assert far < 10 and near > 3000
