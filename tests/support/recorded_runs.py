"""One compact set of runbook runs on two estates, recorded for the IAM and secrets tests (test helper).

Every path of every DAG that calls AWS runs once, in an order one estate allows: the binlog guard; pause; restart;
the recovery of a task that failed on its own (started by its event, approved), and the same event again (a
duplicate: the run skips); a reconciliation of the running pipeline; the snapshot export for two consecutive days,
the second keeping one interval (so retention deletes the first day's snapshot, files and partitions); a switchover
that RDS rolls back (so CDC resumes on blue); a switchover that completes, under traffic; the data platform's resume
after it (draining what old blue wrote); then, on a second estate, two switchovers started in the console (rolled
back; completed under traffic), each followed by the run its event starts. While they run, it records every AWS call
the DAGs make (signed with the Airflow connection's key, apart from the estate's), every log line (Airflow's task
output and all stdlib logging at DEBUG), and afterwards the run records, SNS notifications, XComs and asset events,
and the estate's secrets.

:func:`recorded_runs` runs the set once per test session (cached): the tests that use it share the runs instead of
repeating them.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from aws_calls import AwsCall, recording
from conftest import answer_when_parked, asset_triggered_run, change_when_asked, run_existing
from test_snapshot_to_athena_dag import LAG, _day

from cdc_runbooks.pipelines import ENV_VAR, pipelines_path
from rehearsal.aws import DAG_ACCESS_KEY_ID
from rehearsal.pipelines_file import write_pipelines


@dataclass(frozen=True)
class Run:
    dag_id: str
    conf: dict = field(default_factory=dict)
    setup: str | None = None  # a method of _Runner that prepares the estate (undone after the run), returns conf
    traffic: bool = False
    expected: str = "success"
    logical_date: datetime | None = None  # for DAGs that work on their data interval
    # A method of _Runner that prepares the estate and returns the asset events (asset name -> payloads) that
    # start the run (asset-triggered, as the scheduler makes it), instead of a manual run.
    started_by: str | None = None


FIRST_SET = (
    Run("cdc_binlog_guard"),
    Run("dms_cdc_pause", {"pipeline": "shop"}),
    Run("dms_cdc_restart", {"pipeline": "shop", "dry_run": False}, "position_at_writer_end"),
    # The task fails on its own; its event starts the recovery, a person approves, CDC resumes from the checkpoint.
    Run("cdc_recover_after_failure.shop", started_by="task_fails_and_a_person_approves"),
    # The same event delivered again: claimed already (the claim is read), the run skips.
    Run("cdc_recover_after_failure.shop", started_by="the_same_events_again"),
    Run("cdc_reconcile", {"pipeline": "shop", "settle_s": 30}),
    # A row lost in the warehouse: planned, approved, DMS stopped, the row re-copied, CDC restarted, drift 0.
    Run("cdc_repair", {"pipeline": "shop", "dry_run": False, "settle_s": 5}, "a_row_lost_and_a_person_approves"),
    # The tables of a reconcile run (its run record is read): that run found no drift, so nothing to repair.
    Run("cdc_repair", {"pipeline": "shop", "dry_run": False}, "the_first_reconcile_run"),
    # The warehouse through the Redshift Data API; its first statement overruns its bound and is cancelled (the
    # step retries, and passes).
    Run("cdc_reconcile", {"pipeline": "shop", "settle_s": 30}, "warehouse_through_data_api"),
    # Days of their own: tests/dags/test_snapshot_to_athena_dag.py runs days 1 and 0 in the same metadata DB.
    Run("aurora_snapshot_to_athena", LAG, logical_date=_day(3)),
    Run("aurora_snapshot_to_athena", {**LAG, "keep_intervals": 1}, logical_date=_day(2)),
    # A redo of a validated day (export_attempt + 1) repoints its partition (glue:UpdatePartition).
    Run("aurora_snapshot_to_athena", {**LAG, "keep_intervals": 1, "export_attempt": 2}, logical_date=_day(2)),
    # RDS rolls the switchover back: the run resumes CDC on blue and fails loudly.
    Run("aurora_blue_green_switchover", {"pipeline": "shop", "pre_approved": True}, "switchover_times_out",
        expected="failed"),
    Run("aurora_blue_green_switchover", {"pipeline": "shop", "pre_approved": True}, "switchover_completes",
        traffic=True),
    # Traffic during the switchover leaves old blue with writes after the pause: the drain has work to do.
    Run("cdc_resume_after_switchover.shop", traffic=True),
)
# On an estate of their own (the deployment above has switched over): switchovers started in the console, each
# starting its run by its event. RDS rolls the first back (CDC resumes on blue, the run fails); the second completes
# under traffic (old blue drained, CDC restarted on green).
CONSOLE_SET = (
    Run("cdc_follow_console_switchover.shop", started_by="console_switchover_times_out", expected="failed"),
    Run("cdc_follow_console_switchover.shop", started_by="console_switchover_completes", traffic=True),
    # The same event delivered again: claimed already (the claim is read), the run skips.
    Run("cdc_follow_console_switchover.shop", started_by="the_same_events_again"),
    # A new event while a switchover run of ours holds the pipeline (its lock is read): the run stands aside.
    Run("cdc_follow_console_switchover.shop", started_by="a_switchover_of_ours_holds_the_pipeline"),
    # Last (it changes a table): a type change Redshift cannot follow, so orders is re-created and re-copied.
    Run("cdc_table_maintenance", {"pipeline": "shop", "tables": ["orders"], "change": "change_type",
                                  "dry_run": False, "settle_s": 5}, "a_type_change_when_asked"),
)
RUN_SET = FIRST_SET + CONSOLE_SET


@dataclass(frozen=True)
class RecordedRuns:
    states: list[tuple[str, str]]  # (dag_id, final state), in run order
    calls: dict[str, list[AwsCall]]  # dag_id -> the AWS calls its runs made with the DAGs' credentials
    logs: str
    records: list[str]  # run records as written to the records bucket
    notifications: list[str]
    xcoms: list[str]
    asset_events: list[str]
    secrets: dict[str, str]  # what must never appear anywhere above -> its value


class _Tee(io.TextIOBase):
    """Write to a stream and keep a copy."""

    def __init__(self, stream) -> None:
        self.stream, self.copy = stream, io.StringIO()

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


@contextlib.contextmanager
def _captured_logs() -> Iterator[io.StringIO]:
    """Airflow's task output (structlog writes to the current sys.stdout/stderr) and every stdlib log record
    at DEBUG, whatever the configured levels."""
    copy = io.StringIO()
    handler = logging.StreamHandler(copy)
    handler.setLevel(logging.DEBUG)
    root, level = logging.getLogger(), logging.getLogger().level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    out, err = _Tee(sys.stdout), _Tee(sys.stderr)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield copy
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        copy.write(out.copy.getvalue() + err.copy.getvalue())


class _Runner:
    def __init__(self, estate) -> None:
        from airflow.dag_processing.dagbag import DagBag

        self.estate = estate
        self.bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"], safe_mode=False)
        self.run_ids: list[str] = []
        self.events: dict[str, list[dict]] = {}  # the asset events of the last event-started run

    def run(self, run: Run) -> str:
        with contextlib.ExitStack() as undo:
            conf = {**run.conf, **(getattr(self, run.setup)(undo) if run.setup else {})}
            if run.traffic:
                undo.callback(self.estate.traffic().start().stop)
            if run.started_by:
                run_id = asset_triggered_run(self.bag, run.dag_id, getattr(self, run.started_by)(undo))
                dag_run = run_existing(self.bag.dags[run.dag_id], run_id)
            else:
                dated = {"logical_date": run.logical_date} if run.logical_date else {}
                dag_run = self.bag.dags[run.dag_id].test(run_conf=conf, **dated)
        self.run_ids.append(dag_run.run_id)
        return dag_run.state

    def task_fails_and_a_person_approves(self, undo: contextlib.ExitStack) -> dict:
        from cdc_runbooks.cdc_event import EventKind, read_event

        self.estate.dms.fail(self.estate.resources.replication_task_arn, "Last Error Lost connection to source.")
        undo.callback(answer_when_parked("cdc_recover_after_failure.shop", "approve_restart", "Approve").join, 5)
        events = [read_event(body) for body in self.estate.events.take(1)]
        self.events = {"cdc_event.shop.task_failed": [e.to_payload() for e in events
                                                      if e.kind is EventKind.TASK_FAILED]}
        return self.events

    def the_same_events_again(self, undo: contextlib.ExitStack) -> dict:
        return self.events

    def warehouse_through_data_api(self, undo: contextlib.ExitStack) -> dict:
        """The pipelines file of this run names the warehouse as a Data API workgroup, with a 1 s statement bound,
        and the estate holds the run's first statement for 3 s."""
        settings = yaml.safe_load(pipelines_path().read_text())["pipelines"]
        settings["shop"]["redshift_data"] = {"workgroup": "analytics", "database": self.estate.warehouse.database,
                                             "statement_timeout_s": 1}
        config = write_pipelines(Path(undo.enter_context(tempfile.TemporaryDirectory())) / "pipelines.yaml",
                                 settings)
        undo.enter_context(pytest.MonkeyPatch.context()).setenv(ENV_VAR, str(config))
        self.estate.redshift_data.faults.hold_s = [3.0]
        return {}

    def a_row_lost_and_a_person_approves(self, undo: contextlib.ExitStack) -> dict:
        from rehearsal import drift

        self.estate.wait_cdc_idle()
        drift.lose(self.estate, "orders", self.estate.warehouse.query("SELECT MIN(id) FROM shop.orders")[0][0])
        undo.callback(answer_when_parked("cdc_repair", "approve_repair", "Approve").join, 5)
        return {}

    def a_type_change_when_asked(self, undo: contextlib.ExitStack) -> dict:
        undo.callback(change_when_asked(self.estate, "cdc_table_maintenance",
                                        "ALTER TABLE orders MODIFY amount DECIMAL(14,3) NOT NULL").join, 10)
        return {}

    def the_first_reconcile_run(self, undo: contextlib.ExitStack) -> dict:
        first = next(n for n, run in enumerate(FIRST_SET) if run.dag_id == "cdc_reconcile")
        return {"reconcile_run_id": self.run_ids[first]}

    def position_at_writer_end(self, undo: contextlib.ExitStack) -> dict:
        end = self.estate.source.writer.master_status()
        return {"cdc_start_position": f"{end.file}:{end.position}"}

    def switchover_times_out(self, undo: contextlib.ExitStack) -> dict:
        self.estate.bluegreen.faults.outcome = "timeout"  # RDS rolls back; the deployment stays AVAILABLE
        return {"deployment_id": self.estate.deployment_id}

    def switchover_completes(self, undo: contextlib.ExitStack) -> dict:
        self.estate.bluegreen.faults.outcome = "complete"
        return {"deployment_id": self.estate.deployment_id}

    def console_switchover_times_out(self, undo: contextlib.ExitStack) -> dict:
        self.estate.bluegreen.faults.outcome = "timeout"
        return self._console_switchover()

    def console_switchover_completes(self, undo: contextlib.ExitStack) -> dict:
        self.estate.bluegreen.faults.outcome = "complete"
        return self._console_switchover()

    def a_switchover_of_ours_holds_the_pipeline(self, undo: contextlib.ExitStack) -> dict:
        from cdc_runbooks.pipeline_lock import LockHolder

        s3, bucket = self.estate.aws.client("s3"), self.estate.resources.records_bucket
        ours = LockHolder("aurora_blue_green_switchover", "manual__ours", "shop", "2026-12-01T03:00:00+00:00")
        s3.put_object(Bucket=bucket, Key=ours.key, Body=ours.to_json())
        undo.callback(s3.delete_object, Bucket=bucket, Key=ours.key)
        return {name: [{**payload, "event_id": f"{payload['event_id']}-again"} for payload in payloads]
                for name, payloads in self.events.items()}

    def _console_switchover(self) -> dict:
        """A switchover called on the estate's RDS API (the console), long enough for the run to stop DMS first;
        its started event, as the watcher hands it to the pipeline's asset."""
        from cdc_runbooks.cdc_event import read_event

        self.estate.bluegreen.switchover_s = 8.0
        self.estate.aws.client("rds").switchover_blue_green_deployment(
            BlueGreenDeploymentIdentifier=self.estate.deployment_id)
        self.events = {"cdc_event.shop.switchover_started": [read_event(body).to_payload()
                                                              for body in self.estate.events.take(1)]}
        return self.events

    def stored(self) -> dict[str, list[str]]:
        """What the runs left behind: run records, SNS notifications, XComs, asset events."""
        from airflow.models.asset import AssetEvent
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session
        from sqlalchemy import select

        s3, bucket = self.estate.aws.client("s3"), self.estate.resources.records_bucket
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        records = [s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode() for key in keys]
        topics = self.estate.aws.backend("sns").topics.values()
        notifications = [repr(sent) for topic in topics for sent in topic.sent_notifications]
        with create_session() as session:
            xcoms = [json.dumps(x.value, default=str) for x in session.scalars(
                select(XComModel).where(XComModel.run_id.in_(self.run_ids)))]
            events = [json.dumps(e.extra, default=str) for e in session.scalars(select(AssetEvent))]
        return {"records": records, "notifications": notifications, "xcoms": xcoms, "asset_events": events}


