import datetime

from cachekit.serializer import JsonSerializer, PickleSerializer, pack, unpack


def test_pickle_round_trip_with_header() -> None:
    value = {"when": datetime.date(2026, 1, 2), "n": [1, 2.5, None]}
    data = pack(PickleSerializer(), value, soft_expiry=123.5, delta=0.25)
    stored = unpack(PickleSerializer(), data)
    assert stored is not None
    assert stored.value == value and stored.soft_expiry == 123.5 and stored.delta == 0.25
    assert stored.size == len(data)


def test_json_serializer() -> None:
    data = pack(JsonSerializer(), {"a": [1, "x"]}, 1.0, 0.0)
    assert data.endswith(b'{"a":[1,"x"]}')
    assert unpack(JsonSerializer(), data).value == {"a": [1, "x"]}  # type: ignore[union-attr]


def test_foreign_bytes_are_not_taken_for_a_value() -> None:
    assert unpack(PickleSerializer(), b"plain string someone SET") is None
    assert unpack(PickleSerializer(), b"") is None
