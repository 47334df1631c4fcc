"""Glue (Hive) table definitions for an RDS snapshot export's Parquet files.

Pure: no Airflow, no AWS calls. The schema comes from the export's own
``export_tables_info`` (``schemaMetadata.originalTypeMappings``: each column's
MySQL type), mapped the way RDS writes the Parquet
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-export-snapshot.Considerations.html):

* DATETIME and TIMESTAMP are INT64 TIMESTAMP_MICROS -> ``timestamp``;
* DATE and TIME are UTF-8 strings -> ``string``;
* DECIMAL(p,s) -> ``decimal(p,s)``, a string above precision 38;
* BIGINT UNSIGNED is DECIMAL(20,0) -> ``decimal(20,0)``; INT/MEDIUMINT UNSIGNED -> ``bigint``;
* FLOAT and DOUBLE are doubles; text, JSON, ENUM and SET strings; binary, BLOB, BIT and spatial types binary.

A type without a known mapping is refused: a guessed column type would make
Athena fail (or, worse, misread) every query on the table.

Every table is partitioned by ``snapshot_date`` so the history of snapshots
accumulates; each partition's LOCATION is one export's table folder. A source
column of that name (any case) is refused: Hive and Athena reject a table whose
data column and partition key share a name. Before a partition is published its
folder is counted through a staged table (:func:`staged_table_input`).
"""

from __future__ import annotations

import re

from cdc_runbooks import identifiers
from cdc_runbooks.refusal import Refusal

PARTITION_KEY = "snapshot_date"
LATEST_SUFFIX = "_latest"
STAGED_SEPARATOR = "__"
# Partition parameters: the export a partition reads, and when validate_counts validated it (set in the same
# UpdatePartition call that points the partition at the export: only validated partitions count as published).
EXPORT_ID = "export_task_identifier"
VALIDATED = "cdc_runbooks_validated_at"
_STAGED_EXPORT = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")  # an export id with '-' as '_'
PARQUET_FORMAT = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                  "Parameters": {"serialization.format": "1"}},
}
# Athena table names: lowercase letters, digits and underscores, 255 at most
# (https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html)
_GLUE_TABLE = re.compile(r"^[a-z0-9_]{1,255}$")
# ENUM and SET list their values, which may hold any character (')' too): recognised by name before the general form.
_ENUM_OR_SET = re.compile(r"(?:enum|set)\s*\(.*\)", re.DOTALL)
_COLUMN_TYPE = re.compile(r"^(?P<name>[a-z]+)(?:\((?P<args>[^)]*)\))?(?P<attributes>(?:\s+[a-z]+)*)$")
_SIMPLE = {
    **dict.fromkeys(("tinyint", "smallint", "year"), "int"),
    **dict.fromkeys(("float", "double", "real"), "double"),
    **dict.fromkeys(("datetime", "timestamp"), "timestamp"),
    **dict.fromkeys(("date", "time", "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "json", "enum",
                     "set"), "string"),
    **dict.fromkeys(("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit", "geometry", "point",
                     "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
                     "geometrycollection"), "binary"),
}


class UnmappedColumnType(Refusal, ValueError):
    """A column's MySQL type has no known Parquet mapping in RDS export, or its name cannot be registered."""


def glue_type(mysql_type: str) -> str:
    """The Glue/Athena type of the Parquet column RDS export writes for a MySQL column type."""
    if _ENUM_OR_SET.fullmatch(mysql_type.strip().lower()):
        return "string"
    match = _COLUMN_TYPE.match(mysql_type.strip().lower())
    if match is None:
        raise UnmappedColumnType(f"MySQL type {mysql_type!r} has no RDS export mapping")
    name, unsigned = match["name"], "unsigned" in match["attributes"].split()
    if name in ("decimal", "numeric", "dec", "fixed"):
        precision, _, scale = (match["args"] or "10").partition(",")
        if int(precision) > 38:
            return "string"
        return f"decimal({int(precision)},{int(scale or 0)})"
    if name == "bigint":
        return "decimal(20,0)" if unsigned else "bigint"
    if name in ("mediumint", "int", "integer"):
        return "bigint" if unsigned else "int"
    if name not in _SIMPLE:
        raise UnmappedColumnType(f"MySQL type {mysql_type!r} has no RDS export mapping")
    return _SIMPLE[name]


