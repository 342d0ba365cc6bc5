from cachekit.sketch import MAX_COUNT, FrequencySketch


def test_first_sighting_only_reaches_the_doorkeeper() -> None:
    sketch = FrequencySketch(1000)
    sketch.increment("a")
    assert sketch.estimate("a") == 1
    assert max(max(row) for row in sketch.rows) == 0


def test_estimates_follow_counts_and_saturate() -> None:
    sketch = FrequencySketch(1000)
    for _ in range(5):
        sketch.increment("hot")
    sketch.increment("cold")
    assert sketch.estimate("hot") == 5  # 1 in the doorkeeper + 4 in the counters
    assert sketch.estimate("cold") == 1
    assert sketch.estimate("never") == 0
    for _ in range(100):
        sketch.increment("hot")
    assert sketch.estimate("hot") == MAX_COUNT + 1
    sketch.increment("weighted", weight=8)  # 1 to the doorkeeper, 7 to the counters
    assert sketch.estimate("weighted") == 8


def test_reset_halves_counts_and_forgets_the_doorkeeper() -> None:
    sketch = FrequencySketch(10)
    assert sketch.sample == 100
    for _ in range(9):
        sketch.increment("hot")
    before = sketch.estimate("hot")
    for _ in range(100 - 9):
        sketch.increment("other")
    assert sketch.additions < sketch.sample  # a reset happened
    assert sketch.estimate("hot") == (before - 1) // 2


def test_many_keys_rarely_collide_with_a_hot_one() -> None:
    sketch = FrequencySketch(10_000)
    for i in range(10_000):
        sketch.increment(f"k{i}")
        sketch.increment(f"k{i}")
    overestimated = sum(sketch.estimate(f"k{i}") > 2 for i in range(10_000))
    assert overestimated < 1000  # < 10 %
