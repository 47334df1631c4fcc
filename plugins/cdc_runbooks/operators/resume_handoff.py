"""The last step of a switchover run: prove that the data platform's resume run for this switchover exists and will
run (see :mod:`cdc_runbooks.resume_handoff`)."""

from __future__ import annotations

from collections.abc import Sequence

from cdc_runbooks.refusal import Refusal
from cdc_runbooks.resume_handoff import resume_dag_id, resume_run_id, why_resume_cannot_run
from cdc_runbooks.step import PipelineStepOperator, records_failure


class CdcNotResumed(Refusal, RuntimeError):
    """Production switched over, but nothing will restart CDC until a person acts; the message says what to do."""


class ConfirmCdcResumesOperator(PipelineStepOperator):
    """Fail the switchover run, loudly, unless the resume run it triggered exists and its DAG is not paused: DMS is
    stopped after a switchover until that run restarts it. Asks the Task SDK (``get_dagrun_state``, ``get_dag``).

    :param pipeline_name: pipeline in the pipelines configuration.
    """

    template_fields: Sequence[str] = ("pipeline_name",)

    @records_failure
    def execute(self, context) -> dict:
        ti = context["ti"]
        dag_id, run_id = resume_dag_id(self.pipeline_name), resume_run_id(context["run_id"])
        try:
            state = ti.get_dagrun_state(dag_id=dag_id, run_id=run_id)
        except Exception as error:
            raise CdcNotResumed(f"production switched over, but the resume run {run_id} of {dag_id} does not exist "
                                f"({type(error).__name__}): DMS is STOPPED. Clear `hand_over_cdc` to create it, or "
                                f"trigger {dag_id} with this run's switchover fact as conf.") from None
        state = getattr(state, "value", state)  # a DagRunState in-process, a string over the Task Execution API
        reason = why_resume_cannot_run(ti, self.pipeline_name)
        if reason is not None:
            raise CdcNotResumed(f"production switched over and the resume run {run_id} exists ({state}), but "
                                f"{reason}: DMS is STOPPED until then; the queued run starts by itself once it can.")
        self.log.info("CDC resumes in %s run %s (%s)", dag_id, run_id, state)
        return {"resume_dag_id": dag_id, "resume_run_id": run_id, "state": state}
