"""dms_cdc_pause: stop a pipeline's DMS CDC task once drained and record its checkpoint."""

from __future__ import annotations

from airflow.sdk import DAG

from cdc_runbooks.dag_params import (
    dry_run_param,
    latency_params,
    one_run_per_pipeline,
    pipeline_param,
    runbook_dag_args,
)
from cdc_runbooks.operators.dms import DmsPauseTaskOperator
from cdc_runbooks.operators.pipeline_lock import ClaimPipelineOperator
from cdc_runbooks.operators.run_record import RecordRunOperator
from cdc_runbooks.runbook_docs import runbook_page

STEPS = ("claim_pipeline", "preflight", "pause_dms_task")

with DAG(**runbook_dag_args(
    "dms_cdc_pause", "data-platform",
    doc_md=runbook_page("dms_cdc_pause"),
    description="Pause DMS CDC for a pipeline: wait for drain, stop, record the RecoveryCheckpoint",
    params={"pipeline": pipeline_param(), "dry_run": dry_run_param(False), **latency_params()},
    tags=["cdc", "dms", "on-call"],
    **one_run_per_pipeline(),
)):
    latency = {"max_latency_s": "{{ params.max_latency_s }}", "sustain_s": "{{ params.sustain_s }}"}
    claim = ClaimPipelineOperator(task_id="claim_pipeline", pipeline_name="{{ params.pipeline }}")
    preflight = DmsPauseTaskOperator(task_id="preflight", pipeline_name="{{ params.pipeline }}", dry_run=True)
    pause = DmsPauseTaskOperator(task_id="pause_dms_task", pipeline_name="{{ params.pipeline }}",
                                 dry_run="{{ params.dry_run }}", **latency)
    record = RecordRunOperator(task_id="record_run", pipeline_name="{{ params.pipeline }}", step_ids=STEPS,
                               dry_run="{{ params.dry_run }}", releases_pipeline=True)
    claim >> preflight >> pause >> record
