"""RDS snapshot exports and cluster snapshots, through the pipeline's AWS connection (sync), and the resources
an export run needs.

RDS through ``RdsHook`` (its client, and its snapshot waiter); the names and the checks are
:mod:`cdc_runbooks.lake.export`'s.
"""

from __future__ import annotations

from collections.abc import Callable

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from cdc_runbooks.aws import catalog
from cdc_runbooks.aws.cluster import describe_cluster
from cdc_runbooks.aws.hooks import aws_client, rds_hook
from cdc_runbooks.lake.export import RUNNING, ExportState
from cdc_runbooks.pipelines import Pipeline


def export_state(conn_id: str, export_id: str, region_name: str | None = None) -> ExportState | None:
    """DescribeExportTasks for one id (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeExportTasks.html);
    None when RDS has no export of that id."""
    rds = rds_hook(conn_id, region_name).conn
    try:
        tasks = rds.describe_export_tasks(ExportTaskIdentifier=export_id)["ExportTasks"]
    except rds.exceptions.ExportTaskNotFoundFault:
        return None
    return ExportState.from_api(tasks[0]) if tasks else None


def running_exports(conn_id: str) -> list[str]:
    """Ids of the account's exports that run now (DescribeExportTasks, every page)."""
    rds = rds_hook(conn_id).conn
    tasks = [t for page in rds.get_paginator("describe_export_tasks").paginate() for t in page["ExportTasks"]]
    return [t["ExportTaskIdentifier"] for t in tasks if t["Status"] in RUNNING]


def start_export(conn_id: str, request: dict) -> None:
    """StartExportTask (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_StartExportTask.html)."""
    rds_hook(conn_id).conn.start_export_task(**request)


def cluster_snapshot(conn_id: str, snapshot_id: str) -> dict | None:
    """One cluster snapshot as DescribeDBClusterSnapshots returns it; None when there is none of that id."""
    rds = rds_hook(conn_id).conn
    try:
        found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot_id)["DBClusterSnapshots"]
    except rds.exceptions.DBClusterSnapshotNotFoundFault:
        return None
    return found[0] if found else None


def cluster_snapshots(conn_id: str, cluster: str, snapshot_type: str) -> list[dict]:
    """Every snapshot of ``cluster`` of one type (``manual``, ``automated``): DescribeDBClusterSnapshots, every
    page."""
    pages = rds_hook(conn_id).conn.get_paginator("describe_db_cluster_snapshots").paginate(
        DBClusterIdentifier=cluster, SnapshotType=snapshot_type)
    return [s for page in pages for s in page["DBClusterSnapshots"]]


def create_cluster_snapshot(conn_id: str, cluster: str, snapshot_id: str, tags: list[dict]) -> dict:
    """CreateDBClusterSnapshot with ``tags`` (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBClusterSnapshot.html);
    the new snapshot as RDS describes it."""
    return rds_hook(conn_id).conn.create_db_cluster_snapshot(
        DBClusterIdentifier=cluster, DBClusterSnapshotIdentifier=snapshot_id, Tags=tags)["DBClusterSnapshot"]


def wait_snapshot_available(conn_id: str, snapshot_id: str, check_interval: int) -> None:
    """Wait until the snapshot is ``available`` (RdsHook's waiter, polling every ``check_interval`` seconds)."""
    rds_hook(conn_id).wait_for_db_cluster_snapshot_state(snapshot_id, target_state="available",
                                                         check_interval=check_interval)


def delete_cluster_snapshot(conn_id: str, snapshot_id: str) -> None:
    """DeleteDBClusterSnapshot."""
    rds_hook(conn_id).conn.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=snapshot_id)


def resource_tags(conn_id: str, arn: str) -> list[dict]:
    """The tags of an RDS resource (ListTagsForResource)."""
    return rds_hook(conn_id).conn.list_tags_for_resource(ResourceName=arn)["TagList"]


def add_tags(conn_id: str, arn: str, tags: list[dict]) -> None:
    """AddTagsToResource: a key the resource already has gets the new value."""
    rds_hook(conn_id).conn.add_tags_to_resource(ResourceName=arn, Tags=tags)


def export_resources(pipeline: Pipeline) -> list[tuple[str, Callable[[], object], set[str], str]]:
    """What an export run of ``pipeline`` needs to exist, for :func:`cdc_runbooks.aws.errors.exists`: (what, the
    describe call, its NotFound error codes, the permission it needs) per resource: the export bucket, the Athena
    output bucket, the Glue database, the Athena workgroup, the export IAM role and KMS key, the source cluster."""
    conn, role, key = pipeline.aws_conn_id, pipeline.export_role_arn, pipeline.export_kms_key_arn
    s3 = aws_client(conn, "s3")
    output_bucket = S3Hook.parse_s3_url(pipeline.athena_output)[0]
    return [
        (f"export bucket {pipeline.export_bucket}", lambda: s3.head_bucket(Bucket=pipeline.export_bucket),
         {"NoSuchBucket"}, f"s3:ListBucket on {pipeline.export_bucket}"),
        (f"Athena output bucket of {pipeline.athena_output}", lambda: s3.head_bucket(Bucket=output_bucket),
         {"NoSuchBucket"}, f"s3:ListBucket on {output_bucket}"),
        (f"Glue database {pipeline.glue_database}", lambda: catalog.describe_database(conn, pipeline.glue_database),
         {"EntityNotFoundException"}, "glue:GetDatabase"),
        (f"Athena workgroup {pipeline.athena_workgroup}", lambda: catalog.describe_workgroup(
            conn, pipeline.athena_workgroup), {"InvalidRequestException"}, "athena:GetWorkGroup"),
        (f"IAM role {role}", lambda: aws_client(conn, "iam").get_role(RoleName=role.rsplit("/", 1)[-1]),
         {"NoSuchEntity"}, "iam:GetRole"),
        (f"KMS key {key}", lambda: aws_client(conn, "kms").describe_key(KeyId=key), {"NotFoundException"},
         "kms:DescribeKey"),
        (f"cluster {pipeline.source_cluster}", lambda: describe_cluster(conn, pipeline.source_cluster),
         {"DBClusterNotFoundFault"}, "rds:DescribeDBClusters"),
    ]
