"""Event-driven recovery on a real Airflow (scheduler, triggerer, Celery workers on 127.0.0.1) against an estate,
with nobody triggering anything: Aurora fails over under write traffic, RDS's event goes through EventBridge to
SQS, the triggerer's watcher turns it into an asset event, and cdc_recover_after_failover.shop runs by itself.
A duplicated delivery starts no second recovery; a triggerer killed while the event waits loses nothing; a
truncated binlog tail ends in a run that names the rows only the warehouse holds."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime

import pytest
from conftest import run_record

from rehearsal.airflow_cluster import AirflowCluster, poll
from rehearsal.airflow_runs import (
    RECOVER,
    all_dags_parsed,
    finished_runs,
    json_of,
    published,
    queued_after_s,
    runs,
    task_instances,
)
from rehearsal.estate import Estate

pytestmark = [pytest.mark.estate, pytest.mark.celery, pytest.mark.timeout(1200)]

DAG_ID = f"{RECOVER}.shop"


@pytest.fixture(scope="module")
def deployment():
    with Estate.running() as estate:
        with AirflowCluster.running(estate.airflow_env, workers=1) as cluster:
            estate.add_reader()
            poll(lambda: all_dags_parsed(cluster), 180, "every DAG file parsed", check=cluster.check_alive)
            poll(lambda: re.search(r"trigger ID \d+ starting", cluster.component_log("triggerer", 200_000)), 120,
                 "the failover watcher running in the triggerer", check=cluster.check_alive)
            yield cluster, estate
        assert cluster.leftover_processes() == []


def states(cluster, run: dict) -> dict[str, str]:
    return {ti["task_id"]: ti["state"] for ti in task_instances(cluster, DAG_ID, run["dag_run_id"])}


def record(estate, run: dict) -> dict:
    return run_record(estate, DAG_ID, run["dag_run_id"])


def step(run_record: dict, task_id: str) -> dict:
    return next(s for s in run_record["steps"] if s["task_id"] == task_id)


def last_failover_event(estate) -> dict:
    return published(estate, "EventID", "RDS-EVENT-0071")[-1]


def test_a_failover_under_traffic_recovers_by_itself_with_no_drift(deployment):
    cluster, estate = deployment
    traffic = estate.traffic().start()
    try:
        outcome = estate.fail_over()
        (run,) = finished_runs(cluster, DAG_ID, 1)
    finally:
        traffic.stop()

    event = last_failover_event(estate)
    assert run["run_type"] == "asset_triggered" and run["state"] == "success", states(cluster, run)
    done = record(estate, run)
    claimed = step(done, "claim_events")["result"]["events"]
    assert [e["event_id"] for e in claimed] == [event["id"]]
    assert step(done, "assess")["result"]["writer"] == outcome.new_writer
    assert step(done, "reconcile")["result"]["drift"] == 0
    print(f"event_recovery verify: detect_s={queued_after_s(run, event):.1f} drift=0")


def test_a_duplicated_delivery_starts_no_second_recovery(deployment, fault_row):
    row = fault_row("event delivered twice (SQS/EventBridge at least once)",
                    expected="a second run claims nothing and skips its steps; no DMS call; drift 0")
    cluster, estate = deployment
    starts = len(estate.dms.requests)
    before = len(runs(cluster, DAG_ID))
    event = last_failover_event(estate)
    body = {"version": "0", "id": event["id"], "detail-type": event["detail-type"], "source": event["source"],
            "time": "2026-12-02T03:04:05Z", "region": "us-east-1", "resources": event["resources"],
            "detail": event["detail"]}
    estate.aws.client("sqs").send_message(QueueUrl=estate.events.queue_url, MessageBody=json.dumps(body))
    duplicate = finished_runs(cluster, DAG_ID, before + 1)[-1]

    assert duplicate["state"] == "success"
    got = states(cluster, duplicate)
    assert [got[task_id] for task_id in ("claim_events", "assess", "restart_cdc", "record_run")] == [
        "skipped", "skipped", "skipped", "success"]
    assert step(record(estate, duplicate), "claim_events")["state"] == "skipped"
    assert estate.events.queued() == {"visible": 0, "in_flight": 0} and len(estate.dms.requests) == starts
    assert row.settled(estate, f"second run {duplicate['state']}, claim_events skipped (claimed by the "
                                      "first run)") == 0


def test_a_triggerer_killed_while_the_event_waits_loses_nothing(deployment, fault_row):
    row = fault_row("triggerer killed while the event waits",
                    expected="the event waits in SQS (or returns after its visibility timeout); one run after the "
                             "restart; drift 0")
    cluster, estate = deployment
    before = len(runs(cluster, DAG_ID))
    cluster.crash("triggerer")
    try:
        estate.fail_over()
        # In the queue; or in flight, returned to the dead triggerer's long poll: back after its visibility timeout
        assert sum(estate.events.queued().values()) == 1
    finally:
        cluster.restart("triggerer")
    (*_, run) = finished_runs(cluster, DAG_ID, before + 1)
    time.sleep(5)  # a second run would be queued by now (the watcher polls every few seconds)

    assert len(runs(cluster, DAG_ID)) == before + 1
    assert run["state"] == "success", states(cluster, run)
    assert [e["event_id"] for e in step(record(estate, run), "claim_events")["result"]["events"]] == [
        last_failover_event(estate)["id"]]
    delay = queued_after_s(run, last_failover_event(estate))
    assert row.settled(estate, f"one run, {run['state']}, queued {delay:.0f} s after the event") == 0


def test_a_truncated_tail_ends_in_a_run_that_names_the_rows_the_source_lost(deployment):
    cluster, estate = deployment
    before = len(runs(cluster, DAG_ID))
    estate.failover.faults.truncated_tail_rows = 2
    try:
        outcome = estate.fail_over()
    finally:
        estate.failover.faults.truncated_tail_rows = 0
    (*_, run) = finished_runs(cluster, DAG_ID, before + 1)

    assert run["state"] == "failed"
    done = record(estate, run)
    assert step(done, "assess")["result"]["recovery"] == "resume_after_loss"
    assert step(done, "restart_cdc")["state"] == "success"
    failure = step(done, "reconcile")["failure"]
    assert all(str(order_id) in failure for order_id in outcome.lost_order_ids), failure
    note = json_of(cluster.api("GET", f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}"))["note"]
    assert note.startswith(f"**{DAG_ID} / shop: FAILED at `reconcile`**"), note
    failed = published(estate, "eventId", "DMS-EVENT-0078")[-1]
    running_since = datetime.fromisoformat(step(done, "restart_cdc")["result"]["running_since"])
    print(f"event_recovery resume_after_loss: detect_s={queued_after_s(run, last_failover_event(estate)):.1f} "
          f"cdc_gap_s={(running_since - failed['at']).total_seconds():.1f} (task failed -> running again)")
