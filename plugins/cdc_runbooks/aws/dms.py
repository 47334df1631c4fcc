"""One poll of a DMS task or its CloudWatch latency, through the pipeline's AWS connection.

Sync (hooks), used by the triggers in a worker thread and so by the operators.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cdc_runbooks.aws.hooks import aws_client, dms_hook
from cdc_runbooks.dms_task import DmsTaskState, DmsTaskStateError
from cdc_runbooks.pipelines import get_pipeline


def task_state(pipeline_name: str, task_arn: str) -> DmsTaskState:
    """The task as DescribeReplicationTasks reports it now."""
    task = dms_hook(get_pipeline(pipeline_name).aws_conn_id).get_task_description(task_arn)
    if task is None:
        raise DmsTaskStateError(f"DMS task {task_arn} does not exist (DescribeReplicationTasks found nothing)")
    return DmsTaskState.from_api(task)


def latency_dimensions(pipeline_name: str, state: DmsTaskState) -> list[dict]:
    """CloudWatch dimensions of a task's metrics: its instance's identifier and the task's resource id."""
    hook = dms_hook(get_pipeline(pipeline_name).aws_conn_id)
    instances = hook.conn.describe_replication_instances(Filters=[
        {"Name": "replication-instance-arn", "Values": [state.replication_instance_arn]}])["ReplicationInstances"]
    if not instances:
        raise DmsTaskStateError(f"replication instance {state.replication_instance_arn} of {state.identifier} "
                                "not found")
    return [{"Name": "ReplicationInstanceIdentifier", "Value": instances[0]["ReplicationInstanceIdentifier"]},
            {"Name": "ReplicationTaskIdentifier", "Value": state.arn.rsplit(":", 1)[-1]}]


def latest_latency(pipeline_name: str, dimensions: list[dict]) -> tuple[float, float] | None:
    """The newest (CDCLatencySource, CDCLatencyTarget) datapoints, None while either has none."""
    pipeline = get_pipeline(pipeline_name)
    cloudwatch = aws_client(pipeline.aws_conn_id, "cloudwatch")
    period, now = pipeline.metric_period_s, datetime.now(UTC)
    values = []
    for metric in ("CDCLatencySource", "CDCLatencyTarget"):
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/DMS", MetricName=metric, Dimensions=dimensions, Statistics=["Maximum"], Period=period,
            StartTime=now - timedelta(seconds=5 * period), EndTime=now + timedelta(seconds=period))["Datapoints"]
        if not points:
            return None
        values.append(max(points, key=lambda p: p["Timestamp"])["Maximum"])
    return values[0], values[1]
