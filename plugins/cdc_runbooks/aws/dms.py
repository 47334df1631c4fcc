"""One poll of a DMS task or its CloudWatch latency, through an AWS connection (``region_name`` None: the
connection's Region).

Sync (hooks), used by the triggers in a worker thread and so by the operators.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cdc_runbooks.aws.hooks import aws_client, dms_hook
from cdc_runbooks.dms_task import DmsTaskStateError, ReplicationTask


def task_state(conn_id: str, task_arn: str, region_name: str | None = None) -> ReplicationTask:
    """The task as DescribeReplicationTasks reports it now."""
    task = dms_hook(conn_id, region_name).get_task_description(task_arn)
    if task is None:
        raise DmsTaskStateError(f"DMS task {task_arn} does not exist (DescribeReplicationTasks found nothing)")
    return ReplicationTask.from_api(task)


def task_settings(conn_id: str, task_arn: str, region_name: str | None = None) -> tuple[dict, dict]:
    """The task's table mappings and task settings (DescribeReplicationTasks with settings), parsed."""
    tasks = dms_hook(conn_id, region_name).find_replication_tasks_by_arn(task_arn, without_settings=False)
    if len(tasks) != 1:
        raise DmsTaskStateError(f"DMS task {task_arn} does not exist (DescribeReplicationTasks found nothing)")
    return (json.loads(tasks[0].get("TableMappings") or "{}"),
            json.loads(tasks[0].get("ReplicationTaskSettings") or "{}"))


def table_states(conn_id: str, task_arn: str, region_name: str | None = None) -> dict[tuple[str, str], str]:
    """(schema, table) -> TableState of every table of the task (DescribeTableStatistics:
    https://docs.aws.amazon.com/dms/latest/APIReference/API_DescribeTableStatistics.html)."""
    pages = dms_hook(conn_id, region_name).conn.get_paginator("describe_table_statistics").paginate(
        ReplicationTaskArn=task_arn)
    return {(t["SchemaName"], t["TableName"]): t.get("TableState", "") for page in pages
            for t in page["TableStatistics"]}


def latency_dimensions(conn_id: str, state: ReplicationTask, region_name: str | None = None) -> list[dict]:
    """CloudWatch dimensions of a task's metrics: its instance's identifier and the task's resource id."""
    hook = dms_hook(conn_id, region_name)
    instances = hook.conn.describe_replication_instances(Filters=[
        {"Name": "replication-instance-arn", "Values": [state.replication_instance_arn]}])["ReplicationInstances"]
    if not instances:
        raise DmsTaskStateError(f"replication instance {state.replication_instance_arn} of {state.identifier} "
                                "not found")
    return [{"Name": "ReplicationInstanceIdentifier", "Value": instances[0]["ReplicationInstanceIdentifier"]},
            {"Name": "ReplicationTaskIdentifier", "Value": state.arn.rsplit(":", 1)[-1]}]


def latest_latency(conn_id: str, dimensions: list[dict], period: int,
                   region_name: str | None = None) -> tuple[float, float] | None:
    """The newest (CDCLatencySource, CDCLatencyTarget) datapoints of ``period`` seconds, None while either has
    none."""
    cloudwatch = aws_client(conn_id, "cloudwatch", region_name)
    now = datetime.now(UTC)
    values = []
    for metric in ("CDCLatencySource", "CDCLatencyTarget"):
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/DMS", MetricName=metric, Dimensions=dimensions, Statistics=["Maximum"], Period=period,
            StartTime=now - timedelta(seconds=5 * period), EndTime=now + timedelta(seconds=period))["Datapoints"]
        if not points:
            return None
        values.append(max(points, key=lambda p: p["Timestamp"])["Maximum"])
    return values[0], values[1]


def start_cdc(conn_id: str, task_arn: str, **start) -> None:
    """StartReplicationTask with ``start-replication`` from ``CdcStartPosition`` or ``CdcStartTime``
    (https://docs.aws.amazon.com/dms/latest/APIReference/API_StartReplicationTask.html)."""
    dms_hook(conn_id).start_replication_task(task_arn, "start-replication", **start)


def stop_task(conn_id: str, task_arn: str) -> None:
    """StopReplicationTask (https://docs.aws.amazon.com/dms/latest/APIReference/API_StopReplicationTask.html)."""
    dms_hook(conn_id).stop_replication_task(task_arn)


def describe_endpoint(conn_id: str, endpoint_arn: str) -> dict:
    """One DMS endpoint as DescribeEndpoints returns it."""
    return dms_hook(conn_id).conn.describe_endpoints(Filters=[{"Name": "endpoint-arn", "Values": [endpoint_arn]}])[
        "Endpoints"][0]


def point_endpoint(conn_id: str, endpoint_arn: str, server: str, port: int) -> None:
    """ModifyEndpoint's ServerName and Port (https://docs.aws.amazon.com/dms/latest/APIReference/API_ModifyEndpoint.html)."""
    dms_hook(conn_id).conn.modify_endpoint(EndpointArn=endpoint_arn, ServerName=server, Port=int(port))
