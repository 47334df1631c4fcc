"""A blue/green switchover started in the console (directly against the estate's RDS API) while DMS reads blue and
traffic runs, on a real Airflow (scheduler, triggerer, a Celery worker on 127.0.0.1), with nobody triggering
anything: RDS's "switchover started" event goes through EventBridge to SQS, the triggerer's watcher turns it into an
asset event, and cdc_follow_console_switchover.shop stops DMS before the switchover completes, then resumes CDC on
green with no drift."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from conftest import run_record

from rehearsal.airflow_cluster import AirflowCluster, poll
from rehearsal.airflow_runs import all_dags_parsed, finished_runs, published, queued_after_s, task_instances
from rehearsal.estate import Estate

pytestmark = [pytest.mark.estate, pytest.mark.celery, pytest.mark.timeout(900)]

DAG_ID = "cdc_follow_console_switchover.shop"
SWITCHOVER_S = 30.0  # Aurora fences writes for tens of seconds


@pytest.fixture(scope="module")
def deployment():
    with Estate.running() as estate:
        with AirflowCluster.running(estate.airflow_env, workers=1) as cluster:
            poll(lambda: all_dags_parsed(cluster), 180, "every DAG file parsed", check=cluster.check_alive)
            poll(lambda: re.search(r"trigger ID \d+ starting", cluster.component_log("triggerer", 200_000)), 120,
                 "the event watchers running in the triggerer", check=cluster.check_alive)
            yield cluster, estate
        assert cluster.leftover_processes() == []


def step(record: dict, task_id: str) -> dict:
    return next(s for s in record["steps"] if s["task_id"] == task_id)


def test_a_console_switchover_stops_dms_before_it_completes_and_resumes_cdc_on_green(deployment, fault_row):
    row = fault_row("blue/green switchover started in the console while DMS reads blue",
                    expected="one run by itself: DMS stopped before the switchover completes, old blue drained, "
                             "CDC restarted from green's coordinates; drift 0")
    cluster, estate = deployment
    estate.bluegreen.switchover_s = SWITCHOVER_S
    traffic = estate.traffic().start()
    try:
        estate.aws.client("rds").switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=estate.deployment_id)
        (run,) = finished_runs(cluster, DAG_ID, 1)
    finally:
        traffic.stop()

    tasks = {ti["task_id"]: ti for ti in task_instances(cluster, DAG_ID, run["dag_run_id"])}
    assert run["run_type"] == "asset_triggered" and run["state"] == "success", tasks
    done = run_record(estate, DAG_ID, run["dag_run_id"])
    followed = step(done, "follow_switchover")["result"]
    stopped_at = datetime.fromisoformat(step(done, "pause_dms_task")["result"]["stopped_at"])
    completed_at = datetime.fromisoformat(followed["completed_at"])
    assert stopped_at < completed_at and followed["damage"] is None
    assert step(done, "drain_old_blue")["result"]["action"] in ("act", "adopt")
    assert estate.task()["CdcStartPosition"] == str(estate.bluegreen.coordinates)
    assert step(done, "reconcile")["result"]["drift"] == 0
    (event,) = published(estate, "EventID", "RDS-EVENT-0259")
    running_since = datetime.fromisoformat(step(done, "restart_cdc")["result"]["running_since"])
    stop_s, gap_s = (stopped_at - event["at"]).total_seconds(), (running_since - stopped_at).total_seconds()
    print(f"event_recovery console_switchover: detect_s={queued_after_s(run, event):.1f} stop_s={stop_s:.1f} "
          f"(event -> DMS stopped; the switchover took {SWITCHOVER_S:.0f} s) cdc_gap_s={gap_s:.1f}")
    assert row.settled(estate, f"one run, {run['state']}; DMS stopped {stop_s:.1f} s after the event, "
                               f"{(completed_at - stopped_at).total_seconds():.1f} s before the completion; "
                               f"CDC gap {gap_s:.1f} s") == 0
