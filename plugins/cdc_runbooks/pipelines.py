"""Pipelines are configuration: one YAML file names every CDC pipeline.

Each pipeline names the production Aurora cluster, the DMS task, the Airflow
connections for AWS, the source and the warehouse, the replicated tables, and
where run records and notifications go. Runbooks pick a pipeline by Param;
scheduled DAGs cover all of them. The file is ``config/pipelines.yaml`` in this
repository unless ``CDC_RUNBOOKS_PIPELINES`` names another.

Loading validates everything and fails with the pipeline, the field and the
line: a bad file is an import error of the DAGs that use it, never a silent
default.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, field, fields
from functools import lru_cache
from pathlib import Path

import yaml

from cdc_runbooks import identifiers
from cdc_runbooks.data_api_target import DataApiTarget
from cdc_runbooks.lake.export import MAX_COUNTED_TABLES, MAX_SNAPSHOT_TAGS
from cdc_runbooks.lake.glue_schema import LATEST_SUFFIX, STAGED_SEPARATOR
from cdc_runbooks.refusal import Refusal

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "config" / "pipelines.yaml"
ENV_VAR = "CDC_RUNBOOKS_PIPELINES"


class PipelineConfigError(Refusal, ValueError):
    """The pipelines file is unreadable or a pipeline in it is invalid."""


class UnknownPipeline(Refusal, KeyError):
    """A runbook was asked for a pipeline the configuration does not name."""

    def __str__(self) -> str:
        return self.args[0]


@dataclass(frozen=True)
class Pipeline:
    name: str
    source_cluster: str
    dms_task_arn: str
    target_schema: str
    tables: tuple[str, ...]
    aws_conn_id: str = "aws_default"
    source_conn_id: str = "source_mysql"
    target_conn_id: str = "warehouse"
    sns_topic_arn: str | None = None
    records_bucket: str | None = None
    binlog_retention_hours_min: int = 24
    dms_engine_version: str = "3.5.3"
    drain_max_latency_s: float = 5.0
    drain_sustain_s: float = 60.0
    metric_period_s: int = 60
    poll_interval_s: float = 15.0
    tags: tuple[str, ...] = field(default_factory=tuple)
    # The environment's event queue (EventBridge rules -> SQS): the recovery runbooks start on its events.
    events_queue_url: str | None = None
    # Snapshot export -> S3 Parquet -> Athena (aurora_snapshot_to_athena); all set, or none of them.
    export_bucket: str | None = None
    export_prefix: str | None = None
    export_kms_key_arn: str | None = None
    export_role_arn: str | None = None
    glue_database: str | None = None
    athena_workgroup: str | None = None
    athena_output: str | None = None
    # The warehouse through the Redshift Data API (a mapping: workgroup or cluster, database, secret_arn, db_user)
    # instead of target_conn_id's PostgreSQL protocol.
    redshift_data: DataApiTarget | None = None

    def __post_init__(self) -> None:
        identifiers.cluster_identifier(self.source_cluster, "source_cluster")
        identifiers.arn("dms-task", self.dms_task_arn, "dms_task_arn")
        identifiers.table_name(self.target_schema, "target_schema")
        if not self.tables:
            raise ValueError("tables: at least one table is required")
        for table in self.tables:
            identifiers.table_name(table, "tables")
        for name in ("aws_conn_id", "source_conn_id", "target_conn_id"):
            identifiers.conn_id(getattr(self, name), name)
        if self.sns_topic_arn is not None:
            identifiers.arn("sns-topic", self.sns_topic_arn, "sns_topic_arn")
        if self.events_queue_url is not None:
            identifiers.sqs_queue_url(self.events_queue_url, "events_queue_url")
        if self.records_bucket is not None:
            identifiers.s3_bucket(self.records_bucket, "records_bucket")
        self._validate_export()
        if self.redshift_data is not None and not isinstance(self.redshift_data, DataApiTarget):
            raise ValueError("redshift_data: expected a mapping of workgroup or cluster, database, secret_arn, db_user")
        for name in ("binlog_retention_hours_min", "drain_max_latency_s", "drain_sustain_s", "metric_period_s",
                     "poll_interval_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{name}: {identifiers.shown(value)} must be a positive number")


    @property
    def exports_to_athena(self) -> bool:
        return self.export_bucket is not None

    def glue_tables(self) -> list[str]:
        """The Glue table names the batch path publishes in ``glue_database``: each table and ``<table>_latest``,
        lowercased as Glue stores them (https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html)."""
        return [name.lower() for table in self.tables for name in (table, f"{table}{LATEST_SUFFIX}")]

    def _validate_export(self) -> None:
        values = {name: getattr(self, name) for name in EXPORT_FIELDS}
        if all(value is None for value in values.values()):
            return
        missing = [name for name, value in values.items() if value is None and name != "export_prefix"]
        if missing:
            raise ValueError(f"{', '.join(missing)}: required when any of {', '.join(EXPORT_FIELDS)} is set")
        identifiers.s3_bucket(self.export_bucket, "export_bucket")
        if self.export_prefix is not None:
            identifiers.s3_prefix(self.export_prefix, "export_prefix")
        identifiers.arn("kms-key", self.export_kms_key_arn, "export_kms_key_arn")
        identifiers.arn("iam-role", self.export_role_arn, "export_role_arn")
        identifiers.table_name(self.glue_database, "glue_database")
        identifiers.athena_workgroup(self.athena_workgroup, "athena_workgroup")
        identifiers.s3_uri(self.athena_output, "athena_output")
        self._validate_lake_tables()

    def _validate_lake_tables(self) -> None:
        """Tables the batch path can count and publish: their counts fit the snapshot's tags
        (lake.export.MAX_SNAPSHOT_TAGS), no two share a Glue name, and none has a staged table's ``__``."""
        if len(self.tables) > MAX_COUNTED_TABLES:
            raise ValueError(f"tables: {len(self.tables)} tables, {MAX_COUNTED_TABLES} at most with export settings: "
                             f"the snapshot records one count tag per table besides its fixed tags, and RDS allows "
                             f"{MAX_SNAPSHOT_TAGS} tags per resource; split the pipeline")
        staged = [table for table in self.tables if STAGED_SEPARATOR in table]
        if staged:
            raise ValueError(f"tables: {identifiers.shown(staged[0])} contains '{STAGED_SEPARATOR}', which names the "
                             f"staged tables validation counts through (<table>{STAGED_SEPARATOR}<export id>)")
        names = self.glue_tables()
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"tables: {twice} named twice in Glue (Glue lowercases names, and each table also "
                             f"publishes <table>{LATEST_SUFFIX})")