def columns(type_mappings: list[dict]) -> list[dict]:
    """Glue columns from export_tables_info's ``originalTypeMappings`` (order kept, the MySQL type as comment)."""
    result = []
    for mapping in type_mappings:
        name = mapping["columnName"]
        if not isinstance(name, str) or not name or name != name.strip() or '"' in name or "`" in name:
            raise UnmappedColumnType(f"column name {name!r} cannot be registered")
        if name.lower() == PARTITION_KEY:
            raise UnmappedColumnType(f"column {name!r} has the name of the partition key {PARTITION_KEY}, which "
                                     "Hive and Athena refuse beside it: rename the column in the source (or leave "
                                     "the table out of the pipeline)")
        try:
            result.append({"Name": name.lower(), "Type": glue_type(mapping["originalType"]),
                           "Comment": f"MySQL {mapping['originalType']}"})
        except UnmappedColumnType as error:
            raise UnmappedColumnType(f"column {name!r}: {error}") from None
    return result


def storage(columns_: list[dict], location: str) -> dict:
    """A Parquet StorageDescriptor; ``location`` is an S3 folder URI (a trailing slash is added)."""
    return {"Columns": columns_, "Location": location.rstrip("/") + "/", "Compressed": True, **PARQUET_FORMAT}


def table_input(table: str, columns_: list[dict], location: str, description: str) -> dict:
    """TableInput of a table partitioned by ``snapshot_date`` (CreateTable/UpdateTable)."""
    identifiers.table_name(table)
    return {"Name": table, "Description": description, "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "GZIP"},
            "PartitionKeys": [{"Name": PARTITION_KEY, "Type": "string"}],
            "StorageDescriptor": storage(columns_, location)}


def latest_table_input(table: str, columns_: list[dict], location: str, snapshot_date: str) -> dict:
    """TableInput of ``<table>_latest``: unpartitioned, over the newest snapshot's folder only."""
    identifiers.table_name(table)
    return {"Name": f"{table}{LATEST_SUFFIX}", "TableType": "EXTERNAL_TABLE",
            "Description": f"{table} as of the newest snapshot ({snapshot_date})",
            "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "GZIP",
                           PARTITION_KEY: snapshot_date},
            "StorageDescriptor": storage(columns_, location)}


def staged_table_input(table: str, columns_: list[dict], location: str, export_id: str) -> dict:
    """TableInput of the unpartitioned table validation counts one export's folder through before it is published
    (named ``<table>__<export id>``, dropped after the count; see :func:`staged_export`)."""
    name = _glue_table(f"{table}{STAGED_SEPARATOR}{export_id.replace('-', '_')}".lower())
    return {"Name": name, "TableType": "EXTERNAL_TABLE", "Description": f"{table} of {export_id}, being validated",
            "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "GZIP"},
            "StorageDescriptor": storage(columns_, location)}


def staged_export(name: str, tables: list[str] | tuple[str, ...]) -> tuple[str, str] | None:
    """(table, export id) of a staged table name (:func:`staged_table_input`) of one of ``tables``; None for any
    other name. Table names hold no ``__`` (pipelines.py refuses them), so the first ``__`` separates the two."""
    table, separator, export = name.partition(STAGED_SEPARATOR)
    owners = [t for t in tables if t.lower() == table]
    if not separator or not owners or not _STAGED_EXPORT.fullmatch(export):
        return None
    return owners[0], export.replace("_", "-")


def partition_input(snapshot_date: str, columns_: list[dict], location: str, parameters: dict[str, str]) -> dict:
    """PartitionInput of one snapshot (CreatePartition/UpdatePartition); it carries that export's own columns."""
    return {"Values": [snapshot_date], "Parameters": parameters, "StorageDescriptor": storage(columns_, location)}


def same_columns(a: list[dict], b: list[dict]) -> bool:
    """Whether two column lists have the same names and types in the same order (comments ignored)."""
    return [(c["Name"], c["Type"]) for c in a] == [(c["Name"], c["Type"]) for c in b]


def count_query(database: str, table: str) -> str:
    """The validation query: rows of a (staged, unpartitioned) table (names validated)."""
    identifiers.table_name(database, "glue_database")
    return f"SELECT COUNT(*) FROM \"{database}\".\"{_glue_table(table)}\""  # noqa: S608


def _glue_table(name: str) -> str:
    if not _GLUE_TABLE.match(name):
        raise ValueError(f"{name!r} is not a Glue/Athena table name (lowercase letters, digits, underscores)")
    return name
