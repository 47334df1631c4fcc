"""claim_events against S3 (moto in-process): each event recovers each pipeline once; anything else is named and
skipped; and record_run releases the pipeline whatever its message does."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowSkipException

from cdc_runbooks.cdc_event import CdcEvent, EventKind

BUCKET = "cdc-runbook-records"
ASSET = "cdc_event.shop.failover"
DAG_ID = "cdc_recover_after_failure.shop"


def payload(**changes) -> dict:
    return {**CdcEvent(event_id="3d9a4b6c-0071", kind=EventKind.FAILOVER, code="RDS-EVENT-0071", resource="prod",
                       time="2026-12-02T03:00:00+00:00", message="Completed failover to DB instance: prod-reader",
                       account="123456789012", region="us-east-1").to_payload(), **changes}


def task_failed(**changes) -> dict:
    from cdc_runbooks.pipelines import load_pipelines

    return payload(event_id="5e2f-0078", kind="task_failed", code="DMS-EVENT-0078",
                   resource=load_pipelines()["shop"].dms_task_arn, message="Replication task has failed.", **changes)


FROM_THE_WATCHER = {"from_trigger": True}  # what the triggerer adds to the extra of an event it makes


def claim(*payloads, run_id: str = "asset_triggered__1", asset: str = ASSET, run_type: str = "asset_triggered",
          extra: dict = FROM_THE_WATCHER, **more_assets) -> dict:
    """claim_events of a run started by ``payloads`` on ``asset`` (and ``more_assets``: asset name -> payloads),
    each asset event's extra ``extra`` with the payload."""
    from airflow.sdk import Asset

    from cdc_runbooks.operators.cdc_events import ClaimEventsOperator

    pushed, assets = {}, {asset: payloads, **more_assets}
    context = {"dag_run": SimpleNamespace(dag_id=DAG_ID, run_id=run_id, run_type=run_type),
               "ti": SimpleNamespace(xcom_push=lambda key, value: pushed.update({key: value})),
               "triggering_asset_events": {Asset(name): [SimpleNamespace(extra={**extra, "payload": p}) for p in events]
                                           for name, events in assets.items() if events}}
    operator = ClaimEventsOperator(task_id="claim_events", pipeline_name="shop", kinds=["failover", "task_failed"])
    try:
        return operator.execute(context)
    except AirflowSkipException:
        return {"skipped": True, **pushed["return_value"]}


def test_an_event_is_claimed_once_and_a_retry_of_the_same_run_adopts_its_claim(records_s3):
    first = claim(payload())
    assert [e["event_id"] for e in first["events"]] == ["3d9a4b6c-0071"] and "skipped" not in first
    assert claim(payload())["events"] == first["events"]  # the same run, retried
    duplicate = claim(payload(), run_id="asset_triggered__2")
    assert duplicate["skipped"] and duplicate["events"] == []
    assert DAG_ID in duplicate["duplicates"][0]["claimed_by"]
    assert records_s3.list_objects_v2(Bucket=BUCKET, Prefix="events/shop/failover/")["KeyCount"] == 1


@pytest.mark.parametrize("changes", [{"resource": "another-cluster"}, {"account": "999999999999"},
                                     {"region": "eu-west-1"}, {"kind": "task_failed"}, {"message": "x" * 5000},
                                     {"event_id": "../../locks/x"}])
def test_an_event_not_of_this_pipeline_and_kind_is_named_and_claims_nothing(records_s3, changes):
    result = claim(payload(**changes))
    assert result["skipped"] and len(result["ignored"]) == 1 and result["events"] == []
    assert records_s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_a_run_started_by_both_kinds_claims_each_under_its_kind(records_s3):
    result = claim(payload(), **{"cdc_event.shop.task_failed": [task_failed()]})
    assert sorted((e["kind"], e["event_id"]) for e in result["events"]) == [("failover", "3d9a4b6c-0071"),
                                                                          ("task_failed", "5e2f-0078")]
    keys = [o["Key"] for o in records_s3.list_objects_v2(Bucket=BUCKET, Prefix="events/")["Contents"]]
    assert sorted(keys) == ["events/shop/failover/3d9a4b6c-0071.json", "events/shop/task_failed/5e2f-0078.json"]


def test_an_event_on_the_asset_of_another_kind_or_pipeline_is_not_acted_on(records_s3):
    assert claim(task_failed())["skipped"]  # a task failure posted on the failover asset: ignored
    other = claim(payload(), asset="cdc_event.other.failover")  # not one of the assets this DAG is scheduled on
    assert other == {"skipped": True, "events": [], "duplicates": [], "ignored": [], "manual": False}
    assert records_s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


@pytest.mark.parametrize("extra", [{}, {"from_rest_api": True}, {"from_trigger": True, "from_rest_api": True},
                                   {"from_trigger": "yes"}])
def test_an_event_the_watcher_did_not_make_is_never_acted_on(records_s3, extra):
    """An asset event posted through the REST API (Airflow marks it from_rest_api) could otherwise bring a
    "failover" that waives the approval of a restart."""
    result = claim(payload(), extra=extra)
    assert result["skipped"] and result["events"] == [] and "event watcher" in result["ignored"][0]
    assert records_s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_a_run_started_by_events_with_none_for_it_skips_even_with_no_event_at_all(records_s3):
    assert claim() == {"skipped": True, "events": [], "duplicates": [], "ignored": [], "manual": False}


def test_a_run_triggered_by_hand_claims_nothing_and_goes_on(records_s3):
    assert claim(run_type="manual") == {"events": [], "duplicates": [], "ignored": [], "manual": True}


def test_record_run_releases_the_pipeline_even_when_its_message_fails(records_s3):
    """The SNS topic does not exist: the publish fails, and the lock goes all the same."""
    from cdc_runbooks.operators.run_record import RecordRunOperator
    from cdc_runbooks.pipeline_lock import LockHolder

    run_id = "asset_triggered__1"
    lock = LockHolder(DAG_ID, run_id, "shop", "2026-12-02T03:00:00+00:00")
    records_s3.put_object(Bucket=BUCKET, Key=lock.key, Body=lock.to_json().encode())
    steps = ["claim_events", "claim_pipeline"]
    ti = SimpleNamespace(
        get_task_states=lambda dag_id, run_ids, task_ids: {run_id: dict.fromkeys(task_ids, "success")},
        xcom_pull=lambda task_ids, key=None: [None] * len(task_ids))
    context = {"ti": ti, "dag_run": SimpleNamespace(dag_id=DAG_ID, run_id=run_id, run_after=None, start_date=None)}
    with pytest.raises(Exception, match="(?i)topic|not ?found"):
        RecordRunOperator(task_id="record_run", pipeline_name="shop", step_ids=steps,
                          releases_pipeline=True).execute(context)
    assert records_s3.list_objects_v2(Bucket=BUCKET, Prefix="locks/")["KeyCount"] == 0
