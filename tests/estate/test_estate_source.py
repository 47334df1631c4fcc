"""The source stand-in: replication, per-server binlogs, RDS procedures, endpoints, the write fence."""

from __future__ import annotations

import pymysql
import pytest

from rehearsal.net import LOOPBACK

pytestmark = pytest.mark.estate


def _server_id_via(port: int, login) -> int:
    with pymysql.connect(host=LOOPBACK, port=port, user=login.user, password=login.password) as conn, \
            conn.cursor() as cur:
        cur.execute("SELECT @@server_id")
        return cur.fetchone()[0]


def test_green_replicates_blue(shared_estate):
    source = shared_estate.source
    with source.connect_app() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO customers (name) VALUES ('replicated')")
        new_id = cur.lastrowid
    source.wait_green_caught_up(timeout=10)
    assert source.green.execute("SELECT name FROM shop.customers WHERE id = %s", args=(new_id,)) == [("replicated",)]


def test_green_binlog_coordinates_differ_from_blue(shared_estate):
    shared_estate.source.wait_green_caught_up(timeout=10)
    blue, green = shared_estate.source.blue.master_status(), shared_estate.source.green.master_status()
    assert blue.gtid == green.gtid  # the same transactions...
    assert (blue.file, blue.position) != (green.file, green.position)  # ...at other coordinates
    assert blue.file.startswith("mysql-bin-changelog.") and green.file.startswith("mysql-bin-changelog.")


def test_rds_configuration_procedures(shared_estate):
    blue = shared_estate.source.blue
    dms = shared_estate.source.dms
    with pymysql.connect(host=LOOPBACK, port=blue.port, user=dms.user, password=dms.password) as conn, \
            conn.cursor() as cur:
        cur.execute("CALL mysql.rds_show_configuration")
        rows = {name: value for name, value, _ in cur.fetchall()}
    assert rows["binlog retention hours"] == "168"
    blue.execute("CALL mysql.rds_set_configuration('binlog retention hours', 48)")
    shared_estate.source.wait_green_caught_up(timeout=10)
    for server in (blue, shared_estate.source.green):
        assert server.execute("CALL mysql.rds_show_configuration")[0] == (
            "binlog retention hours", "48", server.execute(
                "SELECT description FROM mysql.rds_configuration WHERE name = 'binlog retention hours'")[0][0])
    with pytest.raises(pymysql.err.OperationalError, match="Invalid configuration name"):
        blue.execute("CALL mysql.rds_set_configuration('no such setting', 1)")
    blue.execute("CALL mysql.rds_set_configuration('binlog retention hours', 168)")


def test_rds_api_endpoints_reach_the_servers(shared_estate):
    rds = shared_estate.aws.client("rds")
    dms_login = shared_estate.source.dms
    clusters = {c["DBClusterIdentifier"]: c for c in rds.describe_db_clusters()["DBClusters"]}
    instances = {i["DBInstanceIdentifier"]: i for i in rds.describe_db_instances()["DBInstances"]}
    prod, green = clusters["prod"], clusters[shared_estate.green_cluster]
    assert prod["Endpoint"] == LOOPBACK
    assert _server_id_via(prod["Port"], dms_login) == 1
    assert _server_id_via(green["Port"], dms_login) == 2
    assert _server_id_via(instances["prod-writer"]["Endpoint"]["Port"], dms_login) == 1
    assert prod["DBClusterParameterGroup"] == "prod-aurora57-cdc"
    assert green["DBClusterParameterGroup"] == "prod-aurora80-cdc"
    assert green["EngineVersion"].startswith("8.0")


def test_read_only_fences_the_app_user_but_not_root(shared_estate):
    source = shared_estate.source
    source.blue.execute("SET GLOBAL read_only = 1")
    try:
        with source.connect_app() as conn, conn.cursor() as cur, \
                pytest.raises(pymysql.err.OperationalError) as refused:
            cur.execute("INSERT INTO customers (name) VALUES ('fenced')")
        assert refused.value.args[0] == 1290
    finally:
        source.blue.execute("SET GLOBAL read_only = 0")


def test_green_is_read_only_before_switchover(shared_estate):
    assert shared_estate.source.green.execute("SELECT @@read_only") == [(1,)]
