"""Pure tests of the step helpers every runbook operator shares (cdc_runbooks.step)."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from cdc_runbooks.step import FAILURE_KEY, records_failure, run_started_at

TRIGGERED = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
CLEARED = datetime(2026, 11, 27, 3, 40, tzinfo=UTC)


class _Ti:
    def __init__(self):
        self.pushed = {}

    def xcom_push(self, key, value):
        self.pushed[key] = value


class _Step:
    @records_failure
    def execute(self, context, fail: bool):
        if fail:
            raise ValueError("DMS task is failed")
        return "done"


def test_a_failing_step_pushes_its_reason_and_still_fails():
    ti = _Ti()
    with pytest.raises(ValueError, match="DMS task is failed"):
        _Step().execute({"ti": ti}, fail=True)
    assert ti.pushed == {FAILURE_KEY: "ValueError: DMS task is failed"}


def test_a_succeeding_step_pushes_nothing():
    ti = _Ti()
    assert _Step().execute({"ti": ti}, fail=False) == "done"
    assert ti.pushed == {}


def test_the_run_began_when_it_was_triggered_even_after_a_clear_reset_its_start_date():
    cleared_run = SimpleNamespace(run_after=TRIGGERED, start_date=CLEARED)
    assert run_started_at({"dag_run": cleared_run}) == TRIGGERED


def test_without_run_after_the_start_date_is_used_and_without_a_run_nothing():
    assert run_started_at({"dag_run": SimpleNamespace(run_after=None, start_date=CLEARED)}) == CLEARED
    assert run_started_at({}) is None and run_started_at(None) is None
