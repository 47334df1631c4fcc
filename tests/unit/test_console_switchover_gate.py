"""stand_aside of the console-switchover follower against S3 (moto in-process): it gives way to a switchover run of
ours holding the pipeline, and a run the switchover's event started goes on without asking RDS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

BUCKET = "cdc-runbook-records"
OURS = "aurora_blue_green_switchover"


def claim(run_id: str, dag_id: str) -> None:
    from cdc_runbooks.operators.pipeline_lock import ClaimPipelineOperator

    ClaimPipelineOperator(task_id="claim_pipeline", pipeline_name="shop").execute(
        {"dag_run": SimpleNamespace(dag_id=dag_id, run_id=run_id), "ti": None})


NOW = datetime.now(UTC).replace(microsecond=0)
FRESH = {"events": [{"time": NOW.isoformat()}]}


def stand_aside(pushed: dict, claimed: dict = FRESH) -> dict:
    from cdc_runbooks.operators.blue_green import ConsoleSwitchoverGateOperator

    ti = SimpleNamespace(xcom_push=lambda key, value: pushed.__setitem__(key, value))
    dag_run = SimpleNamespace(run_type="asset_triggered", run_after=None, start_date=None)
    return ConsoleSwitchoverGateOperator(task_id="stand_aside", pipeline_name="shop", runbook=OURS,
                                         claimed=claimed).execute({"ti": ti, "dag_run": dag_run})


def test_a_switchover_run_of_ours_holding_the_pipeline_skips_the_run_and_its_release_lets_it_go_on(records_s3):
    from airflow.sdk.exceptions import AirflowSkipException

    from cdc_runbooks.aws.records import release_lock
    from cdc_runbooks.pipelines import get_pipeline

    claim("manual__switch", OURS)
    pushed: dict = {}
    with pytest.raises(AirflowSkipException, match="manual__switch"):
        stand_aside(pushed)
    assert "pauses and resumes CDC around its switchover" in pushed["return_value"]["skipped"]
    release_lock(get_pipeline("shop"), OURS, "manual__switch")
    assert stand_aside({}) == {"switchover_started_at": NOW.isoformat()}


def test_other_runbooks_holding_the_pipeline_do_not_stop_it(records_s3):
    claim("run-1", "dms_cdc_pause")
    assert stand_aside({}) == {"switchover_started_at": NOW.isoformat()}


def test_the_switchover_started_at_its_latest_event_in_any_time_zone(records_s3):
    plus_one = timezone(timedelta(hours=1))
    claimed = {"events": [{"time": (NOW - timedelta(seconds=5)).isoformat()},
                          {"time": (NOW - timedelta(seconds=2)).astimezone(plus_one).isoformat()},
                          {"time": (NOW - timedelta(hours=3)).isoformat()}]}
    assert stand_aside({}, claimed) == {"switchover_started_at": (NOW - timedelta(seconds=2)).isoformat()}
