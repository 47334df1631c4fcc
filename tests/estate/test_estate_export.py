"""Snapshot export on the estate: point-in-time contents, phases over polls, RDS's S3 layout and faults."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from decimal import Decimal

import botocore.exceptions
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rehearsal.export import ExportFaults, _text, exported_type_name, parquet_type

ROLE_ARN = "arn:aws:iam::123456789012:role/rds-s3-export"
PREFIX = "rehearsal/exports"

MYSQL_TYPES = [
    ("bigint", pa.int64()), ("bigint(20)", pa.int64()), ("bigint unsigned", pa.decimal128(20, 0)),
    ("bigint(20) unsigned", pa.decimal128(20, 0)), ("int", pa.int32()), ("int(11)", pa.int32()),
    ("integer", pa.int32()), ("int(10) unsigned", pa.int64()), ("mediumint", pa.int32()),
    ("mediumint unsigned", pa.int64()), ("smallint", pa.int32()), ("smallint unsigned", pa.int32()),
    ("tinyint(1)", pa.int32()), ("tinyint unsigned", pa.int32()), ("year(4)", pa.int32()),
    ("decimal(12,2)", pa.decimal128(12, 2)), ("decimal(10)", pa.decimal128(10, 0)),
    ("decimal", pa.decimal128(10, 0)), ("numeric(38,4)", pa.decimal128(38, 4)),
    ("decimal(12,2) unsigned", pa.decimal128(12, 2)), ("decimal(50,10)", pa.string()),
    ("float", pa.float64()), ("double", pa.float64()),
    ("datetime", pa.timestamp("us")), ("datetime(6)", pa.timestamp("us")), ("timestamp", pa.timestamp("us")),
    ("timestamp(3)", pa.timestamp("us")), ("date", pa.string()), ("time", pa.string()), ("time(3)", pa.string()),
    ("char(3)", pa.string()), ("varchar(64)", pa.string()), ("tinytext", pa.string()), ("text", pa.string()),
    ("mediumtext", pa.string()), ("longtext", pa.string()), ("json", pa.string()),
    ("enum('a','b')", pa.string()), ("set('x','y')", pa.string()),
    ("binary(4)", pa.binary()), ("varbinary(8)", pa.binary()), ("tinyblob", pa.binary()), ("blob", pa.binary()),
    ("mediumblob", pa.binary()), ("longblob", pa.binary()), ("bit(3)", pa.binary()), ("geometry", pa.binary()),
]


# -- pure: type mapping ------------------------------------------------------------------------------
@pytest.mark.parametrize(("mysql_type", "expected"), MYSQL_TYPES)
def test_parquet_type_follows_rds_mapping(mysql_type, expected):
    assert parquet_type(mysql_type) == expected
    assert parquet_type(mysql_type.upper()) == expected


@pytest.mark.parametrize("mysql_type", ["uuid", "", "(12)", "serial"])
def test_parquet_type_refuses_unknown_types(mysql_type):
    with pytest.raises(ValueError, match="no mapping"):
        parquet_type(mysql_type)


@pytest.mark.parametrize(("arrow_type", "name"), [
    (pa.int64(), "int64"), (pa.int32(), "int32"), (pa.float64(), "double"), (pa.string(), "binary (UTF8)"),
    (pa.binary(), "binary"), (pa.timestamp("us"), "int64 (TIMESTAMP_MICROS)"),
    (pa.decimal128(5, 0), "int32 (DECIMAL(5,0))"), (pa.decimal128(12, 2), "int64 (DECIMAL(12,2))"),
    (pa.decimal128(20, 0), "fixed_len_byte_array(9) (DECIMAL(20,0))"),
    (pa.decimal128(38, 4), "fixed_len_byte_array(16) (DECIMAL(38,4))"),
])
def test_exported_type_names(arrow_type, name):
    assert exported_type_name(arrow_type) == name


def test_time_values_are_written_as_mysql_shows_them():
    assert _text(timedelta(hours=3, minutes=4, seconds=5)) == "03:04:05"
    assert _text(-timedelta(hours=838, minutes=59, seconds=59, microseconds=500000), 6) == "-838:59:59.500000"
    assert _text(timedelta(hours=12, minutes=34, seconds=56), 6) == "12:34:56.000000"  # TIME(6), zero fraction
    assert _text(timedelta(hours=1, microseconds=678000), 3) == "01:00:00.678"


def test_wide_decimals_are_written_in_plain_notation_at_their_scale():
    assert _text(Decimal("1E-30")) == "0.000000000000000000000000000001"
    assert _text(Decimal("0E-10")) == "0.0000000000"
    assert _text(Decimal("-12345678901234567890.0123456789")) == "-12345678901234567890.0123456789"


# -- the estate --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def export_estate():
    from rehearsal.estate import Estate

    with Estate.running() as estate:
        yield estate


@pytest.fixture
def faults(export_estate):
    yield export_estate.exports.faults
    export_estate.exports.faults = ExportFaults()


def _snapshot(estate, name: str) -> str:
    rds = estate.aws.client("rds")
    return rds.create_db_cluster_snapshot(DBClusterIdentifier=estate.resources.cluster,
                                          DBClusterSnapshotIdentifier=name)["DBClusterSnapshot"]["DBClusterSnapshotArn"]


def _start(estate, export_id: str, source_arn: str, bucket: str | None = None, **kwargs) -> dict:
    return estate.aws.client("rds").start_export_task(
        ExportTaskIdentifier=export_id, SourceArn=source_arn, S3BucketName=bucket or estate.resources.export_bucket,
        IamRoleArn=ROLE_ARN, KmsKeyId=estate.export_kms_key_arn, **{"S3Prefix": PREFIX, **kwargs})


def _poll_to_end(estate, export_id: str, limit: int = 20) -> tuple[list[str], dict]:
    """Describe until the task is terminal; the statuses seen and the last description."""
    rds, seen = estate.aws.client("rds"), []
    for _ in range(limit):
        task = rds.describe_export_tasks(ExportTaskIdentifier=export_id)["ExportTasks"][0]
        seen.append(task["Status"])
        if task["Status"] in ("complete", "failed", "canceled"):
            return seen, task
    raise AssertionError(f"export {export_id} still {seen[-1]} after {limit} polls")


def _keys(estate, export_id: str) -> list[str]:
    listing = estate.aws.client("s3").list_objects_v2(Bucket=estate.resources.export_bucket,
                                                      Prefix=f"{PREFIX}/{export_id}/")
    return sorted(item["Key"] for item in listing.get("Contents", []))


def _get(estate, key: str) -> bytes:
    return estate.aws.client("s3").get_object(Bucket=estate.resources.export_bucket, Key=key)["Body"].read()


def _tables_info(estate, export_id: str) -> dict[str, dict]:
    key = next(k for k in _keys(estate, export_id) if re.search(r"/export_tables_info_[^/]+\.json$", k))
    return {status["target"]: status for status in json.loads(_get(estate, key))["perTableStatus"]}


def _parquet(estate, export_id: str, table: str) -> pa.Table:
    keys = [k for k in _keys(estate, export_id) if k.startswith(f"{PREFIX}/{export_id}/shop/shop.{table}/")]
    assert len(keys) == 1
    return pq.read_table(io.BytesIO(_get(estate, keys[0])))


@pytest.mark.estate
class TestSnapshotExport:
    EXPORT_ID = "shop-snapshot-export"

    @pytest.fixture(scope="class")
    def exported(self, export_estate):
        """Snapshot, then write more, then export the snapshot and poll it to the end."""
        estate = export_estate
        snapshot_arn = _snapshot(estate, "before-late-rows")
        at_snapshot = {table: estate.source_rows(table) for table in ("customers", "orders")}
        estate.source.writer.execute("INSERT INTO shop.customers (name) VALUES ('late')")
        started = _start(estate, self.EXPORT_ID, snapshot_arn, ExportOnly=["shop"])
        seen, task = _poll_to_end(estate, self.EXPORT_ID)
        now = {table: estate.source_rows(table) for table in ("customers", "orders")}
        return {"snapshot_arn": snapshot_arn, "at_snapshot": at_snapshot, "now": now, "started": started,
                "seen": seen, "task": task}

    def test_phases_are_visible_over_polls(self, exported, export_estate):
        polls = export_estate.exports.polls_per_phase
        assert exported["started"]["Status"] == "starting"
        assert exported["started"]["PercentProgress"] == 0
        assert exported["seen"] == ["starting"] * polls + ["in_progress"] * polls + ["complete"]
        task = exported["task"]
        assert task["PercentProgress"] == 100
        assert task["SourceType"] == "SNAPSHOT"
        assert task["ExportOnly"] == ["shop"]
        assert task["TaskEndTime"] >= task["TaskStartTime"] >= task["SnapshotTime"]
        assert "FailureCause" not in task and "WarningMessage" not in task

    def test_s3_layout_is_rds_layout(self, exported, export_estate):
        root = f"{PREFIX}/{self.EXPORT_ID}"
        keys = _keys(export_estate, self.EXPORT_ID)
        assert f"{root}/export_info_{self.EXPORT_ID}.json" in keys
        assert f"{root}/export_tables_info_{self.EXPORT_ID}_from_1_to_2.json" in keys
        parquet = [k for k in keys if k.endswith(".parquet")]
        for table in ("customers", "orders"):
            pattern = rf"{re.escape(root)}/shop/shop\.{table}/1/part-00000-[0-9a-f-]{{36}}\.gz\.parquet"
            assert len([k for k in parquet if re.fullmatch(pattern, k)]) == 1
        assert len(keys) == 4

    def test_export_info_describes_the_task(self, exported, export_estate):
        info = json.loads(_get(export_estate, f"{PREFIX}/{self.EXPORT_ID}/export_info_{self.EXPORT_ID}.json"))
        assert info["exportTaskIdentifier"] == self.EXPORT_ID
        assert info["sourceArn"] == exported["snapshot_arn"]
        assert info["exportOnly"] == ["shop"]
        assert info["s3Bucket"] == export_estate.resources.export_bucket
        assert info["s3Prefix"] == PREFIX
        assert info["exportedFilesPath"] == f"{PREFIX}/{self.EXPORT_ID}"
        assert info["iamRoleArn"] == ROLE_ARN and info["kmsKeyId"] == export_estate.export_kms_key_arn
        assert info["status"] == "COMPLETE" and info["percentProgress"] == 100
        assert info["taskStartTime"] <= info["taskEndTime"]
        assert info["totalExportedDataInGB"] > 0

    def test_tables_info_maps_every_column(self, exported, export_estate):
        tables = _tables_info(export_estate, self.EXPORT_ID)
        assert set(tables) == {"shop.customers", "shop.orders"}
        for status in tables.values():
            assert status["status"] == "COMPLETE" and status["sizeGB"] > 0
            assert set(status["tableStatistics"]) >= {"extractionStartTime", "extractionEndTime", "partitioningInfo"}
        orders = {m["columnName"]: m for m in tables["shop.orders"]["schemaMetadata"]["originalTypeMappings"]}
        assert list(orders) == ["id", "customer_id", "amount", "status", "note", "updated_at"]
        assert orders["id"] == {"columnName": "id", "originalType": "bigint", "expectedExportedType": "int64",
                                "originalCharMaxLength": 0, "originalNumPrecision": 19,
                                "originalDateTimePrecision": 0}
        assert orders["amount"]["originalType"] == "decimal(12,2)"
        assert orders["amount"]["expectedExportedType"] == "int64 (DECIMAL(12,2))"
        assert orders["status"]["originalCharMaxLength"] == 16
        assert orders["updated_at"]["originalType"] == "datetime(6)"
        assert orders["updated_at"]["originalDateTimePrecision"] == 6
        assert orders["updated_at"]["expectedExportedType"] == "int64 (TIMESTAMP_MICROS)"

    @pytest.mark.parametrize("table", ["customers", "orders"])
    def test_parquet_holds_the_snapshot_not_later_writes(self, exported, export_estate, table):
        data = _parquet(export_estate, self.EXPORT_ID, table)
        at_snapshot = exported["at_snapshot"][table]
        assert data.num_rows == len(at_snapshot) > 0
        assert sorted(tuple(row.values()) for row in data.to_pylist()) == at_snapshot  # DATETIME round-trips
        assert len(exported["now"][table]) - len(at_snapshot) == (table == "customers")

    @pytest.mark.parametrize("table", ["customers", "orders"])
    def test_parquet_types_follow_the_mapping(self, exported, export_estate, table):
        data = _parquet(export_estate, self.EXPORT_ID, table)
        mappings = _tables_info(export_estate, self.EXPORT_ID)[f"shop.{table}"]["schemaMetadata"][
            "originalTypeMappings"]
        assert data.schema.names == [m["columnName"] for m in mappings]
        assert data.schema.types == [parquet_type(m["originalType"]) for m in mappings]
        keys = [k for k in _keys(export_estate, self.EXPORT_ID) if f"/shop.{table}/" in k]
        parquet_file = pq.ParquetFile(io.BytesIO(_get(export_estate, keys[0])))
        for i, mapping in enumerate(mappings):
            physical = parquet_file.schema.column(i).physical_type.lower()
            physical = {"byte_array": "binary"}.get(physical, physical)
            assert mapping["expectedExportedType"].startswith(physical)
        assert parquet_file.metadata.row_group(0).column(0).compression == "GZIP"


@pytest.mark.estate
class TestExportVariants:
    def test_cluster_export_reads_the_cluster_at_export_start(self, export_estate):
        estate = export_estate
        cluster_arn = estate.resources.arn("rds", f"cluster:{estate.resources.cluster}")
        estate.source.writer.execute("INSERT INTO shop.customers (name) VALUES ('before-cluster-export')")
        count = estate.source_counts()["customers"]
        started = _start(estate, "shop-cluster-export", cluster_arn, ExportOnly=["shop.customers"])
        estate.source.writer.execute("INSERT INTO shop.customers (name) VALUES ('after-cluster-export')")
        assert started["SourceType"] == "CLUSTER"
        assert _poll_to_end(estate, "shop-cluster-export")[1]["Status"] == "complete"
        assert set(_tables_info(estate, "shop-cluster-export")) == {"shop.customers"}
        assert not [k for k in _keys(estate, "shop-cluster-export") if "/shop.orders/" in k]
        assert _parquet(estate, "shop-cluster-export", "customers").num_rows == count

    def test_copied_snapshot_keeps_the_contents(self, export_estate):
        estate = export_estate
        _snapshot(estate, "to-copy")
        count = estate.source_counts()["orders"]
        estate.source.writer.execute("DELETE FROM shop.orders ORDER BY id LIMIT 1")
        copy = estate.aws.client("rds").copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier="to-copy", TargetDBClusterSnapshotIdentifier="copied")
        _start(estate, "shop-copy-export", copy["DBClusterSnapshot"]["DBClusterSnapshotArn"], S3Prefix="",
               ExportOnly=["shop.orders"])
        _poll_to_end(estate, "shop-copy-export")
        keys = estate.aws.client("s3").list_objects_v2(Bucket=estate.resources.export_bucket,
                                                       Prefix="shop-copy-export/")["Contents"]
        key = next(k["Key"] for k in keys if k["Key"].startswith("shop-copy-export/shop/shop.orders/1/part-"))
        assert pq.read_table(io.BytesIO(_get(estate, key))).num_rows == count

    def test_cancel_stops_a_running_export_and_writes_nothing(self, export_estate):
        estate, rds = export_estate, export_estate.aws.client("rds")
        _start(estate, "shop-canceled-export", _snapshot(estate, "to-cancel"))
        assert rds.cancel_export_task(ExportTaskIdentifier="shop-canceled-export")["Status"] == "canceling"
        seen, task = _poll_to_end(estate, "shop-canceled-export")
        assert seen[-1] == "canceled" and "TaskEndTime" in task
        assert _keys(estate, "shop-canceled-export") == []
        with pytest.raises(rds.exceptions.InvalidExportTaskStateFault):
            rds.cancel_export_task(ExportTaskIdentifier="shop-canceled-export")


@pytest.mark.estate
class TestFaults:
    def test_fail_with_fails_the_task_with_its_cause(self, export_estate, faults):
        faults.fail_with = "The IAM role doesn't have permission to write to the S3 bucket."
        _start(export_estate, "shop-failing-export", _snapshot(export_estate, "to-fail"))
        seen, task = _poll_to_end(export_estate, "shop-failing-export")
        assert "in_progress" in seen and seen[-1] == "failed"
        assert task["FailureCause"] == faults.fail_with
        assert _keys(export_estate, "shop-failing-export") == []

    def test_skipped_tables_are_reported_and_not_written(self, export_estate, faults):
        faults.skip_tables = ("shop.orders",)
        _start(export_estate, "shop-skipping-export", _snapshot(export_estate, "to-skip"), ExportOnly=["shop"])
        seen, task = _poll_to_end(export_estate, "shop-skipping-export")
        assert seen[-1] == "complete" and "shop.orders" in task["WarningMessage"]
        tables = _tables_info(export_estate, "shop-skipping-export")
        assert tables["shop.orders"]["status"] == "SKIPPED" and tables["shop.orders"]["warningMessage"]
        assert tables["shop.customers"]["status"] == "COMPLETE"
        keys = _keys(export_estate, "shop-skipping-export")
        assert not [k for k in keys if "/shop.orders/" in k]
        assert [k for k in keys if "/shop.customers/" in k]

    def test_faults_apply_to_exports_started_while_set(self, export_estate, faults):
        _start(export_estate, "shop-started-before-fault", _snapshot(export_estate, "before-fault"))
        faults.fail_with = "too late for this one"
        assert _poll_to_end(export_estate, "shop-started-before-fault")[1]["Status"] == "complete"

    def test_lost_rows_leave_the_table_complete_with_half_its_rows(self, export_estate, faults):
        faults.lose_rows = ("shop.orders",)
        _start(export_estate, "shop-lossy-export", _snapshot(export_estate, "to-lose"), ExportOnly=["shop"])
        assert _poll_to_end(export_estate, "shop-lossy-export")[1]["Status"] == "complete"
        assert _tables_info(export_estate, "shop-lossy-export")["shop.orders"]["status"] == "COMPLETE"
        counts = export_estate.source_counts()
        assert _parquet(export_estate, "shop-lossy-export", "orders").num_rows == counts["orders"] // 2
        assert _parquet(export_estate, "shop-lossy-export", "customers").num_rows == counts["customers"]

    def test_bucket_removed_during_export_fails_it(self, export_estate):
        s3 = export_estate.aws.client("s3")
        s3.create_bucket(Bucket="short-lived-exports")
        _start(export_estate, "shop-orphaned-export", _snapshot(export_estate, "to-orphan"),
               bucket="short-lived-exports")
        s3.delete_bucket(Bucket="short-lived-exports")
        seen, task = _poll_to_end(export_estate, "shop-orphaned-export")
        assert seen[-1] == "failed" and "NoSuchBucket" in task["FailureCause"]


@pytest.mark.estate
class TestValuesRdsWritesOrRefuses:
    def test_an_empty_table_is_complete_without_data_files(self, export_estate):
        export_estate.source.writer.execute("CREATE TABLE shop.nothing_here (id INT PRIMARY KEY)")
        try:
            _start(export_estate, "shop-empty-table", _snapshot(export_estate, "with-empty"),
                   ExportOnly=["shop.nothing_here"])
            assert _poll_to_end(export_estate, "shop-empty-table")[1]["Status"] == "complete"
        finally:
            export_estate.source.writer.execute("DROP TABLE shop.nothing_here")
        table = _tables_info(export_estate, "shop-empty-table")["shop.nothing_here"]
        assert table["status"] == "COMPLETE" and table["schemaMetadata"]["originalTypeMappings"]
        assert not [k for k in _keys(export_estate, "shop-empty-table") if "/shop.nothing_here/" in k]

    def test_a_zero_datetime_fails_the_export_naming_the_table(self, export_estate):
        writer = export_estate.source.writer
        writer.execute("CREATE TABLE shop.zero_dates (id INT PRIMARY KEY, at DATETIME)")
        writer.execute("SET SESSION sql_mode = ''", "INSERT INTO shop.zero_dates VALUES (1, '0000-00-00 00:00:00')")
        try:
            _start(export_estate, "shop-zero-dates", _snapshot(export_estate, "with-zero-dates"),
                   ExportOnly=["shop.zero_dates"])
            seen, task = _poll_to_end(export_estate, "shop-zero-dates")
        finally:
            writer.execute("DROP TABLE shop.zero_dates")
        assert seen[-1] == "failed" and "shop.zero_dates" in task["FailureCause"]


class TestStartValidation:
    def test_duplicate_export_id_is_rejected(self, export_estate):
        rds, snapshot_arn = export_estate.aws.client("rds"), _snapshot(export_estate, "for-duplicates")
        _start(export_estate, "shop-duplicate-export", snapshot_arn)
        with pytest.raises(rds.exceptions.ExportTaskAlreadyExistsFault):
            _start(export_estate, "shop-duplicate-export", snapshot_arn)

    def test_missing_bucket_is_rejected(self, export_estate):
        rds = export_estate.aws.client("rds")
        with pytest.raises(rds.exceptions.InvalidS3BucketFault):
            _start(export_estate, "shop-nowhere-export", _snapshot(export_estate, "for-nowhere"),
                   bucket="no-such-bucket")
        with pytest.raises(botocore.exceptions.ClientError, match="ExportTaskNotFound"):
            rds.describe_export_tasks(ExportTaskIdentifier="shop-nowhere-export")

    def test_export_only_must_name_databases_or_tables(self, export_estate):
        rds = export_estate.aws.client("rds")
        with pytest.raises(rds.exceptions.InvalidExportOnlyFault):
            _start(export_estate, "shop-bad-scope-export", _snapshot(export_estate, "for-bad-scope"),
                   ExportOnly=["shop.public.orders"])

    def test_missing_sources_are_rejected(self, export_estate):
        rds, resources = export_estate.aws.client("rds"), export_estate.resources
        with pytest.raises(rds.exceptions.DBClusterSnapshotNotFoundFault):
            _start(export_estate, "shop-ghost-snapshot-export", resources.arn("rds", "cluster-snapshot:ghost"))
        with pytest.raises(rds.exceptions.DBClusterNotFoundFault):
            _start(export_estate, "shop-ghost-cluster-export", resources.arn("rds", "cluster:ghost"))
