"""aurora_blue_green_switchover: product platform's half of a blue/green upgrade under DMS CDC."""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, Param, TriggerRule, task

from cdc_runbooks.assets import SWITCHOVER_COMPLETED, switchover_completed
from cdc_runbooks.dag_params import (
    coordinates_wait_param,
    deployment_param,
    dry_run_param,
    one_run_per_pipeline,
    pipeline_param,
    runbook_dag_args,
)
from cdc_runbooks.operators.approval import RunbookApprovalOperator
from cdc_runbooks.operators.binlog_readiness import BinlogReadinessOperator
from cdc_runbooks.operators.blue_green import (
    BlueGreenCoordinatesOperator,
    BlueGreenPreflightOperator,
    BlueGreenSwitchoverOperator,
    SwitchoverFailureBranchOperator,
)
from cdc_runbooks.operators.dms import DmsDrainOldBlueOperator, DmsPauseTaskOperator, DmsRestartCdcOperator
from cdc_runbooks.operators.pipeline_lock import ClaimPipelineOperator
from cdc_runbooks.operators.resume_handoff import ConfirmCdcResumesOperator
from cdc_runbooks.operators.run_record import RecordRunOperator
from cdc_runbooks.resume_handoff import published_fact, resume_dag_id, resume_run_id
from cdc_runbooks.runbook_docs import runbook_page

STEPS = ("claim_pipeline", "preflight", "plan", "approve_switchover", "pause_dms_task", "switchover",
         "on_switchover_failure", "resume_on_blue", "drain_old_blue", "new_position", "verify_binlog_readiness",
         "hand_over_cdc", "publish_switchover", "confirm_cdc_resumes")
PIPELINE = "{{ params.pipeline }}"
DEPLOYMENT = "{{ params.deployment_id }}"

