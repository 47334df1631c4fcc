"""Operators for the product-platform half of a blue/green upgrade: switch over, then say where CDC resumes.

The amazon provider has no blue/green operator, hook method or waiter; these call
RDS through :mod:`cdc_runbooks.aws.blue_green` and wait with our triggers
(:mod:`cdc_runbooks.triggers.rds`), inline or deferred. They are thin shells over
``cdc_runbooks.blue_green``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from airflow.providers.standard.operators.branch import BaseBranchOperator
from airflow.sdk.exceptions import AirflowSkipException

from cdc_runbooks import identifiers
from cdc_runbooks.action import Action
from cdc_runbooks.aws.blue_green import (
    console_switchover,
    deployment_clusters,
    deployment_state,
    production_still_on_blue,
    require_production_source,
    switchover_blue_green,
)
from cdc_runbooks.aws.cluster import describe_writer, replica_lag_s, writer_binlog, writer_instance
from cdc_runbooks.aws.records import lock_holder
from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.blue_green import (
    BlueGreenStateError,
    CoordinatesDisagree,
    DeploymentState,
    check_coordinates,
    plan_switchover,
    require_completed,
)
from cdc_runbooks.console_switchover import SwitchoverNotFound, dms_read_green
from cdc_runbooks.pipelines import Pipeline
from cdc_runbooks.refusal import Refusal
from cdc_runbooks.resume_handoff import resume_dag_id, why_resume_cannot_run
from cdc_runbooks.start_position import own_writes_begin
from cdc_runbooks.step import PipelineStepOperator, WaitingStepOperator, records_failure, run_started_at
from cdc_runbooks.triggers.base import wait_for
from cdc_runbooks.triggers.rds import BlueGreenCoordinatesTrigger, BlueGreenSwitchoverTrigger


def _unverifiable_tables(pipeline: Pipeline, cluster: str) -> str | None:
    """Why the reconciliation (:func:`cdc_runbooks.reconcile.compared_table.describe_tables`) cannot verify some of the
    pipeline's tables with ``cluster``'s writer as the source, naming every such table; None when it can verify
    them all. Reads the information schemas only."""
    from cdc_runbooks.reconcile.compared_table import describe_tables
    from cdc_runbooks.reconcile.sides import source_side, target_side

    try:
        describe_tables(source_side(pipeline, cluster), target_side(pipeline), pipeline.tables)
    except Refusal as refusal:
        return str(refusal)
    return None


def _until_switchover_ends(step: WaitingStepOperator, deployment: str) -> BlueGreenSwitchoverTrigger:
    """The wait until the deployment's switchover has ended, with the step's wait settings."""
    return BlueGreenSwitchoverTrigger(aws_conn_id=step.pipeline.aws_conn_id, deployment_identifier=deployment,
                                      waiter_delay=step.delay(step.pipeline),
                                      waiter_max_attempts=step.waiter_max_attempts)


class BlueGreenSwitchoverOperator(WaitingStepOperator):
    """Switch a pipeline's blue/green deployment over and wait until it completes
    (SwitchoverBlueGreenDeployment: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_SwitchoverBlueGreenDeployment.html).

    Never switches twice: AVAILABLE is switched over; an in-progress switchover is waited for; a completed
    one is adopted (a retry of this step). A deployment whose source is not the pipeline's production
    cluster is refused. If RDS rolls the switchover back (failure or timeout), the step fails with
    SwitchoverRolledBack and is not retried: production is still blue, and a person decides. Wait settings:
    :class:`~cdc_runbooks.step.WaitingStepOperator` (``wait_for_completion``: until the switchover has ended).

    :param deployment_identifier: the blue/green deployment (``bgd-...``).
    :param switchover_timeout: SwitchoverTimeout in seconds (30-3600); RDS rolls back beyond it.
    """

    template_fields: Sequence[str] = ("pipeline_name", "deployment_identifier", "switchover_timeout")

    def __init__(self, *, deployment_identifier: str, switchover_timeout: int = 300, waiter_max_attempts: int = 720,
                 **kwargs) -> None:
        super().__init__(waiter_max_attempts=waiter_max_attempts, **kwargs)
        self.deployment_identifier = deployment_identifier
        self.switchover_timeout = switchover_timeout

    @records_failure
    def execute(self, context) -> dict:
        pipeline = self.pipeline
        timeout = int(self.switchover_timeout)
        if not 30 <= timeout <= 3600:
            raise BlueGreenStateError(f"switchover_timeout {timeout} is outside RDS's 30-3600 seconds")
        state = deployment_state(pipeline.aws_conn_id, self.deployment_identifier)
        if state.status != "SWITCHOVER_COMPLETED":  # once completed, its source is old blue (a retry adopts it)
            require_production_source(pipeline, state)
        action = plan_switchover(state)
        done = {"deployment": state.identifier, "action": action.value}
        if action is Action.ACT:
            blue, green = deployment_clusters(pipeline.aws_conn_id, state)
            done.update(blue_cluster=blue["DBClusterIdentifier"], green_cluster=green["DBClusterIdentifier"],
                        blue_writer=writer_instance(blue), green_writer=writer_instance(green),
                        started_at=datetime.now(UTC).isoformat())
            switchover_blue_green(pipeline.aws_conn_id, state.identifier, timeout)
            self.log.info("SwitchoverBlueGreenDeployment(%s, SwitchoverTimeout=%s) called", state.identifier, timeout)
        else:  # a retry or a cleared task of the run that switched over: it began after the run was triggered
            run_started = run_started_at(context)
            done["started_at"] = run_started.isoformat() if run_started else None
            self.log.info("Not switching again: %s; adopting it", state.describe())
        if not self.wait_for_completion:
            return done
        return wait_for(self, context, _until_switchover_ends(self, state.identifier), "switchover_ended", done)

    @records_failure
    def switchover_ended(self, context, event: dict, deployment: str, **done) -> dict:
        if event.get("status") != "success":
            raise BlueGreenStateError(event.get("message", f"switchover wait failed: {event}"))
        state = deployment_state(self.pipeline.aws_conn_id, deployment)
        require_completed(state)
        return {"deployment": deployment, **done, "status": state.status,
                "finished_at": datetime.now(UTC).isoformat()}


class ConsoleSwitchoverGateOperator(PipelineStepOperator):
    """Whether a run of the console-switchover follower has anything to do, and since when the switchover runs;
    changes nothing. It skips the rest of the run (its steps are skipped, ``record_run`` records it) while a run of
    ``runbook`` holds the pipeline (a switchover of ours pauses and resumes CDC around itself: GetObject of
    ``locks/<runbook>/<pipeline>.json``), and, in a run triggered by hand or by events all older than ``lookback_s``
    (a backlog, a redrive), when no switchover of production is in progress or completed in the ``lookback_s`` before
    the run (:func:`cdc_runbooks.aws.blue_green.console_switchover`): a healthy DMS task is not stopped on a mistaken
    trigger or a stale event. A run started by a fresh event does not ask RDS (the event is the evidence, and RDS's
    event history may lag it): the switchover started at the latest event's time.

    XCom: ``{"switchover_started_at": ISO time or None}`` (a DMS task started since was resumed by somebody).

    :param runbook: the DAG id whose run this one gives way to.
    :param claimed: what ``claim_events`` returned (its ``events``, each with its ``time``).
    :param lookback_s: how long before the run the switchover may have started.
    """

    template_fields: Sequence[str] = ("pipeline_name", "runbook", "claimed")

    def __init__(self, *, runbook: str, claimed: dict | None, lookback_s: float = 3600, **kwargs) -> None:
        super().__init__(**kwargs)
        self.runbook = runbook
        self.claimed = claimed
        self.lookback_s = lookback_s

    @records_failure
    def execute(self, context) -> dict:
        pipeline, dag_run = self.pipeline, context["dag_run"]
        holder = lock_holder(pipeline, self.runbook)
        if holder is not None:
            self._skip(context, f"{holder.dag_id} run {holder.run_id!r} holds {holder.pipeline} since "
                                f"{holder.claimed_at}: it pauses and resumes CDC around its switchover; nothing to "
                                "do here")
        since = (run_started_at(context) or datetime.now(UTC)) - timedelta(seconds=self.lookback_s)
        claimed = (self.claimed or {}).get("events", [])
        times = [identifiers.iso_datetime(event.get("time"), "event time") for event in claimed]
        if dag_run.run_type != "manual" and times and max(times) >= since:
            return {"switchover_started_at": max(times).astimezone(UTC).isoformat()}
        why = "triggered by hand" if dag_run.run_type == "manual" else f"started by events older than {since}"
        try:
            found = console_switchover(pipeline, since)
        except SwitchoverNotFound as nothing:
            self._skip(context, f"{why}, and nothing to follow: {nothing} The DMS task was not touched.")
        if found.deployment.status not in ("SWITCHOVER_IN_PROGRESS", "SWITCHOVER_COMPLETED"):
            self._skip(context, f"{why}, and {found.deployment.describe()}: no switchover to follow. The DMS task "
                                "was not touched.")
        return {"switchover_started_at": found.started_at.isoformat(), "deployment": found.deployment.identifier}

    @staticmethod
    def _skip(context, why: str) -> None:
        context["ti"].xcom_push(key="return_value", value={"skipped": why})
        raise AirflowSkipException(why)


class BlueGreenFollowSwitchoverOperator(WaitingStepOperator):
    """Follow a switchover of the pipeline's production cluster that somebody started outside Airflow (the RDS
    console, the CLI) until it ends; never calls SwitchoverBlueGreenDeployment.

    Finds the deployment (:func:`cdc_runbooks.aws.blue_green.console_switchover`: the latest whose switchover of
    production started in the ``lookback_s`` before the run) and pushes its id (XCom ``deployment``) before waiting,
    so that the failure branch can check where production is. A switchover RDS rolled back fails the step
    (SwitchoverRolledBack: production is still blue). A completed one returns the deployment, the clusters, green's
    writer, when it started and completed, and ``damage``: why DMS may have read green from blue's coordinates
    before ``stopped_at`` (:func:`cdc_runbooks.console_switchover.dms_read_green`), None when it stopped in time.
    Wait settings: :class:`~cdc_runbooks.step.WaitingStepOperator`.

    :param stopped_at: when the DMS task stopped (its StopDate, ISO), from the step that stopped it.
    :param lookback_s: how long before the run the switchover may have started.
    :param completion_event_wait_s: how long to wait for the completion event once RDS says completed.
    """

    template_fields: Sequence[str] = ("pipeline_name", "stopped_at")

    def __init__(self, *, stopped_at: str | None, lookback_s: float = 3600, completion_event_wait_s: float = 60,
                 waiter_max_attempts: int = 720, **kwargs) -> None:
        super().__init__(waiter_max_attempts=waiter_max_attempts, **kwargs)
        self.stopped_at = stopped_at
        self.lookback_s = lookback_s
        self.completion_event_wait_s = completion_event_wait_s

    @records_failure
    def execute(self, context) -> dict:
        pipeline = self.pipeline
        since = (run_started_at(context) or datetime.now(UTC)) - timedelta(seconds=self.lookback_s)
        found = console_switchover(pipeline, since)
        context["ti"].xcom_push(key="deployment", value=found.deployment.identifier)
        self.log.info("Following %s (switchover started %s)", found.deployment.describe(),
                      found.started_at.isoformat())
        blue, green = deployment_clusters(pipeline.aws_conn_id, found.deployment)
        done = {"deployment": found.deployment.identifier, "since": since.isoformat(),
                "green_writer": writer_instance(green), "started_at": found.started_at.isoformat(),
                "clusters": sorted({blue["DBClusterIdentifier"], green["DBClusterIdentifier"]})}
        if found.deployment.status != "SWITCHOVER_IN_PROGRESS" or not self.wait_for_completion:
            return self._ended(found, done)
        return wait_for(self, context, _until_switchover_ends(self, found.deployment.identifier), "switchover_ended",
                        done)

    @records_failure
    def switchover_ended(self, context, event: dict, **done) -> dict:
        if event.get("status") != "success":
            raise BlueGreenStateError(event.get("message", f"switchover wait failed: {event}"))
        return self._ended(console_switchover(self.pipeline, datetime.fromisoformat(done["since"])), done)

    def _ended(self, found, done: dict) -> dict:
        require_completed(found.deployment)
        found = self._with_completion(found, datetime.fromisoformat(done["since"]))
        stopped = identifiers.iso_datetime(self.stopped_at, "stopped_at") if self.stopped_at else None
        damage = dms_read_green(found, stopped)
        if damage:
            self.log.warning("DMS may have read green from blue's coordinates: %s. Old blue is not drained from its "
                             "checkpoint; CDC restarts from green's coordinates, and the reconciliation names what "
                             "differs.", damage)
        return {**done, "status": found.deployment.status, "completed_at":
                found.completed_at.isoformat() if found.completed_at else None, "damage": damage}

    def _with_completion(self, found, since: datetime):
        """The completed switchover with its completion event, read again for up to ``completion_event_wait_s``
        (RDS's event history may lag the deployment's status; without the event, the stop cannot be shown to be
        in time)."""
        deadline = time.monotonic() + self.completion_event_wait_s
        while found.completed_at is None and time.monotonic() < deadline:
            time.sleep(self.delay(self.pipeline))
            found = console_switchover(self.pipeline, since)
        return found


class SwitchoverFailureBranchOperator(BaseBranchOperator, PipelineStepOperator):
    """After the switchover step, whatever its outcome: continue with ``resume_task_id`` (CDC back on blue) only
    when the switchover step failed AND RDS shows production still on blue; otherwise nothing. A step lost while
    the switchover went on (worker died) must not restart CDC from blue's coordinates: the run fails, and clearing
    the switchover step adopts what RDS did.

    :param deployment_identifier: the blue/green deployment.
    :param switchover_task_id: the switchover step of this run.
    :param resume_task_id: the step that restarts CDC on blue.
    """

    template_fields: Sequence[str] = ("pipeline_name", "deployment_identifier")

    def __init__(self, *, deployment_identifier: str, switchover_task_id: str, resume_task_id: str,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.deployment_identifier = deployment_identifier
        self.switchover_task_id = switchover_task_id
        self.resume_task_id = resume_task_id

    def choose_branch(self, context) -> list[str]:
        ti, dag_run = context["ti"], context["dag_run"]
        states = ti.get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id],
                                    task_ids=[self.switchover_task_id])
        if states.get(dag_run.run_id, states).get(self.switchover_task_id) != "failed":
            return []
        if not self.deployment_identifier:  # the switchover step failed before it knew which deployment
            self.log.error("No deployment to check: where production is, is for a person to say; CDC stays stopped")
            return []
        on_blue = production_still_on_blue(self.pipeline.aws_conn_id, self.deployment_identifier)
        return [self.resume_task_id] if on_blue else []


class BlueGreenCoordinatesOperator(WaitingStepOperator):
    """Where CDC resumes on the new writer after a switchover.

    Waits (bounded) for the RDS event "Binary log coordinates in green environment after switchover" of the
    old green writer, dated within the switchover: not before ``since``, not after the moment it is read plus
    ``max_clock_skew_s`` (a future-dated event is a skewed clock, a replayed or an injected event, and is ignored):
    :class:`~cdc_runbooks.triggers.rds.BlueGreenCoordinatesTrigger`, inline or deferred.
    The event's position is then cross-checked against the new writer's binlog
    (:func:`cdc_runbooks.blue_green.check_coordinates`): it must name the point where the writer's own writes begin
    (the end of what it replicated from blue); disagreement refuses before CDC restarts. RDS events are best
    effort: if none has appeared by ``event_timeout_s``, the position read from the binlog is used and the run is
    marked as needing reconciliation attention.

    ``event_timeout_s`` is not ``waiter_max_attempts`` (unused here): running out of time is not a failure but the
    fallback, and it is a time (the runbook's ``coordinates_wait_s``), not a number of polls.

    :param deployment_identifier: the switched-over deployment (its Source now names old blue).
    :param green_writer: the old green writer's instance name *before* the switchover.
    :param since: ISO time the switchover started; older events are ignored.
    :param event_timeout_s: how long to wait for the event before falling back.
    :param waiter_delay: seconds between DescribeEvents calls (default: the pipeline's ``poll_interval_s``).
    :param max_clock_skew_s: how far past our clock an event may be dated.
    """

    template_fields: Sequence[str] = ("pipeline_name", "deployment_identifier", "green_writer", "since",
                                      "event_timeout_s")

    def __init__(self, *, deployment_identifier: str, green_writer: str, since: str, event_timeout_s: float = 300,
                 max_clock_skew_s: float = 60, **kwargs) -> None:
        super().__init__(**kwargs)
        self.deployment_identifier = deployment_identifier
        self.green_writer = green_writer
        self.since = since
        self.event_timeout_s = event_timeout_s
        self.max_clock_skew_s = max_clock_skew_s

    @records_failure
    def execute(self, context) -> dict:
        pipeline = self.pipeline
        since = identifiers.iso_datetime(self.since, "since")
        trigger = BlueGreenCoordinatesTrigger(
            aws_conn_id=pipeline.aws_conn_id, green_writer=self.green_writer, since=since.isoformat(),
            event_timeout_s=float(self.event_timeout_s), max_clock_skew_s=float(self.max_clock_skew_s),
            waiter_delay=self.delay(pipeline))
        return wait_for(self, context, trigger, "coordinates_waited")

    @records_failure
    def coordinates_waited(self, context, event: dict) -> dict:
        if event.get("status") == "error":
            raise CoordinatesDisagree(event["message"])
        pipeline = self.pipeline
        writer = describe_writer(pipeline.aws_conn_id, pipeline.source_cluster)
        green = writer_binlog(pipeline.source_conn_id, writer)
        if event.get("status") == "success":
            position = BinlogPosition.parse(event["position"])
            check_coordinates(position, green)
            self.log.info("Green's coordinates from the RDS event of %s: %s, confirmed by %s's binlog",
                          self.green_writer, position, writer.instance)
            return {"position": str(position), "source": "event", "needs_reconciliation_attention": False}
        return self._fallback(green)

    def _fallback(self, green) -> dict:
        position = own_writes_begin(green)
        if position is None:
            raise BlueGreenStateError(f"no coordinates event, and the new writer {green.writer}'s binlog holds "
                                      "nothing replicated from blue: the position cannot be derived")
        self.log.warning("No coordinates event from %s within %s s; FALLBACK position %s = end of the last event "
                         "%s replicated from blue (its own writes begin there). Reconcile after the restart.",
                         self.green_writer, self.event_timeout_s, position, green.writer)
        return {"position": str(position), "source": "fallback: end of the last transaction replicated from blue",
                "needs_reconciliation_attention": True}


class SwitchoverPreflightFailed(Refusal, RuntimeError):
    """A precondition of the switchover runbook does not hold; the message carries the whole report."""


class BlueGreenPreflightOperator(PipelineStepOperator):
    """Everything that must hold before a blue/green switchover under CDC; changes nothing.

    A deployment that does not switch the pipeline's production cluster is refused first, before anything
    connects to its clusters. Checks: the deployment is AVAILABLE; green's replica lag (``SHOW REPLICA STATUS``
    on green's writer) is at most ``max_green_lag_s``; binlog readiness on blue and on green, with binlog
    retention covering ``window_hours``; the DMS task is running; the reconciliation the resume DAG runs after
    the switchover can verify every pipeline table with green's writer as the source; the resume DAG exists and is
    not paused (:func:`cdc_runbooks.resume_handoff.why_resume_cannot_run`). Returns the markdown
    report, the plan, and the names the later steps need (green's writer before the switchover); fails with
    the whole report if any check fails.

    :param deployment_identifier: the blue/green deployment (``bgd-...``).
    :param max_green_lag_s: largest acceptable replica lag of green.
    :param window_hours: how long the maintenance may keep CDC stopped; binlog retention must cover it.
    :param switchover_timeout: the SwitchoverTimeout the plan will use.
    """

    template_fields: Sequence[str] = ("pipeline_name", "deployment_identifier", "max_green_lag_s", "window_hours",
                                      "switchover_timeout")

    def __init__(self, *, deployment_identifier: str, max_green_lag_s: float = 5,
                 window_hours: int = 24, switchover_timeout: int = 300, **kwargs) -> None:
        super().__init__(**kwargs)
        self.deployment_identifier = deployment_identifier
        self.max_green_lag_s = max_green_lag_s
        self.window_hours = window_hours
        self.switchover_timeout = switchover_timeout

    @records_failure
    def execute(self, context) -> dict:
        from cdc_runbooks.aws.dms import task_state
        from cdc_runbooks.aws.readiness import check_binlog_readiness

        pipeline = self.pipeline
        deployment = deployment_state(pipeline.aws_conn_id, self.deployment_identifier)
        require_production_source(pipeline, deployment)
        blue, green = deployment_clusters(pipeline.aws_conn_id, deployment)
        green_writer = describe_writer(pipeline.aws_conn_id, green["DBClusterIdentifier"])
        lag = replica_lag_s(pipeline.source_conn_id, green_writer)
        unverifiable = _unverifiable_tables(pipeline, green["DBClusterIdentifier"])
        task = task_state(pipeline.aws_conn_id, pipeline.dms_task_arn)
        cannot_resume = why_resume_cannot_run(context["ti"], pipeline.name)
        retention = max(int(self.window_hours), pipeline.binlog_retention_hours_min)
        readiness = [check_binlog_readiness(pipeline, c["DBClusterIdentifier"], role, retention)
                     for c, role in ((blue, "production (blue)"), (green, "green"))]
        checks = [
            ("deployment AVAILABLE", deployment.status == "AVAILABLE", deployment.describe()),
            ("green replica lag", lag is not None and lag <= float(self.max_green_lag_s),
             f"{lag} s (max {self.max_green_lag_s} s)" if lag is not None else "green is not replicating"),
            ("DMS task running", task.status == "running" and not task.last_failure_message, task.describe()),
            ("tables verifiable by the reconciliation", unverifiable is None,
             unverifiable or ", ".join(pipeline.tables)),
            ("CDC resume DAG can run", cannot_resume is None, cannot_resume or resume_dag_id(pipeline.name)),
            *((f"binlog readiness of {r.cluster} ({r.role}), retention >= {retention} h", r.passed,
               ", ".join(c.name for c in r.failures) or "all checks pass") for r in readiness),
        ]
        markdown = self._report(checks, readiness)
        self.log.info("%s", markdown)
        if not all(ok for _, ok, _ in checks):
            raise SwitchoverPreflightFailed(f"preflight failed; nothing was changed.\n\n{markdown}")
        plan = self._plan(pipeline, deployment, blue, green)
        return {"markdown": markdown, "plan": plan, "approval": self._approval(plan, checks, readiness),
                "blue_cluster": blue["DBClusterIdentifier"], "green_cluster": green["DBClusterIdentifier"],
                "green_writer": writer_instance(green), "blue_writer": writer_instance(blue), "green_lag_s": lag}

    @staticmethod
    def _report(checks: list[tuple[str, bool, str]], readiness) -> str:
        lines = ["### Switchover preflight", "", "| check | result | detail |", "|---|---|---|"]
        lines += [f"| {name} | {'pass' if ok else 'FAIL'} | {detail.replace('|', '/')} |"
                  for name, ok, detail in checks]
        return "\n".join([*lines, "", *(r.to_markdown() + "\n" for r in readiness)])

    @staticmethod
    def _approval(plan: str, checks: list[tuple[str, bool, str]], readiness) -> str:
        """What the person deciding reads first: the plan, then anything not passing, then the passing checks as
        one count and a compact table; the binlog readiness reports come last (details)."""
        failing = [(name, detail) for name, ok, detail in checks if not ok]
        lines = [plan, ""]
        if failing:
            lines += [f"### Not passing ({len(failing)} of {len(checks)} checks)", "",
                      *(f"- **{name}**: {detail}" for name, detail in failing), ""]
        passed = len(checks) - len(failing)
        lines += [f"### Preflight: {passed} of {len(checks)} checks pass", "", "| check | detail |", "|---|---|",
                  *(f"| {name} | {detail.replace('|', '/')} |" for name, ok, detail in checks if ok), "",
                  "### Details: binlog readiness", "", *(r.to_markdown() + "\n" for r in readiness)]
        return "\n".join(lines)

    def _plan(self, pipeline: Pipeline, deployment: DeploymentState, blue: dict, green: dict) -> str:
        return "\n".join([
            f"### Plan: switch `{blue['DBClusterIdentifier']}` over to `{green['DBClusterIdentifier']}` "
            f"({deployment.name}, {deployment.identifier})", "",
            f"1. pause DMS task `{pipeline.dms_task_arn}` once drained; record its RecoveryCheckpoint on blue",
            f"2. SwitchoverBlueGreenDeployment(SwitchoverTimeout={self.switchover_timeout}); on rollback resume "
            "DMS on blue from the checkpoint and fail the run",
            "3. green's coordinates from the RDS event of green's writer (fallback: end of blue's last replicated "
            "transaction in green's binlog)",
            f"4. binlog readiness of the new production `{pipeline.source_cluster}`",
            "5. drain old blue from the checkpoint to its binlog end; restart CDC on the new writer from green's "
            "coordinates",
            f"6. checksum reconciliation of {', '.join(pipeline.tables)} (every row, by key): source = warehouse, "
            "drift 0",
        ])
