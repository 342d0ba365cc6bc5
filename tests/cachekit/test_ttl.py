import pytest

from cachekit.ttl import AdaptiveTTL


def test_unknown_keys_get_the_base_ttl() -> None:
    assert AdaptiveTTL(1, 100, 10).ttl("k") == 10


def test_often_read_keys_live_longer_rarely_read_ones_shorter() -> None:
    ttl = AdaptiveTTL(1, 100, 10)
    for i in range(20):
        ttl.read("hot", i * 0.1)
        ttl.read("cold", i * 100.0)
    assert ttl.ttl("hot") == 40  # capped at 4x base
    assert ttl.ttl("cold") == pytest.approx(10 * (10 / 100) ** 0.5)


def test_often_changed_keys_are_capped_by_half_their_change_interval() -> None:
    ttl = AdaptiveTTL(1, 100, 10)
    for i in range(20):
        ttl.read("k", i * 0.1)
        ttl.changed("k", i * 4.0)
    assert ttl.ttl("k") == pytest.approx(2.0)


def test_bounds_hold() -> None:
    ttl = AdaptiveTTL(5, 20, 10)
    for i in range(20):
        ttl.changed("k", i * 0.01)
        ttl.read("hot", i * 0.001)
        ttl.read("cold", i * 10_000.0)
    assert ttl.ttl("k") == 5 and ttl.ttl("hot") == 20 and ttl.ttl("cold") == 5
    with pytest.raises(ValueError):
        AdaptiveTTL(10, 5, 7)
