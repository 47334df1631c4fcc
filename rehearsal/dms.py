"""DMS made faithful: the replication-task lifecycle moto lacks, driving a real CDC applier.

moto 5.2.5 drops StartReplicationTaskType and CdcStartPosition, jumps to
``running`` from any state, has no ``stopping``, StopReason, RecoveryCheckpoint
or table statistics (see shared/reference/moto-probe.md). This controller
patches moto's DMS responses in-process so that, on the estate:

* a task goes ready -> starting -> running -> stopping -> stopped (or failed),
  starting and stopping each taking ``transition_s`` seconds (logged in the estate's
  :class:`~rehearsal.operations.AwsOperationLog`), whatever the polling rate;
* StartReplicationTask honours the start type and CdcStartPosition, refuses a
  task that is not stopped/ready/failed, and starts a :class:`CdcApplier` that
  reads the binlog through the task's source endpoint from that position;
* StopReplicationTask records RecoveryCheckpoint, StopDate and StopReason;
* DescribeTableStatistics, ModifyReplicationTask and ModifyEndpoint exist; ReloadTables refuses the
  estate's CDC-only tasks, as AWS does ("The migration method must be full load or full load with
  CDC": https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Tasks.ReloadTables.html);
  table statistics count DDL (Ddls, AppliedDdls) and show a table the applier suspended
  (TableErrorPolicy SUSPEND_TABLE) as "Table error" (docs/reference/dms-ddl-emulation.md);
* CDCLatencySource/CDCLatencyTarget are published to CloudWatch (AWS/DMS).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from moto.dms import models as dms_models
from moto.dms import responses as dms_responses
from moto.dms.exceptions import (
    InvalidParameterCombinationException,
    InvalidResourceStateFault,
    ResourceNotFoundFault,
    ValidationError,
)

from rehearsal.applier import CdcApplier, StartPoint
from rehearsal.events import EventPublisher
from rehearsal.operations import AwsOperationLog
from rehearsal.patching import Patches

START_TYPES = ("start-replication", "resume-processing", "reload-target")
_LSN = re.compile(r"^(?P<file>[A-Za-z0-9_.-]+\.\d{6}):(?P<pos>\d+)$")
_CHECKPOINT = re.compile(r"^checkpoint:V1#\d+#(?P<file>[A-Za-z0-9_.-]+\.\d{6}):(?P<pos>\d+):")


def parse_start_position(value: str) -> StartPoint:
    """DMS's own reading of CdcStartPosition: a native ``file:pos`` or a checkpoint string."""
    match = _LSN.match(value) or _CHECKPOINT.match(value)
    if not match:
        raise ValidationError(f"Invalid CdcStartPosition {value!r}")
    return StartPoint(match["file"], int(match["pos"]))


def format_checkpoint(point: StartPoint, sequence: int) -> str:
    """A RecoveryCheckpoint in the shape DMS reports for MySQL sources."""
    lsn = f"{point.file}:{point.position}"
    return f"checkpoint:V1#{sequence}#{lsn}:-1:{point.position}:0:{lsn}#0#0#*#0#0"


# status -> (event id, eventType, category, message): https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Events.html
_STATE_EVENTS = {
    "running": ("DMS-EVENT-0069", "REPLICATION_TASK_STARTED", "StateChange", "Replication task has started."),
    "stopped": ("DMS-EVENT-0079", "REPLICATION_TASK_STOPPED", "StateChange", "Replication task has stopped."),
    "failed": ("DMS-EVENT-0078", "REPLICATION_TASK_FAILED", "Failure", "Replication task has failed."),
}


@dataclass
class DmsFaults:
    """Switches a test flips to make DMS misbehave the way it does in production."""

    stuck_in_starting: bool = False
    start_error: str | None = None
    # How long the task retries a lost source connection before it fails (DMS: RecoverableErrorInterval and
    # RecoverableErrorCount, minutes by default).
    recoverable_error_s: float = 30.0


