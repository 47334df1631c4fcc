"""aurora_snapshot_to_athena with dag.test() against the estate: two days, re-run, retention, faults, types."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pendulum
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_record
from fault_matrix import run_outcome

from cdc_runbooks.lake import glue_schema
from cdc_runbooks.pipelines import DEFAULT_PATH

pytestmark = pytest.mark.estate

DAG_ID = "aurora_snapshot_to_athena"
DB = "shop_lake"
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
LAG = {"max_snapshot_lag_hours": 24 * 14}  # intervals that ended up to two weeks ago may be snapshotted now


def _day(days_ago: int) -> datetime:
    """The logical date whose data interval is the day that ended ``days_ago`` days before today 00:00."""
    return TODAY - timedelta(days=days_ago)


def _date(days_ago: int) -> str:
    return (_day(days_ago) - timedelta(days=1)).date().isoformat()


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"], safe_mode=False)


def _run(dagbag, estate, logical_date: datetime, **conf) -> tuple[object, dict]:
    """One dag.test() run; the params a test may change are always passed (a run's conf outlives the run in
    dag.test(), so the next run would otherwise inherit it)."""
    conf = {"snapshot_source": "manual", "export_attempt": 1, **conf}
    with pytest.MonkeyPatch.context() as env:
        for name, value in estate.airflow_env().items():
            env.setenv(name, value)
        dag_run = dagbag.dags[DAG_ID].test(logical_date=logical_date, run_conf=conf)
    return dag_run, run_record(estate, DAG_ID, dag_run.run_id)


def _step(record: dict, task_id: str) -> dict:
    return next(s for s in record["steps"] if s["task_id"] == task_id)


def _partitions(estate, table: str) -> dict[str, dict]:
    found = estate.aws.client("glue").get_partitions(DatabaseName=DB, TableName=table)["Partitions"]
    return {p["Values"][0]: p for p in found}


def _keys(estate, prefix: str = "aurora/") -> list[str]:
    listing = estate.aws.client("s3").list_objects_v2(Bucket="cdc-exports", Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def _lake_snapshots(estate) -> list[str]:
    found = estate.aws.client("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    return sorted(s["DBClusterSnapshotIdentifier"] for s in found if "-lake-" in s["DBClusterSnapshotIdentifier"])


def _state(estate) -> dict:
    """Everything the runbook creates, for before/after comparisons."""
    glue = estate.aws.client("glue")
    tables = glue.get_tables(DatabaseName=DB)["TableList"]
    return {"snapshots": _lake_snapshots(estate), "keys": _keys(estate),
            "exports": sorted(t["ExportTaskIdentifier"] for t in
                              estate.aws.client("rds").describe_export_tasks()["ExportTasks"]),
            "tables": {t["Name"]: (t["VersionId"], t["StorageDescriptor"]["Location"]) for t in tables},
            "partitions": {t: {d: p["StorageDescriptor"]["Location"] for d, p in _partitions(estate, t).items()}
                           for t in ("customers", "orders")}}


def _parquet(estate, folder_uri: str) -> pa.Table:
    prefix = folder_uri.removeprefix("s3://cdc-exports/")
    keys = [k for k in _keys(estate, prefix) if k.endswith(".parquet")]
    assert len(keys) == 1, keys
    body = estate.aws.client("s3").get_object(Bucket="cdc-exports", Key=keys[0])["Body"].read()
    return pq.read_table(io.BytesIO(body))


def _arrow_type(glue_type: str) -> pa.DataType:
    """The Arrow type Athena's Parquet reader accepts for a Glue column type."""
    decimal = re.fullmatch(r"decimal\((\d+),(\d+)\)", glue_type)
    if decimal:
        return pa.decimal128(int(decimal[1]), int(decimal[2]))
    return {"int": pa.int32(), "bigint": pa.int64(), "double": pa.float64(), "timestamp": pa.timestamp("us"),
            "string": pa.string(), "binary": pa.binary()}[glue_type]


def _assert_schema_fits(data: pa.Table, partition: dict) -> None:
    columns = partition["StorageDescriptor"]["Columns"]
    assert data.schema.names == [c["Name"] for c in columns]
    assert data.schema.types == [_arrow_type(c["Type"]) for c in columns]


