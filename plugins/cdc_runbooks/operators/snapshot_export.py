"""Operators for the RDS half of the batch path: preflight, snapshot, export, verify.

Each step works on every pipeline of the run (``pipeline_names``) for the run's
data interval, and names everything from the pipeline and the interval
(``cdc_runbooks.snapshot_export.IntervalExport``): a retry, a cleared task or a
re-run of the interval finds what an earlier try made and adopts it. Thin
shells over ``cdc_runbooks.snapshot_export``; AWS through RdsHook and S3Hook.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseOperator, conf

from cdc_runbooks import glue_schema
from cdc_runbooks import snapshot_export as se
from cdc_runbooks.action import Action
from cdc_runbooks.aws.errors import exists
from cdc_runbooks.aws.exports import export_state
from cdc_runbooks.aws.hooks import aws_client, aws_hook, rds_hook
from cdc_runbooks.export_trigger import ExportTasksTrigger
from cdc_runbooks.operators.reconcile import source_side
from cdc_runbooks.pipelines import Pipeline, get_pipeline
from cdc_runbooks.row_checksum import Dialect, quote
from cdc_runbooks.snapshot_export import ExportedTable, ExportRefused, IntervalExport
from cdc_runbooks.step import records_failure
from cdc_runbooks.triggers import wait_for

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


# -- lookups shared by the steps -------------------------------------------------------------------
def find_snapshot(pipeline: Pipeline, names: IntervalExport, source: str, start: datetime,
                  end: datetime) -> dict | None:
    """The interval's snapshot: the manual one of its deterministic id, or the newest automated one inside it."""
    rds = rds_hook(pipeline.aws_conn_id).conn
    if source == "automated":
        pages = rds.get_paginator("describe_db_cluster_snapshots").paginate(
            DBClusterIdentifier=pipeline.source_cluster, SnapshotType="automated")
        return se.latest_automated_snapshot([s for page in pages for s in page["DBClusterSnapshots"]], start, end)
    try:
        found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=names.snapshot_id)["DBClusterSnapshots"]
    except rds.exceptions.DBClusterSnapshotNotFoundFault:
        return None
    if found and found[0]["DBClusterIdentifier"] != pipeline.source_cluster:
        raise ExportRefused(f"snapshot {names.snapshot_id} is of cluster {found[0]['DBClusterIdentifier']}, not the "
                            f"pipeline's {pipeline.source_cluster}: refusing to export it")
    return found[0] if found else None


def source_counts(pipeline: Pipeline) -> dict[str, int]:
    """Row count of each pipeline table on the cluster's current writer (the reconciliation's source side)."""
    side, schema = source_side(pipeline), quote(Dialect.MYSQL, pipeline.target_schema)
    return {t: int(side.run(f"SELECT COUNT(*) FROM {schema}.{quote(Dialect.MYSQL, t)}", None)[0][0])  # noqa: S608
            for t in pipeline.tables}


def export_only(pipeline: Pipeline) -> list[str]:
    return [f"{pipeline.target_schema}.{table}" for table in pipeline.tables]


def read_tables_info(pipeline: Pipeline, names: IntervalExport) -> dict[str, ExportedTable] | None:
    """perTableStatus of every export_tables_info file of the interval's export; None if there is none."""
    s3 = aws_hook(S3Hook, pipeline.aws_conn_id)
    prefix = f"{names.export_root(pipeline.export_prefix)}/export_tables_info_{names.export_id}_from_"
    keys = s3.list_keys(bucket_name=pipeline.export_bucket, prefix=prefix)
    if not keys:
        return None
    statuses = [status for key in sorted(keys) for status in json.loads(
        s3.read_key(key, bucket_name=pipeline.export_bucket))["perTableStatus"]]
    return se.exported_tables(statuses)


