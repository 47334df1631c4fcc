"""The flagship runbook against the estate, traffic running: aurora_blue_green_switchover, then the data
platform's cdc_resume_after_switchover.shop on the fact it publishes."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from fault_matrix import run_outcome

pytestmark = pytest.mark.estate
RESUME = "cdc_resume_after_switchover.shop"


def _step(record: dict, task_id: str) -> dict:
    return next(s for s in record["steps"] if s["task_id"] == task_id)


def _switch(estate, run_dag, **conf):
    return run_dag(estate, "aurora_blue_green_switchover", pipeline="shop", deployment_id=estate.deployment_id,
                   **conf)


def test_happy_path_hands_cdc_to_green_with_no_drift(estate, run_dag):
    traffic = estate.traffic().start()
    try:
        switched, product = _switch(estate, run_dag, pre_approved=True)
        handed_over = _step(product, "confirm_cdc_resumes")["result"]
        resumed, data = run_dag.triggered(estate, RESUME, handed_over["resume_run_id"])
    finally:
        traffic.stop()

    assert switched.state == "success", product
    assert handed_over == {"resume_dag_id": RESUME, "resume_run_id": f"switchover__{switched.run_id}",
                           "state": "queued"}
    assert _step(product, "approve_switchover")["state"] == "skipped"
    assert _step(product, "resume_on_blue")["state"] == "skipped"
    assert resumed.state == "success", data
    summary = _step(data, "summarize")["result"]
    assert summary["new_position"] == str(estate.bluegreen.coordinates)
    assert summary["position_source"] == "event" and summary["drift"] == 0
    assert summary["cdc_gap_s"] > 0
    estate.wait_cdc_idle()
    for table in ("customers", "orders"):
        assert estate.source_rows(table) == estate.warehouse_rows(table)


def test_a_run_cleared_after_its_hand_over_publishes_and_confirms_again(estate, run_dag):
    """Clearing a finished run from new_position with its downstream (e.g. after a failed publication): the
    hand-over finds its resume run and is skipped, and the run still publishes the fact and confirms the resume
    run — it never ends green with both skipped. The one resume run then restarts CDC."""
    switched, _ = _switch(estate, run_dag, pre_approved=True)
    cleared, product = run_dag.clear_and_rerun(estate, switched, "new_position")
    resumed, data = run_dag.triggered(estate, RESUME, f"switchover__{switched.run_id}")

    assert cleared.state == "success", product
    assert {t: _step(product, t)["state"] for t in ("hand_over_cdc", "publish_switchover", "confirm_cdc_resumes")} \
        == {"hand_over_cdc": "skipped", "publish_switchover": "success", "confirm_cdc_resumes": "success"}
    assert resumed.state == "success", data
    assert _step(data, "summarize")["result"]["drift"] == 0


def test_approved_by_a_person_records_who(estate, run_dag, answer_approval):
    answer_approval("aurora_blue_green_switchover", "approve_switchover", "Approve")
    switched, product = _switch(estate, run_dag)

    assert switched.state == "success", product
    approval = _step(product, "approve_switchover")["result"]
    assert approval["chosen_options"] == ["Approve"] and approval["responded_by_user"]["name"] == "On-call SRE"
    assert _step(product, "switchover")["result"]["status"] == "SWITCHOVER_COMPLETED"


def test_rejected_approval_changes_nothing(estate, run_dag, answer_approval, fault_row):
    row = fault_row("approval rejected", expected="run fails at approve_switchover; nothing changed; drift 0")
    answer_approval("aurora_blue_green_switchover", "approve_switchover", "Reject")
    switched, product = _switch(estate, run_dag)

    assert switched.state == "failed" and product["outcome"] == "failed"
    assert _step(product, "approve_switchover")["state"] == "failed"
    assert _step(product, "approve_switchover")["failure"].startswith(
        "ChangeNotApproved: rejected by On-call SRE at ")
    assert "nothing was changed" in _step(product, "approve_switchover")["failure"]
    assert _step(product, "pause_dms_task")["state"] == "upstream_failed"
    assert estate.task()["Status"] == "running" and not estate.bluegreen.switchover_calls
    assert row.recovered(estate, f"{run_outcome(product)}; DMS {estate.task()['Status']}, no switchover call") == 0


def test_dry_run_stops_after_preflight_and_plan(estate, run_dag):
    switched, product = _switch(estate, run_dag, dry_run=True)

    assert switched.state == "success" and product["outcome"] == "dry_run"
    assert "### Switchover preflight" in _step(product, "preflight")["result"]["markdown"]
    skipped = {_step(product, t)["state"] for t in ("approve_switchover", "pause_dms_task", "switchover",
                                                     "new_position", "verify_binlog_readiness", "drain_old_blue")}
    assert skipped == {"skipped"}
    assert estate.task()["Status"] == "running" and not estate.bluegreen.switchover_calls


def test_green_parameter_group_without_row_blocks_at_preflight(estate, run_dag, fault_row):
    row = fault_row("green parameter group without ROW",
                    expected="run fails at preflight naming parameter_group.binlog_format; nothing changed; drift 0")
    estate.aws.client("rds").modify_db_cluster_parameter_group(
        DBClusterParameterGroupName=estate.resources.green_parameter_group,
        Parameters=[{"ParameterName": "binlog_format", "ParameterValue": "MIXED", "ApplyMethod": "immediate"}])

    switched, product = _switch(estate, run_dag, pre_approved=True)

    assert switched.state == "failed"
    failure = _step(product, "preflight")["failure"]
    assert "nothing was changed" in failure and "parameter_group.binlog_format" in failure
    assert estate.task()["Status"] == "running" and not estate.bluegreen.switchover_calls
    assert row.recovered(estate, f"{run_outcome(product)}; DMS {estate.task()['Status']}, no switchover call") == 0


def test_failed_switchover_resumes_cdc_on_blue_and_fails_loudly(estate, run_dag, fault_row):
    row = fault_row("switchover failed (rolled back)", expected="run fails at switchover: RDS rolled back, production "
                                                                "still blue; CDC resumed on blue; drift 0")
    estate.bluegreen.faults.outcome = "fail"
    traffic = estate.traffic().start()
    try:
        switched, product = _switch(estate, run_dag, pre_approved=True)
    finally:
        traffic.stop()

    assert switched.state == "failed" and product["outcome"] == "failed"
    assert "SwitchoverRolledBack" in _step(product, "switchover")["failure"]
    assert {_step(product, t)["state"] for t in ("drain_old_blue", "new_position", "verify_binlog_readiness")} == {
        "upstream_failed"}  # nothing runs against a production that did not change
    assert _step(product, "resume_on_blue")["state"] == "success"
    assert estate.task()["Status"] == "running" and estate.source.writer is estate.source.blue
    resumed_on_blue = _step(product, "resume_on_blue")["state"]
    assert row.recovered(estate, f"{run_outcome(product)}; resume_on_blue {resumed_on_blue}") == 0


def test_missing_coordinates_event_takes_the_fallback_and_says_so(estate, run_dag, fault_row):
    row = fault_row("coordinates event never published", expected="fallback position (end of blue's last "
                    "replicated transaction), marked needs reconciliation attention; both runs succeed; drift 0")
    estate.bluegreen.faults.publish_coordinates = False
    traffic = estate.traffic().start()
    try:
        switched, product = _switch(estate, run_dag, pre_approved=True, coordinates_wait_s=2)
        resumed, data = run_dag(estate, RESUME)
    finally:
        traffic.stop()

    assert switched.state == "success" and resumed.state == "success", (product, data)
    summary = _step(data, "summarize")["result"]
    assert summary["position_source"].startswith("fallback") and summary["needs_reconciliation_attention"]
    assert summary["new_position"] == str(estate.bluegreen.coordinates) and summary["drift"] == 0
    assert row.recovered(estate, f"both runs succeed; position {summary['new_position']} from "
                                 f"{summary['position_source']}, needs reconciliation attention: "
                                 f"{summary['needs_reconciliation_attention']}") == 0


def test_a_run_cleared_after_a_lost_worker_resumes_without_switching_twice(estate, run_dag, monkeypatch, fault_row):
    """The worker dies while the switchover is in progress; the on-call engineer clears the failed step with its
    downstream (the documented recovery); the re-run adopts the switchover instead of calling it again."""
    row = fault_row("worker killed mid-step, task cleared and re-run",
                    expected="run fails at switchover, CDC not resumed on blue; clear switchover: adopts the "
                             "switchover (one call); resume succeeds; drift 0")
    from cdc_runbooks.triggers.rds import BlueGreenSwitchoverTrigger

    async def worker_lost(self):
        raise RuntimeError("worker lost while waiting for the switchover")
        yield  # an async generator, like the trigger's run()

    with monkeypatch.context() as lost_worker:
        lost_worker.setattr(BlueGreenSwitchoverTrigger, "run", worker_lost)
        lost_worker.setattr(run_dag.bag.dags["aurora_blue_green_switchover"].get_task("switchover"), "retries", 0)
        traffic = estate.traffic().start()
        try:
            lost, lost_record = _switch(estate, run_dag, pre_approved=True)
        finally:
            stats = traffic.stop()
    assert lost.state == "failed" and _step(lost_record, "switchover")["state"] == "failed"
    assert _step(lost_record, "resume_on_blue")["state"] == "skipped"  # RDS went on: not rolled back
    assert estate.task()["Status"] == "stopped"
    # the on-call looks before clearing: RDS went on and completed, before the cleared run (re)starts
    estate.wait_deployment_status("SWITCHOVER_COMPLETED")

    traffic = estate.traffic().start()
    try:
        cleared, product = run_dag.clear_and_rerun(estate, lost, "switchover")
        resumed, data = run_dag(estate, RESUME)
    finally:
        stats = traffic.stop()

    assert cleared.state == "success", product
    assert _step(product, "switchover")["result"]["action"] == "adopt"
    assert _step(product, "new_position")["result"]["source"] == "event"
    assert estate.bluegreen.switchover_calls == [estate.deployment_id]
    assert resumed.state == "success", data
    assert _step(data, "summarize")["result"]["drift"] == 0 and stats.committed > 0
    assert row.recovered(estate, f"{run_outcome(lost_record)}; after the clear: switchover "
                                 f"{_step(product, 'switchover')['result']['action']}, "
                                 f"{len(estate.bluegreen.switchover_calls)} switchover call; {run_outcome(data)}") == 0


def _pause(dag_id: str, paused: bool = True) -> None:
    """What a person does with the toggle in the UI."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=paused))


