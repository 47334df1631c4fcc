"""cdc_follow_console_switchover.shop with dag.test() against the estate: a blue/green switchover started directly
against the estate's RDS API (as in the console) while DMS reads blue and traffic runs, then the runbook started by
the switchover's event (the real-Airflow test starts it through the triggerer)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fault_matrix import run_outcome

from cdc_runbooks.cdc_event import CdcEvent, EventKind, read_event
from cdc_runbooks.pipeline_lock import LockHolder

pytestmark = pytest.mark.estate

DAG_ID = "cdc_follow_console_switchover.shop"


def step(record: dict, task_id: str) -> dict:
    return next(s for s in record["steps"] if s["task_id"] == task_id)


def switch_over_in_the_console(estate) -> None:
    estate.aws.client("rds").switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=estate.deployment_id)


def switchover_started_events(estate) -> dict[str, list[dict]]:
    """The switchover-started events among the next message of the estate's queue, as the watcher hands them to the
    pipeline's asset."""
    events = [read_event(body) for body in estate.events.take(1)]
    return {"cdc_event.shop.switchover_started": [e.to_payload() for e in events
                                                   if e.kind is EventKind.SWITCHOVER_STARTED]}


def test_dms_stops_before_the_switchover_completes_and_resumes_on_green_with_no_drift(estate, run_dag, fault_row):
    row = fault_row("blue/green switchover started in the console while DMS reads blue",
                    expected="DMS stopped before the switchover completes, old blue drained, CDC restarted from "
                             "green's coordinates; drift 0")
    estate.bluegreen.switchover_s = 10.0
    traffic = estate.traffic().start()
    try:
        switch_over_in_the_console(estate)
        dag_run, record = run_dag.started_by_events(estate, DAG_ID, switchover_started_events(estate))
    finally:
        traffic.stop()

    assert (dag_run.state, record["outcome"]) == ("success", "success"), record
    followed = step(record, "follow_switchover")["result"]
    stopped_at = datetime.fromisoformat(step(record, "pause_dms_task")["result"]["stopped_at"])
    assert stopped_at < datetime.fromisoformat(followed["completed_at"]) and followed["damage"] is None
    assert step(record, "drain_old_blue")["state"] == "success"
    assert step(record, "new_position")["result"]["position"] == str(estate.bluegreen.coordinates)
    assert estate.task()["CdcStartPosition"] == str(estate.bluegreen.coordinates)
    assert step(record, "reconcile")["result"]["drift"] == 0
    ahead_s = (datetime.fromisoformat(followed["completed_at"]) - stopped_at).total_seconds()
    assert row.settled(estate, f"{run_outcome(record)}; DMS stopped {ahead_s:.1f} s before the completion, old blue "
                               f"drained, resumed at {estate.bluegreen.coordinates}") == 0


def test_dms_still_running_when_the_switchover_completed_is_damage_the_reconciliation_names(estate, run_dag,
                                                                                          fault_row):
    row = fault_row("console switchover completed before DMS was stopped (the event came late)",
                    expected="the record says DMS may have read green from blue's coordinates; CDC restarted from "
                             "green's coordinates; the reconcile names the row DMS applied wrongly; run failed")
    traffic = estate.traffic().start()
    try:
        switch_over_in_the_console(estate)
        estate.wait_deployment_status("SWITCHOVER_COMPLETED")
        with estate.warehouse.connect() as conn, conn.cursor() as cur:  # what reading green wrongly applied
            cur.execute("INSERT INTO shop.customers (id, name, email, created_at) "
                        "VALUES (-7, 'read from green', 'x@y', now())")
        dag_run, record = run_dag(estate, DAG_ID, coordinates_wait_s=2, settle_s=3)
    finally:
        traffic.stop()

    assert (dag_run.state, record["outcome"]) == ("failed", "failed")
    damage = step(record, "follow_switchover")["result"]["damage"]
    assert "may have read green from blue's coordinates" in damage
    assert [step(record, t)["state"] for t in ("drain_old_blue", "restart_cdc")] == ["skipped", "success"]
    assert "-7" in step(record, "reconcile")["failure"]
    assert estate.task()["Status"] == "running"
    assert row.settled(estate, f"{run_outcome(record)}; damage: {damage}") >= 1  # the planted row, and any other


def test_a_switchover_of_ours_is_left_to_its_run(estate, run_dag):
    ours = LockHolder("aurora_blue_green_switchover", "manual__ours", "shop", "2026-12-01T03:00:00+00:00")
    estate.aws.client("s3").put_object(Bucket=estate.resources.records_bucket, Key=ours.key, Body=ours.to_json())
    dag_run, record = run_dag(estate, DAG_ID)

    assert (dag_run.state, record["outcome"]) == ("success", "success")
    assert step(record, "stand_aside")["state"] == "skipped"
    assert "manual__ours" in step(record, "stand_aside")["failure"]
    assert [step(record, t)["state"] for t in ("pause_dms_task", "restart_cdc")] == ["skipped", "skipped"]
    assert estate.task()["Status"] == "running" and not [
        r for r in estate.dms.requests if r["action"] == "StopReplicationTask"]