def exported_columns(pipeline: Pipeline, names: IntervalExport) -> dict[str, tuple[list[dict], str]]:
    """{table: (Glue columns, S3 folder URI)} of the interval's export, from its export_tables_info; fails if the
    export has none or a table is not COMPLETE, or a column cannot be registered."""
    found = read_tables_info(pipeline, names)
    if found is None:
        raise se.ExportIncomplete(f"{pipeline.name}: export {names.export_id} has no export_tables_info")
    return {table.table: (glue_schema.columns(list(table.type_mappings)), f"s3://{pipeline.export_bucket}/"
                          f"{names.table_folder(pipeline.export_prefix, pipeline.target_schema, table.table)}")
            for table in se.verify_tables(found, export_only(pipeline))}


def data_keys(pipeline: Pipeline, folder: str) -> list[str]:
    """Objects under a table folder that Athena reads (names starting with '_' or '.' are not data)."""
    keys = aws_hook(S3Hook, pipeline.aws_conn_id).list_keys(bucket_name=pipeline.export_bucket, prefix=folder)
    return [k for k in keys if not k.endswith("/") and not k.rsplit("/", 1)[-1].startswith(("_", "."))]


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


# -- preflight ---------------------------------------------------------------------------------------
class LakePreflightOperator(SnapshotStep):
    """Everything the run needs exists, and the interval can be snapshotted as asked; changes nothing.

    Checks per pipeline: export settings present; the export bucket, the Athena results bucket, the Glue
    database, the Athena workgroup, the export IAM role and KMS key, and the source cluster exist (only a
    NotFound answer is "missing": access denied refuses naming the permission, throttling past the SDK's
    retries fails the step so that it retries: ``aws_errors.exists``); the interval has ended; for a manual
    snapshot that does not exist yet, that the interval ended recently enough for a snapshot now to stand for
    it and that no export already has the interval's id; for ``automated``, that one exists inside the
    interval. Returns what it found per pipeline.
    """

    def run_one(self, context, pipeline: Pipeline, names: IntervalExport) -> str:
        missing = [what for what, describe, not_found, permission in self._checks(pipeline)
                   if not exists(describe, not_found, permission)]
        if missing:
            raise ExportRefused(f"{pipeline.name}: missing {', '.join(missing)}")
        start, end = self.interval(context)
        se.check_interval_ended(end, datetime.now(UTC))
        if find_snapshot(pipeline, names, self.snapshot_source, start, end) is not None:
            return f"snapshot for {names.partition_value} exists ({self.snapshot_source}); it will be used"
        if self.snapshot_source == "automated":
            raise ExportRefused(f"{pipeline.name}: no available automated snapshot of {pipeline.source_cluster} "
                                f"was created in [{start.isoformat()}, {end.isoformat()})")
        self.check_timing(end)
        check_export_id_free(pipeline, names)
        return f"will snapshot {pipeline.source_cluster} as {names.snapshot_id}"

    @staticmethod
    def _checks(pipeline: Pipeline) -> list[tuple[str, Callable[[], object], set[str], str]]:
        """(what, the describe call, its NotFound error codes, the permission it needs) per resource."""
        conn, role, key = pipeline.aws_conn_id, pipeline.export_role_arn, pipeline.export_kms_key_arn
        s3 = aws_client(conn, "s3")
        output_bucket = S3Hook.parse_s3_url(pipeline.athena_output)[0]
        return [
            (f"export bucket {pipeline.export_bucket}", lambda: s3.head_bucket(Bucket=pipeline.export_bucket),
             {"NoSuchBucket"}, f"s3:ListBucket on {pipeline.export_bucket}"),
            (f"Athena output bucket of {pipeline.athena_output}", lambda: s3.head_bucket(Bucket=output_bucket),
             {"NoSuchBucket"}, f"s3:ListBucket on {output_bucket}"),
            (f"Glue database {pipeline.glue_database}", lambda: aws_client(conn, "glue").get_database(
                Name=pipeline.glue_database), {"EntityNotFoundException"}, "glue:GetDatabase"),
            (f"Athena workgroup {pipeline.athena_workgroup}", lambda: aws_client(conn, "athena").get_work_group(
                WorkGroup=pipeline.athena_workgroup), {"InvalidRequestException"}, "athena:GetWorkGroup"),
            (f"IAM role {role}", lambda: aws_client(conn, "iam").get_role(RoleName=role.rsplit("/", 1)[-1]),
             {"NoSuchEntity"}, "iam:GetRole"),
            (f"KMS key {key}", lambda: aws_client(conn, "kms").describe_key(KeyId=key), {"NotFoundException"},
             "kms:DescribeKey"),
            (f"cluster {pipeline.source_cluster}", lambda: rds_hook(conn).conn.describe_db_clusters(
                DBClusterIdentifier=pipeline.source_cluster), {"DBClusterNotFoundFault"}, "rds:DescribeDBClusters"),
        ]


