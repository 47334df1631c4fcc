"""Operators for the Athena half of the batch path: register the export in Glue, validate it with Athena.

Thin shells over ``cdc_runbooks.glue_schema`` and ``cdc_runbooks.snapshot_export``;
Glue through GlueCatalogHook, Athena through AthenaHook. Partitions are added
through the Glue API (CreatePartition), never by MSCK REPAIR TABLE scans.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pyarrow.parquet as pq
from airflow.providers.amazon.aws.hooks.athena import AthenaHook
from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from cdc_runbooks import glue_schema
from cdc_runbooks import snapshot_export as se
from cdc_runbooks.aws_hooks import aws_hook, rds_hook
from cdc_runbooks.operators.snapshot_export import (
    LakeStep,
    SnapshotStep,
    data_keys,
    export_only,
    find_snapshot,
    read_tables_info,
)
from cdc_runbooks.pipelines import Pipeline
from cdc_runbooks.snapshot_export import IntervalExport

VALIDATED = "cdc_runbooks_validated_at"


def _location(pipeline: Pipeline, key: str) -> str:
    return f"s3://{pipeline.export_bucket}/{key}"


def _get(call, *args, **kwargs) -> dict | None:
    """A Glue Get* result, None when the entity does not exist."""
    try:
        return call(*args, **kwargs)
    except call.__self__.exceptions.EntityNotFoundException:
        return None


class RegisterTablesOperator(LakeStep):
    """One Glue table per pipeline table over the export's Parquet, partitioned by ``snapshot_date``, plus
    ``<table>_latest`` over the newest snapshot (CreateTable/UpdateTable/CreatePartition:
    https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-catalog-partitions.html).

    Columns come from the export's own type mappings (export_tables_info). The table is created once; its
    columns follow the newest snapshot; each partition keeps its export's columns and LOCATION (the table's
    folder in the export). An existing partition with the same LOCATION is left alone, so a re-run changes
    nothing; a partition of the same date from an earlier export attempt is repointed.
    """

    def run_one(self, context, pipeline: Pipeline, names: IntervalExport) -> dict:
        found = read_tables_info(pipeline, names)
        if found is None and self.dry_run:
            return {"dry_run": "nothing exported yet"}
        if found is None:
            raise se.ExportIncomplete(f"{pipeline.name}: export {names.export_id} has no export_tables_info")
        glue = aws_hook(GlueCatalogHook, pipeline.aws_conn_id).conn
        result = {}
        for table in se.verify_tables(found, export_only(pipeline)):
            columns = glue_schema.columns(list(table.type_mappings))
            folder = _location(pipeline, names.table_folder(pipeline.export_prefix, pipeline.target_schema,
                                                            table.table))
            result[table.table] = self._register(glue, pipeline, names, table.table, columns, folder)
        return result

    def _register(self, glue, pipeline: Pipeline, names: IntervalExport, table: str, columns: list[dict],
                  folder: str) -> dict:
        database, date = pipeline.glue_database, names.partition_value
        root = _location(pipeline, (pipeline.export_prefix or "").strip("/"))
        wanted = glue_schema.table_input(table, columns, root, f"{pipeline.name}.{table}: RDS snapshot exports")
        existing = _get(glue.get_table, DatabaseName=database, Name=table)
        dates = [p["Values"][0] for p in self._partitions(glue, database, table)] if existing else []
        newest = all(date >= d for d in dates)
        actions = {"table": self._put_table(glue, database, existing, wanted, newest),
                   "partition": self._put_partition(glue, database, table, date, columns, folder, names.export_id)}
        if newest:
            latest = glue_schema.latest_table_input(table, columns, folder, date)
            actions["latest"] = self._put_table(glue, database, _get(glue.get_table, DatabaseName=database,
                                                                     Name=latest["Name"]), latest, True)
        return {**actions, "location": folder}

    def _put_table(self, glue, database: str, existing: dict | None, wanted: dict, newest: bool) -> str:
        if existing is None:
            if not self.dry_run:
                glue.create_table(DatabaseName=database, TableInput=wanted)
            return "created"
        current = existing["Table"]
        same = glue_schema.same_columns(current["StorageDescriptor"]["Columns"], wanted["StorageDescriptor"][
            "Columns"]) and current["StorageDescriptor"]["Location"] == wanted["StorageDescriptor"]["Location"]
        if same or not newest:
            return "unchanged"
        if not self.dry_run:
            glue.update_table(DatabaseName=database, TableInput=wanted)
        return "updated"

    def _put_partition(self, glue, database: str, table: str, date: str, columns: list[dict], folder: str,
                       export_id: str) -> str:
        wanted = glue_schema.partition_input(date, columns, folder, export_id)
        existing = _get(glue.get_partition, DatabaseName=database, TableName=table, PartitionValues=[date])
        if existing is not None and existing["Partition"]["StorageDescriptor"]["Location"] == wanted[
                "StorageDescriptor"]["Location"]:
            return "unchanged"
        if self.dry_run:
            return "would be " + ("repointed" if existing else "created")
        if existing is not None:
            glue.update_partition(DatabaseName=database, TableName=table, PartitionValueList=[date],
                                  PartitionInput=wanted)
            return "repointed"
        glue.create_partition(DatabaseName=database, TableName=table, PartitionInput=wanted)
        return "created"

    @staticmethod
    def _partitions(glue, database: str, table: str) -> list[dict]:
        pages = glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table)
        return [p for page in pages for p in page["Partitions"]]


class ValidateCountsOperator(SnapshotStep):
    """Athena's row count of each table's new partition against what the source held at the snapshot.

    Runs ``SELECT COUNT(*) ... WHERE snapshot_date = '<date>'`` per table (AthenaHook, the pipeline's
    workgroup and output location) and compares it with the counts recorded on the snapshot when it was taken
    (before..after CreateDBClusterSnapshot). A snapshot without recorded counts (automated) is checked against
    the rows in the export's Parquet footers, and the result says so. A failed query or any mismatch fails the
    step; on success each partition is marked validated once (the retention step never deletes the newest such).

    :param max_polling_attempts: Athena status polls per query.
    """

    def __init__(self, *, max_polling_attempts: int = 720, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_polling_attempts = max_polling_attempts

    def run_one(self, context, pipeline: Pipeline, names: IntervalExport) -> dict:
        if self.dry_run:
            return {"dry_run": "no queries in a dry run"}
        start, end = self.interval(context)
        snapshot = find_snapshot(pipeline, names, self.snapshot_source, start, end)
        if snapshot is None:
            raise se.ExportRefused(f"{pipeline.name}: the interval's snapshot does not exist")
        tags = rds_hook(pipeline.aws_conn_id).conn.list_tags_for_resource(
            ResourceName=snapshot["DBClusterSnapshotArn"])["TagList"]
        recorded = se.recorded_counts(tags)
        athena = {table: self._count(pipeline, table, names.partition_value) for table in pipeline.tables}
        files = {t: self._file_rows(pipeline, names, t) for t in pipeline.tables if t not in recorded}
        checks = se.check_counts(athena, recorded, files)
        self._mark_validated(pipeline, names.partition_value)
        for check in checks:
            self.log.info("%s", check.describe())
        return {check.table: check.describe() for check in checks}

    def _count(self, pipeline: Pipeline, table: str, date: str) -> int:
        hook = aws_hook(AthenaHook, pipeline.aws_conn_id)
        query = glue_schema.count_query(pipeline.glue_database, table, date)
        query_id = hook.run_query(query, query_context={"Database": pipeline.glue_database},
                                  result_configuration={"OutputLocation": pipeline.athena_output},
                                  workgroup=pipeline.athena_workgroup)
        state = hook.poll_query_status(query_id, max_polling_attempts=self.max_polling_attempts,
                                       sleep_time=max(1, int(pipeline.poll_interval_s)))
        if state != "SUCCEEDED":
            raise se.CountMismatch(f"{table}: Athena query {query_id} {state}: "
                                   f"{hook.get_state_change_reason(query_id)} ({query})")
        rows = hook.get_query_results(query_id)["ResultSet"]["Rows"]
        return int(rows[1]["Data"][0]["VarCharValue"])

    @staticmethod
    def _file_rows(pipeline: Pipeline, names: IntervalExport, table: str) -> int:
        s3 = aws_hook(S3Hook, pipeline.aws_conn_id)
        folder = names.table_folder(pipeline.export_prefix, pipeline.target_schema, table)
        return sum(pq.ParquetFile(io.BytesIO(s3.get_key(key, pipeline.export_bucket).get()["Body"].read()))
                   .metadata.num_rows for key in data_keys(pipeline, folder))

    @staticmethod
    def _mark_validated(pipeline: Pipeline, date: str) -> None:
        glue = aws_hook(GlueCatalogHook, pipeline.aws_conn_id).conn
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for table in pipeline.tables:
            partition = glue.get_partition(DatabaseName=pipeline.glue_database, TableName=table,
                                           PartitionValues=[date])["Partition"]
            if VALIDATED in partition.get("Parameters", {}):
                continue
            wanted = {"Values": partition["Values"], "StorageDescriptor": partition["StorageDescriptor"],
                      "Parameters": {**partition.get("Parameters", {}), VALIDATED: now}}
            glue.update_partition(DatabaseName=pipeline.glue_database, TableName=table, PartitionValueList=[date],
                                  PartitionInput=wanted)
