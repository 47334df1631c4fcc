"""``dag.test()`` as the rehearsals use it (``make demo``, the DAG tests): resuming a deferred step as the triggerer
does."""

from __future__ import annotations


def dag_test_keeps_defer_kwargs() -> None:
    """dag.test() of Airflow 3.3.2 resumes a deferred task with the trigger's event only, dropping the kwargs it
    passed to defer(), which the triggerer keeps (fixed upstream: https://github.com/apache/airflow/pull/69942).
    Until that ships, dag.test() here resumes as the triggerer does: the deferral's kwargs plus ``event``."""
    from airflow.sdk.definitions import dag as dag_module
    from airflow.sdk.execution_time import supervisor
    from airflow.sdk.execution_time.comms import DeferTask
    from airflow.sdk.serde import deserialize, serialize

    if getattr(dag_module, "_keeps_defer_kwargs", False):
        return
    deferrals: dict = {}
    run_task_in_process, run_inline_trigger = supervisor.run_task_in_process, dag_module._run_inline_trigger

    def run_task(*, ti, task):
        result = run_task_in_process(ti=ti, task=task)
        if isinstance(result.msg, DeferTask):
            deferrals[ti.id] = result.msg
        return result

    def run_trigger(trigger, task_sdk_ti):
        event, deferral = run_inline_trigger(trigger, task_sdk_ti), deferrals.pop(task_sdk_ti.id, None)
        if event is None or deferral is None:
            return event
        deferral.next_kwargs = serialize({**(deserialize(deferral.next_kwargs) or {}), "event": event.payload})
        return None  # dag.test() then resumes with the deferral's next_kwargs

    supervisor.run_task_in_process, dag_module._run_inline_trigger = run_task, run_trigger
    dag_module._keeps_defer_kwargs = True
