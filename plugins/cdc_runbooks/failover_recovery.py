"""After an Aurora failover or a failed DMS task: what CDC needs, from the task's state and the writer's binlog.

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

Who decides the restart (:func:`next_step`): after a failover, or when a person triggered the run, the recovery
restarts on its own; a task that failed with no failover in the run (a fatal error after DMS's own retries: the
cause is not known) is restarted only once a person approves the plan (:func:`restart_question`).

Anything else is refused with what a person must decide: a task stopped (on purpose: a failover does not undo a
pause) or changing state, no checkpoint, a checkpoint in a file the writer does not have (purged, or another
server's), and a running task whose checkpoint the crash took back (it is about to fail).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from cdc_runbooks.binlog_position import FIRST_EVENT_POSITION, BinlogPosition
from cdc_runbooks.binlog_readiness import markdown_cell
from cdc_runbooks.cdc_event import EventKind
from cdc_runbooks.dms_task import DmsTaskStateError, ReplicationTask

# A failover explains a task failure when the task failed at most this long after it (DMS retries a lost source
# for RecoverableErrorCount x RecoverableErrorInterval, minutes with the defaults; an hour covers generous settings),
# or up to CLOCK_SKEW before it (the event's time is RDS's clock, the stop time DMS's). Outside that window the
# failure has another cause, and its restart waits for a person.
FAILOVER_EXPLAINS_FAILURE = timedelta(hours=1)
CLOCK_SKEW = timedelta(minutes=5)

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
    failure: str | None = None
    stopped_at: str | None = None  # when the task stopped or failed (ISO), for matching a failover to the failure
    failovers: tuple[str, ...] = ()  # when RDS's event history says the cluster failed over (ISO), around then

    @property
    def restarts(self) -> bool:
        return self.recovery is not Recovery.VERIFY

    def to_dict(self) -> dict:
        return {**asdict(self), "recovery": self.recovery.value, "restarts": self.restarts,
                "failovers": list(self.failovers)}

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
    failure = state.last_failure_message
    stopped_at = state.stop_date.isoformat() if state.stop_date else None
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
            "(dms_cdc_restart), then repair what the reconcile finds (cdc_repair).")
    at = BinlogPosition.parse(state.recovery_checkpoint, "RecoveryCheckpoint")
    plan = RecoveryPlan(Recovery.RESUME, state.status, writer, state.recovery_checkpoint, str(at), failure=failure,
                        stopped_at=stopped_at)
    if at.file not in binlog_files:
        listed = f"{next(iter(binlog_files))} .. {next(reversed(binlog_files))}" if binlog_files else "none"
        raise DmsTaskStateError(
            f"refusing to recover: the task's RecoveryCheckpoint {at} names a binlog file the writer {writer} does "
            f"not have (its files: {listed}). The file was purged (binlog retention too short) or the position is "
            "another server's; no restart can be proven lossless. A person decides: restart from a position on "
            "this writer (dms_cdc_restart) and repair what the reconcile finds (cdc_repair).")
    size = binlog_files[at.file]
    if at.position <= size:
        return plan
    if size < FIRST_EVENT_POSITION or at.position - size > MAX_TRUNCATED_TAIL:
        raise DmsTaskStateError(
            f"refusing to recover: the task's RecoveryCheckpoint {at} lies {at.position - size} bytes past the end of "
            f"{at.file} ({size} bytes) on {writer}: more than a crash truncates (at most {MAX_TRUNCATED_TAIL} bytes, "
            "a whole binlog file) or a damaged file. It is most likely another server's position (blue and green "
            "use the same file names). A person decides: restart from a position on this writer "
            "(dms_cdc_restart) and repair what the reconcile finds (cdc_repair).")
    names = list(binlog_files)
    later = [name for name in names[names.index(at.file) + 1:] if binlog_files[name] >= FIRST_EVENT_POSITION]
    safe = BinlogPosition(later[0], FIRST_EVENT_POSITION) if later else BinlogPosition(at.file, size)
    return RecoveryPlan(
        Recovery.RESUME_AFTER_LOSS, state.status, writer, state.recovery_checkpoint, str(safe), failure=failure,
        stopped_at=stopped_at,
        cost=(f"The writer's binlog file {at.file} ends at {size}, before the checkpoint {at}: {at.position - size} "
              "bytes of binlog that CDC had already read are gone (the crash truncated the tail). Changes in them "
              "may be in the warehouse and no longer on the source, and nothing can replay them: CDC resumes at "
              f"{safe}, where the writer's binlog goes on, and the reconcile names every row that differs."))


def next_step(plan: dict | None, claimed: dict | None) -> tuple[str | None, str]:
    """The step after ``assess`` and why, from its ``plan`` and what ``claim_events`` claimed: ``reconcile`` for a
    verification, ``restart_cdc`` for a restart asked for by a person (the run triggered by hand) or of a task that
    failed within :data:`FAILOVER_EXPLAINS_FAILURE` after a failover (an event of the run, or in RDS's event
    history: the plan's ``failovers``, so that a task-failure event that arrives before the failover's own does not
    make a person approve the recovery of a failover), ``approve_restart`` for any other restart, and None
    (nothing to do) when a run of task-failure events finds the task running again: its failure was dealt with (by
    a failover's recovery, or a person). Refused without a plan or claim (a step marked success by hand, or its
    result cleared)."""
    if not isinstance(plan, dict) or "restarts" not in plan:
        raise DmsTaskStateError("no recovery plan from assess (was it marked success by hand, or its result "
                                "cleared?): nothing was changed. Clear assess so that it plans again.")
    if not isinstance(claimed, dict) or not isinstance(claimed.get("events"), list):
        raise DmsTaskStateError("no claimed events from claim_events (was it marked success by hand, or its "
                                "result cleared?): nothing was changed. Clear claim_events.")
    events = [event for event in claimed["events"] if isinstance(event, dict)]
    manual = claimed.get("manual") is True
    if not plan["restarts"]:
        if manual or any(event.get("kind") == EventKind.FAILOVER.value for event in events):
            return "reconcile", f"the DMS task is {plan['task_status']}: verify only"
        return None, (f"the DMS task is {plan['task_status']} again: its failure was dealt with (a failover's "
                      "recovery or a person restarted it); nothing to do")
    if manual:
        return "restart_cdc", "triggered by hand: the recovery restarts CDC on its own"
    seen = [(event.get("time"), f"event {event.get('event_id')}") for event in events
            if event.get("kind") == EventKind.FAILOVER.value]
    seen += [(time, "RDS's event history") for time in plan.get("failovers") or ()]
    explained = next(((time, where) for time, where in seen if _explains(time, plan.get("stopped_at"))), None)
    if explained is not None:
        return "restart_cdc", (f"the task failed after the cluster failed over at {explained[0]} "
                               f"({explained[1]}): the recovery restarts CDC on its own")
    return "approve_restart", ("the DMS task failed with no failover that explains it (a fatal error after its own "
                               "retries, cause unknown): a person approves the restart")


def _explains(failover_time: object, stopped_at: object) -> bool:
    """Whether a failover at ``failover_time`` explains a task failure at ``stopped_at`` (both ISO times with a
    zone; anything unreadable explains nothing)."""
    try:
        failed, failover = datetime.fromisoformat(stopped_at), datetime.fromisoformat(failover_time)
        return -CLOCK_SKEW <= failed - failover <= FAILOVER_EXPLAINS_FAILURE
    except (TypeError, ValueError):
        return False


def restart_question(plan: dict) -> str:
    """The Required Action page's body for a restart of a failed task: the failure, the plan, what each answer
    does (markdown; values escaped)."""
    lines = [f"**The DMS task failed** on writer `{plan['writer']}`: "
             f"{markdown_cell(plan.get('failure') or 'no failure message')}",
             "",
             f"**Proposed:** restart CDC from `{plan['position']}` (the task's RecoveryCheckpoint "
             f"`{plan['checkpoint']}`). The position passed the restart's own checks: a transaction start in a "
             "binlog file the writer has, followed only by the writer's own events."]
    if plan.get("cost"):
        lines += ["", f"**Cost:** {markdown_cell(plan['cost'])}"]
    lines += ["", "**Approve:** restart from that position, wait until CDC runs and its latency converges, then "
                  "reconcile (checksum). **Reject:** nothing is changed; CDC stays down until someone restarts it "
                  "(dms_cdc_restart) — first fix what the failure names, if it would fail again."]
    return "\n".join(lines)


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
