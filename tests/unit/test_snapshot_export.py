"""Snapshot export of one interval: names, snapshot choice, export plan, tables-info check, counts, retention."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from cdc_runbooks.action import Action
from cdc_runbooks.lake import export as se
from cdc_runbooks.lake.export import ExportState, IntervalExport

DAY = datetime(2026, 3, 4, tzinfo=UTC)


def test_names_come_from_pipeline_and_interval():
    names = IntervalExport.of_interval("shop_eu", DAY, DAY + timedelta(days=1))
    assert names.snapshot_id == names.export_id == "shop-eu-lake-20260304"
    assert IntervalExport("shop", DAY.date(), attempt=3).export_id == "shop-lake-20260304-a3"
    assert names.partition_value == "2026-03-04"
    assert names.export_root("aurora/") == "aurora/shop-eu-lake-20260304"
    assert names.export_root(None) == "shop-eu-lake-20260304"
    assert names.table_folder("aurora", "shop", "orders") == "aurora/shop-eu-lake-20260304/shop/shop.orders/"
    assert names.tables_info_key("aurora", 2) == (
        "aurora/shop-eu-lake-20260304/export_tables_info_shop-eu-lake-20260304_from_1_to_2.json")


@pytest.mark.parametrize(("pipeline", "attempt"), [("shop__x", 1), ("shop_", 1), ("Shop", 1), ("x" * 60, 1),
                                                    ("shop", 0)])
def test_names_rds_would_refuse_are_refused(pipeline, attempt):
    with pytest.raises(se.ExportRefused):
        IntervalExport(pipeline, DAY.date(), attempt)


def test_parse_key_finds_only_this_pipelines_names():
    assert se.parse_key("shop", "shop-lake-20260304") == IntervalExport("shop", DAY.date())
    assert se.parse_key("shop", "shop-lake-20260304-a2") == IntervalExport("shop", DAY.date(), 2)
    assert se.parse_key("shop_eu", "shop-eu-lake-20260304").pipeline == "shop_eu"
    for other in ("shop-eu-lake-20260304", "shop-lake-2026034", "rds:prod-2026-03-04-00-00", "shop-lake-20260304-a1",
                  "myshop-lake-20260304"):
        assert se.parse_key("shop", other) is None


def test_manual_snapshot_only_just_after_the_interval():
    end, lag = DAY, timedelta(hours=26)
    se.check_manual_snapshot_timing(end, end + timedelta(minutes=5), lag)
    with pytest.raises(se.ExportRefused, match="has not ended.*after now"):
        se.check_manual_snapshot_timing(end, end - timedelta(seconds=1), lag)
    with pytest.raises(se.ExportRefused, match="snapshot_source=automated"):
        se.check_manual_snapshot_timing(end, end + timedelta(hours=27), lag)


def test_latest_automated_snapshot_inside_the_interval():
    def snap(name, hours, kind="automated", status="available"):
        return {"DBClusterSnapshotIdentifier": name, "SnapshotType": kind, "Status": status,
                "SnapshotCreateTime": DAY + timedelta(hours=hours)}
    snapshots = [snap("before", -1), snap("early", 1), snap("late", 20), snap("manual", 21, "manual"),
                 snap("creating", 22, status="creating"), snap("next-day", 24)]
    latest = se.latest_automated_snapshot(snapshots, DAY, DAY + timedelta(days=1))
    assert latest["DBClusterSnapshotIdentifier"] == "late"
    assert se.latest_automated_snapshot(snapshots, DAY + timedelta(days=2), DAY + timedelta(days=3)) is None


def test_count_tags_round_trip_as_ranges():
    tags = se.count_tags({"orders": 10, "customers": 5}, {"orders": 12, "customers": 5})
    assert tags == [{"Key": "cdc-runbooks:rows:customers", "Value": "5..5"},
                    {"Key": "cdc-runbooks:rows:orders", "Value": "10..12"}]
    assert se.recorded_counts([*tags, {"Key": "team", "Value": "data"}]) == {"customers": (5, 5), "orders": (10, 12)}
    assert se.recorded_counts([{"Key": "cdc-runbooks:rows:x", "Value": "junk"}]) == {}


def test_one_tag_per_table_opened_at_creation_and_completed_in_place():
    names = IntervalExport.of_interval("shop", DAY, DAY + timedelta(days=1))
    created = se.snapshot_tags(names, {"orders": 10, "customers": 5})
    assert created == [{"Key": "cdc-runbooks:pipeline", "Value": "shop"},
                       {"Key": "cdc-runbooks:interval", "Value": "2026-03-04"},
                       {"Key": "cdc-runbooks:rows:customers", "Value": "5.."},
                       {"Key": "cdc-runbooks:rows:orders", "Value": "10.."}]
    assert se.recorded_before(created) == {"customers": 5, "orders": 10} and se.recorded_counts(created) == {}
    completed = {tag["Key"]: tag for tag in created}
    completed.update({tag["Key"]: tag for tag in se.count_tags({"orders": 10}, {"orders": 12})})  # overwrites
    assert se.recorded_counts(list(completed.values())) == {"orders": (10, 12)}
    assert se.recorded_before(list(completed.values())) == {"customers": 5}
    most = {f"t{i}": 1 for i in range(se.MAX_COUNTED_TABLES)}
    assert se.MAX_COUNTED_TABLES == 48 and len(se.snapshot_tags(names, most)) == se.MAX_SNAPSHOT_TAGS == 50


@pytest.mark.parametrize("value", ["\u00b2", "\u0661\u0662", "\uff11", "1\n", " 1", "-1", "+1", ""])
def test_recorded_counts_are_ascii_digits_only(value):
    assert se.recorded_before([{"Key": "cdc-runbooks:rows:orders", "Value": f"{value}.."}]) == {}
    assert se.recorded_counts([{"Key": "cdc-runbooks:rows:orders", "Value": f"{value}..{value}"}]) == {}
    assert se.recorded_counts([{"Key": "cdc-runbooks:rows:orders", "Value": f"1..{value}"}]) == {}


@pytest.mark.parametrize(("start", "end"), [
    (DAY + timedelta(hours=12), DAY + timedelta(days=1, hours=12)),  # a day, but not a UTC day
    (DAY, DAY + timedelta(days=7)),  # a week named after its first day
    (DAY, DAY + timedelta(hours=23)),
    (DAY.replace(tzinfo=timezone(timedelta(hours=-5))), DAY.replace(tzinfo=timezone(timedelta(hours=-5)))
     + timedelta(days=1)),  # midnight to midnight, but in New York
    (DAY.replace(tzinfo=None), DAY.replace(tzinfo=None) + timedelta(days=1)),  # no time zone at all
])
def test_an_interval_that_is_not_one_utc_day_is_refused(start, end):
    with pytest.raises(se.ExportRefused, match="exactly one UTC day"):
        IntervalExport.of_interval("shop", start, end)


def test_an_interval_is_named_after_its_utc_day_in_any_time_zone():
    new_york = timezone(timedelta(hours=-5))
    names = IntervalExport.of_interval("shop", DAY.astimezone(new_york), (DAY + timedelta(days=1)).astimezone(new_york))
    assert names.partition_value == "2026-03-04"


def test_counts_are_completed_only_within_the_snapshot_lag():
    created, lag = DAY + timedelta(hours=1), timedelta(hours=26)
    se.check_counts_completable(created, created + lag, lag)
    with pytest.raises(se.ExportRefused, match="export_attempt raised by one"):
        se.check_counts_completable(created, created + lag + timedelta(seconds=1), lag)


ARN = "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:shop-lake-20260304"
ONLY = ["shop.customers", "shop.orders"]


def _state(status, **kwargs):
    task = {"ExportTaskIdentifier": "shop-lake-20260304", "Status": status, "SourceArn": ARN, "S3Bucket": "b",
            "S3Prefix": "aurora", "ExportOnly": ONLY, **kwargs}
    return ExportState.from_api(task)


@pytest.mark.parametrize(("status", "action"), [("starting", Action.WAIT), ("in_progress", Action.WAIT),
                                                ("complete", Action.ADOPT)])
def test_an_existing_export_is_adopted_or_waited_for(status, action):
    assert se.plan_export(None, ARN, "b", "aurora", ONLY) is Action.ACT
    assert se.plan_export(_state(status), ARN, "b", "aurora/", list(reversed(ONLY))) is action


@pytest.mark.parametrize("status", ["failed", "canceled"])
def test_a_failed_export_is_never_restarted(status):
    with pytest.raises(se.ExportFailed, match="FailureCause: role denied.*export_attempt"):
        se.plan_export(_state(status, FailureCause="role denied"), ARN, "b", "aurora", ONLY)


def test_an_export_of_something_else_is_not_adopted():
    with pytest.raises(se.ExportRefused, match="refusing to adopt"):
        se.plan_export(_state("complete"), ARN, "other-bucket", "aurora", ONLY)


def test_capacity_counts_other_running_exports():
    se.check_capacity(["a", "b", "c", "d", "mine"], "mine")
    with pytest.raises(RuntimeError, match="RDS allows 5"):
        se.check_capacity(["a", "b", "c", "d", "e"], "mine")


def _status(target, status="COMPLETE", **kwargs):
    return {"target": target, "status": status,
            "schemaMetadata": {"originalTypeMappings": [{"columnName": "id", "originalType": "bigint"}]}, **kwargs}


def test_verify_tables_passes_complete_tables_in_order():
    found = se.exported_tables([_status("shop.orders"), _status("shop.customers"), _status("shop.extra")])
    assert [t.table for t in se.verify_tables(found, ONLY)] == ["customers", "orders"]


def test_verify_tables_lists_every_problem():
    found = se.exported_tables([_status("shop.orders", "SKIPPED", warningMessage="column name not supported"),
                                {"target": "shop.items", "status": "COMPLETE"}])
    with pytest.raises(se.ExportIncomplete) as error:
        se.verify_tables(found, ["shop.customers", "shop.orders", "shop.items"])
    message = str(error.value)
    assert message.startswith("3 of 3 tables are not usable")
    assert "shop.customers: missing" in message and "shop.orders: SKIPPED (column name not supported)" in message
    assert "shop.items: COMPLETE but without schemaMetadata" in message


def test_counts_are_checked_against_the_recorded_range():
    checks = se.check_counts({"orders": 11, "customers": 0}, {"orders": (10, 12), "customers": (0, 0)})
    assert [c.describe() for c in checks] == ["customers: Athena 0, source at the snapshot 0",
                                              "orders: Athena 11, source at the snapshot 10..12"]
    with pytest.raises(se.CountMismatch, match="orders: Athena 9, source at the snapshot 10..12 MISMATCH"):
        se.check_counts({"orders": 9}, {"orders": (10, 12)})


def test_without_recorded_counts_validation_refuses_never_passes():
    se.require_counts(["orders"], {"orders": (1, 1)}, "shop-lake-20260304")
    with pytest.raises(se.CountsUnverified, match="customers.*shop-lake-20260304.*not published"):
        se.require_counts(["customers", "orders"], {"orders": (1, 1)}, "shop-lake-20260304")


def _interval(day: int, attempt: int = 1) -> IntervalExport:
    return IntervalExport("shop", date(2026, 3, day), attempt)


def test_retention_deletes_only_old_intervals():
    found = [_interval(d) for d in (1, 2, 3, 4, 5)] + [_interval(2, 2), _interval(7)]
    plan = se.plan_retention(found, date(2026, 3, 5), keep_intervals=3, good={date(2026, 3, d) for d in (3, 4, 5)})
    assert plan.to_dict() == {"delete": ["shop-lake-20260301", "shop-lake-20260302", "shop-lake-20260302-a2"],
                              "keep": ["shop-lake-20260303", "shop-lake-20260304", "shop-lake-20260305",
                                       "shop-lake-20260307"], "latest_good": "2026-03-05"}


def test_retention_never_deletes_the_latest_good_interval():
    found = [_interval(d) for d in (1, 2, 5)]
    plan = se.plan_retention(found, date(2026, 3, 5), keep_intervals=1, good={date(2026, 3, 1), date(2026, 3, 2)})
    assert plan.latest_good == date(2026, 3, 2)
    assert [e.key for e in plan.delete] == ["shop-lake-20260301"]
    with pytest.raises(se.ExportRefused):
        se.plan_retention(found, date(2026, 3, 5), keep_intervals=0, good=set())
