"""resume_handoff: the ids of the hand-over, the fact a product run publishes and hands over (computed from its
steps' results, validated), and the fact a resume run acts on (its conf, else the latest published event)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from test_switchover_fact import FACT

from cdc_runbooks.resume_handoff import published_fact, resume_dag_id, resume_fact, resume_run_id
from cdc_runbooks.switchover_fact import InvalidSwitchoverFact

ASSET = "aurora_blue_green_switchover_completed.shop"
PAUSED = {"recovery_checkpoint": FACT["checkpoint"], "stopped_at": FACT["paused_at"], "status": "stopped"}
DRAINED = {"drained_to": FACT["old_blue_end"], "old_blue_end": FACT["old_blue_end"], "action": "act"}
POSITION = {"position": FACT["position"], "source": "event", "needs_reconciliation_attention": False}


class Ti:
    """A task instance whose XComs are the given results per task id."""

    def __init__(self, **results) -> None:
        self.results = results

    def xcom_pull(self, task_ids: str):
        return self.results.get(task_ids)


def test_ids():
    assert resume_dag_id("shop") == "cdc_resume_after_switchover.shop"
    assert resume_run_id("manual__1") == "switchover__manual__1"


def test_the_published_fact_comes_from_the_pause_drain_and_new_position_results():
    ti = Ti(pause_dms_task=PAUSED, drain_old_blue=DRAINED, new_position=POSITION)
    params = {"pipeline": "shop", "deployment_id": FACT["deployment"]}
    assert published_fact(ti, params, FACT["product_run_id"]) == FACT


def test_a_published_fact_from_a_malformed_step_result_is_refused():
    ti = Ti(pause_dms_task={**PAUSED, "recovery_checkpoint": "nowhere"}, drain_old_blue=DRAINED, new_position=POSITION)
    with pytest.raises(ValueError, match="checkpoint"):
        published_fact(ti, {"pipeline": "shop", "deployment_id": FACT["deployment"]}, "r")


def test_a_resume_run_acts_on_its_conf_and_never_reads_the_events():
    class NoEvents:
        def __getitem__(self, asset):
            raise AssertionError("events read although the run has a conf")

    assert resume_fact({**FACT, "extra": 1}, NoEvents(), pipeline="shop", asset=ASSET) == FACT


def test_a_resume_run_without_conf_acts_on_the_latest_published_fact():
    older = {**FACT, "position": "mysql-bin-changelog.000004:100"}
    events = {ASSET: [SimpleNamespace(extra=older), SimpleNamespace(extra=FACT)]}
    assert resume_fact({}, events, pipeline="shop", asset=ASSET) == FACT


def test_a_resume_run_without_conf_or_event_is_refused():
    with pytest.raises(ValueError, match="no switchover has been published yet"):
        resume_fact(None, {ASSET: []}, pipeline="shop", asset=ASSET)


def test_a_resume_run_refuses_another_pipelines_fact():
    with pytest.raises(InvalidSwitchoverFact, match="not 'billing'"):
        resume_fact(FACT, {}, pipeline="billing", asset=ASSET)
