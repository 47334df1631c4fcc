"""Operators that pause and restart DMS CDC safely: thin shells over ``dms_task``, ``cdc_latency``
and ``start_position``.

Both check the task's state before acting (a retry or a cleared task adopts what
its run already did), support ``dry_run`` (log exactly the calls they would make,
change nothing), wait with ``waiter_delay``/``waiter_max_attempts``, and return a
record of what they did (XCom) for the run record.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.hooks.dms import DmsHook
from airflow.providers.amazon.aws.hooks.rds import RdsHook
from airflow.sdk import BaseOperator

from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.cdc_latency import LatencySample, LatencyWindow
from cdc_runbooks.dms_task import Action, DmsTaskState, DmsTaskStateError, plan_pause, plan_restart
from cdc_runbooks.operators.step import RunbookStep
from cdc_runbooks.pipelines import Pipeline, get_pipeline
from cdc_runbooks.start_position import UnsafeStartPosition, check_on_writer
from cdc_runbooks.writer import describe_writer, writer_sql_hook


class DmsTaskFailed(RuntimeError):
    """The DMS task went to a state from which the step cannot succeed."""


class _DmsCdcOperator(RunbookStep, BaseOperator):
    """Shared plumbing: the pipeline, DescribeReplicationTasks, status waits and CDC latency."""

    def __init__(self, *, pipeline_name: str, dry_run: bool = False, max_latency_s: float | None = None,
                 sustain_s: float | None = None, latency_timeout_s: float = 900, wait_for_completion: bool = True,
                 waiter_delay: float | None = None, waiter_max_attempts: int = 120, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pipeline_name = pipeline_name
        self.dry_run = dry_run
        self.max_latency_s = max_latency_s
        self.sustain_s = sustain_s
        self.latency_timeout_s = latency_timeout_s
        self.wait_for_completion = wait_for_completion
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def _pipeline(self) -> Pipeline:
        return get_pipeline(self.pipeline_name)

    @staticmethod
    def _state(hook: DmsHook, arn: str) -> DmsTaskState:
        task = hook.get_task_description(arn)
        if task is None:
            raise DmsTaskStateError(f"DMS task {arn} does not exist (DescribeReplicationTasks found nothing)")
        return DmsTaskState.from_api(task)

    def _delay(self, pipeline: Pipeline) -> float:
        return self.waiter_delay if self.waiter_delay is not None else pipeline.poll_interval_s

    def _wait_status(self, hook: DmsHook, arn: str, wanted: str, failing: Sequence[str],
                     delay: float) -> DmsTaskState:
        for _ in range(self.waiter_max_attempts):
            state = self._state(hook, arn)
            if state.status == wanted:
                return state
            if state.status in failing:
                raise DmsTaskFailed(f"waiting for {wanted}: {state.describe()}")
            time.sleep(delay)
        raise DmsTaskFailed(f"{arn} did not become {wanted} after {self.waiter_max_attempts} polls "
                            f"{delay:g} s apart: {self._state(hook, arn).describe()}")

    def _wait_latency(self, pipeline: Pipeline, state: DmsTaskState, what: str) -> LatencyWindow:
        """Poll CloudWatch until CDCLatencySource/Target stay low for the sustained window, or time out."""
        window = LatencyWindow(self.max_latency_s or pipeline.drain_max_latency_s,
                               self.sustain_s or pipeline.drain_sustain_s)
        cloudwatch = AwsBaseHook(aws_conn_id=pipeline.aws_conn_id, client_type="cloudwatch").conn
        dimensions = _latency_dimensions(DmsHook(aws_conn_id=pipeline.aws_conn_id), state)
        deadline = time.monotonic() + self.latency_timeout_s
        while not window.settled:
            if time.monotonic() > deadline:
                raise DmsTaskFailed(f"CDC did not {what} within {self.latency_timeout_s:g} s: {window.describe()}")
            sample = _latest_latency(cloudwatch, pipeline.metric_period_s, dimensions)
            if sample is not None:
                window.add(LatencySample(time.monotonic(), *sample))
            time.sleep(min(self._delay(pipeline), pipeline.metric_period_s))
        self.log.info("CDC latency %s: %s", what, window.describe())
        return window


def _latency_dimensions(hook: DmsHook, state: DmsTaskState) -> list[dict]:
    """CloudWatch dimensions of a task's metrics: its instance's identifier and the task's resource id."""
    instances = hook.conn.describe_replication_instances(Filters=[
        {"Name": "replication-instance-arn", "Values": [state.replication_instance_arn]}])["ReplicationInstances"]
    if not instances:
        raise DmsTaskStateError(f"replication instance {state.replication_instance_arn} of {state.identifier} "
                                "not found")
    return [{"Name": "ReplicationInstanceIdentifier", "Value": instances[0]["ReplicationInstanceIdentifier"]},
            {"Name": "ReplicationTaskIdentifier", "Value": state.arn.rsplit(":", 1)[-1]}]


