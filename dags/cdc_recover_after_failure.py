"""cdc_recover_after_failure.<pipeline>: the data platform's answer to an Aurora failover or a failed DMS task, one
DAG per pipeline, started by the event itself (RDS-EVENT-0071 or DMS-EVENT-0078 -> EventBridge -> SQS -> the
pipeline's asset of that kind) or by hand; created unpaused, as nobody is awake to unpause it."""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.amazon.aws.notifications.sns import SnsNotifier
from airflow.sdk import DAG, TriggerRule, task

from cdc_runbooks.assets import cdc_event
from cdc_runbooks.cdc_event import EventKind
from cdc_runbooks.dag_params import runbook_dag_args, settle_param
from cdc_runbooks.failover_recovery import restart_question
from cdc_runbooks.operators.approval import RunbookApprovalOperator
from cdc_runbooks.operators.cdc_events import ClaimEventsOperator
from cdc_runbooks.operators.dms import DmsRestartCdcOperator
from cdc_runbooks.operators.failover_recovery import AssessFailoverOperator
from cdc_runbooks.operators.pipeline_lock import ClaimPipelineOperator
from cdc_runbooks.operators.reconcile import ReconcileOperator
from cdc_runbooks.operators.run_record import RecordRunOperator
from cdc_runbooks.pipelines import load_pipelines
from cdc_runbooks.runbook_docs import runbook_page

RUNBOOK = "cdc_recover_after_failure"
STEPS = ("claim_events", "claim_pipeline", "assess", "choose_recovery", "approve_restart", "restart_cdc",
         "reconcile")
KINDS = (EventKind.FAILOVER, EventKind.TASK_FAILED)
PLAN = "{{{{ ti.xcom_pull(task_ids='assess')['{}'] }}}}"
QUESTION = "{{ restart_question(ti.xcom_pull(task_ids='assess')) }}"

pipelines = load_pipelines()
for name, pipeline in sorted(pipelines.items()):
    failover, task_failed = (cdc_event(pipeline, kind, list(pipelines.values())) for kind in KINDS)
    with DAG(**runbook_dag_args(
        f"{RUNBOOK}.{name}", "data-platform",
        schedule=failover | task_failed,
        doc_md=runbook_page(RUNBOOK),
        description=f"After an Aurora failover of {name}'s cluster or a failure of its DMS task: verify CDC, or "
                    "resume it from a checked position, and prove nothing was lost",
        is_paused_upon_creation=False,
        params={"settle_s": settle_param()},
        user_defined_macros={"restart_question": restart_question},
        tags=["cdc", "dms", "failover", "runbook", "event-driven", name],
    )):
        claim_events = ClaimEventsOperator(task_id="claim_events", pipeline_name=name, kinds=[k.value for k in KINDS])
        claim = ClaimPipelineOperator(task_id="claim_pipeline", pipeline_name=name)
        assess = AssessFailoverOperator(task_id="assess", pipeline_name=name)

        @task.branch
        def choose_recovery(ti=None) -> str | None:
            """restart_cdc (on its own), approve_restart (a failed task: a person decides), reconcile (verify
            only), or nothing (the failed task runs again)."""
            from cdc_runbooks.failover_recovery import next_step

            step, why = next_step(ti.xcom_pull(task_ids="assess"), ti.xcom_pull(task_ids="claim_events"))
            print(f"{step or 'nothing to do'}: {why}")
            return step

        # Nobody triggered this run: the on-call topic says a decision waits, and where.
        asked = [SnsNotifier(aws_conn_id=pipeline.aws_conn_id, target_arn=pipeline.sns_topic_arn,
                             subject=f"[decision needed] {name}: restart its failed DMS task?",
                             message=QUESTION + "\n\nAnswer in Airflow: Required Actions, run {{ run_id }} of "
                                                "{{ dag.dag_id }} ({{ ti.log_url }}).")] if pipeline.sns_topic_arn \
            else []
        approve = RunbookApprovalOperator(
            task_id="approve_restart", subject=f"Restart {name}'s failed DMS task from {PLAN.format('position')}?",
            body=QUESTION, response_timeout=timedelta(hours=2), notifiers=asked)
        restart = DmsRestartCdcOperator(task_id="restart_cdc", pipeline_name=name, dry_run=False,
                                        cdc_start_position=PLAN.format("position"),
                                        planned_status=PLAN.format("task_status"),
                                        planned_checkpoint=PLAN.format("checkpoint"),
                                        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
        reconcile = ReconcileOperator(task_id="reconcile", pipeline_name=name, mode="checksum",
                                      settle_s="{{ params.settle_s }}",
                                      trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
        record = RecordRunOperator(task_id="record_run", pipeline_name=name, step_ids=STEPS, releases_pipeline=True)
        chosen = choose_recovery()
        claim_events >> claim >> assess >> chosen >> [approve, restart, reconcile]
        approve >> restart >> reconcile >> record
