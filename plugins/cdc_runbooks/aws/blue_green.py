"""One poll of a blue/green deployment through the pipeline's AWS connection (sync; used by the triggers)."""

from __future__ import annotations

from cdc_runbooks import identifiers
from cdc_runbooks.aws.hooks import rds_hook
from cdc_runbooks.blue_green import BlueGreenStateError, DeploymentState
from cdc_runbooks.pipelines import get_pipeline


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
