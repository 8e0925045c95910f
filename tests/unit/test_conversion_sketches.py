"""The bounded summaries the profile pass keeps per column: exact while small, close when not, never large."""

from __future__ import annotations

from collections import Counter

import numpy as np
import polars as pl

from core.conversion.sketches import COUNT, VALUE, DistinctValues, TopValues


def batch_counts(values: list[str]) -> pl.DataFrame:
    return pl.Series(VALUE, values).value_counts(name=COUNT)


def test_top_values_are_exact_while_they_fit() -> None:
    rng = np.random.default_rng(0)
    stream = [f"v{int(v)}" for v in rng.zipf(1.5, 20_000) % 500]
    top = TopValues(capacity=500, dtype=pl.String())
    for start in range(0, len(stream), 3_000):
        top.add(batch_counts(stream[start : start + 3_000]))
    assert top.exact
    assert dict(top.ranked()) == Counter(stream)
    ranked = top.ranked()
    assert ranked == sorted(ranked, key=lambda pair: (-pair[1], pair[0]))  # most frequent first, ties by value


def test_frequent_values_survive_a_stream_of_unique_ones_within_the_error_bound() -> None:
    # GIVEN 100,000 rows: three values each on 10% of them, the rest all different (an ID-like tail)
    rows = 100_000
    heavy = ["alpha"] * 10_000 + ["beta"] * 10_000 + ["gamma"] * 10_000
    stream = heavy + [f"id-{i}" for i in range(rows - len(heavy))]
    np.random.default_rng(1).shuffle(stream)
    # WHEN it is summarised in batches by a summary of 100 values
    top = TopValues(capacity=100, dtype=pl.String())
    for start in range(0, rows, 7_000):
        top.add(batch_counts(stream[start : start + 7_000]))
    # THEN the summary stayed small, knows it is no longer exact, and ranks the three first
    assert len(top) <= 100
    assert not top.exact
    ranked = top.ranked()
    assert {value for value, _ in ranked[:3]} == {"alpha", "beta", "gamma"}
    # AND each count is low by at most rows / (capacity + 1)
    for _, count in ranked[:3]:
        assert 10_000 - rows / 101 <= count <= 10_000


def test_top_values_of_all_distinct_values_keep_none() -> None:
    top = TopValues(capacity=10, dtype=pl.String())
    for start in range(0, 1_000, 100):
        top.add(batch_counts([f"u{i}" for i in range(start, start + 100)]))
    assert top.ranked() == [] and not top.exact  # no value is frequent: none is worth a column


def test_distinct_values_are_counted_exactly_when_few_and_closely_when_many() -> None:
    few = DistinctValues()
    for start in range(0, 3_000, 1_000):
        few.add(pl.Series([f"k{i % 1_500}" for i in range(start, start + 1_000)]))
    assert few.estimate() == 1_500
    many = DistinctValues()
    for start in range(0, 300_000, 50_000):
        many.add(pl.Series([f"order-{i}" for i in range(start, start + 50_000)]))
    assert abs(many.estimate() - 300_000) <= 0.05 * 300_000