class TestTwoDays:
    """Two consecutive days, a re-run of the second, then a re-run with keep_intervals=1 (retention)."""

    @pytest.fixture(scope="class")
    def lake(self, request, dagbag):
        from rehearsal.estate import Estate

        with Estate.running() as estate:
            counts_day1 = estate.source_counts()
            first = _run(dagbag, estate, _day(1), **LAG)
            estate.source.writer.execute("INSERT INTO shop.customers (name) VALUES ('second day')")
            counts_day2 = estate.source_counts()
            second = _run(dagbag, estate, _day(0))
            after_two = _state(estate)
            partitions = {t: _partitions(estate, t) for t in ("customers", "orders")}
            files = {(t, d): _parquet(estate, p["StorageDescriptor"]["Location"])
                     for t in partitions for d, p in partitions[t].items()}
            queries = list(estate.athena.queries)
            rerun = _run(dagbag, estate, _day(0))
            after_rerun = _state(estate)
            retention = _run(dagbag, estate, _day(0), keep_intervals=1)
            yield {"runs": [first, second, rerun, retention], "counts": [counts_day1, counts_day2],
                   "after_two": after_two, "partitions": partitions, "files": files, "queries": queries,
                   "after_rerun": after_rerun, "after_retention": _state(estate)}

    def test_every_run_succeeds(self, lake):
        for dag_run, record in lake["runs"]:
            assert dag_run.state == "success", record and record["failed_steps"]
            assert record["outcome"] == "success"

    def test_two_partitions_per_table_whose_location_holds_the_export(self, lake):
        partitions = lake["partitions"]
        for table in ("customers", "orders"):
            assert sorted(partitions[table]) == [_date(1), _date(0)]
            for date, partition in partitions[table].items():
                export_id = f"shop-lake-{date.replace('-', '')}"
                folder = f"s3://cdc-exports/aurora/{export_id}/shop/shop.{table}/"
                assert partition["StorageDescriptor"]["Location"] == folder
                assert partition["Parameters"]["export_task_identifier"] == export_id
                assert "cdc_runbooks_validated_at" in partition["Parameters"]

    def test_registered_columns_fit_the_parquet_and_hold_the_snapshot(self, lake):
        for table in ("customers", "orders"):
            for days_ago, counts in zip((1, 0), lake["counts"], strict=True):
                data = lake["files"][table, _date(days_ago)]
                _assert_schema_fits(data, lake["partitions"][table][_date(days_ago)])
                assert data.num_rows == counts[table]
        orders = {c["Name"]: c["Type"] for c in lake["partitions"]["orders"][_date(0)]["StorageDescriptor"]["Columns"]}
        assert orders["updated_at"] == "timestamp" and orders["amount"] == "decimal(12,2)"

    def test_tables_and_latest_point_where_they_should(self, lake):
        tables = lake["after_two"]["tables"]
        assert tables["orders"][1] == "s3://cdc-exports/aurora/"
        newest = f"shop-lake-{_date(0).replace('-', '')}"
        assert tables["orders_latest"][1] == f"s3://cdc-exports/aurora/{newest}/shop/shop.orders/"

    def test_validation_asked_athena_for_each_export_before_publishing_it(self, lake):
        for table in ("customers", "orders"):
            for days_ago in (1, 0):
                staged = f"{table}__shop_lake_{_date(days_ago).replace('-', '')}"
                assert glue_schema.count_query(DB, staged) in lake["queries"]
                assert staged not in lake["after_two"]["tables"]
        validated = _step(lake["runs"][1][1], "validate_counts")["result"]["shop"]["counts"]
        assert validated["customers"] == (f"customers: Athena {lake['counts'][1]['customers']}, source at the "
                                          f"snapshot {lake['counts'][1]['customers']}")

    def test_a_rerun_of_the_same_day_changes_nothing(self, lake):
        assert lake["after_rerun"] == lake["after_two"]
        assert lake["after_two"]["snapshots"] == [f"shop-lake-{_date(d).replace('-', '')}" for d in (1, 0)]
        assert lake["after_two"]["exports"] == lake["after_two"]["snapshots"]
        rerun = lake["runs"][2][1]
        assert _step(rerun, "take_snapshot")["result"]["shop"]["action"] == "adopt"
        assert _step(rerun, "export_snapshot")["result"]["shop"]["action"] == "adopt"

    def test_retention_deletes_only_the_older_day(self, lake):
        before, after = lake["after_rerun"], lake["after_retention"]
        old, new = (f"shop-lake-{_date(d).replace('-', '')}" for d in (1, 0))
        assert after["snapshots"] == [new]
        assert not [k for k in after["keys"] if k.startswith(f"aurora/{old}/")]
        assert after["keys"] == [k for k in before["keys"] if k.startswith(f"aurora/{new}/")]
        for table in ("customers", "orders"):
            assert list(after["partitions"][table]) == [_date(0)]
        assert _step(lake["runs"][3][1], "apply_retention")["result"]["shop"]["delete"] == [old]