def _latest_latency(cloudwatch, period_s: int, dimensions: list[dict]) -> tuple[float, float] | None:
    """The newest (CDCLatencySource, CDCLatencyTarget) datapoints of the task, None if either is missing."""
    now = datetime.now(UTC)
    values = []
    for metric in ("CDCLatencySource", "CDCLatencyTarget"):
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/DMS", MetricName=metric, Dimensions=dimensions, Statistics=["Maximum"],
            Period=period_s, StartTime=now - timedelta(seconds=5 * period_s),
            EndTime=now + timedelta(seconds=period_s))["Datapoints"]
        if not points:
            return None
        values.append(max(points, key=lambda p: p["Timestamp"])["Maximum"])
    return values[0], values[1]


def _run_started(context) -> datetime | None:
    dag_run = context.get("dag_run") if context else None
    return getattr(dag_run, "start_date", None)


class DmsPauseTaskOperator(_DmsCdcOperator):
    """Pause a pipeline's DMS CDC task: wait until CDC has drained, stop it, wait for ``stopped`` and record
    its RecoveryCheckpoint (StopReplicationTask:
    https://docs.aws.amazon.com/dms/latest/APIReference/API_StopReplicationTask.html).

    Refuses a task that is not running. A retry in the same DAG run adopts the stop it already made and
    returns the same record.

    :param pipeline_name: pipeline in the pipelines configuration.
    :param dry_run: log what would be done and change nothing.
    :param max_latency_s: drained means CDCLatencySource/Target at or below this (default: pipeline's).
    :param sustain_s: ... for this long (default: pipeline's).
    :param latency_timeout_s: give up waiting for the drain after this long.
    :param wait_for_completion: wait for ``stopped`` (always true in a runbook; false only hands back early).
    :param waiter_delay: seconds between DescribeReplicationTasks polls (default: pipeline's poll_interval_s).
    :param waiter_max_attempts: polls before giving up.
    """

    template_fields: Sequence[str] = ("pipeline_name", "dry_run", "max_latency_s", "sustain_s")

    def run_step(self, context) -> dict:
        pipeline = self._pipeline()
        hook = DmsHook(aws_conn_id=pipeline.aws_conn_id)
        state = self._state(hook, pipeline.dms_task_arn)
        action = plan_pause(state, _run_started(context))
        if self.dry_run:
            self.log.info("DRY RUN: %s. Would wait for CDC to drain, then call StopReplicationTask("
                          "ReplicationTaskArn=%r) and wait for 'stopped'. Nothing was changed.", state.describe(),
                          state.arn)
            return {"dry_run": True, "task": state.arn, "status": state.status, "action": action.value}
        drained = None
        if action is Action.ACT:
            drained = self._wait_latency(pipeline, state, "drain").describe()
            hook.stop_replication_task(state.arn)
            self.log.info("StopReplicationTask(ReplicationTaskArn=%r) called", state.arn)
        if not self.wait_for_completion:
            return {"task": state.arn, "action": action.value, "status": "stopping"}
        stopped = self._wait_status(hook, state.arn, "stopped", ("failed", "running"), self._delay(pipeline))
        return {"task": stopped.arn, "action": action.value, "status": stopped.status,
                "recovery_checkpoint": stopped.recovery_checkpoint, "stop_reason": stopped.stop_reason,
                "stopped_at": stopped.stop_date.isoformat() if stopped.stop_date else None, "drained": drained}


