"""Record the AWS API calls made in this process, and the IAM authorizations each one needs (test helper).

:func:`recording` patches botocore's ``Session.create_client`` so every client created
while it is active, by boto3 directly or by an Airflow hook's own session, reports each
call (service, operation, parameters) with the access key id it signs with. The estate
signs with its own key and the DAGs with the Airflow connection's, so a test keeps the
DAGs' calls apart from the estate's seeding, controllers and assertions.

:func:`iam_requests` says what IAM authorizes for a call: the action and the resource ARN, per
the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html),
plus the authorizations a call needs beyond its own action: dependent actions (tagging on create,
iam:PassRole), and what a service does with the caller's permissions (RDS export grants on the KMS key,
Athena writing and reading query results in S3). Some resources are not in the call's parameters but in
an earlier answer: the key a KMS alias names (from DescribeKey), the workgroup and output location of an
Athena query (from StartQueryExecution); the recording learns them from the responses.
An operation it does not know fails the test that met it: each new call needs a deliberate entry.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from botocore.session import Session
from iam_policy import IamRequest

from rehearsal.aws import ACCOUNT_ID


@dataclass(frozen=True)
class AwsCall:
    access_key: str
    region: str
    service: str
    operation: str
    params: dict
    response: dict = field(default_factory=dict, compare=False, repr=False)  # filled in when AWS answers
    # What the recording learned from every answer (shared by its calls): (kind, name) -> resource.
    learned: dict = field(default_factory=dict, compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.service}.{self.operation}"


@contextlib.contextmanager
def recording() -> Iterator[list[AwsCall]]:
    """Yield a list that receives an :class:`AwsCall` for every API call of clients created meanwhile; a call's
    ``response`` is filled in when AWS answers it successfully."""
    calls: list[AwsCall] = []
    learned: dict = {}
    lock = threading.Lock()
    original = Session.create_client
    signature = inspect.signature(original)

    def create_client(session, *args, **kwargs):
        client = original(session, *args, **kwargs)
        bound = signature.bind(session, *args, **kwargs).arguments
        credentials = session.get_credentials()
        access_key = bound.get("aws_access_key_id") or (credentials.access_key if credentials else "")
        service = client.meta.service_model.service_name

        def record(params, model, context, **_):
            call = AwsCall(access_key, client.meta.region_name, service, model.name, dict(params), learned=learned)
            context[_CALL] = call
            with lock:
                calls.append(call)

        def answered(parsed, context, **_):
            call = context.get(_CALL)
            if call is not None and "Error" not in parsed:
                call.response.update(parsed)
                with lock:
                    learned.update(_LEARN.get((call.service, call.operation), lambda _: {})(call))

        client.meta.events.register("before-parameter-build", record)
        client.meta.events.register("after-call", answered)
        return client

    Session.create_client = create_client
    try:
        yield calls
    finally:
        Session.create_client = original


_CALL = "cdc_runbooks_tests.aws_call"
# What an answer tells about resources later calls name only indirectly.
_LEARN = {
    ("kms", "DescribeKey"): lambda call: {("kms key", call.params["KeyId"]): call.response["KeyMetadata"]["Arn"]},
    ("athena", "StartQueryExecution"): lambda call: {("athena query", call.response["QueryExecutionId"]): (
        call.params.get("WorkGroup", "primary"),
        call.params.get("ResultConfiguration", {}).get("OutputLocation"))},
}


def _learned(call: AwsCall, kind: str, name: str):
    try:
        return call.learned[kind, name]
    except KeyError:
        raise KeyError(f"{call}: no earlier answer in the recording named the {kind} {name!r}") from None


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


def _s3_objects(call: AwsCall) -> list[str]:
    return [f"arn:aws:s3:::{call.params['Bucket']}/{o['Key']}" for o in call.params["Delete"]["Objects"]]


def _snapshots(call: AwsCall) -> str:
    """DescribeDBClusterSnapshots authorizes on the snapshot it names, else on the cluster whose snapshots it lists
    (both are optional resource types of the action)."""
    if call.params.get("DBClusterSnapshotIdentifier") or not call.params.get("DBClusterIdentifier"):
        return _cluster_snapshot(call)
    return _rds("cluster", "DBClusterIdentifier")(call)


def _cluster_snapshot(call: AwsCall) -> str:
    return _rds("cluster-snapshot", "DBClusterSnapshotIdentifier")(call)


def _glue(database: str, table: str | None = None):
    """Glue authorizes a catalog call on the catalog, the database and (for table and partition calls) the table
    (https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html)."""

    def arns(call: AwsCall) -> list[str]:
        base = f"arn:aws:glue:{call.region}:{ACCOUNT_ID}"
        name = call.params[database]
        found = [f"{base}:catalog", f"{base}:database/{name}"]
        if table is not None:
            value = call.params[table]
            found.append(f"{base}:table/{name}/{value['Name'] if isinstance(value, dict) else value}")
        return found

    return arns


def _glue_tables(database: str):
    """GetTables is authorized on the catalog, the database and every table of it (``table/<database>/*``:
    https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html)."""

    def arns(call: AwsCall) -> list[str]:
        base = f"arn:aws:glue:{call.region}:{ACCOUNT_ID}"
        return [*_glue(database)(call), f"{base}:table/{call.params[database]}/*"]

    return arns


def _workgroup(call: AwsCall, name: str) -> str:
    return f"arn:aws:athena:{call.region}:{ACCOUNT_ID}:workgroup/{name}"


def _query(call: AwsCall) -> tuple[str, str | None]:
    """The workgroup and output location of the query a call names."""
    return _learned(call, "athena query", call.params["QueryExecutionId"])


def _query_result(call: AwsCall, query_id: str, output: str | None) -> str:
    if not output:
        raise KeyError(f"{call}: query {query_id} has no OutputLocation in the request")
    return "arn:aws:s3:::" + output.removeprefix("s3://").rstrip("/") + f"/{query_id}.csv"


def _kms_key(call: AwsCall, key_id: str) -> str:
    """KMS authorizes on the key, whatever names it: a key ARN, a key id, or an alias (resolved by DescribeKey)."""
    if key_id.startswith("arn:") and ":key/" in key_id:
        return key_id
    if key_id.startswith("arn:") or key_id.startswith("alias/"):
        return _learned(call, "kms key", key_id)
    return f"arn:aws:kms:{call.region}:{ACCOUNT_ID}:key/{key_id}"


# (service, operation) -> the resource the action is authorized on; operations absent from it and present in
# _WITHOUT_RESOURCE have no resource-level permissions ("*").
_RESOURCE = {
    ("dms", "StartReplicationTask"): _param("ReplicationTaskArn"),
    ("dms", "StopReplicationTask"): _param("ReplicationTaskArn"),
    ("dms", "DescribeTableStatistics"): _param("ReplicationTaskArn"),
    ("dms", "ModifyEndpoint"): _param("EndpointArn"),
    ("rds", "DescribeDBClusters"): _rds("cluster", "DBClusterIdentifier"),
    ("rds", "DescribeDBClusterParameters"): _rds("cluster-pg", "DBClusterParameterGroupName"),
    ("rds", "DescribeBlueGreenDeployments"): _rds("deployment", "BlueGreenDeploymentIdentifier"),
    ("rds", "SwitchoverBlueGreenDeployment"): _rds("deployment", "BlueGreenDeploymentIdentifier"),
    ("rds", "DescribeDBClusterSnapshots"): _snapshots,
    ("rds", "CreateDBClusterSnapshot"): lambda call: [_rds("cluster", "DBClusterIdentifier")(call),
                                                      _cluster_snapshot(call)],
    ("rds", "DeleteDBClusterSnapshot"): _cluster_snapshot,
    ("rds", "AddTagsToResource"): _param("ResourceName"),
    ("rds", "ListTagsForResource"): _param("ResourceName"),
    ("rds", "StartExportTask"): _param("SourceArn"),
    ("iam", "GetRole"): lambda call: f"arn:aws:iam::{ACCOUNT_ID}:role/{call.params['RoleName']}",
    ("kms", "DescribeKey"): lambda call: call.response.get("KeyMetadata", {}).get("Arn") or _kms_key(
        call, call.params["KeyId"]),
    ("glue", "GetDatabase"): _glue("Name"),
    ("glue", "GetTable"): _glue("DatabaseName", "Name"),
    ("glue", "GetTables"): _glue_tables("DatabaseName"),
    ("glue", "CreateTable"): _glue("DatabaseName", "TableInput"),
    ("glue", "UpdateTable"): _glue("DatabaseName", "TableInput"),
    ("glue", "DeleteTable"): _glue("DatabaseName", "Name"),
    ("glue", "GetPartitions"): _glue("DatabaseName", "TableName"),
    ("glue", "GetPartition"): _glue("DatabaseName", "TableName"),
    ("glue", "CreatePartition"): _glue("DatabaseName", "TableName"),
    ("glue", "UpdatePartition"): _glue("DatabaseName", "TableName"),
    ("glue", "DeletePartition"): _glue("DatabaseName", "TableName"),
    ("athena", "GetWorkGroup"): lambda call: _workgroup(call, call.params["WorkGroup"]),
    ("athena", "StartQueryExecution"): lambda call: _workgroup(call, call.params.get("WorkGroup", "primary")),
    ("athena", "GetQueryExecution"): lambda call: _workgroup(call, _query(call)[0]),
    ("athena", "GetQueryResults"): lambda call: _workgroup(call, _query(call)[0]),
    ("s3", "HeadBucket"): _s3,
    ("s3", "DeleteObjects"): _s3_objects,
    ("s3", "PutObject"): _s3,
    ("s3", "GetObject"): _s3,
    ("s3", "HeadObject"): _s3,
    ("s3", "DeleteObject"): _s3,
    ("s3", "ListObjectsV2"): _s3,
    ("sns", "Publish"): lambda call: call.params.get("TopicArn") or call.params["TargetArn"],
    ("redshift-data", "ExecuteStatement"): lambda call: _data_api_target(call),
}
def _data_api_target(call: AwsCall) -> str:
    """A Data API statement's target: a Serverless workgroup (its real ARN ends in the workgroup's id, which the
    policy matches with ``workgroup/*``) or a provisioned cluster."""
    if call.params.get("WorkgroupName"):
        return f"arn:aws:redshift-serverless:{call.region}:{ACCOUNT_ID}:workgroup/{call.params['WorkgroupName']}"
    return f"arn:aws:redshift:{call.region}:{ACCOUNT_ID}:cluster:{call.params['ClusterIdentifier']}"


def _statement_credentials(call: AwsCall) -> list[IamRequest]:
    """The credentials the Data API gets as the caller: a secret, or temporary database credentials (Serverless:
    GetCredentials on the workgroup; provisioned: GetClusterCredentials for DbUser, else ...WithIAM)
    (https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-access.html)."""
    if call.params.get("SecretArn"):
        return [IamRequest("secretsmanager:GetSecretValue", call.params["SecretArn"])]
    if call.params.get("WorkgroupName"):
        return [IamRequest("redshift-serverless:GetCredentials", _data_api_target(call))]
    cluster, database = call.params["ClusterIdentifier"], call.params["Database"]
    prefix = f"arn:aws:redshift:{call.region}:{ACCOUNT_ID}"
    if call.params.get("DbUser"):
        return [IamRequest("redshift:GetClusterCredentials", f"{prefix}:dbuser:{cluster}/{call.params['DbUser']}"),
                IamRequest("redshift:GetClusterCredentials", f"{prefix}:dbname:{cluster}/{database}")]
    return [IamRequest("redshift:GetClusterCredentialsWithIAM", f"{prefix}:dbname:{cluster}/{database}")]


_WITHOUT_RESOURCE = {
    ("dms", "DescribeReplicationTasks"), ("dms", "DescribeReplicationInstances"), ("dms", "DescribeEndpoints"),
    ("rds", "DescribeEvents"), ("cloudwatch", "GetMetricStatistics"),
    # A statement's owner is checked by the Data API itself; these have no resource types.
    ("redshift-data", "DescribeStatement"), ("redshift-data", "GetStatementResult"),
    ("redshift-data", "CancelStatement"),
    # Its resource types (cluster, cluster-snapshot, snapshot) are optional; a call by export id names none.
    ("rds", "DescribeExportTasks"),
}
# Operations authorized by an action of another name.
_ACTION = {("s3", "HeadObject"): "s3:GetObject", ("s3", "ListObjectsV2"): "s3:ListBucket",
           ("s3", "HeadBucket"): "s3:ListBucket", ("s3", "DeleteObjects"): "s3:DeleteObject"}


def _export_task_needs(call: AwsCall) -> list[IamRequest]:
    """StartExportTask passes the export role to RDS, and RDS creates a grant on the export key as the caller
    (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-export-snapshot.Exporting.html)."""
    key = _kms_key(call, call.params["KmsKeyId"])
    return [IamRequest("iam:PassRole", call.params["IamRoleArn"]), IamRequest("kms:CreateGrant", key),
            IamRequest("kms:DescribeKey", key)]


def _query_start_needs(call: AwsCall) -> list[IamRequest]:
    """Athena writes the query's result to its output location with the caller's permissions
    (https://docs.aws.amazon.com/athena/latest/ug/security-iam-athena.html)."""
    result = _query_result(call, call.response["QueryExecutionId"],
                           call.params.get("ResultConfiguration", {}).get("OutputLocation"))
    bucket = result.split("/", 1)[0]
    return [IamRequest("s3:GetBucketLocation", bucket), IamRequest("s3:PutObject", result),
            IamRequest("s3:PutObject", f"{result}.metadata")]


# (service, operation) -> further authorizations the call needs (dependent actions, work done as the caller).
_ALSO = {
    ("rds", "CreateDBClusterSnapshot"): lambda call: [IamRequest("rds:AddTagsToResource", _cluster_snapshot(call))]
    if call.params.get("Tags") else [],
    ("rds", "StartExportTask"): _export_task_needs,
    ("athena", "StartQueryExecution"): _query_start_needs,
    ("redshift-data", "ExecuteStatement"): _statement_credentials,
    ("athena", "GetQueryResults"): lambda call: [IamRequest("s3:GetObject", _query_result(
        call, call.params["QueryExecutionId"], _query(call)[1]))],
}


def iam_requests(call: AwsCall) -> list[IamRequest]:
    """The IAM authorizations ``call`` needs; KeyError naming the operation if this module does not know it."""
    key = (call.service, call.operation)
    action = _ACTION.get(key, f"{call.service}:{call.operation}")
    if key in _WITHOUT_RESOURCE:
        requests = [IamRequest(action)]
    elif key in _RESOURCE:
        found = _RESOURCE[key](call)
        requests = [IamRequest(action, resource) for resource in ([found] if isinstance(found, str) else found)]
    else:
        raise KeyError(f"{call}: unknown to tests/aws_calls.py; add its IAM action and resource")
    return requests + _ALSO.get(key, lambda _: [])(call)