def _secrets(estate) -> dict[str, str]:
    """Every password and key the estate hands out (all random, so any match is a real leak)."""
    found = {f"{name} connection password": json.loads(value)["password"]
             for name, value in estate.airflow_env().items() if "password" in json.loads(value)}
    return {**found, "DMS source endpoint password": estate.source.dms.password,
            "replication user password": estate.source._repl.password,  # green's MASTER_PASSWORD
            "application user password": estate.source.app.password}


@functools.cache
def _run_set() -> RecordedRuns:
    first, console = _record(FIRST_SET), _record(CONSOLE_SET)
    calls = {dag_id: first.calls.get(dag_id, []) + console.calls.get(dag_id, [])
             for dag_id in {**first.calls, **console.calls}}
    return RecordedRuns(states=first.states + console.states, calls=calls, logs=first.logs + console.logs,
                        records=first.records + console.records,
                        notifications=first.notifications + console.notifications,
                        xcoms=first.xcoms + console.xcoms, asset_events=first.asset_events + console.asset_events,
                        secrets={**first.secrets, **console.secrets})


def _record(runs: tuple[Run, ...]) -> RecordedRuns:
    """``runs`` on an estate of their own, recorded."""
    from rehearsal.estate import Estate

    with Estate.running() as estate, pytest.MonkeyPatch.context() as env:
        for name, value in estate.airflow_env().items():
            env.setenv(name, value)
        runner, states, calls = _Runner(estate), [], {}
        # One recording for the whole set: the runbooks cache their AWS clients across runs.
        with _captured_logs() as logs, recording() as recorded:
            for run in runs:
                first = len(recorded)
                states.append((run.dag_id, runner.run(run)))
                calls.setdefault(run.dag_id, []).extend(
                    c for c in recorded[first:] if c.access_key == DAG_ACCESS_KEY_ID)
        return RecordedRuns(states=states, calls=calls, logs=logs.getvalue(), secrets=_secrets(estate),
                            **runner.stored())


def recorded_runs() -> RecordedRuns:
    """The recorded run set (run once per test session); fails if a run did not end as expected.
    Needs the ``airflow_db`` fixture."""
    runs = _run_set()
    for index, (run, (dag_id, state)) in enumerate(zip(RUN_SET, runs.states, strict=True)):
        assert state == run.expected, f"run {index} of {dag_id} ended {state}, expected {run.expected}"
    return runs
