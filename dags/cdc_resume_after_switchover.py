"""cdc_resume_after_switchover.<pipeline>: data platform's half of a blue/green upgrade, one DAG per pipeline
(concurrent switchovers of two pipelines resume independently), triggered by the switchover run with its fact as
conf (see cdc_runbooks.resume_handoff); created unpaused."""

from __future__ import annotations

from functools import partial

from airflow.sdk import DAG, TriggerRule, task

from cdc_runbooks.assets import switchover_completed
from cdc_runbooks.dag_params import runbook_dag_args
from cdc_runbooks.operators.dms import DmsRestartCdcOperator
from cdc_runbooks.operators.reconcile import ReconcileOperator
from cdc_runbooks.operators.run_record import RecordRunOperator
from cdc_runbooks.pipelines import load_pipelines
from cdc_runbooks.resume_handoff import RESUME_RUNBOOK, resume_dag_id, resume_fact
from cdc_runbooks.runbook_docs import runbook_page

STEPS = ("restart_cdc", "read_switchover", "reconcile", "summarize")
FACT = "{{{{ switchover_fact(dag_run.conf, inlet_events)['{}'] }}}}"

for pipeline in sorted(load_pipelines()):
    fact_asset = switchover_completed(pipeline)
    with DAG(**runbook_dag_args(
        resume_dag_id(pipeline), "data-platform",
        doc_md=runbook_page(RESUME_RUNBOOK),
        description=f"Resume DMS CDC of {pipeline} on the new writer after a blue/green switchover, and prove "
                    "nothing was lost",
        is_paused_upon_creation=False,
        user_defined_macros={"switchover_fact": partial(resume_fact, pipeline=pipeline, asset=fact_asset)},
        tags=["cdc", "dms", "blue-green", "runbook", pipeline],
    )):

        @task(inlets=[fact_asset], trigger_rule=TriggerRule.ALL_DONE)
        def read_switchover(*, inlet_events, dag_run=None, asset=fact_asset, pipeline=pipeline) -> dict:
            """The switchover fact this run acted on, for the record (the restart reads it itself)."""
            return resume_fact(dag_run.conf, inlet_events, pipeline=pipeline, asset=asset)

        # The restart renders the fact itself (FACT), so that while CDC is stopped no other task starts;
        # read_switchover records it once the restart is over, whatever its outcome.
        restart = DmsRestartCdcOperator(task_id="restart_cdc", pipeline_name=pipeline, dry_run=False,
                                        inlets=[fact_asset], cdc_start_position=FACT.format("position"),
                                        drained_to=FACT.format("old_blue_end"))
        reconcile = ReconcileOperator(task_id="reconcile", pipeline_name=pipeline, mode="checksum")

        @task
        def summarize(ti=None) -> dict:
            """Old and new positions, the CDC gap (DMS stopped -> running again), drift."""
            from cdc_runbooks.switchover_fact import SwitchoverFact

            fact = SwitchoverFact(**ti.xcom_pull(task_ids="read_switchover"))
            return fact.summary(ti.xcom_pull(task_ids="restart_cdc"), ti.xcom_pull(task_ids="reconcile"))

        record = RecordRunOperator(task_id="record_run", pipeline_name=pipeline, step_ids=STEPS)
        fact = read_switchover()
        restart >> [fact, reconcile]
        [fact, reconcile] >> summarize() >> record
