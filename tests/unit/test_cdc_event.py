"""cdc_event: which pipeline an EventBridge message concerns and what it asks for, for every input."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdc_runbooks.cdc_event import (
    DMS_DETAIL_TYPE,
    RDS_CODES,
    RDS_DETAIL_TYPES,
    CdcEvent,
    EventKind,
    IgnoredEvent,
    WatchedPipeline,
    event_patterns,
    read_event,
)

TASK = "arn:aws:dms:us-east-1:123456789012:task:prod-to-warehouse"
CLUSTER_NAMES = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,4}){0,2}", fullmatch=True)
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                           max_leaves=8)


def rds(code: str, cluster: str, *, detail_type: str | None = None, event_id: str = "7bf73129-1428-4cd3-a780",
        account: str | None = "123456789012", region: str | None = "us-east-1",
        time: str = "2026-12-02T03:04:05Z") -> str:
    kind = RDS_CODES.get(code, EventKind.FAILOVER)
    envelope = {"version": "0", "id": event_id, "detail-type": detail_type or RDS_DETAIL_TYPES[kind],
                "source": "aws.rds", "time": time,
                "resources": [f"arn:aws:rds:us-east-1:123456789012:cluster:{cluster}"],
                "detail": {"EventCategories": ["failover"], "SourceType": "CLUSTER", "EventID": code,
                           "SourceIdentifier": cluster, "Message": f"Completed failover to DB instance: {cluster}-2",
                           "Date": time}}
    envelope |= {key: value for key, value in (("account", account), ("region", region)) if value is not None}
    return json.dumps(envelope)


def dms(detail: dict, resources=(TASK,), detail_type: str = DMS_DETAIL_TYPE) -> str:
    return json.dumps({"version": "0", "id": "11a11b11-222b-333a", "detail-type": detail_type, "source": "aws.dms",
                       "account": "123456789012", "time": "2026-12-02T03:04:05Z", "region": "us-east-1",
                       "resources": list(resources),
                       "detail": {"type": "ReplicationTask", "category": "Failure", **detail}})


def test_failover_completed_names_the_cluster_and_what_it_asks():
    event = read_event(rds("RDS-EVENT-0071", "Prod"))
    assert (event.kind, event.code, event.resource) == (EventKind.FAILOVER, "RDS-EVENT-0071", "prod")
    assert event.time == "2026-12-02T03:04:05+00:00"
    assert event.concerns("prod", TASK) and event.concerns("PROD", TASK)
    assert not event.concerns("prod-old1", TASK)


def test_switchover_started_is_its_own_kind():
    event = read_event(rds("RDS-EVENT-0259", "prod"))
    assert event.kind is EventKind.SWITCHOVER_STARTED and event.concerns("prod", TASK)


@pytest.mark.parametrize("code", ["RDS-EVENT-0069", "RDS-EVENT-0070", "RDS-EVENT-0072", "RDS-EVENT-0073",
                                  "RDS-EVENT-0260", "RDS-EVENT-0261", "RDS-EVENT-0071 ", "rds-event-0071"])
def test_other_rds_events_start_nothing(code):
    with pytest.raises(IgnoredEvent):
        read_event(rds(code, "prod"))


def test_a_failover_code_in_another_envelope_is_ignored():
    with pytest.raises(IgnoredEvent, match="envelope"):
        read_event(rds("RDS-EVENT-0071", "prod", detail_type="RDS DB Instance Event"))


@pytest.mark.parametrize("field, value", [("account", 123456789012), ("account", ""), ("region", ["us-east-1"]),
                                          ("region", "us-east-1\n"), ("account", None)])
def test_an_account_or_region_that_is_there_must_be_well_formed(field, value):
    envelope = json.loads(rds("RDS-EVENT-0071", "prod"))
    envelope[field] = value
    with pytest.raises(IgnoredEvent, match=field):
        read_event(json.dumps(envelope))


def switchover(source: str, message: str) -> str:
    envelope = json.loads(rds("RDS-EVENT-0259", "prod"))
    envelope["detail"] |= {"SourceIdentifier": source, "Message": message, "SourceType": "BLUE_GREEN_DEPLOYMENT"}
    return json.dumps(envelope)


def test_a_switchover_event_of_the_deployment_concerns_the_blue_cluster_its_message_names():
    event = read_event(switchover("bgd-wi89nwzglccsfake", "Switchover from DB cluster Prod to prod-green-1 started."))
    assert event.kind is EventKind.SWITCHOVER_STARTED and event.concerns("prod", TASK)


@pytest.mark.parametrize("source, message", [
    ("bgd-wi89nwzglccsfake", "Switchover started."),  # a deployment's event that names no cluster
    ("prod", "Switchover from DB cluster billing to billing-green started."),  # source and message disagree
])
def test_a_switchover_event_that_cannot_say_its_blue_cluster_is_ignored(source, message):
    with pytest.raises(IgnoredEvent, match="switchover"):
        read_event(switchover(source, message))


def test_the_same_cluster_name_in_another_account_or_region_is_another_cluster():
    assert not read_event(rds("RDS-EVENT-0071", "prod", account="999999999999")).concerns("prod", TASK)
    assert not read_event(rds("RDS-EVENT-0071", "prod", region="eu-west-1")).concerns("prod", TASK)
    # moto's envelope has no account: the region still decides
    assert read_event(rds("RDS-EVENT-0071", "prod", account=None)).concerns("prod", TASK)


@pytest.mark.parametrize("detail", [{"eventId": "DMS-EVENT-0078"}, {"eventName": "DMS-EVENT-0078"},
                                    {"eventType": "REPLICATION_TASK_FAILED"}])
def test_a_failed_dms_task_is_read_from_any_of_its_fields(detail):
    event = read_event(dms({**detail, "detailMessage": "Stop Reason FATAL_ERROR"}))
    assert (event.kind, event.resource, event.message) == (EventKind.TASK_FAILED, TASK, "Stop Reason FATAL_ERROR")
    assert event.concerns("anything", TASK) and not event.concerns("anything", TASK + "2")


@pytest.mark.parametrize("body", [
    dms({"eventId": "DMS-EVENT-0079", "eventType": "REPLICATION_TASK_STOPPED"}),
    dms({"eventId": "DMS-EVENT-0078"}, resources=()),
    dms({"eventId": "DMS-EVENT-0078"}, resources=(TASK, TASK)),
    dms({"eventId": "DMS-EVENT-0078"}, resources=("arn:aws:rds:us-east-1:123456789012:cluster:prod",)),
    dms({"eventId": "DMS-EVENT-0078"}, detail_type="DMS Replication Instance State Change"),
    "", "null", "[]", "{}", '{"detail": {}}', "{" * 10,
    json.dumps({"id": "x", "source": "aws.s3", "time": "2026-12-02T03:04:05Z", "detail": {}}),
    rds("RDS-EVENT-0071", "prod", event_id="not an id!"),
    rds("RDS-EVENT-0071", "prod", time="yesterday"),
    rds("RDS-EVENT-0071", "prod", time="2026-12-02T03:04:05"),
    rds("RDS-EVENT-0071", "prod;drop table orders"),
    rds("RDS-EVENT-0071", "prod\n"),
    "x" * 300_000,
    "[" * 100_000,  # deeper than json can parse
    dms({"eventId": ["DMS-EVENT-0078"]}), dms({"eventName": {"id": "DMS-EVENT-0078"}}),  # unhashable codes
    rds("RDS-EVENT-0071", "prod", time="9999-12-31T23:59:59-05:00"),  # past datetime's range in UTC
    rds("RDS-EVENT-0071", "prod", time="0001-01-01T00:00:00+05:00"),
    rds("RDS-EVENT-0071", "prod", event_id="ev-1\n"),
])
def test_anything_else_is_ignored_with_a_reason(body):
    with pytest.raises(IgnoredEvent) as raised:
        read_event(body)
    assert str(raised.value)


@given(st.text(max_size=200) | JSON_VALUES.map(json.dumps))
def test_no_body_raises_anything_but_ignored(body):
    with contextlib.suppress(IgnoredEvent):
        read_event(body)


@given(envelope=st.fixed_dictionaries({}, optional={
    "id": JSON_VALUES, "source": st.sampled_from(["aws.rds", "aws.dms"]) | JSON_VALUES,
    "detail-type": st.sampled_from([*RDS_DETAIL_TYPES.values(), DMS_DETAIL_TYPE]) | JSON_VALUES,
    "time": JSON_VALUES, "resources": JSON_VALUES, "account": JSON_VALUES, "region": JSON_VALUES,
    "detail": st.fixed_dictionaries({}, optional={
        "EventID": st.sampled_from(sorted(RDS_CODES)) | JSON_VALUES, "SourceIdentifier": JSON_VALUES,
        "Message": JSON_VALUES, "eventId": st.just("DMS-EVENT-0078") | JSON_VALUES, "eventType": JSON_VALUES,
        "detailMessage": JSON_VALUES})}))
def test_envelopes_with_fields_of_any_type_are_read_or_ignored(envelope):
    try:
        event = read_event(json.dumps(envelope))
    except IgnoredEvent:
        return
    assert isinstance(event.resource, str) and isinstance(event.message, str) and event.kind in EventKind


@given(event_cluster=CLUSTER_NAMES, pipeline_cluster=CLUSTER_NAMES, upper=st.booleans())
def test_a_cluster_event_concerns_exactly_the_pipeline_of_that_cluster(event_cluster, pipeline_cluster, upper):
    named = event_cluster.upper() if upper else event_cluster
    event = read_event(rds("RDS-EVENT-0071", named))
    assert event.concerns(pipeline_cluster, TASK) == (event_cluster == pipeline_cluster)


@given(code=st.sampled_from(sorted(RDS_CODES)), cluster=CLUSTER_NAMES,
       event_id=st.from_regex(r"[A-Za-z0-9-]{1,64}", fullmatch=True))
def test_payload_round_trip_and_the_id_survives(code, cluster, event_id):
    event = read_event(rds(code, cluster, event_id=event_id))
    assert CdcEvent.from_payload(json.loads(json.dumps(event.to_payload()))) == event
    assert event.event_id == event_id


def test_the_rules_route_exactly_the_events_read_here_of_the_watched_pipelines():
    patterns = event_patterns([WatchedPipeline("shop", "Prod", TASK), WatchedPipeline("mirror", "prod", TASK)])
    codes = {patterns[rule]["detail"]["EventID"][0] for rule in ("cdc-runbooks-failover", "cdc-runbooks-switchover")}
    assert codes == set(RDS_CODES)
    assert patterns["cdc-runbooks-failover"]["detail"]["SourceIdentifier"] == ["prod"]
    assert patterns["cdc-runbooks-dms"]["resources"] == [TASK]


@pytest.mark.parametrize("change", [
    {"message": "x" * 1001}, {"code": "RDS-EVENT-0259"}, {"code": "DMS-EVENT-0078"}, {"time": "yesterday"},
    {"time": "2026-12-02T03:04:05"}, {"resource": "../prod"}, {"resource": "Prod"}, {"account": "99"},
    {"region": "us-east-1\n"}, {"event_id": "../x"}, {"kind": "meteor"}, {"message": None},
])
def test_an_asset_event_payload_not_as_the_trigger_makes_it_is_ignored(change):
    payload = read_event(rds("RDS-EVENT-0071", "prod")).to_payload()
    assert CdcEvent.from_payload(payload).to_payload() == payload
    with pytest.raises(IgnoredEvent):
        CdcEvent.from_payload({**payload, **change})