with DAG(**runbook_dag_args(
    "aurora_blue_green_switchover", "product-platform",
    doc_md=runbook_page("aurora_blue_green_switchover"),
    description="Blue/green switchover of a pipeline's Aurora cluster with DMS CDC paused around it",
    params={
        "pipeline": pipeline_param(),
        "deployment_id": deployment_param(),
        "switchover_timeout": Param(300, type="integer", minimum=30, maximum=3600, title="SwitchoverTimeout (s)",
                                    description="RDS SwitchoverTimeout in whole seconds, 30-3600; past it RDS "
                                                "rolls the switchover back"),
        "max_green_lag_s": Param(5, type="number", minimum=0, maximum=3600, title="Max green replica lag (s)",
                                 description="Largest replica lag of green accepted by the preflight, in seconds, "
                                             "0-3600"),
        "window_hours": Param(24, type="integer", minimum=1, maximum=2160, title="Maintenance window (h)",
                              description="How long CDC may stay stopped, in whole hours, 1-2160 (90 days); "
                                          "binlog retention must cover it"),
        "coordinates_wait_s": coordinates_wait_param(300),
        "pre_approved": Param(False, type="boolean", title="Pre-approved (rehearsals only)",
                              description="On: skip the human approval (rehearsals and tests). Off: ask a person"),
        "dry_run": dry_run_param(False),
    },
    tags=["cdc", "blue-green", "runbook"],
    user_defined_macros={"published_fact": published_fact},
    **one_run_per_pipeline(),
)):
    claim = ClaimPipelineOperator(task_id="claim_pipeline", pipeline_name=PIPELINE)
    preflight = BlueGreenPreflightOperator(
        task_id="preflight", pipeline_name=PIPELINE, deployment_identifier=DEPLOYMENT,
        max_green_lag_s="{{ params.max_green_lag_s }}", window_hours="{{ params.window_hours }}",
        switchover_timeout="{{ params.switchover_timeout }}")

    @task.branch
    def plan(params=None) -> list[str]:
        """Dry run: stop here. Pre-approved: straight to the pause. Otherwise: ask a person."""
        if params["dry_run"]:
            return []
        return ["pause_dms_task"] if params["pre_approved"] else ["approve_switchover"]

    approve = RunbookApprovalOperator(
        task_id="approve_switchover", subject="Switch {{ params.pipeline }} over ({{ params.deployment_id }})?",
        body="{{ ti.xcom_pull(task_ids='preflight')['approval'] }}",
        response_timeout=timedelta(hours=1))
    pause = DmsPauseTaskOperator(task_id="pause_dms_task", pipeline_name=PIPELINE, owner="data-platform",
                                 trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    switchover = BlueGreenSwitchoverOperator(task_id="switchover", pipeline_name=PIPELINE,
                                             deployment_identifier=DEPLOYMENT,
                                             switchover_timeout="{{ params.switchover_timeout }}")

    on_switchover_failure = SwitchoverFailureBranchOperator(
        task_id="on_switchover_failure", pipeline_name=PIPELINE, deployment_identifier=DEPLOYMENT,
        switchover_task_id="switchover", resume_task_id="resume_on_blue", trigger_rule=TriggerRule.ONE_FAILED)
    resume_on_blue = DmsRestartCdcOperator(
        task_id="resume_on_blue", pipeline_name=PIPELINE, dry_run=False, owner="data-platform",
        cdc_start_position="{{ ti.xcom_pull(task_ids='pause_dms_task')['recovery_checkpoint'] }}")
    # The longest of the three steps after the switchover: first to start when worker slots are short.
    drain = DmsDrainOldBlueOperator(
        task_id="drain_old_blue", pipeline_name=PIPELINE, deployment_identifier=DEPLOYMENT, owner="data-platform",
        checkpoint="{{ ti.xcom_pull(task_ids='pause_dms_task')['recovery_checkpoint'] }}",
        resume_dag_id=resume_dag_id(PIPELINE), resume_run_id=resume_run_id("{{ run_id }}"), priority_weight=10)
    new_position = BlueGreenCoordinatesOperator(
        task_id="new_position", pipeline_name=PIPELINE, deployment_identifier=DEPLOYMENT,
        green_writer="{{ ti.xcom_pull(task_ids='preflight')['green_writer'] }}",
        since="{{ ti.xcom_pull(task_ids='switchover')['started_at'] }}",
        event_timeout_s="{{ params.coordinates_wait_s }}")
    # After new_position whatever its outcome (a resume by hand after refused coordinates needs this check too);
    # skipped in a dry run, not run when the switchover failed.
    verify = BinlogReadinessOperator(task_id="verify_binlog_readiness", pipeline_name=PIPELINE,
                                     cluster="{{ ti.xcom_pull(task_ids='preflight')['blue_cluster'] }}",
                                     role="new production", trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)

    # After the drain, new_position, verify and the hand-over, none failed and one succeeded: a cleared run's
    # hand-over is skipped (its resume run exists) and the fact is still published; a dry run skips everything.
    @task(outlets=[SWITCHOVER_COMPLETED], trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def publish_switchover(*, outlet_events, ti=None, params=None, dag_run=None) -> dict:
        """The fact the data platform resumes CDC from (asset event extra), checked before it is published."""
        fact = published_fact(ti, params, dag_run.run_id)
        outlet_events[SWITCHOVER_COMPLETED].add(switchover_completed(params["pipeline"]), extra=fact)
        return fact

    # The same fact, computed by the hand-over itself: it need not wait for publish_switchover.
    hand_over = TriggerDagRunOperator(
        task_id="hand_over_cdc", owner="data-platform", trigger_dag_id=resume_dag_id(PIPELINE),
        trigger_run_id=resume_run_id("{{ run_id }}"), conf="{{ published_fact(ti, params, run_id) }}",
        skip_when_already_exists=True)
    confirm = ConfirmCdcResumesOperator(task_id="confirm_cdc_resumes", pipeline_name=PIPELINE, owner="data-platform",
                                        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    record = RecordRunOperator(task_id="record_run", pipeline_name=PIPELINE, step_ids=STEPS,
                               dry_run="{{ params.dry_run }}", releases_pipeline=True)
    branch = plan()
    claim >> preflight >> branch >> [approve, pause]
    published = publish_switchover()
    # The CDC gap is the time between the pause and the restart: each task started in it adds its start, and any
    # other task running then takes CPU from it. So the drain (the longest: its checks come before its first DMS
    # call) runs beside new_position then verify, which start one at a time; the publication waits until the
    # resume run has been triggered.
    after_switchover = [drain, new_position, verify]
    approve >> pause >> switchover >> after_switchover
    new_position >> verify
    after_switchover >> hand_over >> published >> confirm >> record
    after_switchover >> published
    hand_over >> confirm  # a cleared run's hand-over is skipped: publish and confirm all the same
    switchover >> on_switchover_failure >> resume_on_blue >> record
