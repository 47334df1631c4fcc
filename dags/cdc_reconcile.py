"""cdc_reconcile: hourly proof that every pipeline's warehouse tables equal the source, and on-demand drift
localisation to keys."""

from __future__ import annotations

from airflow.sdk import DAG, Param

from cdc_runbooks.dag_params import runbook_dag_args, settle_param
from cdc_runbooks.identifiers import TABLE_PATTERN
from cdc_runbooks.operators.reconcile import ReconcileOperator
from cdc_runbooks.operators.run_record import RecordRunOperator
from cdc_runbooks.pipelines import load_pipelines
from cdc_runbooks.runbook_docs import runbook_page

STEPS = ("reconcile",)
PIPELINES = sorted(load_pipelines())
SELECTED = "{{ " + repr(PIPELINES) + " if params.pipeline == 'all' else params.pipeline }}"

with DAG(**runbook_dag_args(
    "cdc_reconcile", "data-platform",
    doc_md=runbook_page("cdc_reconcile"),
    description="Source = warehouse under live CDC, per table; drift localised to keys",
    schedule="@hourly",
    params={
        "pipeline": Param("all", enum=["all", *PIPELINES], title="Pipeline",
                          description="One pipeline of config/pipelines.yaml, or all (scheduled runs: all)"),
        "tables": Param(None, type=["null", "array"],
                        items={"type": "string", "pattern": TABLE_PATTERN},
                        uniqueItems=True, title="Tables",
                        description="Only these tables of the pipeline (names of letters, digits and _, at most "
                                    "64 characters, e.g. orders); empty = every configured table"),
        "mode": Param("count", enum=["count", "checksum"], title="Mode",
                      description="count: row counts (keys named if they differ); checksum: every row compared"),
        "settle_s": settle_param(),
    },
    tags=["cdc", "reconcile", "runbook"],
)):
    reconcile = ReconcileOperator(task_id="reconcile", pipeline_name=SELECTED, tables="{{ params.tables }}",
                                  mode="{{ params.mode }}", settle_s="{{ params.settle_s }}")
    record = RecordRunOperator(task_id="record_run", pipeline_name=SELECTED, step_ids=STEPS)
    reconcile >> record
