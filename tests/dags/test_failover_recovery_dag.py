"""cdc_recover_after_failover.shop with dag.test() against the estate: a real failover of the MariaDB writer
under traffic, then the runbook (triggered by hand here; the event-driven start is the real-Airflow test)."""

from __future__ import annotations

import pytest
from fault_matrix import run_outcome

pytestmark = pytest.mark.estate

DAG_ID = "cdc_recover_after_failover.shop"


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
