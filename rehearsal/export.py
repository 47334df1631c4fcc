"""Snapshot export made faithful: real Parquet in S3, from what the source held at snapshot time.

moto 5.2.5 completes StartExportTask instantly and writes nothing to S3; it
accepts a missing bucket and a malformed ExportOnly, cannot export a cluster
(SourceArn of a DB cluster), reports SourceType CLUSTER for a cluster snapshot,
lets a finished task be canceled, and has no PercentProgress, TaskStartTime,
TaskEndTime, SnapshotTime, FailureCause or WarningMessage (see
shared/reference/moto-probe.md). Its snapshots hold no data. This controller
patches moto's RDS backend in-process so that, on the estate:

* CreateDBClusterSnapshot records what the source's ``shop`` database holds at
  that instant (one consistent read of every table); CopyDBClusterSnapshot
  copies that record; an export of a cluster reads the source when it starts;
* StartExportTask also refuses a missing bucket (InvalidS3BucketFault) and an
  ExportOnly entry that is not ``database`` or ``database.table`` (InvalidExportOnly);
* a task goes starting -> in_progress -> complete, each phase visible for
  ``polls_per_phase`` DescribeExportTasks polls (PercentProgress 0, 50, 100);
  CancelExportTask is refused unless the task runs, then goes canceling -> canceled;
* on completion the export lands in the bucket as RDS lays it out: one gzip
  Parquet file per table under ``{prefix}/{export_id}/{db}/{db}.{table}/1/``, with
  RDS's MySQL type mapping (:func:`parquet_type`), plus ``export_info_{id}.json``
  and ``export_tables_info_{id}_from_1_to_{N}.json`` at the export root;
* faults (:class:`ExportFaults`) fail the task with a FailureCause, skip
  tables (SKIPPED in export_tables_info, no Parquet, a WarningMessage on the task),
  or lose rows (a table COMPLETE with only the first half of its rows: the lossy
  export that count validation exists to catch).
"""

from __future__ import annotations

import io
import json
import math
import re
import threading
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError
from moto.rds import models as rds_models
from moto.rds.exceptions import (
    DBClusterNotFoundError,
    ExportTaskAlreadyExistsError,
    ExportTaskNotFoundError,
    InvalidParameterValue,
    RDSClientError,
)
from moto.rds.utils import split_arn

from rehearsal.aws import MotoControlPlane
from rehearsal.mariadb import MariaDBServer
from rehearsal.patching import Patches
from rehearsal.schema import SOURCE_DATABASE
from rehearsal.source import BlueGreenSource

SKIPPED_TABLE_MESSAGE = "The table was skipped: it has a column name or row that export doesn't support."
_EXPORT_ONLY = re.compile(r"^[^.]+(\.[^.]+)?$")
_COLUMN_TYPE = re.compile(r"^(?P<name>[a-z]+)(?:\((?P<args>[^)]*)\))?(?P<attributes>.*)$")
_DISPLAY_WIDTH = re.compile(r"^(tinyint|smallint|mediumint|int|bigint|year)\(\d+\)")
_TIMESTAMP = pa.timestamp("us")
_SIMPLE_TYPES: dict[str, pa.DataType] = {
    **dict.fromkeys(("tinyint", "smallint", "year"), pa.int32()),
    **dict.fromkeys(("float", "double", "real"), pa.float64()),
    **dict.fromkeys(("datetime", "timestamp"), _TIMESTAMP),
    **dict.fromkeys(("date", "time", "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "json",
                     "enum", "set"), pa.string()),
    **dict.fromkeys(("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit", "geometry",
                     "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
                     "geometrycollection"), pa.binary()),
}
_EXPORTED_TYPE_NAMES = {pa.int32(): "int32", pa.int64(): "int64", pa.float64(): "double", pa.binary(): "binary",
                        pa.string(): "binary (UTF8)", _TIMESTAMP: "int64 (TIMESTAMP_MICROS)"}


