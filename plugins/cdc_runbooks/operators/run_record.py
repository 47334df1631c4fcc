"""The last step of every runbook: record the run, notify, and fail the run if any step failed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from airflow.sdk import BaseOperator, TriggerRule

from cdc_runbooks.aws.records import publish_record, release_lock, write_record
from cdc_runbooks.pipelines import get_pipeline
from cdc_runbooks.refusal import Refusal, without_traceback
from cdc_runbooks.run_note import AIRFLOW_API_CONN_ID, set_run_note
from cdc_runbooks.run_record import RunRecord, StepRecord
from cdc_runbooks.step import FAILURE_KEY, run_started_at


class RunbookFailed(Refusal, RuntimeError):
    """A runbook step failed; the run must not end green."""


class RecordRunOperator(BaseOperator):
    """Write the run record (JSON to ``s3://<records_bucket>/runs/<dag_id>/<run_id>.json``, markdown to the log),
    publish a summary to the pipeline's SNS topic, and fail if any step failed.

    Runs whatever happened upstream (``trigger_rule=all_done``): a failed runbook still leaves its record.

    :param pipeline_name: the run's pipeline, or a list of them (each gets the record in its bucket and topic).
    :param step_ids: the runbook's steps, in order.
    :param dry_run: whether the run was a dry run (recorded as such).
    :param releases_pipeline: the runbook claimed its pipeline(s) with ``claim_pipeline``; release them now
        that the run is over (whatever its outcome).
    :param note_conn_id: the Airflow REST API connection the run's note (its short summary) is set through
        (``cdc_runbooks.run_note``); without it the summary is only logged.
    """

    template_fields: Sequence[str] = ("pipeline_name", "dry_run")

    def __init__(self, *, pipeline_name: str | list[str], step_ids: Sequence[str], dry_run: bool = False,
                 releases_pipeline: bool = False, note_conn_id: str = AIRFLOW_API_CONN_ID, **kwargs) -> None:
        super().__init__(trigger_rule=TriggerRule.ALL_DONE, **kwargs)
        self.pipeline_name = pipeline_name
        self.step_ids = list(step_ids)
        self.dry_run = dry_run
        self.releases_pipeline = releases_pipeline
        self.note_conn_id = note_conn_id

    def execute(self, context) -> dict:
        names = [self.pipeline_name] if isinstance(self.pipeline_name, str) else list(self.pipeline_name)
        pipelines = [get_pipeline(name) for name in names]
        record = self._record(context, ", ".join(names))
        self.log.info("Summary:\n%s", record.summary_markdown())  # first in the log, for a person
        self.log.info("Run record:\n%s", record.to_markdown())
        try:
            for bucket, conn_id in {(p.records_bucket, p.aws_conn_id) for p in pipelines if p.records_bucket}:
                write_record(record, bucket, conn_id)
                self.log.info("Run record written to s3://%s/%s", bucket, record.key)
            for topic, conn_id in {(p.sns_topic_arn, p.aws_conn_id) for p in pipelines if p.sns_topic_arn}:
                publish_record(record, topic, conn_id)
        finally:  # the run is over whatever the record or the message did: never leave the pipeline held
            if self.releases_pipeline:
                self._release(pipelines, record)
        self._set_note(record)  # last: the record, the message and the lock never wait on it
        if record.failed_steps:
            failed = RunbookFailed(f"{record.dag_id} failed at {', '.join(record.failed_steps)}; the run record "
                                   f"lists what was done. See the runbook page for recovery.")
            self.log.error("%s", failed)  # the summary above says why; no traceback (a refusal)
            raise without_traceback(failed)
        return record.to_dict()

    def _release(self, pipelines, record: RunRecord) -> None:
        for pipeline in pipelines:
            if release_lock(pipeline, record.dag_id, record.run_id):
                self.log.info("Released %s for other runs of %s", pipeline.name, record.dag_id)

    def _set_note(self, record: RunRecord) -> None:
        """The summary as the run's note; a note that cannot be set is a warning, never the run's outcome."""
        try:
            if set_run_note(record.dag_id, record.run_id, record.summary_markdown(), self.note_conn_id):
                self.log.info("The summary is the run's note (the run's page in the UI)")
            else:
                self.log.info("No connection %r: the run has no note; the summary above is the one to read",
                              self.note_conn_id)
        except Exception as error:  # whatever it is (RunNoteError or a bug): the run's outcome is its steps'
            self.log.warning("The run's note was not set (the summary above stands): %r", error)

    def _record(self, context, pipeline: str) -> RunRecord:
        ti, dag_run = context["ti"], context["dag_run"]
        states = ti.get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id], task_ids=self.step_ids)
        states = states.get(dag_run.run_id, states)
        results = self._pull(ti, None)
        failures = self._pull(ti, FAILURE_KEY)
        steps = [StepRecord(task_id, states.get(task_id), results.get(task_id), failures.get(task_id))
                 for task_id in self.step_ids]
        return RunRecord(dag_id=dag_run.dag_id, run_id=dag_run.run_id, pipeline=pipeline,
                         started_at=run_started_at(context), finished_at=datetime.now(UTC), dry_run=bool(self.dry_run),
                         steps=steps)

    def _pull(self, ti, key: str | None) -> dict:
        """{step: XCom value} of the steps (return values when key is None)."""
        values = ti.xcom_pull(task_ids=self.step_ids, key=key) if key else ti.xcom_pull(task_ids=self.step_ids)
        return dict(zip(self.step_ids, values if isinstance(values, list) else [values], strict=False))
