"""After an Aurora failover: what CDC needs, from the DMS task's state and the new writer's binlog.

Aurora keeps the binlog on the cluster volume, so the new writer continues the binlog CDC was reading (a new file
after the engine restarts). DMS reconnects to the cluster endpoint on its own and carries on, or fails after its
retries (https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Source.MySQL.html; task settings
``RecoverableErrorCount``/``RecoverableErrorInterval``). Three outcomes, decided here from the APIs' answers
(an event only prompted the look):

- **verify**: the task is running or starting; nothing to restart, prove it converges and nothing was lost.
- **resume**: the task failed with a RecoveryCheckpoint inside the new writer's binlog: restart from
  it (the restart step then checks it is a transaction start followed only by the writer's own events).
- **resume after loss**: the checkpoint lies past the end of its file: the crash truncated the binlog tail that
  CDC had already read, and whatever those events changed may be in the warehouse and no longer on the source.
  Nothing can replay them; CDC resumes where the writer's binlog goes on (the next file's start) and the
  reconcile names the rows that differ. The plan says what this costs.

Anything else is refused with what a person must decide: a task stopped (on purpose: a failover does not undo a
pause) or changing state, no checkpoint, a checkpoint in a file the writer does not have (purged, or another
server's), and a running task whose checkpoint the crash took back (it is about to fail).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum

from cdc_runbooks.binlog_position import FIRST_EVENT_POSITION, BinlogPosition
from cdc_runbooks.dms_task import DmsTaskStateError, ReplicationTask

# The most binlog a crash can take back: max_binlog_size's largest value
# (https://dev.mysql.com/doc/refman/8.0/en/replication-options-binary-log.html#sysvar_max_binlog_size).
MAX_TRUNCATED_TAIL = 1 << 30


class Recovery(StrEnum):
    VERIFY = "verify"
    RESUME = "resume"
    RESUME_AFTER_LOSS = "resume_after_loss"


@dataclass(frozen=True)
class RecoveryPlan:
    """What the recovery does: ``position`` to restart from (None for verify), and what it costs."""

    recovery: Recovery
    task_status: str
    writer: str
    checkpoint: str | None = None
    position: str | None = None
    cost: str | None = None

    @property
    def restarts(self) -> bool:
        return self.recovery is not Recovery.VERIFY

    def to_dict(self) -> dict:
        return {**asdict(self), "recovery": self.recovery.value, "restarts": self.restarts}

    def describe(self) -> str:
        if not self.restarts:
            return f"DMS task is {self.task_status} on writer {self.writer}: verify only, nothing is restarted"
        said = f"restart CDC from {self.position} on writer {self.writer} (task {self.task_status}, " \
               f"checkpoint {self.checkpoint})"
        return f"{said}. {self.cost}" if self.cost else said


def plan_recovery(state: ReplicationTask, writer: str, binlog_files: dict[str, int]) -> RecoveryPlan:
    """The plan for ``state`` on the new ``writer`` whose SHOW BINARY LOGS is ``binlog_files`` (in index order);
    DmsTaskStateError when a person must decide."""
    if state.status in ("running", "starting"):
        _require_checkpoint_not_lost(state, binlog_files)
        return RecoveryPlan(Recovery.VERIFY, state.status, writer, state.recovery_checkpoint)
    if state.status != "failed":
        raise DmsTaskStateError(
            f"refusing to recover: {state.describe()}, not failed. A task stopped or not yet started is stopped on "
            "purpose (dms_cdc_pause, a switchover between its pause and its resume) or being changed, and a "
            "failover does not undo that: nothing was changed. If CDC should run, restart it with dms_cdc_restart; "
            "if it is changing state, trigger this runbook again once it is running or failed.")
    if not state.recovery_checkpoint:
        raise DmsTaskStateError(
            f"refusing to recover: {state.describe()} and has no RecoveryCheckpoint, so nothing says where CDC "
            "stopped. A person decides: compare source and warehouse (cdc_reconcile), then restart from a position "
            "(dms_cdc_restart) or reload the tables.")
    at = BinlogPosition.parse(state.recovery_checkpoint, "RecoveryCheckpoint")
    plan = RecoveryPlan(Recovery.RESUME, state.status, writer, state.recovery_checkpoint, str(at))
    if at.file not in binlog_files:
        listed = f"{next(iter(binlog_files))} .. {next(reversed(binlog_files))}" if binlog_files else "none"
        raise DmsTaskStateError(
            f"refusing to recover: the task's RecoveryCheckpoint {at} names a binlog file the writer {writer} does "
            f"not have (its files: {listed}). The file was purged (binlog retention too short) or the position is "
            "another server's; no restart can be proven lossless. A person decides: reload the tables, or restart "
            "from a position on this writer (dms_cdc_restart) and repair what the reconcile finds.")
    size = binlog_files[at.file]
    if at.position <= size:
        return plan
    if size < FIRST_EVENT_POSITION or at.position - size > MAX_TRUNCATED_TAIL:
        raise DmsTaskStateError(
            f"refusing to recover: the task's RecoveryCheckpoint {at} lies {at.position - size} bytes past the end of "
            f"{at.file} ({size} bytes) on {writer}: more than a crash truncates (at most {MAX_TRUNCATED_TAIL} bytes, "
            "a whole binlog file) or a damaged file. It is most likely another server's position (blue and green "
            "use the same file names). A person decides: reload the tables, or restart from a position on this "
            "writer (dms_cdc_restart) and repair what the reconcile finds.")
    names = list(binlog_files)
    later = names[names.index(at.file) + 1:]
    safe = BinlogPosition(later[0], FIRST_EVENT_POSITION) if later else BinlogPosition(at.file, size)
    return RecoveryPlan(
        Recovery.RESUME_AFTER_LOSS, state.status, writer, state.recovery_checkpoint, str(safe),
        cost=(f"The writer's binlog file {at.file} ends at {size}, before the checkpoint {at}: {at.position - size} "
              "bytes of binlog that CDC had already read are gone (the crash truncated the tail). Changes in them "
              "may be in the warehouse and no longer on the source, and nothing can replay them: CDC resumes at "
              f"{safe}, where the writer's binlog goes on, and the reconcile names every row that differs."))


def chosen_step(plan: dict | None) -> str:
    """The step after ``assess``: ``restart_cdc`` when its plan restarts CDC, else ``reconcile``; refused without
    a plan (``assess`` marked success by hand, or its XCom cleared)."""
    if not isinstance(plan, dict) or "restarts" not in plan:
        raise DmsTaskStateError("no recovery plan from assess (was it marked success by hand, or its result "
                                "cleared?): nothing was changed. Clear assess so that it plans again.")
    return "restart_cdc" if plan["restarts"] else "reconcile"


def _require_checkpoint_not_lost(state: ReplicationTask, binlog_files: dict[str, int]) -> None:
    """A running task whose checkpoint lies past its file's end reads a binlog tail the crash took back: it fails
    within its retries (MySQL error 1236). Refused, so that the run does not verify a task about to fail."""
    at = BinlogPosition.parse(state.recovery_checkpoint) if state.recovery_checkpoint else None
    if at is not None and at.file in binlog_files and at.position > binlog_files[at.file]:
        raise DmsTaskStateError(
            f"refusing to verify: {state.describe()}, but its RecoveryCheckpoint {at} lies past the end of "
            f"{at.file} ({binlog_files[at.file]} bytes): the crash truncated the binlog tail CDC had read, and the "
            "task fails within its retries (error 1236). Trigger this runbook again once the task has failed: it "
            "then resumes where the binlog goes on and names what was lost.")