# -- type mapping ------------------------------------------------------------------------------------
def parquet_type(mysql_column_type: str) -> pa.DataType:
    """The Arrow type of the Parquet column RDS export writes for a MySQL COLUMN_TYPE.

    DATETIME/TIMESTAMP become microsecond timestamps, DATE and TIME strings,
    DECIMAL(p,s) a decimal (a string above precision 38), BIGINT UNSIGNED
    DECIMAL(20,0), INT/MEDIUMINT UNSIGNED int64, other integers int32, FLOAT and
    DOUBLE double, text types strings and binary types bytes.
    """
    match = _COLUMN_TYPE.match(mysql_column_type.strip().lower())
    name = match["name"] if match else ""
    unsigned = bool(match) and "unsigned" in match["attributes"].split()
    if name in ("decimal", "numeric", "dec", "fixed"):
        precision, _, scale = (match["args"] or "10").partition(",")
        return pa.string() if int(precision) > 38 else pa.decimal128(int(precision), int(scale or 0))
    if name == "bigint":
        return pa.decimal128(20, 0) if unsigned else pa.int64()
    if name in ("mediumint", "int", "integer"):
        return pa.int64() if unsigned else pa.int32()
    if name not in _SIMPLE_TYPES:
        raise ValueError(f"RDS export has no mapping for MySQL type {mysql_column_type!r}")
    return _SIMPLE_TYPES[name]


def exported_type_name(arrow_type: pa.DataType) -> str:
    """The Parquet type as export_tables_info names it (``expectedExportedType``)."""
    if pa.types.is_decimal(arrow_type):
        precision = arrow_type.precision
        physical = ("int32" if precision <= 9 else "int64" if precision <= 18
                    else f"fixed_len_byte_array({(math.ceil(precision * math.log2(10)) + 8) // 8})")
        return f"{physical} (DECIMAL({precision},{arrow_type.scale}))"
    return _EXPORTED_TYPE_NAMES[arrow_type]