def check_export_id_free(pipeline: Pipeline, names: IntervalExport) -> None:
    """Before a new manual snapshot: refuse if an export of the interval's id already exists (it exports another
    snapshot, so export_snapshot would refuse it and leave the new snapshot behind)."""
    existing = export_state(pipeline.name, names.export_id)
    if existing is not None:
        raise ExportRefused(f"{pipeline.name}: export {names.export_id} already exists (of {existing.source_arn}, "
                            f"{existing.status}) but {names.snapshot_id} does not: a new snapshot could not be "
                            "exported under that id. Re-run the day with export_attempt raised by one.")


# -- snapshot ----------------------------------------------------------------------------------------
class TakeSnapshotOperator(SnapshotStep):
    """The interval's cluster snapshot, taken once (CreateDBClusterSnapshot:
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBClusterSnapshot.html).

    Refuses a day that has not ended. ``manual``: adopt the snapshot of the interval's id if it exists;
    otherwise (after the timing check, and only if no export has the interval's id) count the source's rows,
    create the snapshot with those counts in its own Tags (``cdc-runbooks:rows:<table>`` = ``<before>..``: one
    tag per table, ``snapshot_export.snapshot_tags``), wait until it is available, count again and complete each
    tag in place to ``<before>..<after>``: what validation checks Athena against. A retry that adopts the
    snapshot with counts still open completes them (``after`` then counted at the retry: a wider range), but only
    within ``max_snapshot_lag_hours`` of its SnapshotCreateTime; later it refuses (redo the day with
    ``export_attempt`` + 1). ``automated``: use the newest automated snapshot created inside the interval (no
    counts recorded: validation will refuse it).
    """

    def run_one(self, context, pipeline: Pipeline, names: IntervalExport) -> dict:
        start, end = self.interval(context)
        se.check_interval_ended(end, datetime.now(UTC))
        found = find_snapshot(pipeline, names, self.snapshot_source, start, end)
        if found is not None or self.snapshot_source == "automated":
            if found is None:
                raise ExportRefused(f"no available automated snapshot of {pipeline.source_cluster} inside the "
                                    f"interval [{start.isoformat()}, {end.isoformat()})")
            return self._adopt(pipeline, found)
        self.check_timing(end)
        check_export_id_free(pipeline, names)
        if self.dry_run:
            self.log.info("DRY RUN: would CreateDBClusterSnapshot(%s, %s)", pipeline.source_cluster, names.snapshot_id)
            return {"action": "dry_run", "snapshot_id": names.snapshot_id}
        before = source_counts(pipeline)
        created = rds_hook(pipeline.aws_conn_id).conn.create_db_cluster_snapshot(
            DBClusterIdentifier=pipeline.source_cluster, DBClusterSnapshotIdentifier=names.snapshot_id,
            Tags=se.snapshot_tags(names, before))["DBClusterSnapshot"]
        self._wait_available(pipeline, names.snapshot_id)
        return {"action": Action.ACT.value, "snapshot_id": names.snapshot_id,
                "snapshot_arn": created["DBClusterSnapshotArn"],
                "source_rows": self._record_after(pipeline, created["DBClusterSnapshotArn"], before)}

    def _adopt(self, pipeline: Pipeline, found: dict) -> dict:
        if found["Status"] != "available":
            self._wait_available(pipeline, found["DBClusterSnapshotIdentifier"])
        self.log.info("Using existing %s snapshot %s", found["SnapshotType"], found["DBClusterSnapshotIdentifier"])
        result = {"action": Action.ADOPT.value, "snapshot_id": found["DBClusterSnapshotIdentifier"],
                  "snapshot_arn": found["DBClusterSnapshotArn"], "snapshot_type": found["SnapshotType"]}
        if found["SnapshotType"] == "manual":
            result["source_rows"] = self._complete_counts(pipeline, found)
        return result

    def _complete_counts(self, pipeline: Pipeline, found: dict) -> dict[str, str]:
        """The snapshot's before..after counts; a retry whose try died before completing them completes them now,
        if still within the snapshot lag of the snapshot's creation (``se.check_counts_completable``)."""
        arn = found["DBClusterSnapshotArn"]
        tags = rds_hook(pipeline.aws_conn_id).conn.list_tags_for_resource(ResourceName=arn)["TagList"]
        recorded, before = se.recorded_counts(tags), se.recorded_before(tags)
        missing = {t: before[t] for t in pipeline.tables if t not in recorded and t in before}
        if missing:
            se.check_counts_completable(found["SnapshotCreateTime"], datetime.now(UTC), self.max_lag)
            self.log.warning("%s has only the counts read before it was taken for %s; counting after now (a wider "
                             "range than when counted right after it became available)", arn, sorted(missing))
            return {**{t: f"{low}..{high}" for t, (low, high) in recorded.items()},
                    **self._record_after(pipeline, arn, missing)}
        return {t: f"{low}..{high}" for t, (low, high) in recorded.items()}

    def _record_after(self, pipeline: Pipeline, arn: str, before: dict[str, int]) -> dict[str, str]:
        after = source_counts(pipeline)
        rds_hook(pipeline.aws_conn_id).conn.add_tags_to_resource(ResourceName=arn, Tags=se.count_tags(before, after))
        rows = {t: f"{before[t]}..{after[t]}" for t in before}
        self.log.info("Snapshot %s: source rows before..after: %s", arn, rows)
        return rows

    def _wait_available(self, pipeline: Pipeline, snapshot_id: str) -> None:
        rds_hook(pipeline.aws_conn_id).wait_for_db_cluster_snapshot_state(
            snapshot_id, target_state="available", check_interval=max(1, int(pipeline.poll_interval_s)))


