"""The fault matrix of issue #8, the rows not already rehearsed in tests/dags/test_switchover_runbook.py: each test
injects one fault into the switchover runbooks on the estate, checks the run state and the message the on-call
engineer reads (what happened, what to do), performs the documented recovery and ends with drift 0.
tests/fault_matrix.py prints the table at the end of the run."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from conftest import run_record
from fault_matrix import run_outcome

from rehearsal.throttling import THROTTLED_ACTIONS

pytestmark = pytest.mark.estate
SWITCHOVER = "aurora_blue_green_switchover"
RESUME = "cdc_resume_after_switchover.shop"


def _step(record: dict, task_id: str) -> dict:
    return next(s for s in record["steps"] if s["task_id"] == task_id)


def _switch(estate, run_dag, **conf):
    return run_dag(estate, SWITCHOVER, pipeline="shop", deployment_id=estate.deployment_id, **conf)


def _starts(estate) -> list[dict]:
    return [r for r in estate.dms.requests if r["action"] == "StartReplicationTask"]


@contextlib.contextmanager
def _traffic(estate):
    traffic = estate.traffic().start()
    try:
        yield traffic
    finally:
        traffic.stop()


def _switched_over(estate, run_dag) -> dict:
    """The product platform's half, completed under traffic (old blue has writes after the pause to drain)."""
    with _traffic(estate):
        switched, product = _switch(estate, run_dag, pre_approved=True)
    assert switched.state == "success", product
    return _step(product, "publish_switchover")["result"]


def _at_start_of(patch, run_dag, dag_id: str, task_id: str, fault) -> object:
    """Call ``fault()`` as the task starts (its pre_execute), with no automatic retry: the engineer recovers."""
    task = run_dag.bag.dags[dag_id].get_task(task_id)
    patch.setattr(task, "pre_execute", lambda context: fault())
    patch.setattr(task, "retries", 0)
    return task


def test_switchover_timed_out_resumes_cdc_on_blue_and_says_why(estate, run_dag, fault_row):
    row = fault_row("switchover timed out", expected="run fails at switchover: RDS rolled back, production still "
                                                     "blue, what to do next; CDC resumed on blue; drift 0")
    estate.bluegreen.faults.outcome = "timeout"
    with _traffic(estate):
        switched, product = _switch(estate, run_dag, pre_approved=True)

    failure = _step(product, "switchover")["failure"]
    assert switched.state == "failed" and product["outcome"] == "failed"
    assert "SwitchoverRolledBack" in failure and "Switchover timed out" in failure
    assert "production is still blue" in failure and "switch over in a new run" in failure
    assert _step(product, "resume_on_blue")["state"] == "success"
    assert estate.task()["Status"] == "running" and estate.source.writer is estate.source.blue
    resumed_on_blue = _step(product, "resume_on_blue")["state"]
    assert row.recovered(estate, f"{run_outcome(product)}; resume_on_blue {resumed_on_blue}") == 0


def test_dms_refusing_the_start_fails_restart_cdc_and_a_clear_resumes(estate, run_dag, fault_row, monkeypatch):
    row = fault_row("DMS start fails", expected="resume fails at restart_cdc with DMS's error, task not started; "
                                                "fix the cause, clear restart_cdc: success, drift 0")
    _switched_over(estate, run_dag)
    error = "Test connection for endpoint prod-source failed: Access denied for user 'dms_user'"
    with monkeypatch.context() as fault:
        _at_start_of(fault, run_dag, RESUME, "restart_cdc", lambda: setattr(estate.dms.faults, "start_error", error))
        resumed, refused = run_dag(estate, RESUME)

    failure = _step(refused, "restart_cdc")["failure"]
    assert resumed.state == "failed" and refused["failed_steps"] == ["restart_cdc"]
    assert "DmsTaskFailed" in failure and error in failure
    assert "was not started and is still stopped" in failure and "clear this step" in failure
    assert estate.task()["Status"] == "stopped"

    estate.dms.faults.start_error = None
    with _traffic(estate):
        cleared, data = run_dag.clear_and_rerun(estate, resumed, "restart_cdc")
    assert cleared.state == "success", data
    assert row.recovered(estate, f"{run_outcome(refused)}; after the clear: {run_outcome(data)}") == 0
    assert _step(data, "summarize")["result"]["drift"] == 0


