"""What a runbook leaves in the pipeline's account: its one-run-at-a-time lock and its run record (S3), and the
summary it publishes (SNS).

The lock is ``s3://<records_bucket>/locks/<dag_id>/<pipeline>.json`` written with PutObject's
``IfNoneMatch='*'``, which exactly one writer wins
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html); the decisions about a lock held
already are :mod:`cdc_runbooks.pipeline_lock`'s.
"""

from __future__ import annotations

import json

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.hooks.sns import SnsHook
from botocore.exceptions import ClientError

from cdc_runbooks.aws.hooks import aws_client, aws_hook
from cdc_runbooks.pipeline_lock import LockHolder
from cdc_runbooks.pipelines import Pipeline, PipelineConfigError
from cdc_runbooks.run_record import RunRecord, record_key

_LOST_RACE = ("PreconditionFailed", "ConditionalRequestConflict")


def records_bucket(pipeline: Pipeline) -> str:
    """The pipeline's records bucket; refused (PipelineConfigError) when the pipeline has none."""
    if not pipeline.records_bucket:
        raise PipelineConfigError(f"pipeline {pipeline.name!r} has no records_bucket: runbooks that change it "
                                  "need one for their run records and their one-run-at-a-time lock")
    return pipeline.records_bucket


def put_lock(pipeline: Pipeline, me: LockHolder) -> LockHolder:
    """Write ``me`` as the pipeline's lock unless a lock exists; the holder of the lock afterwards (``me`` when
    this call wrote it, else whoever holds it)."""
    held = claim_once(pipeline, me.key, me.to_json())
    return me if held is None else LockHolder.from_json(held)


def claim_once(pipeline: Pipeline, key: str, claimant: str) -> str | None:
    """Write ``claimant`` at ``key`` unless something is there (PutObject ``IfNoneMatch='*'``); None when this call
    wrote it, else what is there (who claimed it first)."""
    bucket, s3 = records_bucket(pipeline), aws_client(pipeline.aws_conn_id, "s3")
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=claimant.encode(), IfNoneMatch="*", ContentType="application/json")
        return None
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in _LOST_RACE:
            raise
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def lock_holder(pipeline: Pipeline, dag_id: str) -> LockHolder | None:
    """Who holds the pipeline's lock of runbook ``dag_id`` now, None when nobody does. Listed first
    (ListObjectsV2 with the key as prefix): S3 answers GetObject of a missing key with 403 AccessDenied, not 404,
    to a caller without s3:ListBucket (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html), and
    "nobody holds it" is the usual answer here."""
    bucket, s3 = records_bucket(pipeline), aws_client(pipeline.aws_conn_id, "s3")
    key = LockHolder(dag_id, "", pipeline.name, "").key
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    if not any(item["Key"] == key for item in listed):
        return None
    try:
        return LockHolder.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:  # released between the list and the read
        return None


def release_lock(pipeline: Pipeline, dag_id: str, run_id: str) -> bool:
    """Delete the pipeline's lock of this runbook if this run holds it; True when it did."""
    holder = lock_holder(pipeline, dag_id)
    if holder is None or (holder.dag_id, holder.run_id) != (dag_id, run_id):
        return False
    key = LockHolder(dag_id, run_id, pipeline.name, "").key
    aws_client(pipeline.aws_conn_id, "s3").delete_object(Bucket=records_bucket(pipeline), Key=key)
    return True


def read_record(pipeline: Pipeline, dag_id: str, run_id: str) -> dict | None:
    """The run record of ``dag_id``'s run ``run_id`` in the pipeline's records bucket, None when there is none (listed
    first, as :func:`lock_holder` explains)."""
    bucket, s3, key = records_bucket(pipeline), aws_client(pipeline.aws_conn_id, "s3"), record_key(dag_id, run_id)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    if not any(item["Key"] == key for item in listed):
        return None
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def write_record(record: RunRecord, bucket: str, conn_id: str) -> None:
    """The run record as JSON at ``s3://<bucket>/<record.key>`` (replacing a cleared run's earlier one)."""
    aws_hook(S3Hook, conn_id).load_string(record.to_json(), key=record.key, bucket_name=bucket, replace=True)


def publish_record(record: RunRecord, topic_arn: str, conn_id: str) -> None:
    """The run record's markdown to an SNS topic, its outcome in the subject."""
    aws_hook(SnsHook, conn_id).publish_to_target(
        topic_arn, record.to_markdown(), subject=f"[{record.outcome}] {record.dag_id} {record.pipeline}"[:100])
