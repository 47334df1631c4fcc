"""The DMS operators at operator level: deferred to our triggers (serialised, re-created and run as the
triggerer would) they resume where they left off; repeated in one run they adopt instead of acting twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from deferral import deferred, resume

from cdc_runbooks.operators.dms import DmsPauseTaskOperator, DmsRestartCdcOperator
from cdc_runbooks.triggers.dms import CdcLatencyTrigger, DmsTaskStatusTrigger

pytestmark = pytest.mark.estate


def test_pause_and_restart_deferred_end_to_end(shared_estate, monkeypatch):
    for name, value in shared_estate.airflow_env().items():
        monkeypatch.setenv(name, value)
    pause = DmsPauseTaskOperator(task_id="pause", pipeline_name="shop", deferrable=True, defer_after_s=0)

    drained = deferred(lambda: pause.execute({}))
    assert isinstance(drained.trigger, CdcLatencyTrigger)
    stopping = deferred(lambda: resume(pause, drained))
    assert isinstance(stopping.trigger, DmsTaskStatusTrigger) and stopping.trigger.wanted == "stopped"
    paused = resume(pause, stopping)

    assert paused["status"] == "stopped" and shared_estate.task()["Status"] == "stopped"
    assert paused["action"] == "act" and paused["drained"].startswith("CDC latency drain")  # through the deferrals
    assert paused["recovery_checkpoint"] == shared_estate.task()["RecoveryCheckpoint"]

    restart = DmsRestartCdcOperator(task_id="restart", pipeline_name="shop", dry_run=False, deferrable=True,
                                    defer_after_s=0, cdc_start_position=paused["recovery_checkpoint"])
    starting = deferred(lambda: restart.execute({}))
    assert starting.trigger.wanted == "running"
    converging = deferred(lambda: resume(restart, starting))
    restarted = resume(restart, converging)

    assert restarted["status"] == "running" and restarted["converged"].startswith("CDC latency converge")
    assert shared_estate.task()["Status"] == "running"


def test_a_failing_trigger_event_fails_the_step_with_its_message(shared_estate, monkeypatch):
    for name, value in shared_estate.airflow_env().items():
        monkeypatch.setenv(name, value)
    pause = DmsPauseTaskOperator(task_id="pause", pipeline_name="shop", deferrable=True, defer_after_s=0)
    with pytest.raises(RuntimeError, match="did not become stopped"):
        pause.record_stopped({}, event={"status": "error", "message": "x did not become stopped after 3 polls"},
                             task="x", action="adopt")


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
