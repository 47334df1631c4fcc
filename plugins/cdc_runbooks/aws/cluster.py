"""The writer of a cluster, reached the way DMS reaches it: endpoint from the RDS API,
credentials from an Airflow connection.

Requires Airflow (hooks). The connection's host is ignored: after a blue/green
switchover the endpoint *name* moves to another server, so every check reads
the endpoint and port from DescribeDBClusters at the moment it runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime

from airflow.providers.mysql.hooks.mysql import MySqlHook
from airflow.sdk import Connection

from cdc_runbooks import identifiers
from cdc_runbooks.aws.hooks import rds_hook
from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.start_position import BinlogEvent, UnreadableOffset, WriterBinlog

# SHOW BINLOG EVENTS rows read per statement: memory stays bounded however long the binlog is.
BINLOG_PAGE = 5000
# MySQL's ER_ERROR_WHEN_EXECUTING_COMMAND: "Wrong offset or I/O error" for an offset that is not an event boundary.
_WRONG_OFFSET = 1220


@dataclass(frozen=True)
class ClusterWriter:
    cluster: str
    endpoint: str
    port: int
    instance: str
    parameter_group: str
    parameter_apply_status: str
    engine_version: str


def describe_cluster(conn_id: str, identifier_or_arn: str) -> dict:
    """One cluster as DescribeDBClusters returns it, by identifier or ARN (an unknown one raises RDS's
    ``DBClusterNotFoundFault``: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBClusters.html)."""
    return rds_hook(conn_id).conn.describe_db_clusters(DBClusterIdentifier=identifier_or_arn)["DBClusters"][0]


def describe_writer(conn_id: str, cluster: str) -> ClusterWriter:
    """The cluster's writer endpoint, writer instance and cluster parameter group (:func:`describe_cluster`)."""
    identifiers.cluster_identifier(cluster)
    found = describe_cluster(conn_id, cluster)
    writer = _writer_member(found)
    return ClusterWriter(cluster=cluster, endpoint=found["Endpoint"], port=int(found["Port"]),
                         instance=writer["DBInstanceIdentifier"],
                         parameter_group=found["DBClusterParameterGroup"],
                         parameter_apply_status=writer.get("DBClusterParameterGroupStatus", "unknown"),
                         engine_version=found.get("EngineVersion", ""))


def failover_times(conn_id: str, cluster: str, since: datetime) -> list[str]:
    """When RDS says the cluster failed over (started or completed) since ``since``, as ISO times: its event history
    (DescribeEvents, SourceType db-cluster, category failover, kept 14 days:
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeEvents.html), independent of whether
    EventBridge delivered the events yet, or at all."""
    identifiers.cluster_identifier(cluster)
    events = rds_hook(conn_id).conn.describe_events(SourceType="db-cluster", SourceIdentifier=cluster,
                                                    StartTime=since, EndTime=datetime.now(UTC),
                                                    EventCategories=["failover"])["Events"]
    return [event["Date"].isoformat() for event in events if event.get("SourceIdentifier") == cluster
            and "failover" in event.get("EventCategories", []) and isinstance(event.get("Date"), datetime)]


def cluster_parameters(conn_id: str, parameter_group: str) -> dict[str, str | None]:
    """Every parameter of a DB cluster parameter group, name -> value (None when it has none), all pages of
    DescribeDBClusterParameters:
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBClusterParameters.html"""
    pages = rds_hook(conn_id).conn.get_paginator("describe_db_cluster_parameters").paginate(
        DBClusterParameterGroupName=parameter_group)
    return {p["ParameterName"]: p.get("ParameterValue") for page in pages for p in page["Parameters"]}


def writer_instance(cluster: dict) -> str:
    """The writer instance's identifier in a DescribeDBClusters cluster."""
    return _writer_member(cluster)["DBInstanceIdentifier"]


def _writer_member(cluster: dict) -> dict:
    writer = next((m for m in cluster.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None)
    if writer is None:
        raise RuntimeError(f"cluster {cluster.get('DBClusterIdentifier')} has no writer instance; DMS CDC needs "
                           "the writer")
    return writer


def writer_sql_hook(conn_id: str, writer: ClusterWriter) -> MySqlHook:
    """A MySqlHook on the writer endpoint with the credentials of ``conn_id``."""
    base = MySqlHook.get_connection(conn_id)
    connection = Connection(conn_id=base.conn_id, conn_type=base.conn_type, host=writer.endpoint,
                            port=writer.port, login=base.login, password=base.password, schema=base.schema,
                            extra=base.extra)
    return MySqlHook(mysql_conn_id=conn_id, connection=connection)


def binlog_end(conn_id: str, writer: ClusterWriter) -> BinlogPosition:
    """Where the writer's binlog ends now (``SHOW MASTER STATUS``)."""
    file, position = writer_sql_hook(conn_id, writer).get_first("SHOW MASTER STATUS")[:2]
    return BinlogPosition(file, int(position))


def replica_lag_s(conn_id: str, writer: ClusterWriter) -> float | None:
    """``Seconds_Behind_Source`` of the writer as a replica (a blue/green deployment's green), None when it
    replicates from nothing or does not know (``SHOW REPLICA STATUS``)."""
    hook = writer_sql_hook(conn_id, writer)
    with closing(hook.get_conn()) as conn, closing(conn.cursor()) as cursor:
        cursor.execute("SHOW REPLICA STATUS")
        row = cursor.fetchone()
        names = [d[0] for d in cursor.description or ()]
    if row is None:
        return None
    status = dict(zip(names, row, strict=False))
    lag = status.get("Seconds_Behind_Source", status.get("Seconds_Behind_Master"))
    return None if lag is None else float(lag)


def writer_binlog(conn_id: str, writer: ClusterWriter) -> WriterBinlog:
    """The writer's binlog for position checks: ``@@server_id``, ``SHOW BINARY LOGS`` and a reader that pages
    ``SHOW BINLOG EVENTS IN file FROM pos LIMIT n`` (https://dev.mysql.com/doc/refman/8.0/en/show-binlog-events.html),
    each page starting where the previous one's last event ends."""
    hook = writer_sql_hook(conn_id, writer)
    with closing(hook.get_conn()) as conn, closing(conn.cursor()) as cursor:  # one connection: each costs ~50 ms
        cursor.execute("SELECT @@server_id")
        server_id = int(cursor.fetchone()[0])
        cursor.execute("SHOW BINARY LOGS")
        files = {row[0]: int(row[1]) for row in cursor.fetchall()}

    def read(file: str, start: int) -> Iterator[BinlogEvent]:
        conn = hook.get_conn()  # one connection per read, closed when the read ends or is abandoned
        try:
            cursor = conn.cursor()
            while True:
                try:
                    cursor.execute("SHOW BINLOG EVENTS IN %s FROM %s LIMIT %s", (file, start, BINLOG_PAGE))
                    rows = cursor.fetchall()
                except Exception as error:
                    if _WRONG_OFFSET not in (getattr(error, "errno", None), *getattr(error, "args", ())[:1]):
                        raise
                    raise UnreadableOffset(str(error).strip().splitlines()[0]) from None
                yield from map(BinlogEvent.from_row, rows)
                if len(rows) < BINLOG_PAGE:
                    return
                start = int(rows[-1][4])
        finally:
            # A read abandoned in an exception's traceback is finalised by the garbage collector, which may have
            # cleared what the driver's cleanup refers to: closing a read-only connection must never mask the
            # read's own outcome.
            with contextlib.suppress(Exception):
                conn.close()

    return WriterBinlog(writer.instance, server_id, files, read)
