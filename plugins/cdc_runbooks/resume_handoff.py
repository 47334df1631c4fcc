"""How CDC passes from the product platform's switchover run to the data platform's resume run.

Airflow creates no run for a paused DAG from an asset event, and does not queue the event for later: unpausing
afterwards does nothing (https://github.com/apache/airflow/issues/49857). A resume that only an asset event starts
can therefore leave DMS stopped after a green switchover until somebody notices. So the switchover run triggers
the pipeline's resume DAG itself, with a run id derived from its own (:func:`resume_run_id`) and the switchover
fact as the run's conf: the run exists as soon as production has moved, whatever the DAG's pause state (a paused
DAG's run waits, queued, and starts when it is unpaused), and a retried or cleared trigger finds it instead of
starting a second. Resume DAGs are created unpaused; the switchover's preflight refuses while the resume DAG cannot
run, and the switchover run fails loudly if it cannot run when CDC is handed over.

Pure apart from the task instance it is given (the Task SDK's ``RuntimeTaskInstance``: supported Airflow 3.3 calls,
no metadata database access).
"""

from __future__ import annotations

RESUME_RUNBOOK = "cdc_resume_after_switchover"


def resume_dag_id(pipeline: str) -> str:
    """The data platform's resume DAG of ``pipeline`` (one per pipeline)."""
    return f"{RESUME_RUNBOOK}.{pipeline}"


def resume_run_id(switchover_run_id: str) -> str:
    """The id of the resume run a switchover run hands CDC to: one per switchover run, found again on a retry."""
    return f"switchover__{switchover_run_id}"


def why_resume_cannot_run(ti, pipeline: str) -> str | None:
    """Why ``pipeline``'s resume DAG would not run now — not parsed (an import error) or paused — with the fix;
    None when it would. ``ti`` is the running task instance (``RuntimeTaskInstance.get_dag``)."""
    dag_id = resume_dag_id(pipeline)
    try:
        dag = ti.get_dag(dag_id)
    except Exception as error:
        return (f"the resume DAG {dag_id} is not known to Airflow ({type(error).__name__}): fix its import error "
                "(Browse > DAG import errors) before switching over")
    if dag.is_paused:
        return (f"the resume DAG {dag_id} is paused, so nothing would restart CDC after the switchover: unpause it "
                f"(the toggle in the UI, or `airflow dags unpause {dag_id}`)")
    return None


def published_fact(ti, params: dict, run_id: str) -> dict:
    """The switchover fact of a product run, from its ``pause_dms_task``, ``drain_old_blue`` and ``new_position``
    results, validated: the asset event's extra (``publish_switchover``) and the resume run's conf
    (``hand_over_cdc``), computed by each (both DAG macros and tasks call it) so that the hand-over need not wait
    for the publication."""
    from cdc_runbooks.switchover_fact import SwitchoverFact

    return SwitchoverFact.from_steps(
        pipeline=params["pipeline"], deployment=params["deployment_id"], product_run_id=run_id,
        paused=ti.xcom_pull(task_ids="pause_dms_task"), drained=ti.xcom_pull(task_ids="drain_old_blue"),
        position=ti.xcom_pull(task_ids="new_position")).to_extra()


def resume_fact(conf: dict | None, inlet_events, *, pipeline: str, asset) -> dict:
    """The switchover fact a resume run of ``pipeline`` acts on, validated: its conf (the run the switchover
    triggered), else — a run triggered by hand without one — the latest fact published on ``asset`` (read from
    ``inlet_events``, so the task must list the asset in its inlets). Every step that acts on the fact calls this
    from its templates, so none waits for another task to read it."""
    from cdc_runbooks.switchover_fact import SwitchoverFact

    if conf:
        return SwitchoverFact.from_extra(conf, pipeline).to_extra()
    events = inlet_events[asset]
    if not events:
        raise ValueError("no switchover has been published yet; run aurora_blue_green_switchover first")
    return SwitchoverFact.from_extra(events[-1].extra, pipeline).to_extra()