@dataclass
class TaskRuntime:
    status: str = "ready"
    transition_done: datetime | None = None
    applier: CdcApplier | None = None
    start_type: str | None = None
    cdc_start_position: str | None = None
    cdc_start_time: str | None = None
    recovery_checkpoint: str | None = None
    stop_reason: str | None = None
    last_failure_message: str | None = None
    start_date: datetime | None = None
    stop_date: datetime | None = None
    checkpoints: int = 0


class DmsController:
    """Owns every replication task's runtime while installed into moto."""

    def __init__(self, source_connection: Callable[[object], dict], warehouse_connect: Callable,
                 current_writer_end: Callable[[], StartPoint],
                 schema: str, tables: tuple[str, ...], operations: AwsOperationLog,
                 events: EventPublisher | None = None, transition_s: float = 1.0) -> None:
        self._source_connection = source_connection
        self._warehouse_connect = warehouse_connect
        self._current_writer_end = current_writer_end
        self._schema = schema
        self._tables = tables
        self.operations = operations
        self.transition_s = transition_s
        self._events = events
        self.faults = DmsFaults()
        self.requests: list[dict] = []
        self._tasks: dict[str, TaskRuntime] = {}
        self._lock = threading.RLock()
        self._patches = Patches()

    # -- moto wiring -----------------------------------------------------------------------------
    def install(self) -> None:
        controller = self
        response_cls = dms_responses.DatabaseMigrationServiceResponse
        original_create = dms_models.DatabaseMigrationServiceBackend.create_replication_task

        def create_replication_task(backend, *args, **kwargs):
            task = original_create(backend, *args, **kwargs)
            controller.runtime(task.arn)
            return task

        def start_replication_task(response) -> str:
            return json.dumps({"ReplicationTask": controller.start(
                response.dms_backend, response._get_param("ReplicationTaskArn"),
                response._get_param("StartReplicationTaskType"), response._get_param("CdcStartPosition"),
                response._get_param("CdcStartTime"))})

        def stop_replication_task(response) -> str:
            arn = response._get_param("ReplicationTaskArn")
            return json.dumps({"ReplicationTask": controller.stop(response.dms_backend, arn)})

        def describe_replication_tasks(response) -> str:
            tasks = response.dms_backend.describe_replication_tasks(
                filters=response._get_param("Filters", []), max_records=response._get_int_param("MaxRecords", 100))
            return json.dumps({"ReplicationTasks": [controller.describe(t) for t in tasks]})

        def describe_table_statistics(response) -> str:
            task = controller._task(response.dms_backend, response._get_param("ReplicationTaskArn"))
            return json.dumps({"ReplicationTaskArn": task.arn, "TableStatistics": controller.table_statistics(task)})

        def modify_replication_task(response) -> str:
            return json.dumps({"ReplicationTask": controller.modify(response.dms_backend, response._get_param)})

        def modify_endpoint(response) -> str:
            return json.dumps({"Endpoint": controller.modify_endpoint(response.dms_backend, response._get_param)})

        def reload_tables(response) -> str:
            arn = response._get_param("ReplicationTaskArn")
            controller.reload(response.dms_backend, arn, response._get_param("TablesToReload", []),
                              response._get_param("ReloadOption", "data-reload"))
            return json.dumps({"ReplicationTaskArn": arn})

        self._patches.set(dms_models.DatabaseMigrationServiceBackend, "create_replication_task",
                          create_replication_task)
        for name, fn in (("start_replication_task", start_replication_task),
                         ("stop_replication_task", stop_replication_task),
                         ("describe_replication_tasks", describe_replication_tasks),
                         ("describe_table_statistics", describe_table_statistics),
                         ("modify_replication_task", modify_replication_task),
                         ("modify_endpoint", modify_endpoint),
                         ("reload_tables", reload_tables)):
            self._patches.set(response_cls, name, fn)

    def uninstall(self) -> None:
        for runtime in self._tasks.values():
            if runtime.applier is not None:
                runtime.applier.stop()
        self._patches.restore()

    # -- task state ------------------------------------------------------------------------------
    def runtime(self, arn: str) -> TaskRuntime:
        with self._lock:
            return self._tasks.setdefault(arn, TaskRuntime())

    @staticmethod
    def _task(backend, arn: str):
        task = backend.replication_tasks.get(arn)
        if task is None:
            raise ResourceNotFoundFault("Replication task could not be found.")
        return task

    def start(self, backend, arn: str, start_type: str | None, position: str | None, cdc_time) -> dict:
        task = self._task(backend, arn)
        self.requests.append({"action": "StartReplicationTask", "arn": arn, "type": start_type,
                              "CdcStartPosition": position, "CdcStartTime": cdc_time})
        with self._lock:
            runtime = self.runtime(arn)
            if runtime.status not in ("ready", "stopped", "failed"):
                raise InvalidResourceStateFault(
                    f"Replication task is in {runtime.status} state and cannot be started")
            if start_type not in START_TYPES:
                raise ValidationError(f"Invalid StartReplicationTaskType {start_type!r}")
            if position and cdc_time:
                raise InvalidParameterCombinationException(
                    "CdcStartPosition and CdcStartTime are mutually exclusive")
            if cdc_time:
                raise ValidationError("CdcStartTime is not emulated by the rehearsal estate")
            if task.migration_type != "cdc":
                raise ValidationError("the rehearsal estate emulates CDC-only (MigrationType=cdc) tasks")
            start_point = self._start_point(runtime, start_type, position)
            if self.faults.start_error:
                raise InvalidResourceStateFault(self.faults.start_error)
            applier = self._applier(backend, task, start_point)
            runtime.start_date, runtime.stop_date = datetime.now(UTC), None
            runtime.status, runtime.applier = "starting", applier
            runtime.transition_done = self.operations.record("DMS task starting", runtime.start_date,
                                                             self.transition_s)
            runtime.start_type, runtime.cdc_start_position = start_type, position
            runtime.stop_reason = runtime.last_failure_message = None
            applier.start()
            return self._describe(task, runtime)

    def _applier(self, backend, task, start_point: StartPoint) -> CdcApplier:
        endpoint = next(e for e in backend.endpoints.values() if e.endpoint_arn == task.source_endpoint_arn)
        return CdcApplier(self._source_connection(endpoint), self._warehouse_connect, start_point,
                          self._schema, self._tables, retry_seconds=lambda: self.faults.recoverable_error_s)

    def _start_point(self, runtime: TaskRuntime, start_type: str, position: str | None) -> StartPoint:
        if position:
            return parse_start_position(position)
        if start_type == "resume-processing" and runtime.recovery_checkpoint:
            return parse_start_position(runtime.recovery_checkpoint)
        if start_type == "reload-target":
            raise ValidationError("reload-target needs a full load, which the estate does not emulate")
        return self._current_writer_end()  # a CDC-only task with no start point begins "now"

    def stop(self, backend, arn: str) -> dict:
        task = self._task(backend, arn)
        self.requests.append({"action": "StopReplicationTask", "arn": arn})
        with self._lock:
            runtime = self.runtime(arn)
            if runtime.status != "running":
                raise InvalidResourceStateFault("Replication task is not running")
            point = runtime.applier.stop()
            self._record_stop(runtime, point, "Stop Reason NORMAL")
            runtime.status = "stopping"
            runtime.transition_done = self.operations.record("DMS task stopping", runtime.stop_date,
                                                             self.transition_s)
            return self._describe(task, runtime)

    def _record_stop(self, runtime: TaskRuntime, point: StartPoint, reason: str) -> None:
        runtime.checkpoints += 1
        runtime.recovery_checkpoint = format_checkpoint(point, runtime.checkpoints)
        runtime.stop_reason = reason
        runtime.stop_date = datetime.now(UTC)

    def fail(self, arn: str, message: str) -> None:
        """Fault: the running task fails as DMS does on a fatal error."""
        with self._lock:
            runtime = self.runtime(arn)
            if runtime.applier is not None:
                self._record_stop(runtime, runtime.applier.stop(), "Stop Reason FATAL_ERROR")
            runtime.last_failure_message = message
            self._became(arn, runtime, "failed")

    def modify(self, backend, get_param) -> dict:
        task = self._task(backend, get_param("ReplicationTaskArn"))
        with self._lock:
            runtime = self.runtime(task.arn)
            if runtime.status not in ("ready", "stopped", "failed"):
                raise InvalidResourceStateFault(f"Replication task is {runtime.status}; it cannot be modified")
            if get_param("CdcStartPosition") and get_param("CdcStartTime"):
                raise InvalidParameterCombinationException(
                    "CdcStartPosition and CdcStartTime are mutually exclusive")
            for attr, param in (("table_mappings", "TableMappings"), ("migration_type", "MigrationType"),
                                ("replication_task_settings", "ReplicationTaskSettings")):
                if get_param(param) is not None:
                    setattr(task, attr, get_param(param))
            if get_param("CdcStartPosition"):
                parse_start_position(get_param("CdcStartPosition"))
                runtime.cdc_start_position = get_param("CdcStartPosition")
            return self._describe(task, runtime)

    def modify_endpoint(self, backend, get_param) -> dict:
        """ModifyEndpoint: where a task connects from its next start on (as in DMS)."""
        arn = get_param("EndpointArn")
        endpoint = next((e for e in backend.endpoints.values() if e.endpoint_arn == arn), None)
        if endpoint is None:
            raise ResourceNotFoundFault("Endpoint could not be found.")
        self.requests.append({"action": "ModifyEndpoint", "arn": arn})
        for attr, param in (("server_name", "ServerName"), ("port", "Port"), ("username", "Username"),
                            ("password", "Password"), ("database_name", "DatabaseName")):
            if get_param(param) is not None:
                setattr(endpoint, attr, get_param(param))
        return endpoint.to_dict()

    def reload(self, backend, arn: str, tables: list, option: str) -> None:
        """ReloadTables: checks its input, then refuses, as AWS does for a task whose migration type is not full
        load or full load and CDC (every task the estate runs is CDC-only). The error AWS returns for it is not
        documented; InvalidResourceStateFault is the API's fault for a task that cannot reload now."""
        task = self._task(backend, arn)
        if option not in ("data-reload", "validate-only"):
            raise ValidationError(f"Invalid ReloadOption {option!r}")
        if not tables or any(t.get("SchemaName") != self._schema or t.get("TableName") not in self._tables
                             for t in tables):
            raise ValidationError(f"TablesToReload must name tables of {self._schema}: {sorted(self._tables)}")
        self.requests.append({"action": "ReloadTables", "arn": arn, "tables": [t["TableName"] for t in tables]})
        if task.migration_type == "cdc":
            raise InvalidResourceStateFault(
                "Reloading tables needs a task whose migration type is full-load or full-load-and-cdc; "
                f"{task.id} is CDC-only")
        raise ValidationError("the rehearsal estate runs CDC-only tasks only")

    # -- describing ------------------------------------------------------------------------------
    def describe(self, task) -> dict:
        """One DescribeReplicationTasks poll: completes transitions that are due, then reports."""
        with self._lock:
            runtime = self.runtime(task.arn)
            self._advance(task.arn, runtime)
            return self._describe(task, runtime)

    def _advance(self, arn: str, runtime: TaskRuntime) -> None:
        applier = runtime.applier
        if runtime.status in ("starting", "running") and applier is not None and applier.error:
            self._record_stop(runtime, applier.checkpoint, "Stop Reason FATAL_ERROR")
            runtime.last_failure_message = f"Last Error {applier.error}"
            self._became(arn, runtime, "failed")
        elif runtime.status == "starting" and not self.faults.stuck_in_starting:
            if datetime.now(UTC) >= runtime.transition_done and applier is not None and applier.connected.is_set():
                self._became(arn, runtime, "running")
        elif runtime.status == "stopping" and datetime.now(UTC) >= runtime.transition_done:
            self._became(arn, runtime, "stopped")

    def tick(self, backend) -> None:
        """What DMS does without being asked: notice a failed source or target, finish transitions (the estate
        calls this every second, so events do not wait for a describe)."""
        with self._lock:
            for arn, runtime in self._tasks.items():
                if arn in backend.replication_tasks:
                    self._advance(arn, runtime)

    def _became(self, arn: str, runtime: TaskRuntime, status: str) -> None:
        """The task's new status, published as DMS does (``DMS Replication Task State Change``)."""
        runtime.status = status
        if self._events is not None:
            event_id, event_type, category, message = _STATE_EVENTS[status]
            self._events.dms_task(arn, event_id, event_type, category, " ".join(
                part for part in (message, runtime.stop_reason if status != "running" else None,
                                  runtime.last_failure_message if status == "failed" else None) if part))

    @staticmethod
    def _describe(task, runtime: TaskRuntime) -> dict:
        described = task.to_dict()
        start = runtime.start_date.isoformat() if runtime.start_date else None
        stop = runtime.stop_date.isoformat() if runtime.stop_date else None
        described.update({"Status": runtime.status, "ReplicationTaskStartDate": start})
        described["ReplicationTaskStats"].update({"StartDate": start, "StopDate": stop, "FreshStartDate": start})
        optional = {"StopReason": runtime.stop_reason, "RecoveryCheckpoint": runtime.recovery_checkpoint,
                    "CdcStartPosition": runtime.cdc_start_position, "LastFailureMessage":
                    runtime.last_failure_message}
        described.update({key: value for key, value in optional.items() if value is not None})
        return described

    def table_statistics(self, task) -> list[dict]:
        """DescribeTableStatistics from the running (or last) applier: a table it suspended (TableErrorPolicy
        SUSPEND_TABLE) is in "Table error" until the task is started again."""
        applier = self.runtime(task.arn).applier
        counts = applier.stats.per_table if applier else {}
        suspended = applier.stats.suspended if applier else {}
        return [{"SchemaName": self._schema, "TableName": table,
                 "TableState": "Table error" if table in suspended else "Table completed",
                 **{kind: counts.get((table, kind), 0) for kind in ("Inserts", "Updates", "Deletes", "Ddls",
                                                                    "AppliedDdls")},
                 "FullLoadRows": 0, "LastUpdateTime": datetime.now(UTC).isoformat()}
                for table in self._tables]

    def publish_latency(self, cloudwatch, instance_identifier: str) -> None:
        """Put CDCLatencySource/CDCLatencyTarget of every running task to CloudWatch (AWS/DMS)."""
        with self._lock:
            running = {arn: self.latency(arn) for arn in self._tasks}
        for arn, latency in running.items():
            if latency is None:
                continue
            dimensions = [{"Name": "ReplicationInstanceIdentifier", "Value": instance_identifier},
                          {"Name": "ReplicationTaskIdentifier", "Value": arn.rsplit(":", 1)[-1]}]
            cloudwatch.put_metric_data(Namespace="AWS/DMS", MetricData=[
                {"MetricName": name, "Dimensions": dimensions, "Value": value, "Unit": "Seconds"}
                for name, value in zip(("CDCLatencySource", "CDCLatencyTarget"), latency, strict=True)])

    def latency(self, arn: str) -> tuple[float, float] | None:
        """(CDCLatencySource, CDCLatencyTarget) of a running task, None otherwise."""
        runtime = self.runtime(arn)
        if runtime.status != "running" or runtime.applier is None:
            return None
        return runtime.applier.stats.source_latency_s, runtime.applier.stats.target_latency_s
