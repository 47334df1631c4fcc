"""cdc_resume_after_switchover: data platform's half of a blue/green upgrade, scheduled on the product
platform's switchover fact."""

from __future__ import annotations

from airflow.sdk import DAG, task

from cdc_runbooks.assets import SWITCHOVER_COMPLETED
from cdc_runbooks.dag_params import runbook_dag_args
from cdc_runbooks.operators.dms import DmsDrainOldBlueOperator, DmsRestartCdcOperator
from cdc_runbooks.operators.reconcile import ReconcileCountsOperator
from cdc_runbooks.operators.run_record import RecordRunOperator
from cdc_runbooks.runbook_docs import runbook_page

STEPS = ("read_switchover", "drain_old_blue", "restart_cdc", "reconcile", "summarize")
FACT = "ti.xcom_pull(task_ids='read_switchover')"

with DAG(**runbook_dag_args(
    "cdc_resume_after_switchover", "data-platform",
    doc_md=runbook_page("cdc_resume_after_switchover"),
    description="Resume DMS CDC on the new writer after a blue/green switchover, and prove nothing was lost",
    schedule=[SWITCHOVER_COMPLETED],
    tags=["cdc", "dms", "blue-green", "runbook"],
)):

    @task(inlets=[SWITCHOVER_COMPLETED])
    def read_switchover(*, inlet_events) -> dict:
        """The latest switchover fact the product platform published."""
        from cdc_runbooks.switchover_fact import validate_fact

        events = inlet_events[SWITCHOVER_COMPLETED]
        if not events:
            raise ValueError("no switchover has been published yet; run aurora_blue_green_switchover first")
        return validate_fact(events[-1].extra)

    drain = DmsDrainOldBlueOperator(
        task_id="drain_old_blue", pipeline_name="{{ " + FACT + "['pipeline'] }}",
        deployment_identifier="{{ " + FACT + "['deployment'] }}", checkpoint="{{ " + FACT + "['checkpoint'] }}")
    restart = DmsRestartCdcOperator(
        task_id="restart_cdc", pipeline_name="{{ " + FACT + "['pipeline'] }}", dry_run=False,
        cdc_start_position="{{ " + FACT + "['position'] }}")
    reconcile = ReconcileCountsOperator(task_id="reconcile", pipeline_name="{{ " + FACT + "['pipeline'] }}")

    @task
    def summarize(ti=None) -> dict:
        """Old and new positions, the CDC gap (DMS stopped -> running again), drift."""
        from cdc_runbooks.switchover_fact import summary

        return summary(ti.xcom_pull(task_ids="read_switchover"), ti.xcom_pull(task_ids="drain_old_blue"),
                       ti.xcom_pull(task_ids="restart_cdc"), ti.xcom_pull(task_ids="reconcile"))

    record = RecordRunOperator(task_id="record_run", pipeline_name="{{ " + FACT + "['pipeline'] }}", step_ids=STEPS)
    read_switchover() >> drain >> restart >> reconcile >> summarize() >> record
