"""Athena on the estate: count queries over Glue tables are answered from the Parquet in S3, or FAILED."""

from __future__ import annotations

import pytest

from cdc_runbooks.lake import glue_schema

pytestmark = pytest.mark.estate

DB = "shop_lake"
OUTPUT = "s3://cdc-athena-results/tests/"


@pytest.fixture(scope="module")
def lake(shared_estate):
    """One export of the seeded source, registered as shop_lake.orders (partition 2026-01-01) and as an
    unpartitioned orders_flat over the same folder."""
    estate = shared_estate
    rds, glue = estate.aws.client("rds"), estate.aws.client("glue")
    snapshot = rds.create_db_cluster_snapshot(DBClusterIdentifier=estate.resources.cluster,
                                              DBClusterSnapshotIdentifier="athena-test")["DBClusterSnapshot"]
    rds.start_export_task(ExportTaskIdentifier="athena-test", SourceArn=snapshot["DBClusterSnapshotArn"],
                          S3BucketName=estate.resources.export_bucket, S3Prefix="t", ExportOnly=["shop.orders"],
                          IamRoleArn="arn:aws:iam::123456789012:role/rds-s3-export",
                          KmsKeyId=estate.export_kms_key_arn)
    while rds.describe_export_tasks(ExportTaskIdentifier="athena-test")["ExportTasks"][0]["Status"] != "complete":
        pass  # the estate's export advances one phase per two polls
    folder = f"s3://{estate.resources.export_bucket}/t/athena-test/shop/shop.orders/"
    cols = [{"Name": "id", "Type": "bigint"}]
    glue.create_table(DatabaseName=DB, TableInput=glue_schema.table_input("orders", cols, "s3://cdc-exports/t", ""))
    glue.create_partition(DatabaseName=DB, TableName="orders",
                          PartitionInput=glue_schema.partition_input("2026-01-01", cols, folder, {}))
    flat = glue_schema.latest_table_input("orders", cols, folder, "2026-01-01")
    glue.create_table(DatabaseName=DB, TableInput={**flat, "Name": "orders_flat"})
    return estate


def _partition_count(table: str, snapshot_date: str) -> str:
    return f"SELECT COUNT(*) FROM \"{DB}\".\"{table}\" WHERE \"snapshot_date\" = '{snapshot_date}'"  # noqa: S608


def _run(estate, query: str, output: str | None = OUTPUT) -> tuple[dict, dict | None]:
    athena = estate.aws.client("athena")
    kwargs = {"ResultConfiguration": {"OutputLocation": output}} if output else {}
    qid = athena.start_query_execution(QueryString=query, WorkGroup=estate.resources.athena_workgroup,
                                       QueryExecutionContext={"Database": DB}, **kwargs)["QueryExecutionId"]
    execution = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
    results = athena.get_query_results(QueryExecutionId=qid) if execution["Status"]["State"] == "SUCCEEDED" else None
    return execution, results


def _count(results: dict) -> int:
    rows = results["ResultSet"]["Rows"]
    assert rows[0]["Data"][0]["VarCharValue"] == "_col0"
    assert results["ResultSet"]["ResultSetMetadata"]["ColumnInfo"][0]["Type"] == "bigint"
    return int(rows[1]["Data"][0]["VarCharValue"])


def test_partition_count_is_read_from_the_parquet(lake):
    execution, results = _run(lake, _partition_count("orders", "2026-01-01"))
    assert execution["Status"]["State"] == "SUCCEEDED"
    assert _count(results) == lake.source_counts()["orders"] > 0


def test_result_csv_lands_in_the_output_location(lake):
    execution, results = _run(lake, _partition_count("orders", "2026-01-01"))
    key = execution["ResultConfiguration"]["OutputLocation"].removeprefix("s3://cdc-athena-results/")
    body = lake.aws.client("s3").get_object(Bucket="cdc-athena-results", Key=key)["Body"].read().decode()
    assert body.splitlines() == ['"_col0"', f'"{_count(results)}"']


def test_workgroup_output_location_applies_when_the_query_has_none(lake):
    execution, results = _run(lake, 'SELECT COUNT(*) FROM "shop_lake"."orders_flat"', output=None)
    assert execution["ResultConfiguration"]["OutputLocation"].startswith("s3://cdc-athena-results/")
    assert _count(results) == lake.source_counts()["orders"]


def test_other_partitions_count_zero_and_hidden_files_are_ignored(lake):
    s3 = lake.aws.client("s3")
    s3.put_object(Bucket="cdc-exports", Key="t/athena-test/shop/shop.orders/_SUCCESS", Body=b"")
    s3.put_object(Bucket="cdc-exports", Key="t/athena-test/shop/shop.orders/1/.part.crc", Body=b"junk")
    assert _count(_run(lake, _partition_count("orders", "2026-01-01"))[1]) == lake.source_counts()["orders"]
    assert _count(_run(lake, _partition_count("orders", "1999-01-01"))[1]) == 0


@pytest.mark.parametrize(("query", "reason"), [
    ('SELECT * FROM "shop_lake"."orders"', "NOT_SUPPORTED: the rehearsal estate's Athena answers only"),
    ('SELECT COUNT(*) FROM "shop_lake"."nope"', "TABLE_NOT_FOUND: Table 'awsdatacatalog.shop_lake.nope'"),
    ("SELECT COUNT(*) FROM \"shop_lake\".\"orders\" WHERE \"id\" = '1'", "filters on partition keys only"),
    ("SELECT COUNT(*) FROM \"shop_lake\".\"orders\" WHERE \"zz\" = '1'", "COLUMN_NOT_FOUND: Column 'zz'"),
    ("DROP TABLE shop_lake.orders", "NOT_SUPPORTED"),
])
def test_queries_it_cannot_answer_fail_with_a_reason(lake, query, reason):
    execution, results = _run(lake, query)
    assert execution["Status"]["State"] == "FAILED" and results is None
    assert reason in execution["Status"]["StateChangeReason"]


def test_a_file_that_is_not_parquet_fails_the_query(lake):
    glue = lake.aws.client("glue")
    lake.aws.client("s3").put_object(Bucket="cdc-exports", Key="junk/x/part-0.gz.parquet", Body=b"not parquet")
    table = glue_schema.latest_table_input("junk", [{"Name": "id", "Type": "bigint"}], "s3://cdc-exports/junk/", "x")
    glue.create_table(DatabaseName=DB, TableInput=table)
    execution, _ = _run(lake, 'SELECT COUNT(*) FROM "shop_lake"."junk_latest"')
    assert execution["Status"]["State"] == "FAILED"
    assert "HIVE_BAD_DATA: s3://cdc-exports/junk/x/part-0.gz.parquet is not a valid Parquet file" in (
        execution["Status"]["StateChangeReason"])


def test_without_any_output_location_the_query_fails(lake):
    athena = lake.aws.client("athena")
    athena.create_work_group(Name="no-output", Configuration={})
    qid = athena.start_query_execution(QueryString='SELECT COUNT(*) FROM "shop_lake"."orders_flat"',
                                       WorkGroup="no-output")["QueryExecutionId"]
    status = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
    assert status["State"] == "FAILED" and "No output location provided" in status["StateChangeReason"]
