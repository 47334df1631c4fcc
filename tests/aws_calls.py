"""Record the AWS API calls made in this process, and the IAM authorizations each one needs (test helper).

:func:`recording` patches botocore's ``Session.create_client`` so every client created
while it is active, by boto3 directly or by an Airflow hook's own session, reports each
call (service, operation, parameters) with the access key id it signs with. The estate
signs with its own key and the DAGs with the Airflow connection's, so a test keeps the
DAGs' calls apart from the estate's seeding, controllers and assertions.

:func:`iam_requests` says what IAM authorizes for a call: the action and the resource ARN, per
the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
An operation it does not know fails the test that met it: each new call needs a deliberate entry.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from botocore.session import Session

from cdc_runbooks.iam_policy import IamRequest
from rehearsal.aws import ACCOUNT_ID


@dataclass(frozen=True)
class AwsCall:
    access_key: str
    region: str
    service: str
    operation: str
    params: dict

    def __str__(self) -> str:
        return f"{self.service}.{self.operation}"


@contextlib.contextmanager
def recording() -> Iterator[list[AwsCall]]:
    """Yield a list that receives an :class:`AwsCall` for every API call of clients created meanwhile."""
    calls: list[AwsCall] = []
    lock = threading.Lock()
    original = Session.create_client
    signature = inspect.signature(original)

    def create_client(session, *args, **kwargs):
        client = original(session, *args, **kwargs)
        bound = signature.bind(session, *args, **kwargs).arguments
        credentials = session.get_credentials()
        access_key = bound.get("aws_access_key_id") or (credentials.access_key if credentials else "")
        service = client.meta.service_model.service_name

        def record(params, model, **_):
            with lock:
                calls.append(AwsCall(access_key, client.meta.region_name, service, model.name, dict(params)))

        client.meta.events.register("before-parameter-build", record)
        return client

    Session.create_client = create_client
    try:
        yield calls
    finally:
        Session.create_client = original


def _rds(kind: str, name_or_arn: str | None):
    def arn(call: AwsCall) -> str:
        name = name_or_arn and call.params.get(name_or_arn)
        if name and name.startswith("arn:"):
            return name
        return f"arn:aws:rds:{call.region}:{ACCOUNT_ID}:{kind}:{name or '*'}"

    return arn


def _param(name: str):
    return lambda call: call.params[name]


def _s3(call: AwsCall) -> str:
    key = call.params.get("Key")
    return f"arn:aws:s3:::{call.params['Bucket']}" + (f"/{key}" if key is not None else "")


# (service, operation) -> the resource the action is authorized on; operations absent from it and present in
# _WITHOUT_RESOURCE have no resource-level permissions ("*").
_RESOURCE = {
    ("dms", "StartReplicationTask"): _param("ReplicationTaskArn"),
    ("dms", "StopReplicationTask"): _param("ReplicationTaskArn"),
    ("dms", "ModifyEndpoint"): _param("EndpointArn"),
    ("rds", "DescribeDBClusters"): _rds("cluster", "DBClusterIdentifier"),
    ("rds", "DescribeDBClusterParameters"): _rds("cluster-pg", "DBClusterParameterGroupName"),
    ("rds", "DescribeBlueGreenDeployments"): _rds("deployment", "BlueGreenDeploymentIdentifier"),
    ("rds", "SwitchoverBlueGreenDeployment"): _rds("deployment", "BlueGreenDeploymentIdentifier"),
    ("s3", "PutObject"): _s3,
    ("s3", "GetObject"): _s3,
    ("s3", "HeadObject"): _s3,
    ("s3", "DeleteObject"): _s3,
    ("s3", "ListObjectsV2"): _s3,
    ("sns", "Publish"): lambda call: call.params.get("TopicArn") or call.params["TargetArn"],
}
_WITHOUT_RESOURCE = {
    ("dms", "DescribeReplicationTasks"), ("dms", "DescribeReplicationInstances"), ("dms", "DescribeEndpoints"),
    ("rds", "DescribeEvents"), ("cloudwatch", "GetMetricStatistics"),
}
# Operations authorized by an action of another name.
_ACTION = {("s3", "HeadObject"): "s3:GetObject", ("s3", "ListObjectsV2"): "s3:ListBucket"}


def iam_requests(call: AwsCall) -> list[IamRequest]:
    """The IAM authorizations ``call`` needs; KeyError naming the operation if this module does not know it."""
    key = (call.service, call.operation)
    action = _ACTION.get(key, f"{call.service}:{call.operation}")
    if key in _WITHOUT_RESOURCE:
        return [IamRequest(action)]
    if key not in _RESOURCE:
        raise KeyError(f"{call}: unknown to tests/aws_calls.py; add its IAM action and resource")
    return [IamRequest(action, _RESOURCE[key](call))]