class TestFailures:
    @pytest.fixture(scope="class")
    def failing(self, dagbag):
        from rehearsal.estate import Estate
        from rehearsal.export import ExportFaults

        with Estate.running() as estate:
            yield estate
            estate.exports.faults = ExportFaults()

    def _failed(self, dagbag, estate, days_ago: int, step: str, **conf) -> str:
        dag_run, record = _run(dagbag, estate, _day(days_ago), **(conf or LAG))
        assert dag_run.state == "failed" and record["outcome"] == "failed"
        assert record["failed_steps"][0] == step
        return _step(record, step)["failure"]

    def test_export_failure_fails_with_its_cause(self, failing, dagbag):
        failing.exports.faults.fail_with = "The IAM role doesn't have permission to write to the S3 bucket."
        try:
            message = self._failed(dagbag, failing, 3, "export_snapshot")
        finally:
            failing.exports.faults.fail_with = None
        assert "ExportFailed" in message and "doesn't have permission to write" in message
        assert "export_attempt" in message

    def test_a_skipped_table_fails_verification_with_the_list(self, failing, dagbag):
        failing.exports.faults.skip_tables = ("shop.orders",)
        try:
            message = self._failed(dagbag, failing, 4, "verify_export")
        finally:
            failing.exports.faults.skip_tables = ()
        assert "1 of 2 tables are not usable: shop.orders: SKIPPED" in message
        assert "orders" not in [t["Name"] for t in failing.aws.client("glue").get_tables(DatabaseName=DB)["TableList"]]

    def test_counts_that_disagree_with_the_snapshot_fail_validation(self, failing, dagbag):
        snapshot_id = f"shop-lake-{_date(5).replace('-', '')}"
        failing.aws.client("rds").create_db_cluster_snapshot(
            DBClusterIdentifier="prod", DBClusterSnapshotIdentifier=snapshot_id,
            Tags=[{"Key": "cdc-runbooks:rows:customers", "Value": "1..2"},
                  {"Key": "cdc-runbooks:rows:orders", "Value": f"{failing.source_counts()['orders']}..999999"}])
        message = self._failed(dagbag, failing, 5, "validate_counts")
        assert "CountMismatch" in message and "customers: Athena" in message and "1..2 MISMATCH" in message
        assert "orders" not in message

    def test_a_day_too_old_for_a_manual_snapshot_is_refused_before_anything(self, failing, dagbag):
        before = _lake_snapshots(failing)
        message = self._failed(dagbag, failing, 9, "preflight", max_snapshot_lag_hours=26)
        assert "snapshot_source=automated" in message and _lake_snapshots(failing) == before


ALL_TYPES_DDL = """CREATE TABLE shop.all_types (
    id BIGINT UNSIGNED NOT NULL PRIMARY KEY, t TINYINT, s SMALLINT UNSIGNED, m MEDIUMINT, mu MEDIUMINT UNSIGNED,
    i INT, iu INT UNSIGNED, b BIGINT, y YEAR, d DECIMAL(12,2), dz DECIMAL(10), wide DECIMAL(50,10), f FLOAT,
    dbl DOUBLE, dt DATETIME(6), ts TIMESTAMP NULL, dd DATE, tm TIME, c CHAR(3), vc VARCHAR(20), tt TINYTEXT,
    tx TEXT, mt MEDIUMTEXT, lt LONGTEXT, js JSON, e ENUM('a','b'), st SET('x','y'), bn BINARY(4), vb VARBINARY(8),
    tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB, bt BIT(3), g GEOMETRY NULL)"""
