"""Pure tests of the step helpers every runbook operator shares (cdc_runbooks.step)."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from cdc_runbooks.refusal import Refusal, without_traceback
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


class _Refused(Refusal, ValueError):
    """A refusal of the kind operators raise."""

    def __init__(self, message: str, *, position: str) -> None:
        super().__init__(message)
        self.position = position


class _RefusingStep:
    @records_failure
    def execute(self, context):
        raise _Refused("mysql-bin-changelog.000003:4 is not on the writer", position="000003:4")


def test_a_refusal_is_recorded_and_raised_as_itself_but_as_a_systemexit_airflow_logs_without_a_traceback():
    ti = _Ti()
    with pytest.raises(_Refused, match="is not on the writer") as refused:
        _RefusingStep().execute({"ti": ti})
    assert ti.pushed == {FAILURE_KEY: "_Refused: mysql-bin-changelog.000003:4 is not on the writer"}
    assert isinstance(refused.value, SystemExit) and isinstance(refused.value, Refusal)
    assert type(refused.value).__name__ == "_Refused" and refused.value.position == "000003:4"
    assert str(refused.value) == "mysql-bin-changelog.000003:4 is not on the writer"
    assert isinstance(refused.value.__cause__, _Refused)  # the original, with its traceback, for a debugger


def test_the_retry_policy_still_fails_a_refusal_at_once():
    from cdc_runbooks.dag_params import default_args

    decision = default_args("someone")["retry_policy"].evaluate(
        exception=without_traceback(_Refused("no", position="p")), try_number=1, max_tries=2)
    assert decision.action.value == "fail"
