"""cdc_binlog_guard: daily binlog readiness of every pipeline's production and in-flight green clusters."""

from __future__ import annotations

from airflow.sdk import DAG, Param, task

from cdc_runbooks.dag_params import runbook_dag_args
from cdc_runbooks.operators.binlog_readiness import BinlogGuardOperator
from cdc_runbooks.operators.run_record import RecordRunOperator
from cdc_runbooks.pipelines import load_pipelines
from cdc_runbooks.runbook_docs import runbook_page

STEPS = ("find_clusters", "check_binlog_readiness")
PIPELINES = sorted(load_pipelines())

with DAG(**runbook_dag_args(
    "cdc_binlog_guard", "data-platform",
    doc_md=runbook_page("cdc_binlog_guard"),
    description="Are the binlog settings DMS CDC needs in place on production and on every green cluster?",
    schedule="@daily",
    params={"pipelines": Param(PIPELINES, type="array", items={"enum": PIPELINES}, minItems=1, uniqueItems=True,
                               title="Pipelines", description="Pipelines to check (scheduled runs: all)")},
    tags=["cdc", "binlog", "guard"],
)):

    @task
    def find_clusters(params=None) -> list[dict]:
        """Production and in-flight green clusters of the selected pipelines."""
        from cdc_runbooks.aws.readiness import guard_targets

        return guard_targets(params["pipelines"])

    checks = BinlogGuardOperator(task_id="check_binlog_readiness",
                                 targets="{{ ti.xcom_pull(task_ids='find_clusters') }}")
    record = RecordRunOperator(task_id="record_run", pipeline_name="{{ params.pipelines }}", step_ids=STEPS)
    find_clusters() >> checks >> record
