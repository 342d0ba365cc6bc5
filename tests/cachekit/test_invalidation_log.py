from cachekit.invalidation import InvalidationLog


def test_no_change_since_token() -> None:
    log = InvalidationLog()
    log.record(["a"])
    token = log.epoch
    assert not log.changed_since(token, "a")


def test_key_or_flush_after_token_counts() -> None:
    log = InvalidationLog()
    token = log.epoch
    log.record(["b"])
    assert not log.changed_since(token, "a")
    assert log.changed_since(token, "b")
    log.flush()
    assert log.changed_since(token, "a")


def test_a_log_that_no_longer_reaches_back_says_changed() -> None:
    log = InvalidationLog(size=4)
    token = log.epoch
    log.record(["x1", "x2", "x3", "x4", "x5"])
    assert log.changed_since(token, "a")
