"""aurora_snapshot_to_athena: daily Aurora snapshot -> S3 Parquet export -> Athena tables, per pipeline."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import DAG, CronDataIntervalTimetable, Param

from cdc_runbooks.dag_params import dry_run_param, runbook_dag_args
from cdc_runbooks.operators.athena_tables import RegisterTablesOperator, ValidateCountsOperator
from cdc_runbooks.operators.lake_retention import ApplyRetentionOperator
from cdc_runbooks.operators.run_record import RecordRunOperator
from cdc_runbooks.operators.snapshot_export import (
    ExportSnapshotOperator,
    LakePreflightOperator,
    TakeSnapshotOperator,
    VerifyExportOperator,
)
from cdc_runbooks.pipelines import load_pipelines
from cdc_runbooks.runbook_docs import runbook_page

STEPS = ("preflight", "take_snapshot", "export_snapshot", "verify_export", "validate_counts", "register_tables",
         "apply_retention")
# Any past day can be asked for (the tasks of a run before the DAG's start_date would silently not run); the
# schedule has no catch-up, so this start date schedules nothing by itself.
START_DATE = datetime(2000, 1, 1, tzinfo=UTC)
PIPELINES = sorted(name for name, pipeline in load_pipelines().items() if pipeline.exports_to_athena)

with DAG(**runbook_dag_args(
    "aurora_snapshot_to_athena", "data-platform",
    doc_md=runbook_page("aurora_snapshot_to_athena"),
    description="Snapshot each pipeline's Aurora cluster for the day, export it to S3 Parquet, register and "
                "validate it in Athena",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"), start_date=START_DATE,
    params={
        "pipelines": Param(PIPELINES, type="array", items={"enum": PIPELINES}, minItems=1, uniqueItems=True,
                           title="Pipelines", description="Pipelines to export (scheduled runs: every one with "
                                                          "export settings)"),
        "snapshot_source": Param("manual", enum=["manual", "automated"], title="Snapshot",
                                 description="manual: snapshot now for the interval that just ended; automated: "
                                             "the newest automated snapshot inside the interval (backfills)"),
        "max_snapshot_lag_hours": Param(26, type="number", minimum=0, maximum=24 * 14, title="Max snapshot lag (h)",
                                        description="A manual snapshot may be taken at most this long after the "
                                                    "interval ended, in hours, 0-336"),
        "export_attempt": Param(1, type="integer", minimum=1, maximum=99, title="Export attempt",
                                description="Whole number 1-99; raise by one to redo an interval whose export "
                                            "failed (new ids)"),
        "keep_intervals": Param(7, type="integer", minimum=1, maximum=3650, title="Keep intervals",
                                description="Days of snapshots, exports and partitions to keep, 1-3650"),
        "dry_run": dry_run_param(False),
    },
    tags=["lake", "export", "athena"],
)):
    step = {"pipeline_names": "{{ params.pipelines }}", "export_attempt": "{{ params.export_attempt }}",
            "dry_run": "{{ params.dry_run }}"}
    snapshot = {"snapshot_source": "{{ params.snapshot_source }}",
                "max_snapshot_lag_hours": "{{ params.max_snapshot_lag_hours }}"}
    preflight = LakePreflightOperator(task_id="preflight", **step, **snapshot)
    take = TakeSnapshotOperator(task_id="take_snapshot", **step, **snapshot)
    export = ExportSnapshotOperator(task_id="export_snapshot", deferrable=True, max_active_tis_per_dag=1,
                                    **step, **snapshot)
    verify = VerifyExportOperator(task_id="verify_export", **step)
    register = RegisterTablesOperator(task_id="register_tables", **step)
    validate = ValidateCountsOperator(task_id="validate_counts", **step, **snapshot)
    retention = ApplyRetentionOperator(task_id="apply_retention", keep_intervals="{{ params.keep_intervals }}",
                                       **step)
    record = RecordRunOperator(task_id="record_run", pipeline_name="{{ params.pipelines }}", step_ids=STEPS,
                               dry_run="{{ params.dry_run }}")
    preflight >> take >> export >> verify >> validate >> register >> retention >> record