# -- export ------------------------------------------------------------------------------------------
class ExportSnapshotOperator(SnapshotStep):
    """Export the interval's snapshot to S3 as Parquet and wait until RDS reports it complete
    (StartExportTask: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_StartExportTask.html).

    Only the pipeline's tables (ExportOnly ``schema.table``), into its bucket and prefix, with its IAM role and
    KMS key. An export of the interval's id that runs is waited for, a complete one adopted; a failed or
    canceled one fails the step with RDS's FailureCause (never restarted: raise ``export_attempt``). A new
    export is refused while five already run in the account. Waiting survives hours: with ``deferrable`` it
    waits in the triggerer; a failure is reported at the next poll.

    :param waiter_delay: seconds between polls (default: the pipeline's poll_interval_s).
    :param timeout_hours: give up waiting after this long.
    :param deferrable: wait in the triggerer instead of holding a worker slot.
    """

    def __init__(self, *, waiter_delay: float | None = None, timeout_hours: float = 12,
                 deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.waiter_delay = waiter_delay
        self.timeout_hours = timeout_hours
        self.deferrable = deferrable

    @records_failure
    def execute(self, context) -> dict:
        started = {name: self.run_one(context, *self.target(context, name)) for name in self.names()}
        if self.dry_run:
            return started
        delay = self.waiter_delay if self.waiter_delay is not None else min(
            get_pipeline(name).poll_interval_s for name in started)
        trigger = ExportTasksTrigger(exports={name: s["export_id"] for name, s in started.items()},
                                     waiter_delay=delay, waiter_max_attempts=int(self.timeout_hours * 3600 / delay) + 1,
                                     carry=started)
        return wait_for(self, context, trigger, "exports_finished")

    def run_one(self, context, pipeline: Pipeline, names: IntervalExport) -> dict:
        start, end = self.interval(context)
        snapshot = find_snapshot(pipeline, names, self.snapshot_source, start, end)
        if snapshot is None:
            if self.dry_run:
                return {"action": "dry_run", "export_id": names.export_id, "snapshot": "not taken (dry run)"}
            raise ExportRefused(f"{pipeline.name}: the interval's snapshot does not exist; run take_snapshot first")
        existing = export_state(pipeline.name, names.export_id)
        action = se.plan_export(existing, snapshot["DBClusterSnapshotArn"], pipeline.export_bucket,
                                pipeline.export_prefix or "", export_only(pipeline))
        request = {"ExportTaskIdentifier": names.export_id, "SourceArn": snapshot["DBClusterSnapshotArn"],
                   "S3BucketName": pipeline.export_bucket, "IamRoleArn": pipeline.export_role_arn,
                   "KmsKeyId": pipeline.export_kms_key_arn, "ExportOnly": export_only(pipeline),
                   **({"S3Prefix": pipeline.export_prefix} if pipeline.export_prefix else {})}
        if action is Action.ACT and self.dry_run:
            self.log.info("DRY RUN: would StartExportTask(%s)", request)
        elif action is Action.ACT:
            self._start(pipeline, request)
        else:
            self.log.info("%s: %s is %s; adopting it", pipeline.name, names.export_id, existing.status)
        return {"action": "dry_run" if self.dry_run else action.value, "export_id": names.export_id,
                "snapshot_id": snapshot["DBClusterSnapshotIdentifier"],
                "s3_root": f"s3://{pipeline.export_bucket}/{names.export_root(pipeline.export_prefix)}/"}

    def _start(self, pipeline: Pipeline, request: dict) -> None:
        rds = rds_hook(pipeline.aws_conn_id).conn
        tasks = [t for page in rds.get_paginator("describe_export_tasks").paginate() for t in page["ExportTasks"]]
        se.check_capacity([t["ExportTaskIdentifier"] for t in tasks if t["Status"] in se.RUNNING],
                          request["ExportTaskIdentifier"])
        rds.start_export_task(**request)
        self.log.info("StartExportTask(%s) called", request)

    @records_failure
    def exports_finished(self, context, event: dict) -> dict:
        if event.get("status") == "failed":
            raise se.ExportFailed(f"{event['message']}. A failed export's id is used up: fix the cause, then re-run "
                                  "the interval with export_attempt raised by one.")
        if event.get("status") != "success":
            raise RuntimeError(f"{event.get('message', event)}; the exports may still run: a retry adopts them")
        self.log.info("%s", event["message"])
        return event["carry"]


# -- verify ------------------------------------------------------------------------------------------
class VerifyExportOperator(LakeStep):
    """Every expected table is in export_tables_info with status COMPLETE, and every column can be registered in
    Glue; otherwise fail with the list of missing, skipped or failed tables (RDS skips tables it cannot export
    and still reports the export complete) or the column that cannot be registered. Read-only.

    A table without data files is accepted: RDS writes no file for an empty range ("an empty range produces no
    file": https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-export-snapshot.Considerations.html),
    so an empty table has none; validate_counts then checks its count (0) against the source's.
    """

    def run_one(self, context, pipeline: Pipeline, names: IntervalExport) -> dict:
        if self.dry_run and read_tables_info(pipeline, names) is None:
            return {"dry_run": "nothing exported yet"}
        tables = exported_columns(pipeline, names)
        return {"export_id": names.export_id, "files": {
            table: len(data_keys(pipeline, folder.removeprefix(f"s3://{pipeline.export_bucket}/")))
            for table, (_, folder) in tables.items()}}
