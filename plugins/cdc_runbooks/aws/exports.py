"""RDS snapshot exports and cluster snapshots, through the pipeline's AWS connection (sync)."""

from __future__ import annotations

from cdc_runbooks.aws.hooks import rds_hook
from cdc_runbooks.pipelines import get_pipeline
from cdc_runbooks.snapshot_export import ExportState


def export_state(pipeline_name: str, export_id: str) -> ExportState | None:
    """DescribeExportTasks for one id (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeExportTasks.html);
    None when RDS has no export of that id."""
    rds = rds_hook(get_pipeline(pipeline_name).aws_conn_id).conn
    try:
        tasks = rds.describe_export_tasks(ExportTaskIdentifier=export_id)["ExportTasks"]
    except rds.exceptions.ExportTaskNotFoundFault:
        return None
    return ExportState.from_api(tasks[0]) if tasks else None
