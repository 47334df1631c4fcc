"""Blue/green deployments and the switchover's RDS events through an AWS connection (sync; the operators and, in
a worker thread, the triggers call these; ``region_name`` None: the connection's Region).

The amazon provider has no blue/green hook method or waiter: these call the RDS API through ``RdsHook.conn``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cdc_runbooks import identifiers
from cdc_runbooks.aws.cluster import describe_cluster
from cdc_runbooks.aws.hooks import rds_hook
from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.blue_green import BlueGreenStateError, DeploymentState, find_coordinates, production_is_blue
from cdc_runbooks.console_switchover import ConsoleSwitchover, find_console_switchover
from cdc_runbooks.pipelines import Pipeline


def deployment_state(conn_id: str, deployment_identifier: str, region_name: str | None = None) -> DeploymentState:
    """DescribeBlueGreenDeployments for one deployment; an unknown one is refused (BlueGreenStateError, not
    retried: RDS answers ``BlueGreenDeploymentNotFoundFault``,
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeBlueGreenDeployments.html)."""
    identifiers.deployment_identifier(deployment_identifier)
    rds = rds_hook(conn_id, region_name).conn
    try:
        found = rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=deployment_identifier)
    except rds.exceptions.BlueGreenDeploymentNotFoundFault:
        raise BlueGreenStateError(f"deployment_id: no blue/green deployment {deployment_identifier} in the account "
                                  f"and Region of connection {conn_id}") from None
    return DeploymentState.from_api(found["BlueGreenDeployments"][0])


def console_switchover(pipeline: Pipeline, since: datetime) -> ConsoleSwitchover:
    """The deployment switching the pipeline's production cluster over since ``since``
    (:func:`cdc_runbooks.console_switchover.find_console_switchover`): every deployment of the account and Region
    (DescribeBlueGreenDeployments), and their events since then (DescribeEvents, SourceType
    ``blue-green-deployment``, https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeEvents.html;
    EndTime given: DescribeEvents's default window is an hour)."""
    rds = rds_hook(pipeline.aws_conn_id).conn
    production = describe_cluster(pipeline.aws_conn_id, pipeline.source_cluster)["DBClusterArn"]
    deployments = [DeploymentState.from_api(d) for page in rds.get_paginator("describe_blue_green_deployments")
                   .paginate() for d in page["BlueGreenDeployments"]]
    events = [e for page in rds.get_paginator("describe_events").paginate(
        SourceType="blue-green-deployment", StartTime=since, EndTime=datetime.now(UTC)) for e in page["Events"]]
    return find_console_switchover(deployments, events, production, since)


def switchover_coordinates(conn_id: str, green_writer: str, since: datetime, max_clock_skew_s: float,
                           region_name: str | None = None) -> BinlogPosition | None:
    """Green's coordinates from the RDS event "Binary log coordinates in green environment after switchover" of
    the old green writer (DescribeEvents, SourceType db-instance, from a minute before ``since``:
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeEvents.html), dated from ``since`` to
    now plus ``max_clock_skew_s`` (:func:`cdc_runbooks.blue_green.find_coordinates`); None while there is none."""
    rds = rds_hook(conn_id, region_name).conn
    events = rds.describe_events(SourceType="db-instance", StartTime=since - timedelta(minutes=1),
                                 EndTime=datetime.now(UTC))["Events"]
    until = datetime.now(UTC) + timedelta(seconds=max_clock_skew_s)
    return find_coordinates(events, green_writer, since, until)


def deployment_clusters(conn_id: str, state: DeploymentState) -> tuple[dict, dict]:
    """The deployment's source (blue) and target (green) clusters as DescribeDBClusters returns them."""
    return describe_cluster(conn_id, state.source), describe_cluster(conn_id, state.target)


def require_production_source(pipeline: Pipeline, state: DeploymentState) -> None:
    """Refuse (BlueGreenStateError) a deployment whose source is not the pipeline's production cluster: an RDS
    API call only, made before anything connects to the deployment's clusters."""
    production = describe_cluster(pipeline.aws_conn_id, pipeline.source_cluster)["DBClusterArn"]
    if state.source != production:
        raise BlueGreenStateError(f"refusing: {state.describe()} switches {state.source}, not the pipeline's "
                                  f"production cluster {pipeline.source_cluster} ({production})")


def switchover_blue_green(conn_id: str, deployment_identifier: str, timeout_s: int) -> None:
    """SwitchoverBlueGreenDeployment (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_SwitchoverBlueGreenDeployment.html):
    RDS rolls the switchover back when it has not completed within ``timeout_s`` (30-3600)."""
    rds_hook(conn_id).conn.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=deployment_identifier,
                                                            SwitchoverTimeout=timeout_s)


def production_still_on_blue(conn_id: str, deployment_identifier: str) -> bool:
    """Whether RDS shows the deployment's production still on blue now (:func:`production_is_blue`)."""
    return production_is_blue(deployment_state(conn_id, deployment_identifier))
