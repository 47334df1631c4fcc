"""Operators for the Athena half of the batch path: validate the export with Athena, then publish it in Glue.

Thin shells over :mod:`cdc_runbooks.lake.glue_schema` and :mod:`cdc_runbooks.lake.export`; Glue and Athena
through :mod:`cdc_runbooks.aws.catalog`. Readers only ever see validated data: ``validate_counts`` counts each
export folder through a staged table of its own, and only then does ``register_tables`` point the day's
partition (already marked validated, in the same UpdatePartition call) and ``<table>_latest`` at it.
Partitions are added through the Glue API, never by MSCK REPAIR TABLE scans.
"""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from cdc_runbooks.aws.catalog import GlueCatalog, athena_count
from cdc_runbooks.aws.exports import resource_tags
from cdc_runbooks.lake import export as se
from cdc_runbooks.lake import glue_schema
from cdc_runbooks.lake.export import IntervalExport
from cdc_runbooks.lake.glue_schema import EXPORT_ID, VALIDATED
from cdc_runbooks.lake.steps import LakeStep, SnapshotStep, exported_columns, find_snapshot
from cdc_runbooks.pipelines import Pipeline


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

    :param waiter_max_attempts: Athena status polls per query (every ``poll_interval_s``, at least 1 s).
    """

    def __init__(self, *, waiter_max_attempts: int = 720, **kwargs) -> None:
        super().__init__(**kwargs)
        self.waiter_max_attempts = waiter_max_attempts

    def run_one(self, context, pipeline: Pipeline, names: IntervalExport) -> dict:
        if self.dry_run:
            return {"dry_run": "no queries in a dry run"}
        start, end = self.interval(context)
        snapshot = find_snapshot(pipeline, names, self.snapshot_source, start, end)
        if snapshot is None:
            raise se.ExportRefused(f"{pipeline.name}: the interval's snapshot does not exist")
        recorded = se.recorded_counts(resource_tags(pipeline.aws_conn_id, snapshot["DBClusterSnapshotArn"]))
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
        catalog = GlueCatalog.of(pipeline)
        if catalog.table(staged["Name"]) is not None:
            catalog.delete_table(staged["Name"])  # left by a lost try
        catalog.create_table(staged)
        try:
            return self._query_count(pipeline, staged["Name"])
        finally:
            self._drop_staged(catalog, staged["Name"])

    def _drop_staged(self, catalog: GlueCatalog, name: str) -> None:
        """Drop a staged table; a failure is logged, not raised (it would hide the count or its error)."""
        try:
            catalog.delete_table(name)
        except (ClientError, BotoCoreError) as error:
            self.log.warning("Could not drop the staged table %s.%s (%s); apply_retention drops it",
                             catalog.database, name, error)

    def _query_count(self, pipeline: Pipeline, table: str) -> int:
        return athena_count(pipeline, table, self.waiter_max_attempts)


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
        catalog = GlueCatalog.of(pipeline)
        return {table: self._register(catalog, pipeline, names, table, columns, folder, validated_at)
                for table, (columns, folder) in exported_columns(pipeline, names).items()}

    @staticmethod
    def _validated_at(context, pipeline: Pipeline, names: IntervalExport) -> str:
        result = (context["ti"].xcom_pull(task_ids="validate_counts") or {}).get(pipeline.name) or {}
        if result.get("export_id") != names.export_id:
            raise se.CountMismatch(f"{pipeline.name}: validate_counts of this run has not validated "
                                   f"{names.export_id}: nothing is published")
        return result["validated_at"]

    def _register(self, catalog: GlueCatalog, pipeline: Pipeline, names: IntervalExport, table: str,
                  columns: list[dict], folder: str, validated_at: str) -> dict:
        date = names.partition_value
        root = f"s3://{pipeline.export_bucket}/{(pipeline.export_prefix or '').strip('/')}"
        wanted = glue_schema.table_input(table, columns, root, f"{pipeline.name}.{table}: RDS snapshot exports")
        existing = catalog.table(table)
        dates = [p["Values"][0] for p in catalog.partitions(table) or []] if existing else []
        newest = all(date >= d for d in dates)
        partition = glue_schema.partition_input(date, columns, folder, {EXPORT_ID: names.export_id,
                                                                        VALIDATED: validated_at})
        actions = {"table": self._put_table(catalog, existing, wanted, newest),
                   "partition": self._put_partition(catalog, table, partition)}
        if newest:
            latest = glue_schema.latest_table_input(table, columns, folder, date)
            actions["latest"] = self._put_table(catalog, catalog.table(latest["Name"]), latest, True)
        return {**actions, "location": folder}

    @staticmethod
    def _put_table(catalog: GlueCatalog, existing: dict | None, wanted: dict, newest: bool) -> str:
        if existing is None:
            catalog.create_table(wanted)
            return "created"
        current = existing["Table"]
        same = glue_schema.same_columns(current["StorageDescriptor"]["Columns"], wanted["StorageDescriptor"][
            "Columns"]) and current["StorageDescriptor"]["Location"] == wanted["StorageDescriptor"]["Location"]
        if same or not newest:
            return "unchanged"
        catalog.update_table(wanted)
        return "updated"

    @staticmethod
    def _put_partition(catalog: GlueCatalog, table: str, wanted: dict) -> str:
        existing = catalog.partition(table, wanted["Values"])
        if existing is None:
            catalog.create_partition(table, wanted)
            return "created"
        current = existing["Partition"]
        if (current["StorageDescriptor"]["Location"] == wanted["StorageDescriptor"]["Location"]
                and VALIDATED in current.get("Parameters", {})):
            return "unchanged"
        catalog.update_partition(table, wanted)
        return "repointed"
