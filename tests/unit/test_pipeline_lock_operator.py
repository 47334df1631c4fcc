"""claim_pipeline and its release against S3 (moto in-process): exactly one run of a runbook per pipeline."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from cdc_runbooks.pipeline_lock import PipelineBusy

BUCKET = "cdc-runbook-records"


def claim(run_id: str, dag_id: str = "dms_cdc_pause") -> dict:
    from cdc_runbooks.operators.pipeline_lock import ClaimPipelineOperator

    context = {"dag_run": SimpleNamespace(dag_id=dag_id, run_id=run_id), "ti": None}
    return ClaimPipelineOperator(task_id="claim_pipeline", pipeline_name="shop").execute(context)


def release(run_id: str, dag_id: str = "dms_cdc_pause") -> bool:
    from cdc_runbooks.aws.records import release_lock
    from cdc_runbooks.pipelines import get_pipeline

    return release_lock(get_pipeline("shop"), dag_id, run_id)


def test_first_claim_writes_the_lock_and_a_retry_of_the_same_run_adopts_it(records_s3):
    first, again = claim("run-1"), claim("run-1")

    assert (first["action"], again["action"]) == ("act", "adopt")
    assert again["claimed_at"] == first["claimed_at"]
    holder = json.loads(records_s3.get_object(Bucket=BUCKET, Key="locks/dms_cdc_pause/shop.json")["Body"].read())
    assert holder["run_id"] == "run-1"


def test_a_second_run_for_the_same_pipeline_refuses_until_the_first_releases(records_s3):
    claim("run-1")
    with pytest.raises(PipelineBusy, match="run-1"):
        claim("run-2")
    assert release("run-2") is False  # not its lock: left alone
    assert release("run-1") is True
    assert claim("run-2")["action"] == "act"


def test_other_runbooks_of_the_same_pipeline_are_not_blocked(records_s3):
    claim("run-1", dag_id="dms_cdc_pause")
    assert claim("run-2", dag_id="dms_cdc_restart")["action"] == "act"


def test_releasing_without_a_lock_is_a_no_op(records_s3):
    assert release("run-1") is False

