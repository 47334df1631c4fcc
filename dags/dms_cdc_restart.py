"""dms_cdc_restart: restart a pipeline's CDC-only DMS task from a checked binlog position, then prove the result."""

from __future__ import annotations

from airflow.sdk import DAG

from cdc_runbooks.dag_params import (
    dry_run_param,
    latency_params,
    one_run_per_pipeline,
    pipeline_param,
    position_param,
    runbook_dag_args,
    settle_param,
    start_time_param,
)
from cdc_runbooks.operators.dms import DmsRestartCdcOperator
from cdc_runbooks.operators.pipeline_lock import ClaimPipelineOperator
from cdc_runbooks.operators.reconcile import ReconcileOperator
from cdc_runbooks.operators.run_record import RecordRunOperator
from cdc_runbooks.runbook_docs import runbook_page

STEPS = ("claim_pipeline", "preflight", "restart_cdc", "verify_cdc")

with DAG(**runbook_dag_args(
    "dms_cdc_restart", "data-platform",
    doc_md=runbook_page("dms_cdc_restart"),
    description="Restart DMS CDC for a pipeline from a binlog position checked on the current writer",
    params={"pipeline": pipeline_param(), "cdc_start_position": position_param(),
            "cdc_start_time": start_time_param(), "dry_run": dry_run_param(True), **latency_params(),
            "settle_s": settle_param()},
    tags=["cdc", "dms", "on-call"],
    **one_run_per_pipeline(),
)):
    start = {"pipeline_name": "{{ params.pipeline }}", "cdc_start_position": "{{ params.cdc_start_position }}",
             "cdc_start_time": "{{ params.cdc_start_time }}"}
    claim = ClaimPipelineOperator(task_id="claim_pipeline", pipeline_name="{{ params.pipeline }}")
    preflight = DmsRestartCdcOperator(task_id="preflight", dry_run=True, **start)
    restart = DmsRestartCdcOperator(task_id="restart_cdc", dry_run="{{ params.dry_run }}",
                                    max_latency_s="{{ params.max_latency_s }}", sustain_s="{{ params.sustain_s }}",
                                    **start)
    verify = ReconcileOperator(task_id="verify_cdc", pipeline_name="{{ params.pipeline }}", mode="checksum",
                               settle_s="{{ params.settle_s }}", dry_run="{{ params.dry_run }}")
    record = RecordRunOperator(task_id="record_run", pipeline_name="{{ params.pipeline }}", step_ids=STEPS,
                               dry_run="{{ params.dry_run }}", releases_pipeline=True)
    claim >> preflight >> restart >> verify >> record