ALL_TYPES_ROW = """INSERT INTO shop.all_types VALUES (18446744073709551615, -1, 65535, -8388608, 16777215,
    -2147483648, 4294967295, -9223372036854775808, 2026, 1234567890.12, 42, 12345678901234567890.0123456789, 1.5,
    2.25, '2026-01-02 03:04:05.678901', '2026-01-02 03:04:05', '2026-01-02', '-12:34:56', 'abc', 'varchar',
    'tiny', 'text', 'medium', 'long', '{"k": 1}', 'b', 'x,y', 'bin4', 'vb', 'tb', 'blob', 'mb', 'lb', b'101', NULL)"""


def test_every_mysql_type_is_registered_so_the_parquet_fits(dagbag, tmp_path, monkeypatch):
    from rehearsal.estate import Estate

    config = tmp_path / "pipelines.yaml"
    text = DEFAULT_PATH.read_text().replace("tables: [customers, orders]",
                                                         "tables: [customers, orders, all_types, empty_one]")
    config.write_text(text)
    monkeypatch.setenv("CDC_RUNBOOKS_PIPELINES", str(config))
    with Estate.running() as estate:
        estate.source.writer.execute(ALL_TYPES_DDL)
        estate.source.writer.execute(ALL_TYPES_ROW)
        estate.source.writer.execute("CREATE TABLE shop.empty_one (id INT PRIMARY KEY)")  # RDS writes no file
        dag_run, record = _run(dagbag, estate, _day(0))
        assert dag_run.state == "success", record["failed_steps"]
        partition = _partitions(estate, "all_types")[_date(0)]
        types = {c["Name"]: c["Type"] for c in partition["StorageDescriptor"]["Columns"]}
        data = _parquet(estate, partition["StorageDescriptor"]["Location"])
        _assert_schema_fits(data, partition)
    assert types == {
        "id": "decimal(20,0)", "t": "int", "s": "int", "m": "int", "mu": "bigint", "i": "int", "iu": "bigint",
        "b": "bigint", "y": "int", "d": "decimal(12,2)", "dz": "decimal(10,0)", "wide": "string", "f": "double",
        "dbl": "double", "dt": "timestamp", "ts": "timestamp", "dd": "string", "tm": "string", "c": "string",
        "vc": "string", "tt": "string", "tx": "string", "mt": "string", "lt": "string", "js": "string",
        "e": "string", "st": "string", "bn": "binary", "vb": "binary", "tb": "binary", "bl": "binary",
        "mb": "binary", "lb": "binary", "bt": "binary", "g": "binary"}
    assert _step(record, "verify_export")["result"]["shop"]["files"]["empty_one"] == 0
    assert _step(record, "validate_counts")["result"]["shop"]["counts"]["empty_one"] == (
        "empty_one: Athena 0, source at the snapshot 0")
    row = data.to_pylist()[0]
    assert row["id"] == 18446744073709551615 and row["dd"] == "2026-01-02" and row["tm"] == "-12:34:56"
    assert row["dt"] == datetime(2026, 1, 2, 3, 4, 5, 678901)
    assert json.loads(row["js"]) == {"k": 1}


@contextlib.contextmanager
def _throttled(estate, action: str):
    """Bursts of 5 throttling errors on every call of ``action`` while the block runs."""
    estate.throttling.faults = replace(estate.throttling.faults, burst=5, served=1000, actions=frozenset({action}))
    try:
        yield
    finally:
        estate.throttling.faults = replace(estate.throttling.faults, burst=0)


def _no_retry_delay(patch, dagbag, task_id: str) -> None:
    """Let dag.test() run a step's automatic retry at once (the DAG waits 30 s between tries)."""
    patch.setattr(dagbag.dags[DAG_ID].get_task(task_id), "retry_delay", timedelta(0))


