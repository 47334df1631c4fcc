"""Glue table definitions for RDS export Parquet: the MySQL type mapping, table/partition inputs, the query."""

from __future__ import annotations

import pytest

from cdc_runbooks.lake import glue_schema
from cdc_runbooks.lake.glue_schema import UnmappedColumnType, glue_type

# Every MySQL type RDS export documents, with the Glue type of the Parquet column it writes.
MYSQL_TO_GLUE = [
    ("tinyint(1)", "int"), ("tinyint unsigned", "int"), ("smallint", "int"), ("smallint(5) unsigned", "int"),
    ("mediumint", "int"), ("mediumint unsigned", "bigint"), ("int", "int"), ("int(11)", "int"),
    ("integer", "int"), ("int(10) unsigned", "bigint"), ("bigint", "bigint"), ("bigint(20)", "bigint"),
    ("bigint unsigned", "decimal(20,0)"), ("bigint(20) unsigned", "decimal(20,0)"), ("year(4)", "int"),
    ("decimal(12,2)", "decimal(12,2)"), ("decimal(10)", "decimal(10,0)"), ("decimal", "decimal(10,0)"),
    ("numeric(38,4)", "decimal(38,4)"), ("decimal(12,2) unsigned", "decimal(12,2)"), ("decimal(50,10)", "string"),
    ("float", "double"), ("double", "double"), ("real", "double"),
    ("datetime", "timestamp"), ("datetime(6)", "timestamp"), ("timestamp", "timestamp"),
    ("timestamp(3)", "timestamp"), ("date", "string"), ("time", "string"), ("time(3)", "string"),
    ("char(3)", "string"), ("varchar(64)", "string"), ("tinytext", "string"), ("text", "string"),
    ("mediumtext", "string"), ("longtext", "string"), ("json", "string"), ("enum('a','b')", "string"),
    ("set('x','y')", "string"), ("binary(4)", "binary"), ("varbinary(8)", "binary"), ("tinyblob", "binary"),
    ("blob", "binary"), ("mediumblob", "binary"), ("longblob", "binary"), ("bit(3)", "binary"),
    ("geometry", "binary"), ("point", "binary"),
]


@pytest.mark.parametrize(("mysql_type", "expected"), MYSQL_TO_GLUE)
def test_mysql_types_map_like_rds_export(mysql_type, expected):
    assert glue_type(mysql_type) == expected
    assert glue_type(mysql_type.upper()) == expected


@pytest.mark.parametrize("mysql_type", ["uuid", "", "(12)", "serial", "int; drop table x"])
def test_unknown_types_are_refused(mysql_type):
    with pytest.raises(UnmappedColumnType, match="no RDS export mapping"):
        glue_type(mysql_type)


def test_columns_keep_order_and_name_the_bad_column():
    mappings = [{"columnName": "id", "originalType": "bigint unsigned"},
                {"columnName": "Updated_At", "originalType": "datetime(6)"}]
    assert glue_schema.columns(mappings) == [
        {"Name": "id", "Type": "decimal(20,0)", "Comment": "MySQL bigint unsigned"},
        {"Name": "updated_at", "Type": "timestamp", "Comment": "MySQL datetime(6)"}]
    with pytest.raises(UnmappedColumnType, match="column 'tag': MySQL type 'uuid'"):
        glue_schema.columns([*mappings, {"columnName": "tag", "originalType": "uuid"}])
    with pytest.raises(UnmappedColumnType, match="cannot be registered"):
        glue_schema.columns([{"columnName": 'a"b', "originalType": "int"}])


def test_table_partition_and_latest_inputs():
    cols = glue_schema.columns([{"columnName": "id", "originalType": "bigint"}])
    table = glue_schema.table_input("orders", cols, "s3://b/aurora", "orders exports")
    assert table["PartitionKeys"] == [{"Name": "snapshot_date", "Type": "string"}]
    assert table["StorageDescriptor"]["Location"] == "s3://b/aurora/"
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    partition = glue_schema.partition_input("2026-01-02", cols, "s3://b/aurora/x/shop/shop.orders/", {"k": "v"})
    assert partition["Values"] == ["2026-01-02"] and partition["StorageDescriptor"]["Columns"] == cols
    assert partition["Parameters"] == {"k": "v"}
    assert partition["StorageDescriptor"]["Location"] == "s3://b/aurora/x/shop/shop.orders/"
    latest = glue_schema.latest_table_input("orders", cols, "s3://b/aurora/x/shop/shop.orders/", "2026-01-02")
    assert latest["Name"] == "orders_latest" and "PartitionKeys" not in latest
    with pytest.raises(ValueError, match="table"):
        glue_schema.table_input("orders; drop", cols, "s3://b/", "")
    staged = glue_schema.staged_table_input("Orders", cols, "s3://b/aurora/x/shop/shop.orders/", "shop-lake-20260102")
    assert staged["Name"] == "orders__shop_lake_20260102" and "PartitionKeys" not in staged
    assert staged["StorageDescriptor"]["Location"] == "s3://b/aurora/x/shop/shop.orders/"


@pytest.mark.parametrize("name", ["snapshot_date", "Snapshot_Date", "SNAPSHOT_DATE"])
def test_a_column_named_like_the_partition_key_is_refused(name):
    with pytest.raises(UnmappedColumnType, match="partition key snapshot_date.*rename the column"):
        glue_schema.columns([{"columnName": "id", "originalType": "int"}, {"columnName": name, "originalType": "date"}])


def test_same_columns_ignores_comments_only():
    a = [{"Name": "id", "Type": "int", "Comment": "x"}]
    assert glue_schema.same_columns(a, [{"Name": "id", "Type": "int", "Comment": "y"}])
    assert not glue_schema.same_columns(a, [{"Name": "id", "Type": "bigint"}])


def test_count_query_is_quoted_and_checked():
    assert glue_schema.count_query("shop_lake", "orders__shop_lake_20260102") == (
        "SELECT COUNT(*) FROM \"shop_lake\".\"orders__shop_lake_20260102\"")
    with pytest.raises(ValueError):
        glue_schema.count_query("shop_lake", "orders\" WHERE '1'='1")
    with pytest.raises(ValueError):
        glue_schema.count_query('shop"lake', "orders")


@pytest.mark.parametrize("mysql_type", ["enum('small (S)','large (L)')", "set('a)','b')", "ENUM('x', ')')",
                                        "enum('a\nb)')"])
def test_enum_and_set_values_may_hold_parentheses(mysql_type):
    assert glue_type(mysql_type) == "string"


def test_staged_names_are_recognised_only_for_the_pipelines_tables_and_exports():
    staged = glue_schema.staged_table_input("Orders", [], "s3://b/x/", "shop-eu-lake-20260102-a2")["Name"]
    assert glue_schema.staged_export(staged, ["customers", "Orders"]) == ("Orders", "shop-eu-lake-20260102-a2")
    for other in ("orders", "orders_latest", "items__shop_eu_lake_20260102", "orders__", "orders__x__y"):
        assert glue_schema.staged_export(other, ["customers", "Orders"]) is None, other
