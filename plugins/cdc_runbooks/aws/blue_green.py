"""Blue/green deployments through the pipeline's AWS connection (sync; the operators and, in a worker thread,
the triggers call these).

The amazon provider has no blue/green hook method or waiter: these call the RDS API through ``RdsHook.conn``."""

from __future__ import annotations

from cdc_runbooks import identifiers
from cdc_runbooks.aws.cluster import describe_cluster
from cdc_runbooks.aws.hooks import rds_hook
from cdc_runbooks.blue_green import BlueGreenStateError, DeploymentState
from cdc_runbooks.pipelines import Pipeline, get_pipeline


def deployment_state(pipeline_name: str, deployment_identifier: str) -> DeploymentState:
    """DescribeBlueGreenDeployments for one deployment; an unknown one is refused (BlueGreenStateError, not
    retried: RDS answers ``BlueGreenDeploymentNotFoundFault``,
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeBlueGreenDeployments.html)."""
    identifiers.deployment_identifier(deployment_identifier)
    rds = rds_hook(get_pipeline(pipeline_name).aws_conn_id).conn
    try:
        found = rds.describe_blue_green_deployments(BlueGreenDeploymentIdentifier=deployment_identifier)
    except rds.exceptions.BlueGreenDeploymentNotFoundFault:
        raise BlueGreenStateError(f"deployment_id: no blue/green deployment {deployment_identifier} in the account "
                                  f"and Region of pipeline {pipeline_name}") from None
    return DeploymentState.from_api(found["BlueGreenDeployments"][0])


def deployment_clusters(conn_id: str, state: DeploymentState) -> tuple[dict, dict]:
    """The deployment's source (blue) and target (green) clusters as DescribeDBClusters returns them."""
    rds = rds_hook(conn_id)
    return describe_cluster(rds, state.source), describe_cluster(rds, state.target)


def require_production_source(pipeline: Pipeline, state: DeploymentState) -> None:
    """Refuse (BlueGreenStateError) a deployment whose source is not the pipeline's production cluster: an RDS
    API call only, made before anything connects to the deployment's clusters."""
    production = describe_cluster(rds_hook(pipeline.aws_conn_id), pipeline.source_cluster)["DBClusterArn"]
    if state.source != production:
        raise BlueGreenStateError(f"refusing: {state.describe()} switches {state.source}, not the pipeline's "
                                  f"production cluster {pipeline.source_cluster} ({production})")


def switchover_blue_green(conn_id: str, deployment_identifier: str, timeout_s: int) -> None:
    """SwitchoverBlueGreenDeployment (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_SwitchoverBlueGreenDeployment.html):
    RDS rolls the switchover back when it has not completed within ``timeout_s`` (30-3600)."""
    rds_hook(conn_id).conn.switchover_blue_green_deployment(BlueGreenDeploymentIdentifier=deployment_identifier,
                                                            SwitchoverTimeout=timeout_s)
