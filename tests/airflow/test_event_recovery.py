"""Event-driven recovery on a real Airflow (scheduler, triggerer, Celery workers on 127.0.0.1) against an estate,
with nobody triggering anything: Aurora fails over under write traffic, RDS's event goes through EventBridge to
SQS, the triggerer's watcher turns it into an asset event, and cdc_recover_after_failure.shop runs by itself.
A duplicated delivery starts no second recovery; a triggerer killed while the event waits loses nothing; a DMS
task failing on its own is restarted once a person approves; a truncated binlog tail ends in a run that names
the rows only the warehouse holds."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import pytest
from conftest import run_record

from rehearsal.airflow_cluster import AirflowCluster, poll
from rehearsal.airflow_runs import (
    RECOVER,
    RUN_TIMEOUT_S,
    all_dags_parsed,
    answer_approvals,
    finished_runs,
    incident_runs,
    json_of,
    published,
    queued_after_s,
    run_path,
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


def test_a_task_failed_on_its_own_restarts_from_its_checkpoint_once_a_person_approves(deployment, fault_row):
    """First in the module: no failover of the cluster yet (one within the hour before a failure explains it, and
    the restart then needs no person)."""
    row = fault_row("DMS task failed on its own (fatal error, no failover)",
                    expected="the run asks a person, showing the failure and the restart position; approved: CDC "
                             "resumes from the task's checkpoint; drift 0")
    cluster, estate = deployment
    earlier = {run["dag_run_id"] for run in runs(cluster, DAG_ID)}
    traffic = estate.traffic().start()
    try:
        estate.dms.fail(estate.resources.replication_task_arn, "Last Error Target database is unreachable. "
                                                                 "Task error notification received.")
        run_id = poll(lambda: next((r["dag_run_id"] for r in runs(cluster, DAG_ID) if r["dag_run_id"] not in earlier),
                                   None), RUN_TIMEOUT_S, "a run started by the task's failure",
                      check=cluster.check_alive)
        answer_approvals(cluster, [run_id], DAG_ID, "approve_restart")
        (run,) = [r for r in finished_runs(cluster, DAG_ID, len(earlier) + 1) if r["dag_run_id"] == run_id]
    finally:
        traffic.stop()

    assert run["run_type"] == "asset_triggered" and run["state"] == "success", states(cluster, run)
    asked = json_of(cluster.api("GET", f"{run_path(DAG_ID, run_id)}/taskInstances/approve_restart/-1/"
                                       "hitlDetails"))
    done = record(estate, run)
    plan = step(done, "assess")["result"]
    assert "Target database is unreachable" in asked["body"] and f"`{plan['position']}`" in asked["body"]
    assert [e["kind"] for e in step(done, "claim_events")["result"]["events"]] == ["task_failed"]
    assert (plan["recovery"], plan["failure"]) == ("resume", "Last Error Target database is unreachable. Task "
                                                             "error notification received.")
    assert step(done, "restart_cdc")["state"] == "success" and estate.task()["Status"] == "running"
    assert row.settled(estate, f"one run, approval asked and answered, {run['state']}; resumed at "
                               f"{plan['position']}") == 0


def test_a_failover_under_traffic_recovers_by_itself_with_no_drift(deployment):
    cluster, estate = deployment
    before = len(runs(cluster, DAG_ID))
    traffic = estate.traffic().start()
    try:
        outcome = estate.fail_over()
        run = finished_runs(cluster, DAG_ID, before + 1)[-1]
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
    earlier, began = {run["dag_run_id"] for run in runs(cluster, DAG_ID)}, datetime.now(UTC)
    estate.failover.faults.truncated_tail_rows = 2
    try:
        outcome = estate.fail_over()
    finally:
        estate.failover.faults.truncated_tail_rows = 0
    (failed, *_) = poll(lambda: [e for e in published(estate, "eventId", "DMS-EVENT-0078") if e["at"] > began],
                        RUN_TIMEOUT_S, "the task's failure event", check=cluster.check_alive)
    incident = incident_runs(cluster, estate, DAG_ID, earlier)

    (run,) = [r for r in incident if step(r["record"], "restart_cdc")["state"] == "success"]  # one restart
    assert run["state"] == "failed" and all(r["state"] == "failed" for r in incident)  # none hides the loss
    done = run["record"]
    assert step(done, "assess")["result"]["recovery"] == "resume_after_loss"
    failure = step(done, "reconcile")["failure"]
    assert all(str(order_id) in failure for order_id in outcome.lost_order_ids), failure
    note = json_of(cluster.api("GET", f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}"))["note"]
    assert note.startswith(f"**{DAG_ID} / shop: FAILED at `reconcile`**"), note
    running_since = datetime.fromisoformat(step(done, "restart_cdc")["result"]["running_since"])
    first = min(failed, last_failover_event(estate), key=lambda event: event["at"])
    print(f"event_recovery resume_after_loss: detect_s={queued_after_s(run, first):.1f} "
          f"cdc_gap_s={(running_since - failed['at']).total_seconds():.1f} (task failed -> running again), "
          f"{len(incident)} run(s)")
