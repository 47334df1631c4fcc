"""cdc_follow_console_switchover.<pipeline>: the data platform's answer to a blue/green switchover of the pipeline's
cluster started outside Airflow (the RDS console, the CLI) while DMS reads blue, one DAG per pipeline, started by
the event itself (RDS-EVENT-0259 -> EventBridge -> SQS -> the pipeline's switchover_started asset) or by hand;
created unpaused, as nobody is awake to unpause it."""

from __future__ import annotations

from airflow.sdk import DAG, Param, TriggerRule, task

from cdc_runbooks.assets import cdc_event
from cdc_runbooks.cdc_event import EventKind
from cdc_runbooks.dag_params import coordinates_wait_param, runbook_dag_args, settle_param
from cdc_runbooks.operators.binlog_readiness import BinlogReadinessOperator
from cdc_runbooks.operators.blue_green import (
    BlueGreenCoordinatesOperator,
    BlueGreenFollowSwitchoverOperator,
    ConsoleSwitchoverGateOperator,
    SwitchoverFailureBranchOperator,
)
from cdc_runbooks.operators.cdc_events import ClaimEventsOperator
from cdc_runbooks.operators.dms import DmsDrainOldBlueOperator, DmsPauseTaskOperator, DmsRestartCdcOperator
from cdc_runbooks.operators.pipeline_lock import ClaimPipelineOperator
from cdc_runbooks.operators.reconcile import ReconcileOperator
from cdc_runbooks.operators.run_record import RecordRunOperator
from cdc_runbooks.pipelines import load_pipelines
from cdc_runbooks.runbook_docs import runbook_page

RUNBOOK = "cdc_follow_console_switchover"
STEPS = ("claim_events", "stand_aside", "pause_dms_task", "claim_pipeline", "follow_switchover", "choose_resume",
         "drain_old_blue", "new_position", "verify_binlog_readiness", "restart_cdc", "reconcile",
         "on_switchover_failure", "resume_on_blue")
PAUSED = "{{{{ ti.xcom_pull(task_ids='pause_dms_task')['{}'] or '' }}}}"
FOLLOWED = "{{{{ ti.xcom_pull(task_ids='follow_switchover')['{}'] }}}}"

pipelines = load_pipelines()
for name, pipeline in sorted(pipelines.items()):
    with DAG(**runbook_dag_args(
        f"{RUNBOOK}.{name}", "data-platform",
        schedule=cdc_event(pipeline, EventKind.SWITCHOVER_STARTED, list(pipelines.values())),
        doc_md=runbook_page(RUNBOOK),
        description=f"A blue/green switchover of {name}'s cluster started outside Airflow: stop DMS at once, "
                    "resume CDC on green, and prove nothing was lost",
        is_paused_upon_creation=False,
        params={"settle_s": settle_param(), "coordinates_wait_s": coordinates_wait_param(60),
                "resume_stopped_task": Param(False, type="boolean", title="Resume a task stopped before the switchover",
                                             description="On: a DMS task stopped or failed before the switchover "
                                                         "began (paused on purpose, or failed for another reason) is "
                                                         "resumed on green too. Off: such a run refuses")},
        tags=["cdc", "dms", "blue-green", "runbook", "event-driven", name],
    )):
        claim_events = ClaimEventsOperator(task_id="claim_events", pipeline_name=name,
                                           kinds=[EventKind.SWITCHOVER_STARTED.value])
        # A switchover of ours pauses and resumes CDC around itself: this run gives way to it (and a run triggered by
        # hand with no switchover to follow changes nothing).
        stand_aside = ConsoleSwitchoverGateOperator(task_id="stand_aside", pipeline_name=name,
                                                    runbook="aurora_blue_green_switchover",
                                                    claimed="{{ ti.xcom_pull(task_ids='claim_events') }}")
        # Every second DMS runs once the switchover completes, it may read green from blue's coordinates: stop it
        # before anything else, not drained (the switchover fences writes, so there is nothing left to drain).
        # A task started since the switchover began was resumed by somebody: it is not stopped (refused).
        pause = DmsPauseTaskOperator(
            task_id="pause_dms_task", pipeline_name=name, drain=False, dry_run=False,
            resumed_after="{{ ti.xcom_pull(task_ids='stand_aside')['switchover_started_at'] or '' }}",
            resume_earlier_stop="{{ params.resume_stopped_task }}")
        claim = ClaimPipelineOperator(task_id="claim_pipeline", pipeline_name=name)
        follow = BlueGreenFollowSwitchoverOperator(task_id="follow_switchover", pipeline_name=name,
                                                   stopped_at=PAUSED.format("stopped_at"))

        @task.branch
        def choose_resume(ti=None) -> list[str]:
            """Drain old blue from the stop's checkpoint, unless DMS may have read green (the checkpoint is not old
            blue's then): CDC restarts from green's coordinates and the reconciliation names what differs."""
            damage = ti.xcom_pull(task_ids="follow_switchover")["damage"]
            print(f"damage: {damage}" if damage else "DMS stopped before the switchover completed")
            return ["new_position"] if damage else ["drain_old_blue", "new_position"]

        drain = DmsDrainOldBlueOperator(task_id="drain_old_blue", pipeline_name=name,
                                        deployment_identifier=FOLLOWED.format("deployment"),
                                        checkpoint=PAUSED.format("recovery_checkpoint"), priority_weight=10)
        new_position = BlueGreenCoordinatesOperator(
            task_id="new_position", pipeline_name=name, deployment_identifier=FOLLOWED.format("deployment"),
            green_writer=FOLLOWED.format("green_writer"), since=FOLLOWED.format("started_at"),
            event_timeout_s="{{ params.coordinates_wait_s }}")
        verify = BinlogReadinessOperator(task_id="verify_binlog_readiness", pipeline_name=name,
                                         cluster=pipeline.source_cluster, role="new production")
        restart = DmsRestartCdcOperator(
            task_id="restart_cdc", pipeline_name=name, dry_run=False,
            cdc_start_position="{{ ti.xcom_pull(task_ids='new_position')['position'] }}",
            drained_to="{{ (ti.xcom_pull(task_ids='drain_old_blue') or {}).get('drained_to') or '' }}",
            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
        reconcile = ReconcileOperator(task_id="reconcile", pipeline_name=name, mode="checksum",
                                      settle_s="{{ params.settle_s }}")
        on_switchover_failure = SwitchoverFailureBranchOperator(
            task_id="on_switchover_failure", pipeline_name=name,
            deployment_identifier="{{ ti.xcom_pull(task_ids='follow_switchover', key='deployment') or '' }}",
            switchover_task_id="follow_switchover", resume_task_id="resume_on_blue",
            trigger_rule=TriggerRule.ONE_FAILED)
        resume_on_blue = DmsRestartCdcOperator(task_id="resume_on_blue", pipeline_name=name, dry_run=False,
                                               cdc_start_position=PAUSED.format("recovery_checkpoint"))
        record = RecordRunOperator(task_id="record_run", pipeline_name=name, step_ids=STEPS, releases_pipeline=True)

        chosen = choose_resume()
        claim_events >> stand_aside >> pause >> claim >> follow >> [chosen, on_switchover_failure]
        chosen >> [drain, new_position]
        new_position >> verify
        [drain, new_position, verify] >> restart >> reconcile >> record
        on_switchover_failure >> resume_on_blue >> record
