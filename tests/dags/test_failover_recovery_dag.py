"""cdc_recover_after_failure.shop with dag.test() against the estate: a real failover of the MariaDB writer
under traffic, then the runbook (triggered by hand here; the event-driven start is the real-Airflow test)."""

from __future__ import annotations

import json

import pytest
from fault_matrix import run_outcome

from cdc_runbooks.cdc_event import EventKind, read_event

pytestmark = pytest.mark.estate

DAG_ID = "cdc_recover_after_failure.shop"


def step(record: dict, task_id: str) -> dict:
    return next(s for s in record["steps"] if s["task_id"] == task_id)


def fail_over_under_traffic(estate):
    estate.add_reader()
    traffic = estate.traffic().start()
    try:
        return estate.fail_over()
    finally:
        traffic.stop()


def test_dms_reconnected_on_its_own_so_the_run_only_verifies(estate, run_dag, fault_row):
    row = fault_row("Aurora failover under traffic, DMS reconnects",
                    expected="recovery verifies only (no restart), reconcile passes; drift 0")
    fail_over_under_traffic(estate)
    dag_run, record = run_dag(estate, DAG_ID)

    assert (dag_run.state, record["outcome"]) == ("success", "success")
    assert step(record, "assess")["result"]["recovery"] == "verify"
    assert step(record, "restart_cdc")["state"] == "skipped"
    assert step(record, "reconcile")["result"]["drift"] == 0
    assert not [r for r in estate.dms.requests if r["action"] == "StartReplicationTask"][1:]
    assert row.settled(estate, f"{run_outcome(record)}; plan verify, restart_cdc skipped") == 0


def test_a_task_failed_after_its_retries_resumes_from_its_checkpoint_with_no_drift(estate, run_dag, fault_row):
    row = fault_row("writer down longer than DMS's retries (task failed)",
                    expected="recovery resumes from the task's RecoveryCheckpoint on the new writer; drift 0")
    estate.dms.faults.recoverable_error_s = 1.0
    estate.failover.faults.outage_s = 3.0
    fail_over_under_traffic(estate)
    checkpoint = estate.wait_task_status("failed")["RecoveryCheckpoint"]
    dag_run, record = run_dag(estate, DAG_ID)

    assert (dag_run.state, record["outcome"]) == ("success", "success")
    plan = step(record, "assess")["result"]
    assert (plan["recovery"], plan["checkpoint"], plan["writer"]) == ("resume", checkpoint, "prod-reader")
    assert estate.task()["CdcStartPosition"] == plan["position"]
    assert step(record, "reconcile")["result"]["drift"] == 0
    assert row.settled(estate, f"{run_outcome(record)}; resumed at {plan['position']}") == 0


def task_failed_events(estate, messages: int = 1) -> dict[str, list[dict]]:
    """The task-failure events among the next ``messages`` in the estate's queue, as the watcher hands them to the
    pipeline's asset."""
    events = [read_event(body) for body in estate.events.take(messages)]
    return {"cdc_event.shop.task_failed": [e.to_payload() for e in events if e.kind is EventKind.TASK_FAILED]}


def test_a_task_failed_on_its_own_resumes_only_once_a_person_approves(estate, run_dag, answer_approval, fault_row):
    row = fault_row("DMS task failed on its own (fatal error, no failover)",
                    expected="the run asks a person with the failure and the position; approved: resumes from the "
                             "task's RecoveryCheckpoint; drift 0")
    traffic = estate.traffic().start()
    try:
        estate.dms.fail(estate.resources.replication_task_arn, "Last Error Lost connection to the *target*.")
        checkpoint = estate.task()["RecoveryCheckpoint"]
        answer_approval(DAG_ID, "approve_restart", "Approve")
        dag_run, record = run_dag.started_by_events(estate, DAG_ID, task_failed_events(estate))
    finally:
        traffic.stop()

    assert (dag_run.state, record["outcome"]) == ("success", "success")
    plan = step(record, "assess")["result"]
    assert (plan["recovery"], plan["checkpoint"]) == ("resume", checkpoint)
    assert step(record, "approve_restart")["state"] == "success"
    assert estate.task()["CdcStartPosition"] == plan["position"]
    (asked,) = [message for topic in estate.aws.backend("sns").topics.values()
                for _, message, subject, *_ in topic.sent_notifications
                if (subject or "").startswith("[decision needed]")]
    asked = json.loads(asked)["default"]  # SNS's message structure (the notifier sends JSON)
    assert r"Lost connection to the \*target\*" in asked and f"`{plan['position']}`" in asked
    assert row.settled(estate, f"{run_outcome(record)}; approved, resumed at {plan['position']}") == 0