def test_dms_stuck_in_starting_fails_after_a_bounded_wait_and_a_clear_adopts_the_start(estate, run_dag, fault_row,
                                                                                       monkeypatch):
    row = fault_row("DMS stuck in starting", expected="restart_cdc fails after its bounded wait naming the status; "
                                                      "clear restart_cdc: adopts the start (one StartReplicationTask)")
    position = _switched_over(estate, run_dag)["position"]
    with monkeypatch.context() as fault:
        task = _at_start_of(fault, run_dag, RESUME, "restart_cdc",
                            lambda: setattr(estate.dms.faults, "stuck_in_starting", True))
        fault.setattr(task, "waiter_max_attempts", 6)
        resumed, stuck = run_dag(estate, RESUME)

    failure = _step(stuck, "restart_cdc")["failure"]
    assert resumed.state == "failed"
    assert "did not become running after 6 polls" in failure and "is starting" in failure
    assert "clear this step" in failure and "never calls DMS twice" in failure
    assert estate.task()["Status"] == "starting"
    from_position = [r for r in _starts(estate) if r["CdcStartPosition"] == position]
    assert len(from_position) == 1

    estate.dms.faults.stuck_in_starting = False
    with _traffic(estate):
        cleared, data = run_dag.clear_and_rerun(estate, resumed, "restart_cdc")
    assert cleared.state == "success", data
    assert _step(data, "restart_cdc")["result"]["action"] in ("wait", "adopt")
    assert [r for r in _starts(estate) if r["CdcStartPosition"] == position] == from_position
    assert row.recovered(estate, f"{run_outcome(stuck)}; after the clear: {run_outcome(data)}, restart_cdc "
                                 f"{_step(data, 'restart_cdc')['result']['action']}, {len(from_position)} "
                                 "StartReplicationTask") == 0


def test_dms_task_failing_after_the_restart_is_reported_and_restarted_from_its_checkpoint(estate, run_dag, fault_row,
                                                                                          monkeypatch):
    row = fault_row("DMS task fails after restart (FATAL_ERROR)",
                    expected="restart_cdc fails at once with FATAL_ERROR, DMS's last failure and the "
                             "RecoveryCheckpoint; dms_cdc_restart from it: drift 0")
    _switched_over(estate, run_dag)
    arn, error = estate.resources.replication_task_arn, "Last Error Stream Component Fatal error. Error reading binlog"
    task = run_dag.bag.dags[RESUME].get_task("restart_cdc")
    converge = type(task).converge_when_running

    def fails_once_running(context, event, **done):
        estate.dms.fail(arn, error)
        return converge(task, context, event, **done)

    with monkeypatch.context() as fault, _traffic(estate):
        fault.setattr(task, "converge_when_running", fails_once_running)
        fault.setattr(task, "retries", 0)
        resumed, data = run_dag(estate, RESUME)
        checkpoint = estate.task()["RecoveryCheckpoint"]
        failure = _step(data, "restart_cdc")["failure"]
        assert resumed.state == "failed" and estate.task()["Status"] == "failed"
        assert "CDC stopped while waiting to converge" in failure and "FATAL_ERROR" in failure and error in failure
        assert f"dms_cdc_restart from the task's RecoveryCheckpoint {checkpoint}" in failure

        restarted, record = run_dag(estate, "dms_cdc_restart", pipeline="shop", cdc_start_position=checkpoint,
                                    dry_run=False)
    assert restarted.state == "success", record
    assert row.recovered(estate, f"{run_outcome(data)}; dms_cdc_restart from the checkpoint: "
                                 f"{record['outcome']}") == 0


