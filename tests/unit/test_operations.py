"""The estate's log of AWS operation durations, and the busy time it reports inside a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rehearsal.operations import AwsOperationLog

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def log_of(*spans: tuple[float, float]) -> AwsOperationLog:
    log = AwsOperationLog()
    for start, duration in spans:
        log.record("op", at(start), duration)
    return log


def test_record_returns_when_aws_finishes():
    assert AwsOperationLog().record("DMS task stopping", at(1), 2.5) == at(3.5)


@pytest.mark.parametrize("spans, window, busy", [
    ([], (0, 10), 0.0),
    ([(1, 2), (5, 1)], (0, 10), 3.0),            # disjoint operations add up
    ([(1, 4), (2, 1)], (0, 10), 4.0),            # one inside another counts once
    ([(1, 3), (3, 3)], (0, 10), 5.0),            # overlapping operations count once
    ([(-2, 4), (9, 5)], (0, 10), 3.0),           # clipped to the window on both sides
    ([(11, 1), (-5, 1)], (0, 10), 0.0),          # entirely outside
])
def test_busy_seconds_counts_time_with_any_operation_in_progress(spans, window, busy):
    assert log_of(*spans).busy_seconds(at(window[0]), at(window[1])) == pytest.approx(busy)


def test_operations_are_listed_in_the_order_recorded():
    log = AwsOperationLog()
    log.record("blue/green switchover", at(2), 2)
    log.record("DMS task starting", at(5), 1)
    assert [(op.name, op.started, op.finished) for op in log.operations] == [
        ("blue/green switchover", at(2), at(4)), ("DMS task starting", at(5), at(6))]