def _text(value, fraction_digits: int = 0) -> str:
    """A value of a column exported as a string, written as MySQL shows it: TIME with its column's fraction
    digits (TIME(6) keeps ``.000000``), DECIMAL above precision 38 in plain notation at its scale (``0.0000000000``,
    never ``0E-10``)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, timedelta):  # TIME
        sign, magnitude = ("-" if value < timedelta(0) else ""), abs(value)
        seconds, micros = divmod(magnitude // timedelta(microseconds=1), 1_000_000)
        text = f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        return f"{text}.{micros:06d}"[:len(text) + 1 + fraction_digits] if fraction_digits else text
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)  # DATE


# -- what a snapshot holds ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    name: str
    column_type: str
    char_max_length: int | None
    numeric_precision: int | None
    datetime_precision: int | None

    @property
    def arrow_type(self) -> pa.DataType:
        return parquet_type(self.column_type)

    def type_mapping(self) -> dict:
        """One ``schemaMetadata.originalTypeMappings`` entry of export_tables_info."""
        return {"columnName": self.name, "originalType": _DISPLAY_WIDTH.sub(r"\1", self.column_type),
                "expectedExportedType": exported_type_name(self.arrow_type),
                "originalCharMaxLength": self.char_max_length or 0,
                "originalNumPrecision": self.numeric_precision or 0,
                "originalDateTimePrecision": self.datetime_precision or 0}


@dataclass(frozen=True)
class TableImage:
    database: str
    name: str
    columns: tuple[Column, ...]
    rows: tuple[tuple, ...]

    @property
    def target(self) -> str:
        return f"{self.database}.{self.name}"

    def to_arrow(self) -> pa.Table:
        schema = pa.schema([(column.name, column.arrow_type) for column in self.columns])
        arrays = [_arrow_array([row[i] for row in self.rows], column) for i, column in enumerate(self.columns)]
        return pa.Table.from_arrays(arrays, schema=schema)


def _arrow_array(values: list, column: Column) -> pa.Array:
    if column.arrow_type == pa.string():
        values = [None if value is None else _text(value, column.datetime_precision or 0) for value in values]
    return pa.array(values, type=column.arrow_type)


@dataclass(frozen=True)
class SourceImage:
    """What the source database held at one instant: the contents of a snapshot."""

    taken: datetime
    tables: tuple[TableImage, ...]

    def select(self, export_only: list[str]) -> list[TableImage]:
        """The tables an ExportOnly list names (``database`` or ``database.table``); all when empty."""
        return [t for t in self.tables if not export_only or t.database in export_only or t.target in export_only]


_COLUMNS_SQL = """
    SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.CHARACTER_MAXIMUM_LENGTH, c.NUMERIC_PRECISION,
           c.DATETIME_PRECISION
    FROM information_schema.COLUMNS c JOIN information_schema.TABLES t USING (TABLE_SCHEMA, TABLE_NAME)
    WHERE c.TABLE_SCHEMA = %s AND t.TABLE_TYPE = 'BASE TABLE'
    ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION"""


def capture(server: MariaDBServer, database: str = SOURCE_DATABASE) -> SourceImage:
    """Read every table of a database in one consistent snapshot, as a storage snapshot holds it."""
    with server.admin() as conn, conn.cursor() as cur:
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        taken = datetime.now(UTC)
        cur.execute(_COLUMNS_SQL, (database,))
        columns: dict[str, list[Column]] = {}
        for table, *column in cur.fetchall():
            columns.setdefault(table, []).append(Column(*column))
        tables = []
        for table, table_columns in columns.items():
            cur.execute(f"SELECT * FROM `{database}`.`{table}`")  # noqa: S608 - names from information_schema
            tables.append(TableImage(database, table, tuple(table_columns), tuple(cur.fetchall())))
        cur.execute("COMMIT")
    return SourceImage(taken, tuple(tables))


# -- errors moto does not define ---------------------------------------------------------------------
class InvalidS3BucketFault(RDSClientError):
    def __init__(self, bucket: str) -> None:
        super().__init__("InvalidS3BucketFault", f"The S3 bucket {bucket} doesn't exist or isn't accessible.")


class InvalidExportOnlyFault(RDSClientError):
    def __init__(self, names: list[str]) -> None:
        super().__init__("InvalidExportOnly", f"Invalid ExportOnly {names}: use database or database.table.")


class InvalidExportTaskStateFault(RDSClientError):
    def __init__(self, identifier: str, status: str) -> None:
        super().__init__("InvalidExportTaskStateFault",
                         f"Export task {identifier} is {status}; only a running task can be canceled.")


# -- the controller ----------------------------------------------------------------------------------
@dataclass
class ExportFaults:
    """Switches a test flips; each export takes the values in force when it starts."""

    fail_with: str | None = None
    skip_tables: tuple[str, ...] = ()
    lose_rows: tuple[str, ...] = ()  # db.table written COMPLETE with only the first half of its rows


@dataclass
class ExportRun:
    task: rds_models.ExportTask
    image: SourceImage
    faults: ExportFaults
    polls: int = 0


class ExportController:
    """Owns every snapshot's contents and every export's progress while installed into moto."""

    def __init__(self, source: BlueGreenSource, aws: MotoControlPlane, polls_per_phase: int = 2) -> None:
        self._source = source
        self._aws = aws
        self.polls_per_phase = polls_per_phase
        self.faults = ExportFaults()
        self._images: dict[str, SourceImage] = {}
        self._runs: dict[str, ExportRun] = {}
        self._lock = threading.RLock()
        self._patches = Patches()
        self._s3 = None

    # -- moto wiring -----------------------------------------------------------------------------
    def install(self) -> None:
        controller = self
        backend_cls = rds_models.RDSBackend
        original_snapshot = backend_cls.create_db_cluster_snapshot
        original_copy = backend_cls.copy_db_cluster_snapshot
        original_start = backend_cls.start_export_task
        original_describe = backend_cls.describe_export_tasks
        self._s3 = self._aws.client("s3")

        def create_db_cluster_snapshot(backend, *args, **kwargs):
            snapshot = original_snapshot(backend, *args, **kwargs)
            controller._images[snapshot.db_cluster_snapshot_identifier] = capture(controller._source.writer)
            return snapshot

        def copy_db_cluster_snapshot(backend, source_db_cluster_snapshot_identifier: str,
                                     target_db_cluster_snapshot_identifier: str, **kwargs):
            copied = original_copy(backend, source_db_cluster_snapshot_identifier,
                                   target_db_cluster_snapshot_identifier, **kwargs)
            source = backend.get_db_cluster_snapshot(source_db_cluster_snapshot_identifier)
            controller._images[target_db_cluster_snapshot_identifier] = controller._images[
                source.db_cluster_snapshot_identifier]
            return copied

        def start_export_task(backend, kwargs):
            return controller.start(backend, kwargs, original_start)

        def describe_export_tasks(backend, export_task_identifier):
            tasks = original_describe(backend, export_task_identifier)
            controller.poll(tasks)
            return tasks

        def cancel_export_task(backend, export_task_identifier):
            return controller.cancel(backend, export_task_identifier)

        for name, fn in (("create_db_cluster_snapshot", create_db_cluster_snapshot),
                         ("copy_db_cluster_snapshot", copy_db_cluster_snapshot),
                         ("start_export_task", start_export_task),
                         ("describe_export_tasks", describe_export_tasks),
                         ("cancel_export_task", cancel_export_task)):
            self._patches.set(backend_cls, name, fn)

    def uninstall(self) -> None:
        self._patches.restore()

    # -- the API calls ---------------------------------------------------------------------------
    def start(self, backend, kwargs: dict, original_start) -> rds_models.ExportTask:
        identifier = kwargs["export_task_identifier"]
        if identifier in backend.export_tasks:
            raise ExportTaskAlreadyExistsError(identifier)
        self._check_bucket(kwargs["s3_bucket_name"])
        invalid = [name for name in kwargs.get("export_only") or [] if not _EXPORT_ONLY.match(name)]
        if invalid:
            raise InvalidExportOnlyFault(invalid)
        _, _, resource_type, resource_id = split_arn(kwargs["source_arn"])
        if resource_type == "cluster":
            task, image = self._cluster_export(backend, resource_id, kwargs), capture(self._source.writer)
        elif resource_type == "cluster-snapshot":
            task, image = original_start(backend, kwargs), self._images[resource_id]
            task.source_type = "SNAPSHOT"
        else:
            raise InvalidParameterValue("The rehearsal estate exports DB cluster snapshots and DB clusters only.")
        task.status, task.percent_progress = "starting", 0
        task.task_start_time, task.snapshot_time = datetime.now(UTC), image.taken
        with self._lock:
            self._runs[identifier] = ExportRun(task, image, replace(self.faults))
        return task

    def _check_bucket(self, bucket: str) -> None:
        try:
            self._s3.head_bucket(Bucket=bucket)
        except ClientError:
            raise InvalidS3BucketFault(bucket) from None

    @staticmethod
    def _cluster_export(backend, cluster_id: str, kwargs: dict) -> rds_models.ExportTask:
        """An export whose source is a live cluster (moto only exports snapshots)."""
        if cluster_id not in backend.clusters:
            raise DBClusterNotFoundError(cluster_id)
        task = rds_models.ExportTask(backend, backend.clusters[cluster_id], kwargs)  # SourceType CLUSTER
        backend.export_tasks[task.export_task_identifier] = task
        return task

    def cancel(self, backend, identifier: str) -> rds_models.ExportTask:
        task = backend.export_tasks.get(identifier)
        if task is None:
            raise ExportTaskNotFoundError(identifier)
        with self._lock:
            if task.status not in ("starting", "in_progress"):
                raise InvalidExportTaskStateFault(identifier, task.status)
            task.status = "canceling"
            self._runs[identifier].polls = 0
        return task

    # -- progress --------------------------------------------------------------------------------
    def poll(self, tasks) -> None:
        """One DescribeExportTasks poll: advance every running task it reports."""
        with self._lock:
            for task in tasks:
                run = self._runs.get(task.export_task_identifier)
                if run is not None and task.status in ("starting", "in_progress", "canceling"):
                    self._advance(run)

    def _advance(self, run: ExportRun) -> None:
        if run.polls < self.polls_per_phase:
            run.polls += 1
            return
        run.polls = 1
        task = run.task
        if task.status == "starting":
            task.status, task.percent_progress = "in_progress", 50
        elif task.status == "canceling":
            task.status, task.task_end_time = "canceled", datetime.now(UTC)
        else:
            self._finish(run)

    def _finish(self, run: ExportRun) -> None:
        task = run.task
        task.task_end_time = datetime.now(UTC)
        if run.faults.fail_with:
            task.status, task.failure_cause = "failed", run.faults.fail_with
            return
        try:
            self._write(run)
        except ClientError as error:  # e.g. the bucket went away during the export
            task.status, task.failure_cause = "failed", f"Export to S3 failed: {error}"
        except UnexportableValue as error:
            task.status, task.failure_cause = "failed", str(error)

    # -- the export in S3 ------------------------------------------------------------------------
    def _write(self, run: ExportRun) -> None:
        task, root = run.task, export_root(run.task.s3_prefix, run.task.export_task_identifier)
        tables = run.image.select(task.export_only)
        tables = [replace(table, rows=table.rows[:len(table.rows) // 2]) if table.target in run.faults.lose_rows
                  else table for table in tables]
        statuses = [_skipped_status(table) if table.target in run.faults.skip_tables
                    else self._write_table(task.s3_bucket, root, table) for table in tables]
        identifier = task.export_task_identifier
        self._put_json(task.s3_bucket, f"{root}/export_tables_info_{identifier}_from_1_to_{len(statuses)}.json",
                       {"perTableStatus": statuses})
        size_gb = sum(status["sizeGB"] for status in statuses)
        skipped = [status["target"] for status in statuses if status["status"] == "SKIPPED"]
        if skipped:
            task.warning_message = f"The export completed with warnings: tables skipped: {', '.join(skipped)}."
        task.status, task.percent_progress, task.total_extracted_data_in_gb = "complete", 100, round(size_gb)
        self._put_json(task.s3_bucket, f"{root}/export_info_{identifier}.json", _export_info(task, root, size_gb))

    def _write_table(self, bucket: str, root: str, table: TableImage) -> dict:
        """One table's Parquet file, none for an empty table ("an empty range produces no file":
        https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-export-snapshot.Considerations.html)."""
        started = datetime.now(UTC)
        body = _parquet(table) if table.rows else b""
        if body:
            key = f"{root}/{table.database}/{table.target}/1/part-00000-{uuid.uuid4()}.gz.parquet"
            self._s3.put_object(Bucket=bucket, Key=key, Body=body)
        return {"target": table.target, "status": "COMPLETE", "sizeGB": len(body) / 2**30,
                "tableStatistics": {"extractionStartTime": _iso(started), "extractionEndTime": _iso(datetime.now(UTC)),
                                    "partitioningInfo": {"numberOfPartitions": 1, "numberOfCompletedPartitions": 1}},
                "schemaMetadata": {"originalTypeMappings": [column.type_mapping() for column in table.columns]}}

    def _put_json(self, bucket: str, key: str, document: dict) -> None:
        self._s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document, indent=2).encode(),
                            ContentType="application/json")


class UnexportableValue(Exception):
    """A value the export cannot write in its column's Parquet type; the export fails with this as FailureCause."""


