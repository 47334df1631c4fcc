"""cdc_recover_after_failover.<pipeline>: the data platform's answer to an Aurora failover, one DAG per pipeline,
started by the failover event itself (RDS-EVENT-0071 -> EventBridge -> SQS -> the pipeline's failover asset) or
by hand; created unpaused, as nobody is awake to unpause it."""

from __future__ import annotations

from airflow.sdk import DAG, TriggerRule, task

from cdc_runbooks.assets import cdc_event
from cdc_runbooks.cdc_event import EventKind
from cdc_runbooks.dag_params import runbook_dag_args, settle_param
from cdc_runbooks.operators.cdc_events import ClaimEventsOperator
from cdc_runbooks.operators.dms import DmsRestartCdcOperator
from cdc_runbooks.operators.failover_recovery import AssessFailoverOperator
from cdc_runbooks.operators.pipeline_lock import ClaimPipelineOperator
from cdc_runbooks.operators.reconcile import ReconcileOperator
from cdc_runbooks.operators.run_record import RecordRunOperator
from cdc_runbooks.pipelines import load_pipelines
from cdc_runbooks.runbook_docs import runbook_page

RUNBOOK = "cdc_recover_after_failover"
STEPS = ("claim_events", "claim_pipeline", "assess", "choose_recovery", "restart_cdc", "reconcile")
PLAN = "{{ ti.xcom_pull(task_ids='assess')['position'] }}"

pipelines = load_pipelines()
for name, pipeline in sorted(pipelines.items()):
    failover = cdc_event(pipeline, EventKind.FAILOVER, list(pipelines.values()))
    with DAG(**runbook_dag_args(
        f"{RUNBOOK}.{name}", "data-platform",
        schedule=[failover],
        doc_md=runbook_page(RUNBOOK),
        description=f"After an Aurora failover of {name}'s cluster: verify CDC, or resume it from a checked "
                    "position, and prove nothing was lost",
        is_paused_upon_creation=False,
        params={"settle_s": settle_param()},
        tags=["cdc", "dms", "failover", "runbook", "event-driven", name],
    )):
        claim_events = ClaimEventsOperator(task_id="claim_events", pipeline_name=name, kind=EventKind.FAILOVER.value,
                                           asset_name=failover.name)
        claim = ClaimPipelineOperator(task_id="claim_pipeline", pipeline_name=name)
        assess = AssessFailoverOperator(task_id="assess", pipeline_name=name)

        @task.branch
        def choose_recovery(ti=None) -> str:
            """restart_cdc when the plan restarts CDC, else straight to reconcile (verify only)."""
            from cdc_runbooks.failover_recovery import chosen_step

            return chosen_step(ti.xcom_pull(task_ids="assess"))

        restart = DmsRestartCdcOperator(task_id="restart_cdc", pipeline_name=name, dry_run=False,
                                        cdc_start_position=PLAN)
        reconcile = ReconcileOperator(task_id="reconcile", pipeline_name=name, mode="checksum",
                                      settle_s="{{ params.settle_s }}",
                                      trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
        record = RecordRunOperator(task_id="record_run", pipeline_name=name, step_ids=STEPS, releases_pipeline=True)
        chosen = choose_recovery()
        claim_events >> claim >> assess >> chosen >> [restart, reconcile]
        restart >> reconcile >> record