def _when_parked(dag_id: str, task_id: str, then, timeout: float = 120) -> threading.Thread:
    """Run ``then`` once ``task_id`` waits for a person's answer."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    def wait():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with create_session() as session:
                if session.scalar(select(TaskInstance.state).where(
                        TaskInstance.dag_id == dag_id, TaskInstance.task_id == task_id,
                        TaskInstance.state == "awaiting_input")):
                    then()
                    return
            time.sleep(0.2)

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    return thread


def test_a_paused_resume_dag_blocks_the_switchover_at_preflight(estate, run_dag):
    """Airflow creates no run of a paused DAG and keeps no event for it: switching over then would leave DMS
    stopped. The preflight refuses, naming the fix, and nothing changes."""
    run_dag(estate, "aurora_blue_green_switchover", pipeline="shop", deployment_id=estate.deployment_id, dry_run=True)
    _pause(RESUME)
    try:
        switched, product = _switch(estate, run_dag, pre_approved=True)
    finally:
        _pause(RESUME, False)

    assert switched.state == "failed" and _step(product, "preflight")["state"] == "failed"
    failure = _step(product, "preflight")["failure"]
    assert f"| CDC resume DAG can run | FAIL | the resume DAG {RESUME} is paused" in failure
    assert f"airflow dags unpause {RESUME}" in failure
    assert estate.task()["Status"] == "running" and not estate.bluegreen.switchover_calls


def test_a_resume_dag_paused_during_the_switchover_fails_the_run_loudly_and_its_run_waits(
        estate, run_dag, answer_approval, fault_row):
    """Paused after the preflight (while the approval waits): production switches over, the resume run is created
    all the same (queued), and the switchover run fails at confirm_cdc_resumes saying DMS is stopped and what to do.
    Unpausing starts the queued run: drift 0."""
    row = fault_row("resume DAG paused when the switchover publishes",
                    expected="switchover run fails at confirm_cdc_resumes: DMS STOPPED, unpause the resume DAG; the "
                             "queued resume run then restarts CDC; drift 0")
    _when_parked("aurora_blue_green_switchover", "approve_switchover", lambda: _pause(RESUME))
    answer_approval("aurora_blue_green_switchover", "approve_switchover", "Approve")
    try:
        switched, product = _switch(estate, run_dag)
    finally:
        _pause(RESUME, False)

    assert switched.state == "failed" and _step(product, "switchover")["state"] == "success", product
    assert _step(product, "hand_over_cdc")["state"] == "success"
    failure = _step(product, "confirm_cdc_resumes")["failure"]
    assert failure.startswith(f"CdcNotResumed: production switched over and the resume run switchover__"
                              f"{switched.run_id} exists (queued), but the resume DAG {RESUME} is paused")
    assert "DMS is STOPPED" in failure and estate.task()["Status"] == "stopped"
    resumed, data = run_dag.triggered(estate, RESUME, f"switchover__{switched.run_id}")  # unpaused: it runs
    assert resumed.state == "success", data
    assert row.recovered(estate, f"{run_outcome(product)}; after unpausing: {run_outcome(data)}") == 0


# An offset inside the history green replicated from blue: the first transaction green logged for blue.
INSIDE_REPLICATED_HISTORY = "mysql-bin-changelog.000003:338"


def test_a_future_dated_coordinates_event_is_ignored(estate, run_dag, fault_row):
    """A coordinates event of green's writer dated an hour ahead (clock skew, a replayed or injected event) used
    to win as the newest: CDC restarted inside green's replicated history. It is outside the window now."""
    row = fault_row("coordinates event dated in the future",
                    expected="ignored; green's real coordinates from the event, confirmed by green's binlog; "
                             "both runs succeed; drift 0")
    estate.bluegreen.faults.extra_coordinates = [(INSIDE_REPLICATED_HISTORY, timedelta(hours=1))]
    traffic = estate.traffic().start()
    try:
        switched, product = _switch(estate, run_dag, pre_approved=True)
        resumed, data = run_dag.triggered(estate, RESUME, f"switchover__{switched.run_id}")
    finally:
        traffic.stop()

    assert switched.state == "success" and resumed.state == "success", (product, data)
    position = _step(product, "new_position")["result"]
    assert position == {"position": str(estate.bluegreen.coordinates), "source": "event",
                        "needs_reconciliation_attention": False}
    assert row.recovered(estate, f"{run_outcome(product)}, position {position['position']} from the "
                                 f"{position['source']}; {run_outcome(data)}") == 0