def _parquet(table: TableImage) -> bytes:
    """The gzip Parquet file of a table. A value with no Parquet form, such as MySQL's zero DATETIME
    ``0000-00-00 00:00:00`` in a TIMESTAMP_MICROS column, fails the export naming it: what RDS does with one is
    not documented, and the estate fails loudly rather than invent a value (or hang ``in_progress``)."""
    buffer = io.BytesIO()
    try:
        data = table.to_arrow()
    except pa.ArrowException as error:
        raise UnexportableValue(f"An unknown internal error occurred: {table.target} holds a value that cannot be "
                                f"written to Parquet ({error})") from None
    pq.write_table(data, buffer, compression="gzip", store_schema=False, store_decimal_as_integer=True)
    return buffer.getvalue()


def export_root(s3_prefix: str, export_id: str) -> str:
    """The key prefix an export writes under: ``{S3Prefix}/{export_id}``, without empty parts or slashes."""
    return "/".join(part for part in (s3_prefix.strip("/"), export_id) if part)


def _skipped_status(table: TableImage) -> dict:
    return {"target": table.target, "status": "SKIPPED", "sizeGB": 0.0, "warningMessage": SKIPPED_TABLE_MESSAGE,
            "schemaMetadata": {"originalTypeMappings": [column.type_mapping() for column in table.columns]}}


def _export_info(task: rds_models.ExportTask, root: str, size_gb: float) -> dict:
    return {"exportTaskIdentifier": task.export_task_identifier, "sourceArn": task.source_arn,
            "exportOnly": task.export_only, "s3Bucket": task.s3_bucket, "s3Prefix": task.s3_prefix,
            "exportedFilesPath": root, "iamRoleArn": task.iam_role_arn, "kmsKeyId": task.kms_key_id,
            "status": "COMPLETE", "percentProgress": 100, "taskStartTime": _iso(task.task_start_time),
            "taskEndTime": _iso(task.task_end_time), "totalExportedDataInGB": size_gb}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
