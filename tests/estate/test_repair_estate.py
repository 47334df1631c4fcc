"""The repair's functions on the estate's real MariaDB binlog and PostgreSQL warehouse, on probe tables outside the
pipeline (CDC does not touch them): TIMESTAMP re-copied in UTC whatever the session's zone, TIME as MySQL's text,
a DDL since the checkpoint refused however it is commented (cases found by an adversarial review)."""
from __future__ import annotations

import mysql.connector
import pytest
from reconcile_sides import sides

from cdc_runbooks.aws import binlog_rows
from cdc_runbooks.aws.cluster import ClusterWriter
from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.reconcile.compared_table import describe_table
from cdc_runbooks.reconcile.engine import Settings, reconcile_table
from cdc_runbooks.repair.copy import repair_table
from cdc_runbooks.repair.plan import TableRepair, text_columns
from rehearsal.net import LOOPBACK

pytestmark = pytest.mark.estate
CHECKSUM = Settings(mode="checksum", settle_s=0, poll_s=0.1)


def source_connection(estate):
    """The repair's source connection: the DMS user through the production endpoint, mysql-connector-python
    (what writer_sql_hook gives with the documented connection extra), server defaults for the session."""
    return mysql.connector.connect(host=LOOPBACK, port=estate.source.prod_endpoint.port, user=estate.source.dms.user,
                                   password=estate.source.dms.password, database="shop")


def writer(estate) -> ClusterWriter:
    return ClusterWriter("prod", LOOPBACK, estate.source.prod_endpoint.port, "prod-1", "pg", "in-sync", "10")


def checkpoint(estate) -> BinlogPosition:
    status = estate.source.writer.master_status()
    return BinlogPosition(status.file, status.position)


def drift(estate, table: str) -> int:
    source, target = sides(estate)
    return reconcile_table(describe_table(source, target, table), CHECKSUM).drift


def repair_key(estate, table: str, key: int) -> None:
    """Re-copy one key's row as the repair does (no changes since the checkpoint: CDC does not touch the table)."""
    source, target = sides(estate)
    pair = describe_table(source, target, table)
    repair = TableRepair(table, "rows", ("id",), pair.columns, pair.columns, 1, "x", keys=(key,),
                         text_columns=text_columns(pair.source.ref.columns))
    with source_connection(estate) as src:
        conn = estate.warehouse.connect()
        try:
            repair_table(repair, "shop", src, conn, pair.target.ref.dialect, list,
                         tuple(zip(pair.source.ref.columns, pair.target.ref.columns, strict=True)))
        finally:
            conn.close()


def test_timestamp_rows_are_re_copied_in_utc_whatever_the_source_session_zone(shared_estate):
    estate = shared_estate
    estate.source.writer.execute("CREATE TABLE shop.tz_probe (id BIGINT NOT NULL PRIMARY KEY, ts TIMESTAMP(6) NULL, "
                                 "note VARCHAR(10) NULL)",
                                 "SET time_zone = '+00:00'",
                                 "INSERT INTO shop.tz_probe VALUES (1, '2026-01-01 12:00:00.5', 'ok'), "
                                 "(2, '2026-01-01 12:00:00', 'x')")
    estate.warehouse.query("CREATE TABLE shop.tz_probe (id bigint NOT NULL, ts timestamp(6), note varchar(10)); "
                           "INSERT INTO shop.tz_probe VALUES (1, '2026-01-01 12:00:00.5', 'ok'), "
                           "(2, '2026-01-01 12:00:00', 'WRONG')")  # as DMS lands TIMESTAMP: UTC; key 2 drifts
    estate.source.writer.execute("SET GLOBAL time_zone = '+02:00'")  # e.g. an Aurora parameter group in local time
    try:
        assert drift(estate, "tz_probe") == 1  # only key 2's note
        repair_key(estate, "tz_probe", 2)
        assert drift(estate, "tz_probe") == 0
    finally:
        estate.source.writer.execute("SET GLOBAL time_zone = SYSTEM")


@pytest.mark.parametrize("ddl", ["/* online schema change */ ALTER TABLE shop.ddl_probe MODIFY v BIGINT NOT NULL",
                                 "ALTER TABLE shop.ddl_probe MODIFY v INT NOT NULL"])
def test_a_commented_ddl_since_the_checkpoint_is_refused(shared_estate, monkeypatch, ddl):
    estate = shared_estate
    for name, value in estate.airflow_env().items():
        monkeypatch.setenv(name, value)
    estate.source.writer.execute("CREATE TABLE IF NOT EXISTS shop.ddl_probe (id BIGINT NOT NULL PRIMARY KEY, "
                                 "v INT NOT NULL)")
    at = checkpoint(estate)
    estate.source.writer.execute(ddl)
    with pytest.raises(binlog_rows.DefinitionChanged):
        list(binlog_rows.row_changes_since("source_mysql", writer(estate), at, "shop", "ddl_probe"))


@pytest.mark.parametrize("value", ["01:00:00.000000", "00:00:05.000120", "-01:30:00.000000", "100:00:00.000000"])
def test_time_rows_are_re_copied_as_the_reconcile_compares_them(shared_estate, value):
    """The warehouse holds MySQL's text of a TIME (what the reconcile compares: drift 0 before); re-copying a row
    must keep it equal."""
    estate = shared_estate
    estate.source.writer.execute("DROP TABLE IF EXISTS shop.time_probe",
                                 "CREATE TABLE shop.time_probe (id BIGINT NOT NULL PRIMARY KEY, t TIME(6) NULL, "
                                 "note VARCHAR(10) NULL)",
                                 f"INSERT INTO shop.time_probe VALUES (1, '{value}', 'ok'), (2, '{value}', 'x')")  # noqa: S608 - a test literal
    (text,) = estate.source.writer.execute("SELECT CAST(t AS CHAR) FROM shop.time_probe WHERE id = 1")[0]
    estate.warehouse.query("DROP TABLE IF EXISTS shop.time_probe; "
                           "CREATE TABLE shop.time_probe (id bigint NOT NULL, t varchar(20), note varchar(10)); "
                           "INSERT INTO shop.time_probe VALUES (1, %s, 'ok'), (2, %s, 'WRONG')", (text, text))
    assert drift(estate, "time_probe") == 1  # only key 2's note
    repair_key(estate, "time_probe", 2)
    assert drift(estate, "time_probe") == 0
