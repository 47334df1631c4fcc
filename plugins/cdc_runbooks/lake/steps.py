"""The base operators of aurora_snapshot_to_athena's steps, and the lookups the steps share.

Each step works on every pipeline of the run (``pipeline_names``) for the run's data interval, and names
everything from the pipeline and the interval (:class:`cdc_runbooks.lake.export.IntervalExport`): a retry, a
cleared task or a re-run of the interval finds what an earlier try made and adopts it. AWS through
:mod:`cdc_runbooks.aws.exports` and :mod:`cdc_runbooks.aws.lake_objects`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from airflow.sdk import BaseOperator

from cdc_runbooks.aws.exports import cluster_snapshot, cluster_snapshots
from cdc_runbooks.aws.lake_objects import read_tables_info
from cdc_runbooks.lake import export as se
from cdc_runbooks.lake import glue_schema
from cdc_runbooks.lake.export import ExportRefused, IntervalExport
from cdc_runbooks.pipelines import Pipeline, get_pipeline
from cdc_runbooks.step import records_failure

SNAPSHOT_SOURCES = ("manual", "automated")


class LakeStep(BaseOperator):
    """A step of aurora_snapshot_to_athena over the run's pipelines and data interval.

    :param pipeline_names: pipelines (each must have the export settings).
    :param export_attempt: 1, or more after a failed export of the interval (new snapshot and export ids).
    :param dry_run: log what would change; change nothing.
    """

    template_fields: Sequence[str] = ("pipeline_names", "export_attempt", "dry_run")

    def __init__(self, *, pipeline_names: list[str] | str, export_attempt: int | str = 1,
                 dry_run: bool | str = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pipeline_names = pipeline_names
        self.export_attempt = export_attempt
        self.dry_run = dry_run

    @records_failure
    def execute(self, context) -> dict:
        return {name: self.run_one(context, *self.target(context, name)) for name in self.names()}

    def run_one(self, context, pipeline: Pipeline, names: IntervalExport) -> dict:
        raise NotImplementedError

    def names(self) -> list[str]:
        names = [self.pipeline_names] if isinstance(self.pipeline_names, str) else list(self.pipeline_names)
        if not names:
            raise ExportRefused("pipeline_names: at least one pipeline is required")
        return names

    def target(self, context, name: str) -> tuple[Pipeline, IntervalExport]:
        pipeline = get_pipeline(name)
        if not pipeline.exports_to_athena:
            raise ExportRefused(f"pipeline {name!r} has no export settings (export_bucket, ... in pipelines.yaml)")
        start, end = context.get("data_interval_start"), context.get("data_interval_end")
        if start is None or end is None:
            raise ExportRefused("the run has no data interval: trigger it with a logical date")
        return pipeline, IntervalExport.of_interval(name, start, end, int(self.export_attempt))

    @staticmethod
    def interval(context) -> tuple[datetime, datetime]:
        return context["data_interval_start"], context["data_interval_end"]


class SnapshotStep(LakeStep):
    """A step that finds the interval's snapshot.

    :param snapshot_source: ``manual`` (the interval's own snapshot, created by take_snapshot) or ``automated``
        (the newest automated snapshot created inside the interval: for backfills).
    :param max_snapshot_lag_hours: how long after the interval's end a manual snapshot may still be taken.
    """

    template_fields: Sequence[str] = (*LakeStep.template_fields, "snapshot_source", "max_snapshot_lag_hours")

    def __init__(self, *, snapshot_source: str = "manual", max_snapshot_lag_hours: float | str = 26,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.snapshot_source = snapshot_source
        self.max_snapshot_lag_hours = max_snapshot_lag_hours

    def names(self) -> list[str]:
        if self.snapshot_source not in SNAPSHOT_SOURCES:
            raise ExportRefused(f"snapshot_source {self.snapshot_source!r}: expected one of {SNAPSHOT_SOURCES}")
        return super().names()

    @property
    def max_lag(self) -> timedelta:
        return timedelta(hours=float(self.max_snapshot_lag_hours))

    def check_timing(self, end: datetime) -> None:
        se.check_manual_snapshot_timing(end, datetime.now(UTC), self.max_lag)


# -- lookups shared by the steps -------------------------------------------------------------------
def find_snapshot(pipeline: Pipeline, names: IntervalExport, source: str, start: datetime,
                  end: datetime) -> dict | None:
    """The interval's snapshot: the manual one of its deterministic id, or the newest automated one inside it."""
    if source == "automated":
        return se.latest_automated_snapshot(cluster_snapshots(pipeline.aws_conn_id, pipeline.source_cluster,
                                                              "automated"), start, end)
    found = cluster_snapshot(pipeline.aws_conn_id, names.snapshot_id)
    if found is not None and found["DBClusterIdentifier"] != pipeline.source_cluster:
        raise ExportRefused(f"snapshot {names.snapshot_id} is of cluster {found['DBClusterIdentifier']}, not the "
                            f"pipeline's {pipeline.source_cluster}: refusing to export it")
    return found


def export_only(pipeline: Pipeline) -> list[str]:
    """The export's ExportOnly: the pipeline's tables as ``schema.table``."""
    return [f"{pipeline.target_schema}.{table}" for table in pipeline.tables]


def exported_columns(pipeline: Pipeline, names: IntervalExport) -> dict[str, tuple[list[dict], str]]:
    """{table: (Glue columns, S3 folder URI)} of the interval's export, from its export_tables_info; fails if the
    export has none or a table is not COMPLETE, or a column cannot be registered."""
    found = read_tables_info(pipeline, names)
    if found is None:
        raise se.ExportIncomplete(f"{pipeline.name}: export {names.export_id} has no export_tables_info")
    return {table.table: (glue_schema.columns(list(table.type_mappings)), f"s3://{pipeline.export_bucket}/"
                          f"{names.table_folder(pipeline.export_prefix, pipeline.target_schema, table.table)}")
            for table in se.verify_tables(found, export_only(pipeline))}
