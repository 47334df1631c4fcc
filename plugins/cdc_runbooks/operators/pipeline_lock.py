"""Claim a pipeline for one run of a runbook (``claim_pipeline``), released by ``record_run``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from cdc_runbooks.action import Action
from cdc_runbooks.aws.records import put_lock, records_bucket
from cdc_runbooks.pipeline_lock import LockHolder, check_holder
from cdc_runbooks.step import PipelineStepOperator, records_failure


class ClaimPipelineOperator(PipelineStepOperator):
    """Refuse to start unless this run holds the pipeline for its runbook: PutObject of the lock object with
    ``IfNoneMatch='*'`` (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html). Losing the
    race to another run fails at once with that run's id (a refusal); a retry of this run adopts its lock.

    :param pipeline_name: pipeline in the pipelines configuration.
    """

    template_fields: Sequence[str] = ("pipeline_name",)

    def __init__(self, **kwargs) -> None:
        super().__init__(retries=0, **kwargs)

    @records_failure
    def execute(self, context) -> dict:
        pipeline, dag_run = self.pipeline, context["dag_run"]
        bucket = records_bucket(pipeline)
        me = LockHolder(dag_run.dag_id, dag_run.run_id, pipeline.name, datetime.now(UTC).isoformat())
        holder = put_lock(pipeline, me)
        action = Action.ACT if holder is me else check_holder(holder, me, bucket)
        me = holder
        self.log.info("%s s3://%s/%s for %s run %s", "Claimed" if action is Action.ACT else "Already holding",
                      bucket, me.key, me.dag_id, me.run_id)
        return {"lock": f"s3://{bucket}/{me.key}", "claimed_at": me.claimed_at, "action": action.value}