def test_a_run_triggered_by_hand_with_no_switchover_to_follow_leaves_dms_alone(estate, run_dag):
    dag_run, record = run_dag(estate, DAG_ID)

    assert (dag_run.state, record["outcome"]) == ("success", "success")
    assert step(record, "stand_aside")["state"] == "skipped"
    assert "nothing to follow" in step(record, "stand_aside")["failure"]
    assert estate.task()["Status"] == "running" and not [
        r for r in estate.dms.requests if r["action"] == "StopReplicationTask"]


def test_a_late_event_finds_cdc_resumed_by_a_person_and_does_not_stop_it(estate, run_dag):
    switch_over_in_the_console(estate)
    events = switchover_started_events(estate)
    estate.wait_deployment_status("SWITCHOVER_COMPLETED")
    if estate.task()["Status"] == "running":  # a person stops it, and restarts it from green's coordinates
        estate.aws.client("dms").stop_replication_task(ReplicationTaskArn=estate.resources.replication_task_arn)
        estate.wait_task_status("stopped")
    estate.start_cdc(str(estate.bluegreen.coordinates))
    stops = len([r for r in estate.dms.requests if r["action"] == "StopReplicationTask"])
    dag_run, record = run_dag.started_by_events(estate, DAG_ID, events)

    assert (dag_run.state, record["outcome"]) == ("failed", "failed")
    assert "CDC was resumed since" in step(record, "pause_dms_task")["failure"]
    assert [step(record, t)["state"] for t in ("follow_switchover", "restart_cdc")] == ["upstream_failed"] * 2
    assert estate.task()["Status"] == "running"
    assert len([r for r in estate.dms.requests if r["action"] == "StopReplicationTask"]) == stops


def test_a_switchover_event_hours_late_with_no_switchover_going_on_leaves_dms_alone(estate, run_dag):
    """A backlog after a triggerer outage, or a dead-letter redrive: the event is older than the hour the runbook
    looks back, so it asks RDS, finds no switchover of production, and changes nothing."""
    stale = CdcEvent(event_id="3d9a4b6c-0259-stale", kind=EventKind.SWITCHOVER_STARTED, code="RDS-EVENT-0259",
                     resource="prod", time=(datetime.now(UTC) - timedelta(hours=3)).isoformat(),
                     message="Switchover from DB cluster prod to prod-green-abc started.")
    estate.dms.runtime(estate.resources.replication_task_arn).start_date = datetime.now(UTC) - timedelta(days=1)
    dag_run, record = run_dag.started_by_events(estate, DAG_ID,
                                                {"cdc_event.shop.switchover_started": [stale.to_payload()]})

    assert (dag_run.state, record["outcome"]) == ("success", "success")
    assert "started by events older than" in step(record, "stand_aside")["failure"]
    assert estate.task()["Status"] == "running" and not [
        r for r in estate.dms.requests if r["action"] == "StopReplicationTask"]


def test_a_task_paused_on_purpose_is_not_resumed_until_a_person_says_so(estate, run_dag, fault_row):
    row = fault_row("DMS paused on purpose, then a switchover started in the console",
                    expected="the event's run refuses at pause_dms_task, nothing changed; triggered by hand with "
                             "resume_stopped_task: old blue drained from the pause's checkpoint, CDC restarted from "
                             "green's coordinates; drift 0")
    estate.aws.client("dms").stop_replication_task(ReplicationTaskArn=estate.resources.replication_task_arn)
    estate.wait_task_status("stopped")
    with estate.source.connect_app() as conn, conn.cursor() as cur:  # blue goes on after the pause: a drain's work
        cur.execute("INSERT INTO customers (name) VALUES ('after the pause')")
    estate.bluegreen.switchover_s = 3.0
    traffic = estate.traffic().start()
    try:
        switch_over_in_the_console(estate)
        before = len(estate.dms.requests)
        refused, refusal = run_dag.started_by_events(estate, DAG_ID, switchover_started_events(estate))
        during = estate.dms.requests[before:]
        estate.wait_deployment_status("SWITCHOVER_COMPLETED")
        dag_run, record = run_dag(estate, DAG_ID, resume_stopped_task=True, coordinates_wait_s=5)
    finally:
        traffic.stop()

    assert (refused.state, refusal["outcome"]) == ("failed", "failed")
    assert "paused on purpose" in step(refusal, "pause_dms_task")["failure"]
    assert during == [] and estate.task()["CdcStartPosition"] == str(estate.bluegreen.coordinates)
    assert (dag_run.state, record["outcome"]) == ("success", "success"), record
    assert step(record, "follow_switchover")["result"]["damage"] is None
    assert step(record, "drain_old_blue")["result"]["action"] == "act"
    assert row.settled(estate, f"event: {run_outcome(refusal)}; by hand: {run_outcome(record)}, old blue drained, "
                               f"resumed at {estate.bluegreen.coordinates}") == 0
