"""Retention of the batch path: old interval snapshots, export files and Glue partitions go; the newest good stays."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from cdc_runbooks import glue_schema
from cdc_runbooks import snapshot_export as se
from cdc_runbooks.aws.hooks import aws_hook, rds_hook
from cdc_runbooks.operators.athena_tables import VALIDATED
from cdc_runbooks.operators.snapshot_export import LakeStep
from cdc_runbooks.pipelines import Pipeline
from cdc_runbooks.snapshot_export import IntervalExport


class ApplyRetentionOperator(LakeStep):
    """Delete what this runbook made for intervals older than ``keep_intervals`` (the run's own interval counts
    as one): the manual snapshot (DeleteDBClusterSnapshot), the export's files under
    ``<prefix>/<export id>/`` and the Glue partitions pointing at them. Only names this runbook derives are
    touched (automated snapshots expire on their own); nothing newer than the run's interval, and never the
    newest interval whose partitions were all validated, is deleted. Also drops every staged table validation
    left behind (``<table>__<export id>`` of the pipeline's tables and exports: a failed drop, a lost worker),
    whatever its day: validate_counts of this run has finished with them.

    :param keep_intervals: how many daily intervals to keep, counting the run's own (1 or more).
    """

    template_fields: Sequence[str] = (*LakeStep.template_fields, "keep_intervals")

    def __init__(self, *, keep_intervals: int | str = 7, **kwargs) -> None:
        super().__init__(**kwargs)
        self.keep_intervals = keep_intervals

    def run_one(self, context, pipeline: Pipeline, names: IntervalExport) -> dict:
        snapshots = self._snapshots(pipeline)
        roots = self._export_roots(pipeline)
        partitions = self._partitions(pipeline)
        good = {date.fromisoformat(value) for value, validated in partitions.items() if all(validated.values())
                and set(validated) == set(pipeline.tables)}
        plan = se.plan_retention([*snapshots, *roots], names.snapshot_date, int(self.keep_intervals), good)
        staged = self._staged_tables(pipeline)
        self.log.info("Retention plan for %s: %s; staged tables left behind: %s", pipeline.name, plan.to_dict(),
                      staged)
        if self.dry_run:
            return {"dry_run": True, **plan.to_dict(), "staged_tables": staged}
        self._drop_tables(pipeline, staged)
        kept_dates = {e.partition_value for e in plan.keep}
        for interval in plan.delete:
            if interval.partition_value not in kept_dates:
                self._drop_partitions(pipeline, interval)
            if interval in roots:
                aws_hook(S3Hook, pipeline.aws_conn_id).delete_objects(
                    pipeline.export_bucket, roots[interval])
            if interval in snapshots:
                rds_hook(pipeline.aws_conn_id).conn.delete_db_cluster_snapshot(
                    DBClusterSnapshotIdentifier=interval.snapshot_id)
        return {**plan.to_dict(), "staged_tables": staged}

    @staticmethod
    def _snapshots(pipeline: Pipeline) -> set[IntervalExport]:
        rds = rds_hook(pipeline.aws_conn_id).conn
        pages = rds.get_paginator("describe_db_cluster_snapshots").paginate(
            DBClusterIdentifier=pipeline.source_cluster, SnapshotType="manual")
        found = (se.parse_key(pipeline.name, s["DBClusterSnapshotIdentifier"]) for page in pages
                 for s in page["DBClusterSnapshots"])
        return {interval for interval in found if interval is not None}

    @staticmethod
    def _export_roots(pipeline: Pipeline) -> dict[IntervalExport, list[str]]:
        """{interval: every key under its export root} for the pipeline's exports in the bucket."""
        s3 = aws_hook(S3Hook, pipeline.aws_conn_id)
        base = f"{pipeline.export_prefix.strip('/')}/" if pipeline.export_prefix else ""
        roots = {}
        for folder in s3.list_prefixes(bucket_name=pipeline.export_bucket, prefix=base, delimiter="/"):
            interval = se.parse_key(pipeline.name, folder[len(base):].strip("/"))
            if interval is not None:
                roots[interval] = s3.list_keys(bucket_name=pipeline.export_bucket, prefix=folder)
        return roots

    @staticmethod
    def _partitions(pipeline: Pipeline) -> dict[str, dict[str, bool]]:
        """{snapshot date: {table: validated}} over the pipeline's Glue tables."""
        hook = aws_hook(GlueCatalogHook, pipeline.aws_conn_id)
        result: dict[str, dict[str, bool]] = {}
        for table in pipeline.tables:
            try:
                pages = list(hook.conn.get_paginator("get_partitions").paginate(
                    DatabaseName=pipeline.glue_database, TableName=table))
            except hook.conn.exceptions.EntityNotFoundException:
                continue
            for partition in (p for page in pages for p in page["Partitions"]):
                result.setdefault(partition["Values"][0], {})[table] = VALIDATED in partition.get("Parameters", {})
        return result

    @staticmethod
    def _staged_tables(pipeline: Pipeline) -> list[str]:
        """Staged tables of the pipeline in its Glue database: ``<table>__<export id>`` where the table is one of
        the pipeline's and the export id one this runbook derives for it (``se.parse_key``); nothing else."""
        pages = aws_hook(GlueCatalogHook, pipeline.aws_conn_id).conn.get_paginator("get_tables").paginate(
            DatabaseName=pipeline.glue_database)
        staged = ((t["Name"], glue_schema.staged_export(t["Name"], pipeline.tables)) for page in pages
                  for t in page["TableList"])
        return sorted(name for name, found in staged
                      if found is not None and se.parse_key(pipeline.name, found[1]) is not None)

    @staticmethod
    def _drop_tables(pipeline: Pipeline, names: list[str]) -> None:
        glue = aws_hook(GlueCatalogHook, pipeline.aws_conn_id).conn
        for name in names:
            try:
                glue.delete_table(DatabaseName=pipeline.glue_database, Name=name)
            except glue.exceptions.EntityNotFoundException:
                continue

    @staticmethod
    def _drop_partitions(pipeline: Pipeline, interval: IntervalExport) -> None:
        glue = aws_hook(GlueCatalogHook, pipeline.aws_conn_id).conn
        for table in pipeline.tables:
            try:
                glue.delete_partition(DatabaseName=pipeline.glue_database, TableName=table,
                                      PartitionValues=[interval.partition_value])
            except glue.exceptions.EntityNotFoundException:
                continue