def _purge_all_but_the_newest_binlog(writer, timeout: float = 30) -> None:
    """Retention too short: rotate the binlog and purge every older file (MariaDB keeps a file until its binlog
    checkpoint has passed, so repeat the purge until it is gone)."""
    writer.execute("FLUSH BINARY LOGS")
    newest = max(writer.binary_logs())
    deadline = time.monotonic() + timeout
    while len(kept := writer.binary_logs()) > 1:
        if time.monotonic() > deadline:
            raise TimeoutError(f"binlogs before {newest} were not purged: {sorted(kept)}")
        writer.execute("PURGE BINARY LOGS TO %s", args=(newest,))
        time.sleep(0.2)


def test_purged_binlog_refuses_the_restart_and_a_repair_recovers(estate, run_dag, answer_approval, fault_row):
    row = fault_row("binlog file purged before restart (retention too short)",
                    expected="restart_cdc refuses before calling DMS, naming the purge; restart from the writer's end "
                             "(verify_cdc fails naming the lost rows) + cdc_repair: drift 0")
    position = _switched_over(estate, run_dag)["position"]
    writer = estate.source.writer
    _purge_all_but_the_newest_binlog(writer)
    assert position.split(":")[0] not in writer.binary_logs()

    resumed, data = run_dag(estate, RESUME)
    failure = _step(data, "restart_cdc")["failure"]
    assert resumed.state == "failed"
    assert "UnsafeStartPosition" in failure and f"{position} is not on the writer" in failure
    assert "the file was purged (binlog retention too short)" in failure
    assert not [r for r in _starts(estate) if r["CdcStartPosition"] == position]
    assert estate.source_counts() != estate.warehouse_counts()  # green's own writes never reached the warehouse

    end = writer.master_status()
    with _traffic(estate):
        restarted, record = run_dag(estate, "dms_cdc_restart", pipeline="shop", cdc_start_position=str(end),
                                    dry_run=False, settle_s=5)
        answer_approval("cdc_repair", "approve_repair", "Approve")
        repaired, repair = run_dag(estate, "cdc_repair", pipeline="shop", dry_run=False, settle_s=10)
    # the rows the purge took are not in any binlog: CDC runs again, and the restart's proof names them missing
    assert restarted.state == "failed" and record["failed_steps"] == ["verify_cdc"], record
    assert _step(record, "restart_cdc")["state"] == "success" and "missing" in _step(record, "verify_cdc")["failure"]
    assert repaired.state == "success", repair
    assert row.settled(estate, f"{run_outcome(data)}; dms_cdc_restart from the writer's end: {run_outcome(record)}; "
                               f"cdc_repair: {run_outcome(repair)}") == 0


def _sweep_timed_out_approvals(dag_id: str, stop: threading.Event) -> threading.Thread:
    """The scheduler's AWAITING_INPUT timeout sweep (dag.test() runs no scheduler): applies the defaults of an
    approval whose response_timeout has passed."""

    def sweep():
        import logging
        from types import SimpleNamespace

        from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
        from airflow.models.taskinstance import TaskInstance
        from airflow.sdk import timezone
        from airflow.utils.session import create_session
        from sqlalchemy import select

        while not stop.wait(0.5):
            with create_session() as session:
                due = session.scalar(select(TaskInstance).where(
                    TaskInstance.dag_id == dag_id, TaskInstance.state == "awaiting_input",
                    TaskInstance.trigger_timeout < timezone.utcnow()))
            if due is not None:
                SchedulerJobRunner.check_awaiting_input_timeouts(SimpleNamespace(log=logging.getLogger("sweep")))
                return

    thread = threading.Thread(target=sweep, daemon=True)
    thread.start()
    return thread


