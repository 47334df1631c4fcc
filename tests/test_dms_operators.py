"""The DMS operators at operator level: deferred to our triggers (serialised, re-created and run as the
triggerer would) they resume where they left off; repeated in one run they adopt instead of acting twice."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk.exceptions import TaskDeferred

from cdc_runbooks.operators.dms import DmsPauseTaskOperator, DmsRestartCdcOperator
from cdc_runbooks.triggers import CdcLatencyTrigger, DmsTaskStatusTrigger, run_inline

pytestmark = pytest.mark.estate


def _as_triggerer_would(deferred: TaskDeferred) -> dict:
    """Serialise the trigger, re-create it from its path and kwargs, run it; return the event payload."""
    path, kwargs = deferred.trigger.serialize()
    module, name = path.rsplit(".", 1)
    return run_inline(getattr(importlib.import_module(module), name)(**kwargs))


def _defer(call) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as deferred:
        call()
    return deferred.value


def test_pause_and_restart_deferred_end_to_end(shared_estate, monkeypatch):
    for name, value in shared_estate.airflow_env().items():
        monkeypatch.setenv(name, value)
    pause = DmsPauseTaskOperator(task_id="pause", pipeline_name="shop", deferrable=True)

    drained = _defer(lambda: pause.execute({}))
    assert isinstance(drained.trigger, CdcLatencyTrigger)
    stopping = _defer(lambda: getattr(pause, drained.method_name)({}, _as_triggerer_would(drained)))
    assert isinstance(stopping.trigger, DmsTaskStatusTrigger) and stopping.trigger.wanted == "stopped"
    paused = getattr(pause, stopping.method_name)({}, _as_triggerer_would(stopping))

    assert paused["status"] == "stopped" and shared_estate.task()["Status"] == "stopped"
    assert paused["recovery_checkpoint"] == shared_estate.task()["RecoveryCheckpoint"]

    restart = DmsRestartCdcOperator(task_id="restart", pipeline_name="shop", dry_run=False, deferrable=True,
                                    cdc_start_position=paused["recovery_checkpoint"])
    starting = _defer(lambda: restart.execute({}))
    assert starting.trigger.wanted == "running"
    converging = _defer(lambda: getattr(restart, starting.method_name)({}, _as_triggerer_would(starting)))
    restarted = getattr(restart, converging.method_name)({}, _as_triggerer_would(converging))

    assert restarted["status"] == "running" and restarted["converged"].startswith("CDC latency converge")
    assert shared_estate.task()["Status"] == "running"


def test_a_failing_trigger_event_fails_the_step_with_its_message(shared_estate, monkeypatch):
    for name, value in shared_estate.airflow_env().items():
        monkeypatch.setenv(name, value)
    pause = DmsPauseTaskOperator(task_id="pause", pipeline_name="shop", deferrable=True)
    with pytest.raises(RuntimeError, match="did not become stopped"):
        pause.record_stopped({}, {"status": "error", "message": "x did not become stopped after 3 polls",
                                  "carry": {"task": "x"}})


def test_a_repeated_pause_in_the_same_run_adopts_the_stop_and_returns_the_same_record(estate, monkeypatch):
    for name, value in estate.airflow_env().items():
        monkeypatch.setenv(name, value)

    class DagRun:
        start_date = datetime.now(UTC) - timedelta(seconds=1)

    context = {"dag_run": DagRun()}
    first = DmsPauseTaskOperator(task_id="pause", pipeline_name="shop").execute(context)
    again = DmsPauseTaskOperator(task_id="pause", pipeline_name="shop").execute(context)

    assert (first["action"], again["action"]) == ("act", "adopt")
    assert again["recovery_checkpoint"] == first["recovery_checkpoint"]
    assert len([r for r in estate.dms.requests if r["action"] == "StopReplicationTask"]) == 1