def test_coordinates_disagreeing_with_greens_binlog_refuse_before_cdc_restarts(estate, run_dag, fault_row):
    """The only coordinates event names a point inside green's replicated history: the run fails at new_position
    before anything restarts CDC; the documented recovery resumes from where green's binlog says its own writes
    begin (the resume DAG triggered with the fact), drift 0."""
    row = fault_row("coordinates event disagreeing with green's binlog",
                    expected="run fails at new_position naming where green's own writes begin; CDC not restarted; "
                             "resume triggered with that position: drift 0")
    estate.bluegreen.faults.publish_coordinates = False
    estate.bluegreen.faults.extra_coordinates = [(INSIDE_REPLICATED_HISTORY, timedelta(0))]
    traffic = estate.traffic().start()
    try:
        switched, product = _switch(estate, run_dag, pre_approved=True)
        failure = _step(product, "new_position")["failure"]
        assert switched.state == "failed" and failure.startswith(
            f"CoordinatesDisagree: the coordinates {INSIDE_REPLICATED_HISTORY} disagree with prod-writer's binlog, "
            f"where its own writes begin at {estate.bluegreen.coordinates}"), product
        assert _step(product, "hand_over_cdc")["state"] == "upstream_failed" and estate.task()["Status"] == "stopped"
        assert _step(product, "verify_binlog_readiness")["state"] == "success"  # checked for the resume by hand
        paused = _step(product, "pause_dms_task")["result"]
        drained = _step(product, "drain_old_blue")["result"]  # beside new_position: it drained all the same
        fact = {"pipeline": "shop", "deployment": estate.deployment_id, "checkpoint": paused["recovery_checkpoint"],
                "old_blue_end": drained["drained_to"], "paused_at": paused["stopped_at"],
                "position": str(estate.bluegreen.coordinates),
                "position_source": "green's binlog (coordinates event refused)",
                "needs_reconciliation_attention": True, "product_run_id": switched.run_id}
        resumed, data = run_dag(estate, RESUME, **fact)
    finally:
        traffic.stop()

    assert resumed.state == "success", data
    assert row.recovered(estate, f"{run_outcome(product)}; resume with green's binlog position: "
                                 f"{run_outcome(data)}") == 0