def test_unanswered_approval_times_out_and_changes_nothing(estate, run_dag, fault_row, monkeypatch):
    row = fault_row("approval timed out", expected="run fails at approve_switchover with the default (Reject) "
                                                   "applied by nobody; nothing changed; drift 0")
    monkeypatch.setattr(run_dag.bag.dags[SWITCHOVER].get_task("approve_switchover"), "response_timeout",
                        timedelta(seconds=5))
    stop = threading.Event()
    sweeper = _sweep_timed_out_approvals(SWITCHOVER, stop)
    try:
        switched, product = _switch(estate, run_dag)
    finally:
        stop.set()
        sweeper.join(timeout=5)

    assert switched.state == "failed" and product["outcome"] == "failed"
    assert _step(product, "approve_switchover")["state"] == "failed"
    assert _step(product, "approve_switchover")["failure"] == (
        "ChangeNotApproved: nobody answered within 0:00:05; the default (Reject) applied: nothing was changed. "
        "Trigger a new run when someone can decide.")
    assert _step(product, "pause_dms_task")["state"] == "upstream_failed"
    assert estate.task()["Status"] == "running" and not estate.bluegreen.switchover_calls
    assert not [r for r in estate.dms.requests if r["action"] == "StopReplicationTask"]
    detail = _approval_detail(switched.run_id)
    assert detail.responded_by is None and detail.chosen_options == ["Reject"]  # the default, not a person
    assert row.recovered(estate, f"{run_outcome(product)} (response by nobody, default {detail.chosen_options}); "
                                 f"DMS {estate.task()['Status']}, {len(estate.bluegreen.switchover_calls)} "
                                 "switchover calls") == 0


def _approval_detail(run_id: str):
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        detail = session.scalar(select(HITLDetail).join(TaskInstance, HITLDetail.ti_id == TaskInstance.id).where(
            TaskInstance.run_id == run_id, TaskInstance.task_id == "approve_switchover"))
        session.expunge(detail)
        return detail


def test_throttled_describe_calls_are_absorbed_by_sdk_retries(estate, run_dag, fault_row):
    row = fault_row("AWS throttling bursts on describe calls",
                    expected="both runbooks succeed (botocore retries the bursts); throttled calls counted; drift 0")
    estate.throttling.faults.burst = 2
    with _traffic(estate):
        switched, product = _switch(estate, run_dag, pre_approved=True)
        resumed, data = run_dag(estate, RESUME)
    estate.throttling.faults.burst = 0

    assert switched.state == "success" and resumed.state == "success", (product, data)
    throttled = dict(estate.throttling.throttled)
    assert set(throttled) == set(THROTTLED_ACTIONS) and all(throttled.values())
    assert row.recovered(estate, f"{run_outcome(product)}; {run_outcome(data)}; throttled calls {throttled}") == 0


def test_warehouse_down_during_reconcile_fails_it_and_a_clear_proves_the_data(estate, run_dag, fault_row,
                                                                              monkeypatch):
    row = fault_row("warehouse unavailable during reconcile",
                    expected="reconcile fails with the connection error, nothing reported as success; warehouse "
                             "back, clear reconcile: success, drift 0")
    _switched_over(estate, run_dag)
    with monkeypatch.context() as outage:
        _at_start_of(outage, run_dag, RESUME, "reconcile", estate.warehouse.halt)
        resumed, unproven = run_dag(estate, RESUME)

    failure = _step(unproven, "reconcile")["failure"]
    assert resumed.state == "failed" and unproven["outcome"] == "failed"
    assert failure.startswith("SideUnreachable: could not read the warehouse (connection 'warehouse'): ")
    assert "Connection refused" in failure and f"port {estate.warehouse.port}" in failure
    assert "Nothing was concluded about drift; when it is reachable again, clear this step." in failure
    assert _step(unproven, "restart_cdc")["state"] == "success" and _step(unproven, "summarize")["result"] is None

    estate.warehouse.resume()
    cleared, data = run_dag.clear_and_rerun(estate, resumed, "reconcile")
    assert cleared.state == "success", data
    assert _step(data, "reconcile")["result"]["drift"] == 0
    assert row.recovered(estate, f"{run_outcome(unproven)}; after the clear: {run_outcome(data)}") == 0