def _fail_once(patch, owner, name: str, message: str) -> None:
    """``owner.name`` raises RuntimeError(message) on its first call only (a lost worker, a failed wait)."""
    original, calls = getattr(owner, name), []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError(message)
        return original(*args, **kwargs)

    patch.setattr(owner, name, failing)


class TestSafety:
    """Issue 13: never report success on unverified data; readers only ever see validated data."""

    @pytest.fixture(scope="class")
    def safe(self, dagbag):
        from rehearsal.estate import Estate

        with Estate.running() as estate:
            yield estate

    @pytest.fixture
    def lossy(self, safe):
        safe.exports.faults.lose_rows = ("shop.customers",)
        yield safe
        safe.exports.faults.lose_rows = ()

    def _latest(self, estate, table: str = "customers") -> str:
        return estate.aws.client("glue").get_table(DatabaseName=DB, Name=f"{table}_latest")["Table"][
            "StorageDescriptor"]["Location"]

    def test_a_retried_snapshot_step_keeps_the_counts_and_a_lossy_export_fails(self, safe, lossy, dagbag,
                                                                                 monkeypatch, fault_row):
        from airflow.providers.amazon.aws.hooks.rds import RdsHook

        row = fault_row("snapshot wait failed once, step retried; export lost rows",
                        expected="the retry adopts the snapshot with its counts; validate_counts fails naming the "
                                 "source count; no partition, _latest untouched")
        _no_retry_delay(monkeypatch, dagbag, "take_snapshot")
        _fail_once(monkeypatch, RdsHook, "wait_for_db_cluster_snapshot_state", "waiter failed (throttled)")
        source = safe.source_counts()["customers"]
        dag_run, record = _run(dagbag, safe, _day(10), **LAG)
        assert dag_run.state == "failed" and record["failed_steps"][0] == "validate_counts", record
        message = _step(record, "validate_counts")["failure"]
        assert f"customers: Athena {source // 2}, source at the snapshot {source} MISMATCH" in message
        assert "customers" not in [t["Name"] for t in safe.aws.client("glue").get_tables(DatabaseName=DB)["TableList"]]
        row.recovered(safe, run_outcome(record))

    def test_counts_survive_a_worker_lost_right_after_the_snapshot_call(self, safe, lossy, dagbag, monkeypatch):
        from cdc_runbooks.operators import snapshot_export

        _no_retry_delay(monkeypatch, dagbag, "take_snapshot")
        original, calls = snapshot_export.source_counts, []

        def lost_after_create(pipeline):
            calls.append(1)
            if len(calls) == 2:  # the count after CreateDBClusterSnapshot
                raise RuntimeError("worker lost")
            return original(pipeline)

        monkeypatch.setattr(snapshot_export, "source_counts", lost_after_create)
        source = safe.source_counts()["customers"]
        dag_run, record = _run(dagbag, safe, _day(11), **LAG)
        assert dag_run.state == "failed" and record["failed_steps"][0] == "validate_counts", record
        assert f"source at the snapshot {source} MISMATCH" in _step(record, "validate_counts")["failure"]

    def test_a_failed_redo_or_a_failed_newer_day_leaves_validated_data_in_place(self, safe, dagbag, fault_row):
        row = fault_row("redo of a validated day (export_attempt + 1) lost rows",
                        expected="validate_counts fails; the partition keeps attempt 1's validated files; _latest "
                                 "keeps the newest validated day")
        good, _ = _run(dagbag, safe, _day(3), **LAG)
        assert good.state == "success"
        validated = _partitions(safe, "customers")[_date(3)]
        latest = self._latest(safe)
        safe.exports.faults.lose_rows = ("shop.customers",)
        try:
            redo, redone = _run(dagbag, safe, _day(3), export_attempt=2, **LAG)
            newer, _ = _run(dagbag, safe, _day(2), **LAG)
        finally:
            safe.exports.faults.lose_rows = ()
        assert redo.state == "failed" and redone["failed_steps"][0] == "validate_counts"
        assert newer.state == "failed"
        after = _partitions(safe, "customers")
        assert after[_date(3)]["StorageDescriptor"] == validated["StorageDescriptor"]
        assert after[_date(3)]["Parameters"] == validated["Parameters"]
        assert _date(2) not in after
        assert self._latest(safe) == latest
        row.recovered(safe, f"{run_outcome(redone)}; partition and _latest unchanged")

    def test_a_day_that_has_not_ended_is_refused_and_leaves_nothing(self, safe, dagbag):
        before = _state(safe)
        # Tomorrow of TODAY (fixed when the module was imported): it has not ended even when the suite crosses
        # midnight between import and this run (then _day(-1), today of the import, would have ended).
        dag_run, record = _run(dagbag, safe, _day(-2), snapshot_source="automated")
        assert dag_run.state == "failed" and record["failed_steps"][0] == "preflight"
        assert "has not ended" in _step(record, "preflight")["failure"]
        assert _state(safe) == before

    def test_a_day_whose_export_id_is_taken_is_refused_before_any_snapshot(self, safe, dagbag):
        rds = safe.aws.client("rds")
        automated = rds.describe_db_cluster_snapshots(SnapshotType="automated")["DBClusterSnapshots"][0]
        export_id = f"shop-lake-{_date(6).replace('-', '')}"
        rds.start_export_task(ExportTaskIdentifier=export_id, SourceArn=automated["DBClusterSnapshotArn"],
                              S3BucketName="cdc-exports", IamRoleArn="arn:aws:iam::123456789012:role/rds-s3-export",
                              KmsKeyId="arn:aws:kms:us-east-1:123456789012:alias/cdc-exports", S3Prefix="aurora")
        before = _lake_snapshots(safe)
        dag_run, record = _run(dagbag, safe, _day(6), **LAG)
        assert dag_run.state == "failed" and record["failed_steps"][0] == "preflight"
        assert export_id in _step(record, "preflight")["failure"]
        assert _lake_snapshots(safe) == before

    def test_throttled_preflight_calls_are_retried_not_reported_missing(self, safe, dagbag, monkeypatch):
        _no_retry_delay(monkeypatch, dagbag, "preflight")
        with _throttled(safe, "DescribeDBClusters"):
            dag_run, record = _run(dagbag, safe, _day(7), **LAG)
        assert dag_run.state == "success", record["failed_steps"] and _step(record, record["failed_steps"][0])
        assert safe.throttling.throttled["DescribeDBClusters"] >= 5

    def test_throttled_export_polls_do_not_end_the_wait(self, safe, dagbag, fault_row):
        row = fault_row("export status polls throttled past the SDK's retries",
                        expected="export_snapshot keeps waiting; the run succeeds; throttled polls counted")
        with _throttled(safe, "DescribeExportTasks"):
            dag_run, record = _run(dagbag, safe, _day(8), **LAG)
        throttled = safe.throttling.throttled["DescribeExportTasks"]
        assert dag_run.state == "success", _step(record, "export_snapshot")
        assert throttled >= 5
        row.recovered(safe, f"{run_outcome(record)}; {throttled} throttled DescribeExportTasks")

    def test_a_day_before_the_dags_start_date_runs_and_says_why_it_refuses(self, safe, dagbag):
        dag_run, record = _run(dagbag, safe, datetime(2025, 6, 2, tzinfo=UTC))
        assert record is not None and dag_run.state == "failed"
        assert "snapshot_source=automated" in _step(record, "preflight")["failure"]


def test_the_runbook_says_which_logical_date_redoes_a_day(dagbag):
    """A manual trigger with logical date D gets [D-1, D) (any time on D), so the runbook's redo advice holds."""
    from airflow.serialization.encoders import coerce_to_core_timetable

    timetable = coerce_to_core_timetable(dagbag.dags[DAG_ID].timetable)  # the scheduler's and API's timetable
    for run_after in ("2026-03-05T00:00:00Z", "2026-03-05T13:30:00Z"):
        interval = timetable.infer_manual_data_interval(run_after=pendulum.parse(run_after))
        assert (interval.start.isoformat(), interval.end.isoformat()) == ("2026-03-04T00:00:00+00:00",
                                                                          "2026-03-05T00:00:00+00:00")
    page = (DEFAULT_PATH.parents[1] / "runbooks" / f"{DAG_ID}.md").read_text()
    assert "To redo day `2026-03-04`, trigger with logical date\n`2026-03-05T00:00:00Z`" in page
