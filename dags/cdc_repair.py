"""cdc_repair: repair the drift a reconcile finds — the differing rows, or whole tables — re-copied from the source as
they were at the DMS checkpoint, then proven gone."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, Param, TriggerRule

from cdc_runbooks.dag_params import (
    dry_run_param,
    one_run_per_pipeline,
    pipeline_param,
    runbook_dag_args,
    settle_param,
)
from cdc_runbooks.identifiers import TABLE_PATTERN, whole_string
from cdc_runbooks.operators.approval import RunbookApprovalOperator
from cdc_runbooks.operators.dms import DmsPauseTaskOperator, DmsRestartCdcOperator
from cdc_runbooks.operators.pipeline_lock import ClaimPipelineOperator
from cdc_runbooks.operators.reconcile import ReconcileOperator
from cdc_runbooks.operators.repair import PlanRepairOperator, RepairDriftOperator
from cdc_runbooks.operators.run_record import RecordRunOperator
from cdc_runbooks.runbook_docs import runbook_page

STEPS = ("claim_pipeline", "plan_repair", "approve_repair", "pause_dms_task", "repair_drift", "restart_cdc",
         "verify_repair")
PLAN = "{{ ti.xcom_pull(task_ids='plan_repair') }}"
CHECKPOINT = "{{ ti.xcom_pull(task_ids='pause_dms_task')['recovery_checkpoint'] }}"
RUN_ID_PATTERN = whole_string(r"[A-Za-z0-9_.:+-]+")  # an Airflow run id, e.g. scheduled__2026-12-03T06:00:00+00:00

with DAG(**runbook_dag_args(
    "cdc_repair", "data-platform",
    doc_md=runbook_page("cdc_repair"),
    description="Repair drift: re-copy differing rows (or tables) as of the DMS checkpoint, then prove drift 0",
    params={
        "pipeline": pipeline_param(),
        "tables": Param(None, type=["null", "array"], items={"type": "string", "pattern": TABLE_PATTERN},
                        uniqueItems=True, title="Tables",
                        description="Only these tables of the pipeline (e.g. orders, as a reconcile run named them); "
                                    "empty = every configured table"),
        "reconcile_run_id": Param(None, type=["null", "string"], maxLength=250, pattern=RUN_ID_PATTERN,
                                  title="cdc_reconcile run to repair",
                                  description="Instead of tables: the run id of a cdc_reconcile run (e.g. "
                                              "scheduled__2026-12-03T06:00:00+00:00); the tables it found drifting "
                                              "are repaired"),
        "max_rows": Param(1000, type="integer", minimum=1, maximum=100000, title="Most keys repaired row by row",
                          description="A table with more differing keys than this (1-100000) is re-copied whole"),
        "settle_s": settle_param(),
        "dry_run": dry_run_param(True),
    },
    tags=["cdc", "reconcile", "repair", "runbook"],
    **one_run_per_pipeline(),
)):
    claim = ClaimPipelineOperator(task_id="claim_pipeline", pipeline_name="{{ params.pipeline }}")
    plan = PlanRepairOperator(task_id="plan_repair", pipeline_name="{{ params.pipeline }}",
                              tables="{{ params.tables }}", reconcile_run_id="{{ params.reconcile_run_id }}",
                              max_rows="{{ params.max_rows }}", settle_s="{{ params.settle_s }}",
                              dry_run="{{ params.dry_run }}")
    approve = RunbookApprovalOperator(
        task_id="approve_repair", subject="Repair the drift of {{ params.pipeline }}?",
        body="{{ ti.xcom_pull(task_ids='plan_repair')['markdown'] }}", response_timeout=timedelta(hours=2))
    pause = DmsPauseTaskOperator(task_id="pause_dms_task", pipeline_name="{{ params.pipeline }}")
    repair = RepairDriftOperator(task_id="repair_drift", pipeline_name="{{ params.pipeline }}", plan=PLAN,
                                 checkpoint=CHECKPOINT)
    # CDC restarts from the checkpoint whether the repair wrote or not (a failed repair rolled back: the warehouse
    # is as it was at the checkpoint), never after a pause that did not stop the task.
    restart = DmsRestartCdcOperator(task_id="restart_cdc", pipeline_name="{{ params.pipeline }}", dry_run=False,
                                    cdc_start_position=CHECKPOINT, planned_status="stopped",
                                    planned_checkpoint=CHECKPOINT,
                                    trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
    verify = ReconcileOperator(task_id="verify_repair", pipeline_name="{{ params.pipeline }}",
                               tables="{{ ti.xcom_pull(task_ids='plan_repair')['tables'] | map(attribute='table') "
                                      "| list }}", mode="checksum", settle_s="{{ params.settle_s }}")
    record = RecordRunOperator(task_id="record_run", pipeline_name="{{ params.pipeline }}", step_ids=STEPS,
                               dry_run="{{ params.dry_run }}", releases_pipeline=True)
    claim >> plan >> approve >> pause >> repair
    [pause, repair] >> restart
    [repair, restart] >> verify >> record
