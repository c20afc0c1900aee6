"""Tests of progress reporting: a bounded rate, lazy messages, counts across threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from cirrus.progress import Counter, Throttled


def test_a_message_is_built_and_reported_only_once_the_interval_has_passed():
    # Arrange
    reported: list[str] = []
    built: list[int] = []
    quiet, eager = Throttled(reported.append, 3600), Throttled(reported.append, 0)

    # Act
    quiet(lambda: built.append(1) or "never")
    eager(lambda: built.append(2) or "now")

    # Assert
    assert reported == ["now"]
    assert built == [2]


def test_a_counter_reports_every_item_done_across_threads():
    # Arrange
    reported: list[str] = []
    counter = Counter(40, "Columns tested", Throttled(reported.append, 0))

    # Act
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: counter.step(), range(40)))

    # Assert
    assert len(reported) == 40
    assert sorted(reported, key=lambda m: int(m.split()[2])) == [
        f"Columns tested: {k} of 40" for k in range(1, 41)
    ]