class DmsRestartCdcOperator(_DmsCdcOperator):
    """Restart a pipeline's CDC-only DMS task from a binlog position (or a time), then wait until it runs and
    its latency converges (StartReplicationTask with ``start-replication`` and CdcStartPosition:
    https://docs.aws.amazon.com/dms/latest/APIReference/API_StartReplicationTask.html).

    Before calling DMS it refuses: a malformed position; a task that is not CDC-only, or not
    stopped/ready/failed; a position whose file is not on the cluster's current writer, beyond the file's
    end, or inside a transaction. A retry in the same DAG run adopts the start it already made.

    :param pipeline_name: pipeline in the pipelines configuration.
    :param cdc_start_position: ``file:position`` or a DMS checkpoint; exclusive with cdc_start_time.
    :param cdc_start_time: ISO timestamp, only when explicitly wanted (DMS maps it to a position itself).
    :param dry_run: check everything, log exactly the call it would make, change nothing (default True).
    :param max_latency_s: converged means CDCLatencySource/Target at or below this (default: pipeline's).
    :param sustain_s: ... for this long (default: pipeline's).
    :param latency_timeout_s: give up waiting for convergence after this long.
    :param wait_for_completion: wait for ``running`` and converged latency.
    :param waiter_delay: seconds between DescribeReplicationTasks polls (default: pipeline's poll_interval_s).
    :param waiter_max_attempts: polls before giving up.
    """

    template_fields: Sequence[str] = ("pipeline_name", "cdc_start_position", "cdc_start_time", "dry_run",
                                      "max_latency_s", "sustain_s")

    def __init__(self, *, cdc_start_position: str | None = None, cdc_start_time: str | None = None,
                 dry_run: bool = True, **kwargs) -> None:
        super().__init__(dry_run=dry_run, **kwargs)
        self.cdc_start_position = cdc_start_position
        self.cdc_start_time = cdc_start_time

    def run_step(self, context) -> dict:
        pipeline = self._pipeline()
        start = self._start_arguments()
        hook = DmsHook(aws_conn_id=pipeline.aws_conn_id)
        state = self._state(hook, pipeline.dms_task_arn)
        action = plan_restart(state, start.get("CdcStartPosition"), _run_started(context))
        if action is Action.ACT and "CdcStartPosition" in start:
            self._check_position(pipeline, BinlogPosition.parse(start["CdcStartPosition"]))
        call = {"ReplicationTaskArn": state.arn, "StartReplicationTaskType": "start-replication", **start}
        if self.dry_run:
            self.log.info("DRY RUN: %s. Checks passed. Would call StartReplicationTask(%s), then wait for "
                          "'running' and converged latency. Nothing was changed.", state.describe(), call)
            return {"dry_run": True, "task": state.arn, "status": state.status, "action": action.value,
                    "would_call": call}
        if action is Action.ACT:
            hook.start_replication_task(state.arn, "start-replication", **start)
            self.log.info("StartReplicationTask(%s) called", call)
        if not self.wait_for_completion:
            return {"task": state.arn, "action": action.value, "status": "starting", "called": call}
        running = self._wait_status(hook, state.arn, "running", ("failed", "stopped"), self._delay(pipeline))
        converged = self._wait_latency(pipeline, running, "converge").describe()
        return {"task": running.arn, "action": action.value, "status": running.status, "called": call,
                "running_since": running.start_date.isoformat() if running.start_date else None,
                "converged": converged}

    def _start_arguments(self) -> dict:
        if bool(self.cdc_start_position) == bool(self.cdc_start_time):
            raise ValueError("give exactly one of cdc_start_position (preferred) and cdc_start_time")
        if self.cdc_start_position:
            given = self.cdc_start_position.strip()
            position = BinlogPosition.parse(given)  # refuses a malformed value in either form
            return {"CdcStartPosition": given if given.startswith("checkpoint:") else str(position)}
        moment = datetime.fromisoformat(str(self.cdc_start_time))
        return {"CdcStartTime": moment if moment.tzinfo else moment.replace(tzinfo=UTC)}

    def _check_position(self, pipeline: Pipeline, position: BinlogPosition) -> None:
        """Refuse a position that is not a transaction start in a binlog the current writer still has."""
        writer = describe_writer(RdsHook(aws_conn_id=pipeline.aws_conn_id), pipeline.source_cluster)
        sql = writer_sql_hook(pipeline.source_conn_id, writer)
        logs = {row[0]: int(row[1]) for row in sql.get_records("SHOW BINARY LOGS")}
        event = None
        if position.file in logs and position.position < logs[position.file]:
            try:
                rows = sql.get_records("SHOW BINLOG EVENTS IN %s FROM %s LIMIT 1",
                                       parameters=(position.file, position.position))
            except Exception as exc:  # the server refuses offsets that are not event boundaries
                raise UnsafeStartPosition(f"{position} is not an event boundary on {writer.instance}: {exc}") \
                    from None
            event = (rows[0][2], rows[0][5]) if rows else None
        check_on_writer(position, logs, event, writer.instance)
        self.log.info("%s is a transaction boundary on the current writer %s (%s)", position, writer.instance,
                      writer.endpoint)