def test_a_failure_event_ahead_of_the_failovers_own_recovers_without_a_person(estate, run_dag):
    """The writer is down longer than DMS retries: the task fails before the failover completes, and its event can
    start the run before the failover's does. RDS's event history names the failover: no approval."""
    estate.dms.faults.recoverable_error_s = 1.0
    estate.failover.faults.outage_s = 3.0
    fail_over_under_traffic(estate)
    estate.wait_task_status("failed")
    dag_run, record = run_dag.started_by_events(estate, DAG_ID, task_failed_events(estate, messages=2))

    assert (dag_run.state, record["outcome"]) == ("success", "success")
    assert [e["kind"] for e in step(record, "claim_events")["result"]["events"]] == ["task_failed"]
    assert step(record, "assess")["result"]["failovers"]  # RDS-EVENT-0073 and 0071 of the cluster
    assert [step(record, t)["state"] for t in ("approve_restart", "restart_cdc")] == ["skipped", "success"]


def test_a_rejected_restart_changes_nothing_and_a_late_failure_event_does_nothing(estate, run_dag, answer_approval,
                                                                                 fault_row):
    row = fault_row("restart of a failed task rejected, then its event again",
                    expected="rejected: the run fails at approve_restart, nothing changed; after a person's restart "
                             "the event again: nothing to do, no DMS call; drift 0")
    estate.dms.fail(estate.resources.replication_task_arn, "Last Error Binary log purged.")
    events = task_failed_events(estate)
    answer_approval(DAG_ID, "approve_restart", "Reject")
    rejected, rejected_record = run_dag.started_by_events(estate, DAG_ID, events)

    assert (rejected.state, rejected_record["outcome"]) == ("failed", "failed")
    assert "nothing was changed" in step(rejected_record, "approve_restart")["failure"]
    assert step(rejected_record, "restart_cdc")["state"] == "upstream_failed"
    assert estate.task()["Status"] == "failed"
    starts = len([r for r in estate.dms.requests if r["action"] == "StartReplicationTask"])

    end = estate.source.writer.master_status()  # a person restarted it; the same failure event comes again, late
    estate.start_cdc(f"{end.file}:{end.position}")
    late, record = run_dag.started_by_events(estate, DAG_ID, {"cdc_event.shop.task_failed": [
        {**events["cdc_event.shop.task_failed"][0], "event_id": "redelivered-later"}]})
    assert (late.state, record["outcome"]) == ("success", "success")
    assert [step(record, t)["state"] for t in ("approve_restart", "restart_cdc", "reconcile")] == ["skipped"] * 3
    assert len([r for r in estate.dms.requests if r["action"] == "StartReplicationTask"]) == starts + 1
    assert row.settled(estate, f"rejected: {run_outcome(rejected_record)}; the event again: {run_outcome(record)}, "
                               "approve_restart, restart_cdc and reconcile skipped") == 0


def test_a_truncated_tail_resumes_where_the_binlog_goes_on_and_names_the_rows_the_source_lost(estate, run_dag,
                                                                                           fault_row):
    row = fault_row("binlog tail truncated after CDC read it",
                    expected="CDC resumes at the next binlog file, the cost stated; the run fails at reconcile "
                             "naming the rows only the warehouse holds (drift = those rows, for a person)")
    estate.failover.faults.truncated_tail_rows = 3
    outcome = fail_over_under_traffic(estate)
    estate.wait_task_status("failed")
    dag_run, record = run_dag(estate, DAG_ID, settle_s=10)

    assert dag_run.state == "failed" and record["outcome"] == "failed"
    plan = step(record, "assess")["result"]
    assert plan["recovery"] == "resume_after_loss" and "bytes of binlog" in plan["cost"]
    assert plan["position"].endswith(":4") and estate.task()["Status"] == "running"
    orders = step(record, "reconcile")
    assert orders["state"] == "failed"
    for lost in outcome.lost_order_ids:
        assert str(lost) in orders["failure"]
    observed = f"{run_outcome(record)}; resumed at {plan['position']}"
    assert row.settled(estate, observed) == len(outcome.lost_order_ids)
