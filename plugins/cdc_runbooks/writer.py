"""The writer of a cluster, reached the way DMS reaches it: endpoint from the RDS API,
credentials from an Airflow connection.

Requires Airflow (hooks). The connection's host is ignored: after a blue/green
switchover the endpoint *name* moves to another server, so every check reads
the endpoint and port from DescribeDBClusters at the moment it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow.providers.amazon.aws.hooks.rds import RdsHook
from airflow.providers.mysql.hooks.mysql import MySqlHook
from airflow.sdk import Connection

from cdc_runbooks import identifiers


@dataclass(frozen=True)
class ClusterWriter:
    cluster: str
    endpoint: str
    port: int
    instance: str
    parameter_group: str
    parameter_apply_status: str
    engine_version: str


def describe_writer(rds: RdsHook, cluster: str) -> ClusterWriter:
    """The cluster's writer endpoint, writer instance and cluster parameter group (DescribeDBClusters:
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBClusters.html)."""
    identifiers.cluster_identifier(cluster)
    found = rds.conn.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]
    writer = next((m for m in found.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None)
    if writer is None:
        raise RuntimeError(f"cluster {cluster} has no writer instance; DMS CDC needs the writer")
    return ClusterWriter(cluster=cluster, endpoint=found["Endpoint"], port=int(found["Port"]),
                         instance=writer["DBInstanceIdentifier"],
                         parameter_group=found["DBClusterParameterGroup"],
                         parameter_apply_status=writer.get("DBClusterParameterGroupStatus", "unknown"),
                         engine_version=found.get("EngineVersion", ""))


def writer_sql_hook(conn_id: str, writer: ClusterWriter) -> MySqlHook:
    """A MySqlHook on the writer endpoint with the credentials of ``conn_id``."""
    base = MySqlHook.get_connection(conn_id)
    connection = Connection(conn_id=base.conn_id, conn_type=base.conn_type, host=writer.endpoint,
                            port=writer.port, login=base.login, password=base.password, schema=base.schema,
                            extra=base.extra)
    return MySqlHook(mysql_conn_id=conn_id, connection=connection)
