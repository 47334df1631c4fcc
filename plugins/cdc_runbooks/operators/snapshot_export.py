"""Operators for the RDS half of the batch path: preflight, snapshot, export, verify.

Each step works on every pipeline of the run (``pipeline_names``) for the run's data interval
(:class:`cdc_runbooks.lake.steps.LakeStep`). Thin shells over :mod:`cdc_runbooks.lake.export`; AWS through
:mod:`cdc_runbooks.aws.exports` (RDS) and :mod:`cdc_runbooks.aws.lake_objects` (S3).
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import conf

from cdc_runbooks.action import Action
from cdc_runbooks.aws.errors import exists
from cdc_runbooks.aws.exports import (
    add_tags,
    create_cluster_snapshot,
    export_resources,
    export_state,
    resource_tags,
    running_exports,
    start_export,
    wait_snapshot_available,
)
from cdc_runbooks.aws.lake_objects import data_keys, read_tables_info
from cdc_runbooks.lake import export as se
from cdc_runbooks.lake.export import ExportRefused, IntervalExport
from cdc_runbooks.lake.steps import LakeStep, SnapshotStep, export_only, exported_columns, find_snapshot
from cdc_runbooks.pipelines import Pipeline, get_pipeline
from cdc_runbooks.reconcile.sides import source_counts
from cdc_runbooks.step import records_failure
from cdc_runbooks.triggers.base import wait_for
from cdc_runbooks.triggers.export import ExportTasksTrigger


# -- preflight ---------------------------------------------------------------------------------------
class LakePreflightOperator(SnapshotStep):
    """Everything the run needs exists, and the interval can be snapshotted as asked; changes nothing.

    Checks per pipeline: export settings present; the export bucket, the Athena results bucket, the Glue
    database, the Athena workgroup, the export IAM role and KMS key, and the source cluster exist (only a
    NotFound answer is "missing": access denied refuses naming the permission, throttling past the SDK's
    retries fails the step so that it retries: ``aws.errors.exists``); the interval has ended; for a manual
    snapshot that does not exist yet, that the interval ended recently enough for a snapshot now to stand for
    it and that no export already has the interval's id; for ``automated``, that one exists inside the
    interval. Returns what it found per pipeline.
    """

    def run_one(self, context, pipeline: Pipeline, names: IntervalExport) -> str:
        missing = [what for what, describe, not_found, permission in export_resources(pipeline)
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


def check_export_id_free(pipeline: Pipeline, names: IntervalExport) -> None:
    """Before a new manual snapshot: refuse if an export of the interval's id already exists (it exports another
    snapshot, so export_snapshot would refuse it and leave the new snapshot behind)."""
    existing = export_state(pipeline.aws_conn_id, names.export_id)
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
    tag per table, ``lake.export.snapshot_tags``), wait until it is available, count again and complete each
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
        created = create_cluster_snapshot(pipeline.aws_conn_id, pipeline.source_cluster, names.snapshot_id,
                                          se.snapshot_tags(names, before))
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
        tags = resource_tags(pipeline.aws_conn_id, arn)
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
        add_tags(pipeline.aws_conn_id, arn, se.count_tags(before, after))
        rows = {t: f"{before[t]}..{after[t]}" for t in before}
        self.log.info("Snapshot %s: source rows before..after: %s", arn, rows)
        return rows

    def _wait_available(self, pipeline: Pipeline, snapshot_id: str) -> None:
        wait_snapshot_available(pipeline.aws_conn_id, snapshot_id, max(1, int(pipeline.poll_interval_s)))


# -- export ------------------------------------------------------------------------------------------
class ExportSnapshotOperator(SnapshotStep):
    """Export the interval's snapshot to S3 as Parquet and wait until RDS reports it complete
    (StartExportTask: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_StartExportTask.html).

    Only the pipeline's tables (ExportOnly ``schema.table``), into its bucket and prefix, with its IAM role and
    KMS key. An export of the interval's id that runs is waited for, a complete one adopted; a failed or
    canceled one fails the step with RDS's FailureCause (never restarted: raise ``export_attempt``). A new
    export is refused while five already run in the account. Waiting survives hours: with ``deferrable`` it
    waits in the triggerer; a failure is reported at the next poll. The wait settings are the provider's (as in
    :class:`~cdc_runbooks.step.WaitingStepOperator`, for a step over several pipelines).

    :param waiter_delay: seconds between polls (default: the smallest poll_interval_s of the pipelines).
    :param waiter_max_attempts: polls before giving up (default: as many as fit in ``EXPORT_WAIT_HOURS``).
    :param deferrable: wait in the triggerer instead of holding a worker slot.
    """

    EXPORT_WAIT_HOURS = 12

    def __init__(self, *, waiter_delay: float | None = None, waiter_max_attempts: int | None = None,
                 deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.deferrable = deferrable

    @records_failure
    def execute(self, context) -> dict:
        started = {name: self.run_one(context, *self.target(context, name)) for name in self.names()}
        if self.dry_run:
            return started
        pipelines = [get_pipeline(name) for name in started]
        delay = self.waiter_delay if self.waiter_delay is not None else min(p.poll_interval_s for p in pipelines)
        attempts = self.waiter_max_attempts or int(self.EXPORT_WAIT_HOURS * 3600 / delay) + 1
        conn_id = pipelines[0].aws_conn_id
        trigger = ExportTasksTrigger(exports={name: s["export_id"] for name, s in started.items()},
                                     aws_conn_id=conn_id, waiter_delay=delay, waiter_max_attempts=attempts,
                                     conn_ids={p.name: p.aws_conn_id for p in pipelines if p.aws_conn_id != conn_id})
        return wait_for(self, context, trigger, "exports_finished", {"started": started})

    def run_one(self, context, pipeline: Pipeline, names: IntervalExport) -> dict:
        start, end = self.interval(context)
        snapshot = find_snapshot(pipeline, names, self.snapshot_source, start, end)
        if snapshot is None:
            if self.dry_run:
                return {"action": "dry_run", "export_id": names.export_id, "snapshot": "not taken (dry run)"}
            raise ExportRefused(f"{pipeline.name}: the interval's snapshot does not exist; run take_snapshot first")
        existing = export_state(pipeline.aws_conn_id, names.export_id)
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
        se.check_capacity(running_exports(pipeline.aws_conn_id), request["ExportTaskIdentifier"])
        start_export(pipeline.aws_conn_id, request)
        self.log.info("StartExportTask(%s) called", request)

    @records_failure
    def exports_finished(self, context, event: dict, started: dict) -> dict:
        if event.get("status") == "failed":
            raise se.ExportFailed(f"{event['message']}. A failed export's id is used up: fix the cause, then re-run "
                                  "the interval with export_attempt raised by one.")
        if event.get("status") != "success":
            raise RuntimeError(f"{event.get('message', event)}; the exports may still run: a retry adopts them")
        self.log.info("%s", event["message"])
        return started


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
