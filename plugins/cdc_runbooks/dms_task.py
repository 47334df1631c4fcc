"""What a runbook may do with a DMS replication task in the state it is in.

Pure decisions over one DescribeReplicationTasks entry
(https://docs.aws.amazon.com/dms/latest/APIReference/API_ReplicationTask.html).
Every step that changes a task asks here first, so a retried or cleared task
never stops a checkpoint away, never starts a running task, and adopts the
result of its own earlier attempt instead of repeating it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cdc_runbooks.action import Action
from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.refusal import Refusal

RESTARTABLE = frozenset({"stopped", "ready", "failed"})


class DmsTaskStateError(Refusal, RuntimeError):
    """The task is in a state in which the requested step must not run."""


@dataclass(frozen=True)
class ReplicationTask:
    """One DescribeReplicationTasks entry (not the provider's ``DmsTaskState``, the Enum of its statuses: this
    module stays importable without Airflow, so statuses are the API's strings)."""

    arn: str
    identifier: str
    status: str
    migration_type: str
    replication_instance_arn: str = ""
    source_endpoint_arn: str = ""
    stop_reason: str | None = None
    recovery_checkpoint: str | None = None
    cdc_start_position: str | None = None
    last_failure_message: str | None = None
    start_date: datetime | None = None
    stop_date: datetime | None = None

    @classmethod
    def from_api(cls, task: dict) -> ReplicationTask:
        stats = task.get("ReplicationTaskStats") or {}
        return cls(
            arn=task["ReplicationTaskArn"], identifier=task["ReplicationTaskIdentifier"], status=task["Status"],
            migration_type=task["MigrationType"], replication_instance_arn=task.get("ReplicationInstanceArn", ""),
            source_endpoint_arn=task.get("SourceEndpointArn", ""),
            stop_reason=task.get("StopReason"),
            recovery_checkpoint=task.get("RecoveryCheckpoint"), cdc_start_position=task.get("CdcStartPosition"),
            last_failure_message=task.get("LastFailureMessage"),
            start_date=_datetime(task.get("ReplicationTaskStartDate") or stats.get("StartDate")),
            stop_date=_datetime(stats.get("StopDate")),
        )

    def describe(self) -> str:
        detail = f" ({self.stop_reason})" if self.stop_reason else ""
        failure = f"; last failure: {self.last_failure_message}" if self.last_failure_message else ""
        return f"DMS task {self.identifier} is {self.status}{detail}{failure}"


def plan_pause(state: ReplicationTask, run_started: datetime | None) -> Action:
    """Pause = stop a running CDC task. Refuses any other state, except this run's own stop."""
    if state.status == "running":
        return Action.ACT
    ours = _since(state.stop_date, run_started)
    if state.status == "stopping" and ours:
        return Action.WAIT
    if state.status == "stopped" and ours:
        return Action.ADOPT
    checkpoint = (f" Its recorded RecoveryCheckpoint {state.recovery_checkpoint} is where CDC resumes: "
                  "dms_cdc_restart with cdc_start_position set to it." if state.recovery_checkpoint else "")
    raise DmsTaskStateError(
        f"refusing to pause: {state.describe()}, not running. Nothing is streaming, so there is nothing to "
        f"pause; if the task failed, read its last failure before restarting it with dms_cdc_restart.{checkpoint}")


def plan_stop_at_once(state: ReplicationTask, resumed_after: datetime | None, resume_earlier_stop: bool = False
                      ) -> Action:
    """Stop at once, not drained (a switchover started outside Airflow: every second DMS runs it may read green
    from blue's coordinates). ``resumed_after``: when the switchover began (or the run, if earlier).

    Running: stop it — unless it was started at or after ``resumed_after`` (somebody — a person, or this run before a
    clear — resumed CDC since, and the follow-up would restart it from green's coordinates again and re-apply rows),
    which is refused. Stopping: wait. Stopped or failed since then (DMS gives up on a source lost in the
    switchover): adopt the stop as it is (its StopDate and RecoveryCheckpoint). Stopped, failed or never started
    before then: paused on purpose, or failed for another reason — refused (the follow-up would resume it), unless
    ``resume_earlier_stop`` (a person decided), then adopted. Starting: refuse (somebody is starting the task during
    the switchover; a person must look)."""
    if state.status == "running" and _since(state.start_date, resumed_after):
        raise DmsTaskStateError(
            f"refusing to stop: {state.describe()}, started at {state.start_date.isoformat()}, not before "
            f"{resumed_after.isoformat()} (the switchover's start, or this run's): CDC was resumed since, and stopping "
            "it would have it restarted from green's coordinates again. Nothing was changed; compare source and "
            "warehouse (cdc_reconcile), and if CDC must stop, use dms_cdc_pause.")
    if state.status == "running":
        return Action.ACT
    if state.status == "stopping":
        return Action.WAIT
    if state.status in RESTARTABLE and (resume_earlier_stop or _since(state.stop_date, resumed_after)):
        return Action.ADOPT
    if state.status in RESTARTABLE:
        since = resumed_after.isoformat() if resumed_after else "the switchover"
        raise DmsTaskStateError(
            f"refusing to follow the switchover: {state.describe()}, since before {since}: CDC was paused on purpose "
            "or failed for another reason, and following the switchover would resume it on green. Nothing was "
            "changed. When CDC should resume, trigger this DAG by hand with resume_stopped_task on: it drains old "
            "blue from the task's checkpoint and restarts CDC from green's coordinates.")
    raise DmsTaskStateError(
        f"refusing to stop: {state.describe()}. Somebody is starting it while a switchover runs; stop it by hand "
        "(StopReplicationTask) once it runs, and tell whoever started it to wait for this runbook.")


def plan_restart(state: ReplicationTask, position: str | None, run_started: datetime | None) -> Action:
    """Restart = start-replication of a stopped CDC-only task from a position. Refuses a running task unless
    this run started it from that very position."""
    if state.migration_type != "cdc":
        raise DmsTaskStateError(
            f"refusing to restart {state.identifier}: its MigrationType is {state.migration_type!r}, and "
            "start-replication of a full-load task reloads every table instead of resuming CDC. Options: create a "
            "CDC-only task (MigrationType 'cdc') on the same endpoints and restart that one from the position, or "
            "accept a full reload and start this task without a position.")
    if state.status in RESTARTABLE:
        return Action.ACT
    ours = _since(state.start_date, run_started) and (position is None or state.cdc_start_position == position)
    if state.status in ("starting", "running") and ours:
        return Action.WAIT if state.status == "starting" else Action.ADOPT
    if state.status in ("starting", "running"):
        raise DmsTaskStateError(
            f"refusing to restart: {state.describe()}. Starting it again would not move it; pause it first "
            "(dms_cdc_pause) so that its checkpoint is recorded, then restart from the position.")
    raise DmsTaskStateError(f"refusing to restart: {state.describe()}; wait until it is stopped, ready or failed.")


def require_as_planned(state: ReplicationTask, status: str, checkpoint: str | None) -> None:
    """Before a restart that was planned (and approved) earlier: the task must still be ``status`` with
    ``checkpoint`` as its RecoveryCheckpoint. A task stopped, restarted or failed again since has another state or
    checkpoint, and the decision was about the one that was."""
    if (state.status, state.recovery_checkpoint or None) != (status, checkpoint or None):
        raise DmsTaskStateError(
            f"refusing to restart: the plan was made for the task {status} at RecoveryCheckpoint {checkpoint}, and "
            f"now {state.describe()} at {state.recovery_checkpoint}: it changed since (stopped, restarted or failed "
            "again). Nothing was changed. Trigger the recovery again: it plans from what the task is now.")


def require_drained(state: ReplicationTask, drained_to: BinlogPosition, position: str,
                    run_started: datetime | None) -> None:
    """Before CDC restarts on a new source from ``position`` after a switchover: the task must stand where the
    previous source was drained to (its RecoveryCheckpoint is ``drained_to``, old blue's binlog end), the proof
    that nothing old blue logged after the pause is left unapplied. Only a start of this run from ``position``
    itself is the restart's own earlier attempt (a cleared restart), checked then; any other start since (a drain
    round cleared meanwhile, another run) is not. Refuses otherwise, before anything starts."""
    if _since(state.start_date, run_started) and state.cdc_start_position == position:
        return
    at = BinlogPosition.parse(state.recovery_checkpoint) if state.recovery_checkpoint else None
    if at != drained_to:
        raise DmsTaskStateError(
            f"refusing to restart {state.identifier} on the new writer: its RecoveryCheckpoint "
            f"{state.recovery_checkpoint} is not old blue's drained end {drained_to}, so what old blue logged after "
            "the pause may not be in the warehouse. Did drain_old_blue (aurora_blue_green_switchover) finish? Clear "
            "it there, or compare source and warehouse (cdc_reconcile) before deciding anything.")


def names_endpoint(endpoint: dict, server: str, port: int) -> bool:
    """Whether a DMS endpoint (a DescribeEndpoints entry) names ``server``:``port``; DNS names compare without case
    or a trailing dot."""
    def host(name) -> str:
        return str(name or "").rstrip(".").lower()

    return host(endpoint.get("ServerName")) == host(server) and str(endpoint.get("Port")) == str(port)


def plan_drain(pause_checkpoint: BinlogPosition, task_checkpoint: str | None, end: BinlogPosition) -> Action:
    """Draining old blue after a switchover starts from the task's own RecoveryCheckpoint, which must lie on old
    blue between the pause's checkpoint and old blue's binlog end: right after the pause it is that checkpoint; after
    a lost or cleared round, where the round stopped (never the pause again: that re-applies what the round
    applied). ADOPT when it is the end already, ACT otherwise. Anything else refuses: CDC has moved on since this
    switchover (the task ran elsewhere, e.g. its fact was already resumed), and draining would re-apply old blue's
    tail."""
    at = BinlogPosition.parse(task_checkpoint) if task_checkpoint else None
    if at is None or at.basename != end.basename or not pause_checkpoint <= at <= end:
        raise DmsTaskStateError(
            f"refusing to drain old blue: the task's RecoveryCheckpoint {task_checkpoint} is not between the pause's "
            f"checkpoint {pause_checkpoint} and old blue's binlog end {end}. CDC has moved on since this switchover "
            "(was its fact already resumed?); draining again would apply old blue's tail twice. Compare source and "
            "warehouse (cdc_reconcile) before deciding anything.")
    return Action.ADOPT if at == end else Action.ACT


def _since(moment: datetime | None, run_started: datetime | None) -> bool:
    return moment is not None and run_started is not None and moment >= run_started


def _datetime(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
