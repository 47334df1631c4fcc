"""Claim a pipeline for one run of a runbook (``claim_pipeline``), released by ``record_run``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from airflow.sdk import BaseOperator
from botocore.exceptions import ClientError

from cdc_runbooks.action import Action
from cdc_runbooks.aws.hooks import aws_client
from cdc_runbooks.pipeline_lock import LockHolder, check_holder
from cdc_runbooks.pipelines import Pipeline, PipelineConfigError, get_pipeline
from cdc_runbooks.step import records_failure

_LOST_RACE = ("PreconditionFailed", "ConditionalRequestConflict")


def _bucket(pipeline: Pipeline) -> str:
    if not pipeline.records_bucket:
        raise PipelineConfigError(f"pipeline {pipeline.name!r} has no records_bucket: runbooks that change it "
                                  "need one for their run records and their one-run-at-a-time lock")
    return pipeline.records_bucket


class ClaimPipelineOperator(BaseOperator):
    """Refuse to start unless this run holds the pipeline for its runbook: PutObject of the lock object with
    ``IfNoneMatch='*'`` (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html). Losing the
    race to another run fails at once with that run's id (a refusal); a retry of this run adopts its lock.

    :param pipeline_name: pipeline in the pipelines configuration.
    """

    template_fields: Sequence[str] = ("pipeline_name",)

    def __init__(self, *, pipeline_name: str, **kwargs) -> None:
        super().__init__(retries=0, **kwargs)
        self.pipeline_name = pipeline_name

    @records_failure
    def execute(self, context) -> dict:
        pipeline = get_pipeline(self.pipeline_name)
        bucket, dag_run = _bucket(pipeline), context["dag_run"]
        me = LockHolder(dag_run.dag_id, dag_run.run_id, pipeline.name, datetime.now(UTC).isoformat())
        s3 = aws_client(pipeline.aws_conn_id, "s3")
        try:
            s3.put_object(Bucket=bucket, Key=me.key, Body=me.to_json().encode(), IfNoneMatch="*",
                          ContentType="application/json")
            action = Action.ACT
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in _LOST_RACE:
                raise
            holder = LockHolder.from_json(s3.get_object(Bucket=bucket, Key=me.key)["Body"].read())
            action, me = check_holder(holder, me, bucket), holder
        self.log.info("%s s3://%s/%s for %s run %s", "Claimed" if action is Action.ACT else "Already holding",
                      bucket, me.key, me.dag_id, me.run_id)
        return {"lock": f"s3://{bucket}/{me.key}", "claimed_at": me.claimed_at, "action": action.value}


def release_pipeline(pipeline: Pipeline, dag_id: str, run_id: str) -> bool:
    """Delete the pipeline's lock of this runbook if this run holds it; True when it did."""
    bucket, key = _bucket(pipeline), LockHolder(dag_id, run_id, pipeline.name, "").key
    s3 = aws_client(pipeline.aws_conn_id, "s3")
    try:
        holder = LockHolder.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return False
    if (holder.dag_id, holder.run_id) != (dag_id, run_id):
        return False
    s3.delete_object(Bucket=bucket, Key=key)
    return True
