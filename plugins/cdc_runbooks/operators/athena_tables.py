"""Operators for the Athena half of the batch path: validate the export with Athena, then publish it in Glue.

Thin shells over ``cdc_runbooks.glue_schema`` and ``cdc_runbooks.snapshot_export``;
Glue through GlueCatalogHook, Athena through AthenaHook. Readers only ever see
validated data: ``validate_counts`` counts each export folder through a staged
table of its own, and only then does ``register_tables`` point the day's partition
(already marked validated, in the same UpdatePartition call) and ``<table>_latest``
at it. Partitions are added through the Glue API, never by MSCK REPAIR TABLE scans.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.providers.amazon.aws.hooks.athena import AthenaHook
from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook
from botocore.exceptions import BotoCoreError, ClientError

from cdc_runbooks import glue_schema
from cdc_runbooks import snapshot_export as se
from cdc_runbooks.aws.hooks import aws_hook, rds_hook
from cdc_runbooks.operators.snapshot_export import LakeStep, SnapshotStep, exported_columns, find_snapshot
from cdc_runbooks.pipelines import Pipeline
from cdc_runbooks.snapshot_export import IntervalExport

VALIDATED = "cdc_runbooks_validated_at"
EXPORT_ID = "export_task_identifier"


def _get(call, *args, **kwargs) -> dict | None:
    """A Glue Get* result, None when the entity does not exist."""
    try:
        return call(*args, **kwargs)
    except call.__self__.exceptions.EntityNotFoundException:
        return None


class ValidateCountsOperator(SnapshotStep):
    """Athena's row count of each table's new export against what the source held at the snapshot, before
    anything points readers at it.

    Per table: a staged unpartitioned Glue table over the export's folder (``<table>__<export id>``),
    ``SELECT COUNT(*)`` on it through Athena (AthenaHook, the pipeline's workgroup and output location), the
    staged table dropped again (a drop that fails is logged, never hides the count or its error: apply_retention
    drops what is left). Each count must lie within the counts recorded on the snapshot when it was taken
    (before..after CreateDBClusterSnapshot). A snapshot without recorded counts (automated, or counts lost)
    fails the step saying so: the export's own files are not an independent check. Any mismatch fails the step
    as a refusal (``CountMismatch``); a query that failed, was cancelled or timed out read no count and fails
    it so that Airflow retries (``CountNotRead``). The published partitions and ``_latest`` are untouched.

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
        recorded = se.recorded_counts(rds_hook(pipeline.aws_conn_id).conn.list_tags_for_resource(
            ResourceName=snapshot["DBClusterSnapshotArn"])["TagList"])
        se.require_counts(pipeline.tables, recorded, snapshot["DBClusterSnapshotIdentifier"])
        athena = {table: self._count(pipeline, glue_schema.staged_table_input(table, columns, folder,
                                                                               names.export_id))
                  for table, (columns, folder) in exported_columns(pipeline, names).items()}
        checks = se.check_counts(athena, recorded)
        for check in checks:
            self.log.info("%s", check.describe())
        return {"export_id": names.export_id, "validated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "counts": {check.table: check.describe() for check in checks}}

    def _count(self, pipeline: Pipeline, staged: dict) -> int:
        glue = aws_hook(GlueCatalogHook, pipeline.aws_conn_id).conn
        if _get(glue.get_table, DatabaseName=pipeline.glue_database, Name=staged["Name"]) is not None:
            glue.delete_table(DatabaseName=pipeline.glue_database, Name=staged["Name"])  # left by a lost try
        glue.create_table(DatabaseName=pipeline.glue_database, TableInput=staged)
        try:
            return self._query_count(pipeline, staged["Name"])
        finally:
            self._drop_staged(glue, pipeline, staged["Name"])

    def _drop_staged(self, glue, pipeline: Pipeline, name: str) -> None:
        """Drop a staged table; a failure is logged, not raised (it would hide the count or its error)."""
        try:
            glue.delete_table(DatabaseName=pipeline.glue_database, Name=name)
        except (ClientError, BotoCoreError) as error:
            self.log.warning("Could not drop the staged table %s.%s (%s); apply_retention drops it",
                             pipeline.glue_database, name, error)

    def _query_count(self, pipeline: Pipeline, table: str) -> int:
        hook = aws_hook(AthenaHook, pipeline.aws_conn_id)
        query = glue_schema.count_query(pipeline.glue_database, table)
        query_id = hook.run_query(query, query_context={"Database": pipeline.glue_database},
                                  result_configuration={"OutputLocation": pipeline.athena_output},
                                  workgroup=pipeline.athena_workgroup)
        state = hook.poll_query_status(query_id, max_polling_attempts=self.max_polling_attempts,
                                       sleep_time=max(1, int(pipeline.poll_interval_s)))
        if state != "SUCCEEDED":
            raise se.CountNotRead(f"{table}: no count was read: Athena query {query_id} {state}: "
                                  f"{hook.get_state_change_reason(query_id)} ({query}); the step is retried")
        rows = hook.get_query_results(query_id)["ResultSet"]["Rows"]
        return int(rows[1]["Data"][0]["VarCharValue"])


class RegisterTablesOperator(LakeStep):
    """Publish the validated export: one Glue table per pipeline table over the export's Parquet, partitioned by
    ``snapshot_date``, plus ``<table>_latest`` over the newest snapshot (CreateTable/UpdateTable/
    CreatePartition/UpdatePartition: https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-catalog-partitions.html).

    Runs only after validate_counts passed for this export in this run (its result names the export id). The
    table is created once; its columns follow the newest snapshot; each partition keeps its export's columns
    and LOCATION and carries the validation time, set in the same call that points it at the export. An
    existing validated partition with the same LOCATION is left alone, so a re-run changes nothing; a
    partition of the same date from an earlier export attempt is repointed only once the new attempt validated.
    """

    def run_one(self, context, pipeline: Pipeline, names: IntervalExport) -> dict:
        if self.dry_run:
            return {"dry_run": "nothing is published in a dry run"}
        validated_at = self._validated_at(context, pipeline, names)
        glue = aws_hook(GlueCatalogHook, pipeline.aws_conn_id).conn
        return {table: self._register(glue, pipeline, names, table, columns, folder, validated_at)
                for table, (columns, folder) in exported_columns(pipeline, names).items()}

    @staticmethod
    def _validated_at(context, pipeline: Pipeline, names: IntervalExport) -> str:
        result = (context["ti"].xcom_pull(task_ids="validate_counts") or {}).get(pipeline.name) or {}
        if result.get("export_id") != names.export_id:
            raise se.CountMismatch(f"{pipeline.name}: validate_counts of this run has not validated "
                                   f"{names.export_id}: nothing is published")
        return result["validated_at"]

    def _register(self, glue, pipeline: Pipeline, names: IntervalExport, table: str, columns: list[dict],
                  folder: str, validated_at: str) -> dict:
        database, date = pipeline.glue_database, names.partition_value
        root = f"s3://{pipeline.export_bucket}/{(pipeline.export_prefix or '').strip('/')}"
        wanted = glue_schema.table_input(table, columns, root, f"{pipeline.name}.{table}: RDS snapshot exports")
        existing = _get(glue.get_table, DatabaseName=database, Name=table)
        dates = [p["Values"][0] for p in self._partitions(glue, database, table)] if existing else []
        newest = all(date >= d for d in dates)
        partition = glue_schema.partition_input(date, columns, folder, {EXPORT_ID: names.export_id,
                                                                        VALIDATED: validated_at})
        actions = {"table": self._put_table(glue, database, existing, wanted, newest),
                   "partition": self._put_partition(glue, database, table, partition)}
        if newest:
            latest = glue_schema.latest_table_input(table, columns, folder, date)
            actions["latest"] = self._put_table(glue, database, _get(glue.get_table, DatabaseName=database,
                                                                     Name=latest["Name"]), latest, True)
        return {**actions, "location": folder}

    @staticmethod
    def _put_table(glue, database: str, existing: dict | None, wanted: dict, newest: bool) -> str:
        if existing is None:
            glue.create_table(DatabaseName=database, TableInput=wanted)
            return "created"
        current = existing["Table"]
        same = glue_schema.same_columns(current["StorageDescriptor"]["Columns"], wanted["StorageDescriptor"][
            "Columns"]) and current["StorageDescriptor"]["Location"] == wanted["StorageDescriptor"]["Location"]
        if same or not newest:
            return "unchanged"
        glue.update_table(DatabaseName=database, TableInput=wanted)
        return "updated"

    @staticmethod
    def _put_partition(glue, database: str, table: str, wanted: dict) -> str:
        existing = _get(glue.get_partition, DatabaseName=database, TableName=table, PartitionValues=wanted["Values"])
        if existing is None:
            glue.create_partition(DatabaseName=database, TableName=table, PartitionInput=wanted)
            return "created"
        current = existing["Partition"]
        if (current["StorageDescriptor"]["Location"] == wanted["StorageDescriptor"]["Location"]
                and VALIDATED in current.get("Parameters", {})):
            return "unchanged"
        glue.update_partition(DatabaseName=database, TableName=table, PartitionValueList=wanted["Values"],
                              PartitionInput=wanted)
        return "repointed"

    @staticmethod
    def _partitions(glue, database: str, table: str) -> list[dict]:
        pages = glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table)
        return [p for page in pages for p in page["Partitions"]]