EXPORT_FIELDS = ("export_bucket", "export_prefix", "export_kms_key_arn", "export_role_arn", "glue_database",
                 "athena_workgroup", "athena_output")
# libyaml's safe loader parses a 50-pipeline file ~15x faster; every DAG file's parse pays for it.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FIELDS = {f.name for f in fields(Pipeline)} - {"name"}


class UnknownTable(Refusal, ValueError):
    """A table asked for is not one of the pipeline's configured tables."""


def selected_tables(pipeline: Pipeline, tables: Sequence[str] | None) -> tuple[str, ...]:
    """The pipeline's tables, or the requested subset (each validated and required to be configured)."""
    if not tables:
        return pipeline.tables
    unknown = [t for t in tables if identifiers.table_name(t, "tables") not in pipeline.tables]
    if unknown:
        raise UnknownTable(f"tables: {identifiers.shown(unknown)} are not tables of pipeline {pipeline.name} "
                           f"({', '.join(pipeline.tables)})")
    return tuple(tables)


def pipelines_path() -> Path:
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)


def load_pipelines(path: Path | None = None) -> dict[str, Pipeline]:
    """All configured pipelines by name (cached per file and modification time)."""
    path = Path(path or pipelines_path())
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise PipelineConfigError(f"{path}: cannot read the pipelines file ({exc.strerror})") from None
    return _load(str(path), mtime)


def get_pipeline(name: str, path: Path | None = None) -> Pipeline:
    pipelines = load_pipelines(path)
    if name not in pipelines:
        raise UnknownPipeline(f"unknown pipeline {identifiers.shown(name)}; configured: {', '.join(sorted(pipelines))}")
    return pipelines[name]


@lru_cache(maxsize=8)
def _load(path: str, _mtime: int) -> dict[str, Pipeline]:
    text = Path(path).read_text()
    try:
        document = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)  # a safe loader (libyaml's when available)
    except yaml.YAMLError as exc:
        raise PipelineConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("pipelines"), dict) or not data["pipelines"]:
        raise PipelineConfigError(f"{path}: expected a top-level 'pipelines:' mapping of name -> settings")
    lines = _line_numbers(document)
    pipelines = {name: _pipeline(path, name, settings, lines.get(name)) for name, settings in data["pipelines"].items()}
    _check_glue_owners(path, pipelines, lines)
    return pipelines


def _check_glue_owners(path: str, pipelines: dict[str, Pipeline], lines: dict[str, int]) -> None:
    """Refuse two pipelines that would publish the same Glue table: the same name (lowercased) in the same
    database through the same AWS connection. Pipelines on different connections are taken to use different
    catalogs (their own account or region, as the rehearsal's estates do)."""
    owners: dict[tuple[str, str, str], str] = {}
    for pipeline in (p for p in pipelines.values() if p.exports_to_athena):
        for name in pipeline.glue_tables():
            key = (pipeline.aws_conn_id, pipeline.glue_database.lower(), name)
            if key in owners:
                raise PipelineConfigError(
                    f"{path}:{lines.get(pipeline.name) or '?'}: pipeline {pipeline.name!r}: Glue table "
                    f"{key[1]}.{name} (aws_conn_id {key[0]}) is also published by pipeline {owners[key]!r}")
            owners[key] = pipeline.name


def _pipeline(path: str, name: object, settings: object, line: int | None) -> Pipeline:
    where = f"{path}:{line or '?'}: pipeline {identifiers.shown(name)}"
    try:
        identifiers.table_name(name, "pipeline name")
        if not isinstance(settings, dict):
            raise ValueError("expected a mapping of settings")
        unknown = sorted(set(settings) - _FIELDS)
        if unknown:
            raise ValueError(f"unknown keys {identifiers.shown(unknown)}; allowed: {sorted(_FIELDS)}")
        missing = sorted(f.name for f in fields(Pipeline) if f.name != "name" and f.name not in settings
                         and f.default is MISSING and f.default_factory is MISSING)
        if missing:
            raise ValueError(f"missing keys {missing}")
        values = {k: tuple(v) if k in ("tables", "tags") and isinstance(v, list) else v for k, v in settings.items()}
        if isinstance(values.get("redshift_data"), dict):
            values["redshift_data"] = DataApiTarget(**values["redshift_data"])
        return Pipeline(name=name, **values)
    except (ValueError, TypeError) as exc:
        raise PipelineConfigError(f"{where}: {exc}") from None


def _line_numbers(document) -> dict[str, int]:
    """Line (1-based) of each pipeline's name in the file."""
    for key, value in document.value if document is not None else ():
        if key.value == "pipelines" and isinstance(value, yaml.MappingNode):
            return {k.value: k.start_mark.line + 1 for k, _ in value.value}
    return {}