def _awaiting_input_run(dag_id: str, task_id: str, timeout: float = 300) -> str:
    """The run id of the run whose ``task_id`` is parked for a human answer."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with create_session() as session:
            run_id = session.scalar(select(TaskInstance.run_id).where(
                TaskInstance.dag_id == dag_id, TaskInstance.task_id == task_id,
                TaskInstance.state == "awaiting_input"))
        if run_id is not None:
            return run_id
        time.sleep(0.5)
    raise TimeoutError(f"{dag_id}.{task_id} never waited for input")


def _run_in_another_process(dag_id: str, conf: dict) -> str:
    """Run a DAG with dag.test() in a separate process (another worker of the same deployment: same metadata DB,
    same connections); return its run id."""
    script = ("import json, os, sys\n"
              "from airflow.dag_processing.dagbag import DagBag\n"
              "bag = DagBag(dag_folder=os.environ['AIRFLOW__CORE__DAGS_FOLDER'], safe_mode=False)\n"
              "print(json.dumps({'run_id': bag.dags[sys.argv[1]].test(run_conf=json.loads(sys.argv[2])).run_id}))\n")
    from airflow import settings

    same_database = {**os.environ, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.engine.url.render_as_string(
        hide_password=False)}
    done = subprocess.run([sys.executable, "-c", script, dag_id, json.dumps(conf)], capture_output=True, text=True,
                          timeout=400, check=True, env=same_database)
    return next(json.loads(line) for line in reversed(done.stdout.splitlines()) if line.startswith('{"run_id"'))[
        "run_id"]


def test_a_second_run_for_the_same_pipeline_refuses_while_the_first_holds_it(estate, run_dag, answer_approval,
                                                                             fault_row):
    """Run A waits for its approval (holding the pipeline) while run B of the same runbook and pipeline runs in
    another process; B must refuse at its claim and change nothing; then A is approved and completes."""
    row = fault_row("two runs of the same runbook for the same pipeline at once",
                    expected="the second fails at claim_pipeline naming the first, changes nothing; the first "
                             "completes; drift 0")
    seen: dict = {}

    def while_the_first_waits():
        try:
            seen["holder"] = _awaiting_input_run(SWITCHOVER, "approve_switchover")
            seen["second"] = _run_in_another_process(SWITCHOVER, {
                "pipeline": "shop", "deployment_id": estate.deployment_id, "pre_approved": True})
            lock = estate.aws.client("s3").get_object(Bucket=estate.resources.records_bucket,
                                                      Key=f"locks/{SWITCHOVER}/shop.json")["Body"].read()
            seen.update(lock=json.loads(lock)["run_id"], dms=estate.task()["Status"],
                        switchovers=list(estate.bluegreen.switchover_calls))
        except subprocess.CalledProcessError as error:
            seen["error"] = f"{error}\n{error.stderr[-3000:]}"
        except Exception as error:  # reported by the assertion below, not lost in the thread
            seen["error"] = repr(error)
        finally:
            answer_approval(SWITCHOVER, "approve_switchover", "Approve" if "second" in seen else "Reject")

    helper = threading.Thread(target=while_the_first_waits, daemon=True)
    helper.start()
    with _traffic(estate):
        switched, product = _switch(estate, run_dag)
        helper.join(timeout=30)
        assert "second" in seen, seen.get("error", "the second run never finished")
        refused = run_record(estate, SWITCHOVER, seen["second"])
        failure = _step(refused, "claim_pipeline")["failure"]
        assert refused["outcome"] == "failed" and _step(refused, "preflight")["state"] == "upstream_failed"
        assert "PipelineBusy" in failure and f"run {seen['holder']!r}" in failure
        assert "changed nothing" in failure and "Wait until that run ends" in failure
        assert (seen["lock"], seen["dms"], seen["switchovers"]) == (seen["holder"], "running", [])
        assert switched.run_id == seen["holder"] and switched.state == "success", product
        resumed, data = run_dag(estate, RESUME)
    assert resumed.state == "success", data
    assert row.recovered(estate, f"second: {run_outcome(refused)}; while it ran: DMS {seen['dms']}, "
                                 f"{len(seen['switchovers'])} switchover calls, lock held by the first; first: "
                                 f"{product['outcome']}, then {run_outcome(data)}") == 0