def _source_endpoint(estate) -> tuple[str, int]:
    arn = estate.task()["SourceEndpointArn"]
    found = estate.aws.client("dms").describe_endpoints(Filters=[{"Name": "endpoint-arn", "Values": [arn]}])
    return found["Endpoints"][0]["ServerName"], int(found["Endpoints"][0]["Port"])


def test_a_drain_whose_endpoint_restore_failed_once_leaves_cdc_reading_production(estate, run_dag, monkeypatch):
    """ModifyEndpoint back to production throttled once at the end of the drain's rounds: the step's automatic
    retry finds old blue drained and adopts, pointing the endpoint at production all the same; the resume run
    restarts CDC there, drift 0."""
    from botocore.exceptions import ClientError

    from cdc_runbooks.operators import dms as dms_ops

    production, restore = _source_endpoint(estate), dms_ops.point_endpoint
    throttled = []

    def throttled_once(conn_id, endpoint_arn, server, port):
        if (server, int(port)) == production and not throttled:
            throttled.append(port)
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "ModifyEndpoint")
        return restore(conn_id, endpoint_arn, server, port)

    monkeypatch.setattr(dms_ops, "point_endpoint", throttled_once)
    traffic = estate.traffic().start()
    try:
        switched, product = _switch(estate, run_dag, pre_approved=True)
        after_product_run = _source_endpoint(estate)
        resumed, data = run_dag.triggered(estate, RESUME, f"switchover__{switched.run_id}")
    finally:
        traffic.stop()

    assert throttled and _step(product, "drain_old_blue")["result"]["action"] == "adopt", product
    assert switched.state == "success" and after_product_run == production, (after_product_run, production)
    assert resumed.state == "success" and _step(data, "summarize")["result"]["drift"] == 0, data
