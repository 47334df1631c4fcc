"""Operators that pause and restart DMS CDC safely: thin shells over ``dms_task``, ``cdc_latency``
and ``start_position``.

Both check the task's state before acting (a retry or a cleared task adopts what
its run already did), support ``dry_run`` (log exactly the calls they would make,
change nothing), wait with ``waiter_delay``/``waiter_max_attempts`` either in the
worker or, with ``deferrable=True``, in the triggerer (the same triggers run inline
otherwise: :func:`cdc_runbooks.triggers.base.wait_for`, what they did so far passed
on as the resumed method's keyword arguments), and return a record of what they
did (XCom) for the run record.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial

from airflow.providers.amazon.aws.hooks.dms import DmsTaskState
from botocore.exceptions import ClientError

from cdc_runbooks import identifiers
from cdc_runbooks.action import Action
from cdc_runbooks.aws.blue_green import deployment_state
from cdc_runbooks.aws.cluster import ClusterWriter, binlog_end, describe_cluster, describe_writer, writer_binlog
from cdc_runbooks.aws.dms import (
    describe_endpoint,
    latency_dimensions,
    point_endpoint,
    start_cdc,
    stop_task,
    task_state,
)
from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.dms_task import (
    RESTARTABLE,
    DmsTaskStateError,
    ReplicationTask,
    names_endpoint,
    plan_drain,
    plan_pause,
    plan_restart,
    plan_stop_at_once,
    require_as_planned,
    require_drained,
)
from cdc_runbooks.lookups import look_up_together
from cdc_runbooks.pipelines import Pipeline
from cdc_runbooks.start_position import UnsafeStartPosition, check_on_writer, own_writes_begin
from cdc_runbooks.step import WaitingStepOperator, records_failure, run_started_at
from cdc_runbooks.triggers.base import run_inline, wait_for
from cdc_runbooks.triggers.dms import CdcLatencyTrigger, DmsTaskStatusTrigger

RUNNING, STOPPED, FAILED = DmsTaskState.RUNNING.value, DmsTaskState.STOPPED.value, DmsTaskState.FAILED.value


class DmsTaskFailed(RuntimeError):
    """The DMS task went to a state from which the step cannot succeed, or a wait timed out."""


class _DmsCdcOperator(WaitingStepOperator):
    """Shared plumbing: the task's state, and waits that run inline or deferred.

    Two waits: for a status of the task (DescribeReplicationTasks, ``waiter_delay``/``waiter_max_attempts``), and
    for its CDC latency (CloudWatch). The latency wait has its own settings, not the provider's, because it is
    another idea: the latency must stay at or below ``max_latency_s`` for ``sustain_s``, and how long that takes
    depends on the load, so it is bounded in time (``latency_timeout_s``), not in polls; it polls at most once per
    CloudWatch period.

    :param max_latency_s: drained/converged means CDCLatencySource/Target at or below this (default: pipeline's).
    :param sustain_s: ... for this long (default: pipeline's).
    :param latency_timeout_s: give up waiting for the latency after this long.
    """

    def __init__(self, *, max_latency_s: float | None = None, sustain_s: float | None = None,
                 latency_timeout_s: float = 900, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_latency_s = max_latency_s
        self.sustain_s = sustain_s
        self.latency_timeout_s = latency_timeout_s

    def _until_status(self, pipeline: Pipeline, arn: str, wanted: str, failing: list[str]) -> DmsTaskStatusTrigger:
        return DmsTaskStatusTrigger(aws_conn_id=pipeline.aws_conn_id, task_arn=arn, wanted=wanted, failing=failing,
                                    waiter_delay=self.delay(pipeline), waiter_max_attempts=self.waiter_max_attempts)

    def _until_latency(self, pipeline: Pipeline, state: ReplicationTask, what: str,
                       give_up_rising_s: float | None = None) -> CdcLatencyTrigger:
        return CdcLatencyTrigger(
            aws_conn_id=pipeline.aws_conn_id, dimensions=latency_dimensions(pipeline.aws_conn_id, state),
            metric_period_s=pipeline.metric_period_s,
            max_latency_s=float(self.max_latency_s or pipeline.drain_max_latency_s),
            sustain_s=float(self.sustain_s or pipeline.drain_sustain_s), timeout_s=self.latency_timeout_s,
            waiter_delay=min(self.delay(pipeline), pipeline.metric_period_s), what=what, task_arn=state.arn,
            give_up_rising_s=give_up_rising_s)

    @staticmethod
    def _fired(event: dict) -> str:
        """The message of a successful trigger event; raise with its message otherwise."""
        if event.get("status") != "success":
            raise DmsTaskFailed(event.get("message", f"trigger failed: {event}"))
        return event["message"]


class DmsPauseTaskOperator(_DmsCdcOperator):
    """Pause a pipeline's DMS CDC task: wait until CDC has drained, stop it, wait for ``stopped`` and record
    its RecoveryCheckpoint (StopReplicationTask:
    https://docs.aws.amazon.com/dms/latest/APIReference/API_StopReplicationTask.html).

    Refuses a task that is not running. A retry in the same DAG run adopts the stop it already made and
    returns the same record. Settings: :class:`~cdc_runbooks.step.WaitingStepOperator` (``wait_for_completion``:
    wait for ``stopped``) and :class:`_DmsCdcOperator` (the drain).

    :param give_up_rising_s: fail early, with the reason, when the latency has risen at every poll for this long
        (CDC falls behind instead of draining); default: ten polls of the CloudWatch period, at least 5 minutes.
    :param drain: wait for CDC to drain before stopping (default). Off: stop at once, and adopt a task that is not
        running as it is, stopped or failed by whoever (:func:`cdc_runbooks.dms_task.plan_stop_at_once`): for a
        switchover that is already under way.
    :param resumed_after: with ``drain`` off, when the switchover began (ISO; the run's start if earlier): a running
        task started since was resumed by somebody and is not stopped, a task stopped before it was paused on
        purpose and is not adopted (both refused).
    :param resume_earlier_stop: with ``drain`` off, adopt a task stopped before ``resumed_after`` (a person decided).
    """

    template_fields: Sequence[str] = ("pipeline_name", "dry_run", "max_latency_s", "sustain_s", "resumed_after",
                                      "resume_earlier_stop")

    def __init__(self, *, give_up_rising_s: float | None = None, drain: bool = True, resumed_after: str | None = None,
                 resume_earlier_stop: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.give_up_rising_s = give_up_rising_s
        self.drain = drain
        self.resumed_after = resumed_after
        self.resume_earlier_stop = resume_earlier_stop

    @records_failure
    def execute(self, context) -> dict:
        pipeline = self.pipeline
        state = task_state(pipeline.aws_conn_id, pipeline.dms_task_arn)
        run_started = run_started_at(context)
        action = plan_pause(state, run_started) if self.drain else plan_stop_at_once(
            state, self._resumed_after(run_started), bool(self.resume_earlier_stop))
        if self.dry_run:
            self.log.info("DRY RUN: %s. Would %s call StopReplicationTask(ReplicationTaskArn=%r) and wait for "
                          "'stopped'. Nothing was changed.", state.describe(),
                          "wait for CDC to drain, then" if self.drain else "at once", state.arn)
            return {"dry_run": True, "task": state.arn, "status": state.status, "action": action.value}
        done = {"task": state.arn, "action": action.value}
        if action is Action.ACT and self.drain:
            rising = self.give_up_rising_s or max(300.0, 10 * pipeline.metric_period_s)
            return wait_for(self, context, self._until_latency(pipeline, state, "drain", rising),
                            "stop_when_drained", done)
        if action is Action.ACT:
            return self._stop(context, state.arn, done)
        if action is Action.ADOPT and not self.drain:  # not reading: stopped or failed as it is
            self.log.info("Not stopping: %s; adopting its stop", state.describe())
            return self._stopped(state, done)
        return wait_for(self, context, self._until_stopped(pipeline, state.arn), "record_stopped", done)

    def _resumed_after(self, run_started: datetime | None) -> datetime | None:
        given = identifiers.iso_datetime(self.resumed_after, "resumed_after") if self.resumed_after else None
        return min((m for m in (given, run_started) if m is not None), default=None)

    @records_failure
    def stop_when_drained(self, context, event: dict, task: str, action: str) -> dict:
        return self._stop(context, task, {"task": task, "action": action, "drained": self._fired(event)})

    def _stop(self, context, task: str, done: dict) -> dict:
        pipeline = self.pipeline
        stop_task(pipeline.aws_conn_id, task)
        self.log.info("%s; StopReplicationTask(ReplicationTaskArn=%r) called", done.get("drained", "At once"), task)
        if not self.wait_for_completion:
            return {**done, "status": "stopping"}
        return wait_for(self, context, self._until_stopped(pipeline, task), "record_stopped", done)

    @records_failure
    def record_stopped(self, context, event: dict, task: str, **done) -> dict:
        self._fired(event)
        return self._stopped(task_state(self.pipeline.aws_conn_id, task), {"task": task, **done})

    @staticmethod
    def _stopped(stopped: ReplicationTask, done: dict) -> dict:
        return {**done, "status": stopped.status, "recovery_checkpoint": stopped.recovery_checkpoint,
                "stop_reason": stopped.stop_reason,
                "stopped_at": stopped.stop_date.isoformat() if stopped.stop_date else None}

    def _until_stopped(self, pipeline: Pipeline, arn: str) -> DmsTaskStatusTrigger:
        return self._until_status(pipeline, arn, STOPPED, [FAILED, RUNNING])


class DmsRestartCdcOperator(_DmsCdcOperator):
    """Restart a pipeline's CDC-only DMS task from a binlog position (or a time), then wait until it runs and
    its latency converges (StartReplicationTask with ``start-replication`` and CdcStartPosition:
    https://docs.aws.amazon.com/dms/latest/APIReference/API_StartReplicationTask.html).

    Before calling DMS it refuses: a malformed position; a task that is not CDC-only, or not
    stopped/ready/failed; a position whose file is not on the cluster's current writer, beyond the file's
    end, or inside a transaction. A retry in the same DAG run adopts the start it already made. Settings:
    :class:`~cdc_runbooks.step.WaitingStepOperator` (``wait_for_completion``: wait for ``running`` and converged
    latency) and :class:`_DmsCdcOperator` (the convergence).

    :param cdc_start_position: ``file:position`` or a DMS checkpoint; exclusive with cdc_start_time.
    :param cdc_start_time: ISO timestamp, only when explicitly wanted (DMS maps it to a position itself).
    :param drained_to: after a switchover, old blue's drained end (the fact's ``old_blue_end``): the task's
        RecoveryCheckpoint must be there before it starts (:func:`cdc_runbooks.dms_task.require_drained`).
    :param planned_status: the task's status when the restart was planned (and approved): the task must still be
        in it, with ``planned_checkpoint`` as its RecoveryCheckpoint (:func:`cdc_runbooks.dms_task.require_as_planned`):
        a task stopped, restarted or failed again meanwhile is not restarted on an old decision.
    :param planned_checkpoint: its RecoveryCheckpoint then.
    :param dry_run: check everything, log exactly the call it would make, change nothing (default True).
    """

    template_fields: Sequence[str] = ("pipeline_name", "cdc_start_position", "cdc_start_time", "drained_to",
                                      "planned_status", "planned_checkpoint", "dry_run", "max_latency_s", "sustain_s")

    def __init__(self, *, cdc_start_position: str | None = None, cdc_start_time: str | None = None,
                 drained_to: str | None = None, planned_status: str | None = None,
                 planned_checkpoint: str | None = None, dry_run: bool = True, **kwargs) -> None:
        super().__init__(dry_run=dry_run, **kwargs)
        self.cdc_start_position = cdc_start_position
        self.cdc_start_time = cdc_start_time
        self.drained_to = drained_to
        self.planned_status = planned_status
        self.planned_checkpoint = planned_checkpoint

    @records_failure
    def execute(self, context) -> dict:
        pipeline = self.pipeline
        start = self._start_arguments()
        drained_to = BinlogPosition.parse(self.drained_to, "drained_to") if self.drained_to else None
        state = task_state(pipeline.aws_conn_id, pipeline.dms_task_arn)
        run_started = run_started_at(context)
        action = plan_restart(state, start.get("CdcStartPosition"), run_started)
        if action is Action.ACT:
            if self.planned_status:  # pure: refused before any other call
                require_as_planned(state, self.planned_status, self.planned_checkpoint)
            if drained_to is not None:
                require_drained(state, drained_to, start["CdcStartPosition"], run_started)
            writer = describe_writer(pipeline.aws_conn_id, pipeline.source_cluster)
            if drained_to is not None:
                self._require_source_is(writer, state)
            self._check_start(pipeline, writer, start)
        call = {"ReplicationTaskArn": state.arn, "StartReplicationTaskType": "start-replication", **start}
        if self.dry_run:
            self.log.info("DRY RUN: %s. Checks passed. Would call StartReplicationTask(%s), then wait for "
                          "'running' and converged latency. Nothing was changed.", state.describe(), call)
            return {"dry_run": True, "task": state.arn, "status": state.status, "action": action.value,
                    "would_call": call}
        if action is Action.ACT:
            self._start(pipeline, state, start)
            self.log.info("StartReplicationTask(%s) called", call)
        done = {"task": state.arn, "action": action.value, "called": {k: str(v) for k, v in call.items()}}
        if not self.wait_for_completion:
            return {**done, "status": "starting"}
        return wait_for(self, context, self._until_status(pipeline, state.arn, RUNNING, [FAILED, STOPPED]),
                        "converge_when_running", done)

    @records_failure
    def converge_when_running(self, context, event: dict, task: str, **done) -> dict:
        self._fired(event)
        pipeline = self.pipeline
        running = task_state(pipeline.aws_conn_id, task)
        done = {"task": task, **done, "running_since": datetime.now(UTC).isoformat()}  # the end of the CDC gap
        return wait_for(self, context, self._until_latency(pipeline, running, "converge"), "record_converged", done)

    @records_failure
    def record_converged(self, context, event: dict, **done) -> dict:
        return {**done, "converged": self._fired(event), "status": RUNNING}

    @staticmethod
    def _start(pipeline: Pipeline, state: ReplicationTask, start: dict) -> None:
        try:
            start_cdc(pipeline.aws_conn_id, state.arn, **start)
        except ClientError as error:
            raise DmsTaskFailed(
                f"DMS refused StartReplicationTask for {state.identifier} ({error}); the task was not started and "
                f"is still {state.status}. Fix what DMS names, then clear this step: it checks the task again "
                "before starting it.") from error

    def _start_arguments(self) -> dict:
        if bool(self.cdc_start_position) == bool(self.cdc_start_time):
            raise ValueError("give exactly one of cdc_start_position (preferred) and cdc_start_time")
        if self.cdc_start_position:  # DMS gets the native position that was checked, also for a checkpoint string
            return {"CdcStartPosition": str(BinlogPosition.parse(self.cdc_start_position, "cdc_start_position"))}
        return {"CdcStartTime": identifiers.iso_datetime(self.cdc_start_time, "cdc_start_time")}

    def _require_source_is(self, writer: ClusterWriter, state: ReplicationTask) -> None:
        """After a switchover: refuse unless the task's source endpoint names the writer's cluster endpoint (a drain
        of old blue that never pointed it back would have DMS read old blue from green's coordinates)."""
        source = describe_endpoint(self.pipeline.aws_conn_id, state.source_endpoint_arn)
        if not names_endpoint(source, writer.endpoint, writer.port):
            raise DmsTaskStateError(
                f"refusing to restart {state.identifier} on {writer.cluster}: its source endpoint names "
                f"{source['ServerName']}:{source['Port']}, not the cluster endpoint {writer.endpoint}:{writer.port}. "
                "Was a drain of old blue interrupted? Clear drain_old_blue in the switchover run (it points the "
                "endpoint at production on every path), or point it there (ModifyEndpoint), then clear this step.")

    def _check_start(self, pipeline: Pipeline, writer: ClusterWriter, start: dict) -> None:
        """Refuse a position that is not a transaction start in the current writer's binlog followed only by the
        writer's own events (see :mod:`cdc_runbooks.start_position`); refuse a start time on a writer whose binlog
        holds history replicated from another server (DMS would map the time into it and re-apply its
        transactions)."""
        binlog = writer_binlog(pipeline.source_conn_id, writer)
        if "CdcStartPosition" in start:
            position = BinlogPosition.parse(start["CdcStartPosition"])
            check_on_writer(position, binlog)
            self.log.info("%s is a transaction boundary on the current writer %s (%s), followed only by its own "
                          "writes", position, writer.instance, writer.endpoint)
        elif (begins := own_writes_begin(binlog)) is not None:
            raise UnsafeStartPosition(
                f"refusing cdc_start_time on {writer.instance}: its binlog holds history replicated from another "
                f"server up to {begins}, and DMS maps a time to a position without telling them apart (a time in "
                f"that history re-applies that server's transactions). Give cdc_start_position = {begins} or later.")


class DmsDrainOldBlueOperator(_DmsCdcOperator):
    """After a switchover, apply what old blue binlogged after the pause, so that restarting on the new writer
    from green's coordinates loses nothing.

    Application writes go on between the pause and the switchover's write fence; they are in old blue's binlog
    after the pause checkpoint, and before green's coordinates in green's. This step points the task's source
    endpoint at old blue (``<cluster>-old1``, read-only now; ModifyEndpoint), runs CDC there from the pause
    checkpoint until the task's RecoveryCheckpoint is old blue's binlog end (start, stop once running, resume
    from the new checkpoint while short), and points the endpoint at production's cluster endpoint again on
    every path: after the rounds (also on failure) and when there is nothing to drain (an attempt lost mid-drain
    left it at old blue). Nothing to drain when the checkpoint is already the end.
    It runs inline (not deferrable): the endpoint must be restored in the same process.

    Refuses, before anything changes, once the resume run it hands CDC to has begun (``resume_dag_id`` /
    ``resume_run_id``: CDC may have run on green since, and green's positions can share old blue's file names),
    and while the task runs.

    :param deployment_identifier: the switched-over deployment (its Source names old blue).
    :param checkpoint: the RecoveryCheckpoint recorded by the pause.
    :param resume_dag_id: the DAG whose run restarts CDC on green after this drain.
    :param resume_run_id: that run's id.
    :param drain_rounds: start/stop rounds on old blue before giving up short of its binlog end.
    """

    template_fields: Sequence[str] = ("pipeline_name", "deployment_identifier", "checkpoint", "resume_dag_id",
                                      "resume_run_id")

    def __init__(self, *, deployment_identifier: str, checkpoint: str, resume_dag_id: str | None = None,
                 resume_run_id: str | None = None, drain_rounds: int = 5, **kwargs) -> None:
        super().__init__(deferrable=False, **kwargs)
        self.deployment_identifier = deployment_identifier
        self.checkpoint = checkpoint
        self.resume_dag_id = resume_dag_id
        self.resume_run_id = resume_run_id
        self.drain_rounds = drain_rounds

    @records_failure
    def execute(self, context) -> dict:
        pipeline = self.pipeline
        checkpoint = BinlogPosition.parse(self.checkpoint, "checkpoint")
        self._require_not_resumed(context)
        # Read side by side while CDC is stopped; a refusal is the same whichever answers first (look_up_together).
        state, old_blue, production = look_up_together(
            partial(self._stopped_task, pipeline), partial(self._old_blue, pipeline),
            partial(describe_writer, pipeline.aws_conn_id, pipeline.source_cluster))
        _, end = look_up_together(  # the pause's checkpoint, on old blue; old blue's end
            partial(self._check_on, pipeline, old_blue, checkpoint),
            partial(binlog_end, pipeline.source_conn_id, old_blue))
        result = {"task": state.arn, "old_blue": old_blue.cluster, "checkpoint": str(checkpoint),
                  "old_blue_end": str(end)}
        if plan_drain(checkpoint, state.recovery_checkpoint, end) is Action.ADOPT:
            self.log.info("Nothing to drain: the task's checkpoint is old blue's binlog end %s", end)
            self._point(pipeline, state.source_endpoint_arn, production.endpoint, production.port)
            return {**result, "action": Action.ADOPT.value, "drained_to": str(end)}
        checkpoint = BinlogPosition.parse(state.recovery_checkpoint)  # where the last round stopped, if any
        self._point(pipeline, state.source_endpoint_arn, old_blue.endpoint, old_blue.port)
        try:
            drained_to = self._apply_until_stopped(pipeline, state, checkpoint, end)
        finally:
            self._point(pipeline, state.source_endpoint_arn, production.endpoint, production.port)
        if drained_to != end:
            raise DmsTaskFailed(f"drained old blue to {drained_to}, but its binlog ends at {end}: rows are missing")
        return {**result, "action": Action.ACT.value, "drained_to": str(drained_to)}

    def _require_not_resumed(self, context) -> None:
        """Refuse once the resume run exists in any state but queued (a missing run counts as not begun; an error
        asking refuses)."""
        if not self.resume_run_id:
            return
        begun = context["ti"].get_dr_count(dag_id=self.resume_dag_id, run_ids=[self.resume_run_id],
                                           states=["running", "success", "failed"])
        if begun:
            raise DmsTaskStateError(
                f"refusing to drain old blue: CDC was handed over already (run {self.resume_run_id} of "
                f"{self.resume_dag_id} has begun), so it may have run on green since, and draining again would "
                "re-apply old blue's tail over newer changes. Nothing to do here; if that run failed, follow its "
                "runbook.")

    @staticmethod
    def _stopped_task(pipeline: Pipeline) -> ReplicationTask:
        state = task_state(pipeline.aws_conn_id, pipeline.dms_task_arn)
        if state.status not in RESTARTABLE:
            raise DmsTaskStateError(
                f"refusing to drain old blue: {state.describe()}. A running task reads production: if CDC was "
                "resumed after this switchover, old blue was drained then and there is nothing to do here; never "
                "pause production CDC to drain again (it would re-apply old blue's tail over newer changes).")
        return state

    @staticmethod
    def _check_on(pipeline: Pipeline, writer: ClusterWriter, position: BinlogPosition) -> None:
        check_on_writer(position, writer_binlog(pipeline.source_conn_id, writer))

    def _old_blue(self, pipeline: Pipeline):
        deployment = deployment_state(pipeline.aws_conn_id, self.deployment_identifier)
        if deployment.status != "SWITCHOVER_COMPLETED":
            raise DmsTaskStateError(f"refusing to drain old blue: {deployment.describe()}; drain after the switchover")
        old = describe_cluster(pipeline.aws_conn_id, deployment.source)
        return describe_writer(pipeline.aws_conn_id, old["DBClusterIdentifier"])

    def _point(self, pipeline: Pipeline, endpoint_arn: str, server: str, port: int) -> None:
        point_endpoint(pipeline.aws_conn_id, endpoint_arn, server, port)
        self.log.info("ModifyEndpoint(%s, ServerName=%s, Port=%s)", endpoint_arn, server, port)

    def _apply_until_stopped(self, pipeline: Pipeline, state: ReplicationTask,
                             checkpoint: BinlogPosition, end: BinlogPosition) -> BinlogPosition:
        """Run CDC on old blue until its RecoveryCheckpoint reaches ``end``: start from the checkpoint, stop as
        soon as it runs, and resume from the new checkpoint while it is short (old blue takes no writes, so
        every round only applies what is left; ``drain_rounds`` bounds them)."""
        for _ in range(self.drain_rounds):
            start_cdc(pipeline.aws_conn_id, state.arn, CdcStartPosition=str(checkpoint))
            self._fired(run_inline(self._until_status(pipeline, state.arn, RUNNING, [FAILED, STOPPED])))
            stop_task(pipeline.aws_conn_id, state.arn)
            self._fired(run_inline(self._until_status(pipeline, state.arn, STOPPED, [FAILED, RUNNING])))
            checkpoint = BinlogPosition.parse(task_state(pipeline.aws_conn_id, state.arn).recovery_checkpoint)
            self.log.info("Old blue applied up to %s (binlog end %s)", checkpoint, end)
            if checkpoint >= end:
                break
        return checkpoint
