"""Retention of the batch path: old interval snapshots, export files and Glue partitions go; the newest good stays."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from cdc_runbooks.aws.catalog import GlueCatalog
from cdc_runbooks.aws.exports import cluster_snapshots, delete_cluster_snapshot
from cdc_runbooks.aws.lake_objects import delete_keys, export_roots
from cdc_runbooks.lake import export as se
from cdc_runbooks.lake import glue_schema
from cdc_runbooks.lake.export import IntervalExport
from cdc_runbooks.lake.glue_schema import VALIDATED
from cdc_runbooks.lake.steps import LakeStep
from cdc_runbooks.pipelines import Pipeline


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
        roots = export_roots(pipeline)
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
                delete_keys(pipeline, roots[interval])
            if interval in snapshots:
                delete_cluster_snapshot(pipeline.aws_conn_id, interval.snapshot_id)
        return {**plan.to_dict(), "staged_tables": staged}

    @staticmethod
    def _snapshots(pipeline: Pipeline) -> set[IntervalExport]:
        found = (se.parse_key(pipeline.name, s["DBClusterSnapshotIdentifier"])
                 for s in cluster_snapshots(pipeline.aws_conn_id, pipeline.source_cluster, "manual"))
        return {interval for interval in found if interval is not None}

    @staticmethod
    def _partitions(pipeline: Pipeline) -> dict[str, dict[str, bool]]:
        """{snapshot date: {table: validated}} over the pipeline's Glue tables."""
        catalog = GlueCatalog.of(pipeline)
        result: dict[str, dict[str, bool]] = {}
        for table in pipeline.tables:
            for partition in catalog.partitions(table) or []:
                result.setdefault(partition["Values"][0], {})[table] = VALIDATED in partition.get("Parameters", {})
        return result

    @staticmethod
    def _staged_tables(pipeline: Pipeline) -> list[str]:
        """Staged tables of the pipeline in its Glue database: ``<table>__<export id>`` where the table is one of
        the pipeline's and the export id one this runbook derives for it (``se.parse_key``); nothing else."""
        staged = ((name, glue_schema.staged_export(name, pipeline.tables))
                  for name in GlueCatalog.of(pipeline).table_names())
        return sorted(name for name, found in staged
                      if found is not None and se.parse_key(pipeline.name, found[1]) is not None)

    @staticmethod
    def _drop_tables(pipeline: Pipeline, names: list[str]) -> None:
        catalog = GlueCatalog.of(pipeline)
        for name in names:
            catalog.delete_table(name, missing_ok=True)

    @staticmethod
    def _drop_partitions(pipeline: Pipeline, interval: IntervalExport) -> None:
        catalog = GlueCatalog.of(pipeline)
        for table in pipeline.tables:
            catalog.delete_partition(table, [interval.partition_value])
