"""cdc_table_maintenance: a product team's change to replicated tables (DDL, a rebuild, a truncate and reload, a
backfill) with CDC kept whole: what DMS will carry, the change, then the warehouse tables that no longer match
re-created and re-copied as of the DMS checkpoint, and proven equal."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, Param, TriggerRule, task

from cdc_runbooks.dag_params import dry_run_param, one_run_per_pipeline, pipeline_param, runbook_dag_args, settle_param
from cdc_runbooks.identifiers import TABLE_PATTERN
from cdc_runbooks.operators.approval import RunbookApprovalOperator
from cdc_runbooks.operators.dms import DmsPauseTaskOperator, DmsRestartCdcOperator
from cdc_runbooks.operators.pipeline_lock import ClaimPipelineOperator
from cdc_runbooks.operators.reconcile import ReconcileOperator
from cdc_runbooks.operators.repair import RepairDriftOperator
from cdc_runbooks.operators.run_record import RecordRunOperator
from cdc_runbooks.operators.table_change import CompareSchemasOperator, PlanTableChangeOperator
from cdc_runbooks.runbook_docs import runbook_page
from cdc_runbooks.table_change import ChangeKind

STEPS = ("claim_pipeline", "plan_change", "approve_change", "confirm_change_done", "compare_schemas",
         "choose_reload", "pause_dms_task", "reload_tables", "restart_cdc", "reconcile")
TABLES = "{{ ti.xcom_pull(task_ids='plan_change')['tables'] }}"
CHECKPOINT = "{{ ti.xcom_pull(task_ids='pause_dms_task')['recovery_checkpoint'] }}"
DATA = "data-platform"  # owns the CDC steps; the product platform owns the change
CHANGE_ABANDONED = ("nothing is compared or reloaded, but the source may have been changed already: if it was, "
                    "trigger this runbook again (compare_schemas finds what DMS did not follow)")

with DAG(**runbook_dag_args(
    "cdc_table_maintenance", "product-platform",
    doc_md=runbook_page("cdc_table_maintenance"),
    description="A table change under CDC: what DMS carries, the change, the warehouse reloaded where it no longer "
                "matches, drift 0",
    params={
        "pipeline": pipeline_param(),
        "tables": Param([], type="array", minItems=1, items={"type": "string", "pattern": TABLE_PATTERN},
                        uniqueItems=True, title="Tables",
                        description="The replicated tables the change touches (e.g. orders)"),
        "change": Param(ChangeKind.ADD_COLUMN.value, enum=[k.value for k in ChangeKind], title="Kind of change",
                        description="add_column, drop_column, rename_column, widen_varchar (a longer VARCHAR), "
                                    "change_type (any other type change), rebuild (an online schema change tool's "
                                    "copy and RENAME swap), truncate (and reload), backfill (bulk DML)"),
        "settle_s": settle_param(),
        "dry_run": dry_run_param(True),
    },
    tags=["cdc", "dms", "maintenance", "runbook"],
    **one_run_per_pipeline(),
)):
    claim = ClaimPipelineOperator(task_id="claim_pipeline", pipeline_name="{{ params.pipeline }}")
    plan = PlanTableChangeOperator(task_id="plan_change", pipeline_name="{{ params.pipeline }}",
                                   tables="{{ params.tables }}", change="{{ params.change }}",
                                   dry_run="{{ params.dry_run }}")
    approve = RunbookApprovalOperator(
        task_id="approve_change", subject="Go ahead with the {{ params.change }} of {{ params.tables }}?",
        body="{{ ti.xcom_pull(task_ids='plan_change')['markdown'] }}", response_timeout=timedelta(hours=2))
    done = RunbookApprovalOperator(
        task_id="confirm_change_done", subject="Is the {{ params.change }} of {{ params.tables }} finished?",
        body="Product platform: make the change on the production cluster now. Approve once it has finished on the "
             "writer (every statement committed); Reject to abandon (nothing is compared or reloaded).",
        rejected_means=CHANGE_ABANDONED, response_timeout=timedelta(hours=8))
    compare = CompareSchemasOperator(task_id="compare_schemas", pipeline_name="{{ params.pipeline }}", tables=TABLES,
                                     owner=DATA,
                                     reload_all="{{ ti.xcom_pull(task_ids='plan_change')['change']['reload'] }}",
                                     settle_s="{{ params.settle_s }}")

    @task.branch
    def choose_reload(ti=None) -> str:
        """pause_dms_task when a table must be re-created and re-copied, else straight to reconcile."""
        return "pause_dms_task" if ti.xcom_pull(task_ids="compare_schemas")["reload"] else "reconcile"

    pause = DmsPauseTaskOperator(task_id="pause_dms_task", pipeline_name="{{ params.pipeline }}", owner=DATA)
    reload = RepairDriftOperator(task_id="reload_tables", pipeline_name="{{ params.pipeline }}", recreate=True,
                                 owner=DATA, plan="{{ ti.xcom_pull(task_ids='compare_schemas')['plan'] }}",
                                 checkpoint=CHECKPOINT)
    restart = DmsRestartCdcOperator(task_id="restart_cdc", pipeline_name="{{ params.pipeline }}", dry_run=False,
                                    cdc_start_position=CHECKPOINT, planned_status="stopped",
                                    planned_checkpoint=CHECKPOINT, trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS,
                                    owner=DATA)
    reconcile = ReconcileOperator(task_id="reconcile", pipeline_name="{{ params.pipeline }}", tables=TABLES,
                                  mode="checksum", settle_s="{{ params.settle_s }}",
                                  trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS, owner=DATA)
    record = RecordRunOperator(task_id="record_run", pipeline_name="{{ params.pipeline }}", step_ids=STEPS,
                               dry_run="{{ params.dry_run }}", releases_pipeline=True)
    chosen = choose_reload()
    claim >> plan >> approve >> done >> compare >> chosen >> [pause, reconcile]
    pause >> reload
    [pause, reload] >> restart
    [reload, restart] >> reconcile >> record
