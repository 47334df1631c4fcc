"""The engine against the estate's MariaDB and PostgreSQL: both render and hash every supported column type
identically; each kind of planted drift is found and named; live traffic with CDC running shows no drift;
CDC stopped mid-traffic is reported as drift."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from decimal import Decimal

import pytest
from reconcile_sides import sides

from cdc_runbooks.reconcile import compared_table
from cdc_runbooks.reconcile.compared_table import TableReader, describe_table
from cdc_runbooks.reconcile.engine import Settings, reconcile
from cdc_runbooks.reconcile.row_checksum import ConcatLimit, Fingerprint
from rehearsal import drift

pytestmark = pytest.mark.estate

TYPES_SOURCE = """CREATE TABLE shop.every_type (
    id BIGINT PRIMARY KEY, i INT, si SMALLINT, ti TINYINT, ub BIGINT UNSIGNED, flag TINYINT(1), d DECIMAL(12,2),
    d4 DECIMAL(18,4), v VARCHAR(50), t TEXT, l1 VARCHAR(10) CHARACTER SET latin1, dt DATETIME, dt6 DATETIME(6),
    ts TIMESTAMP NULL, dd DATE, f FLOAT, db DOUBLE) DEFAULT CHARSET=utf8mb4"""
TYPES_TARGET = """CREATE TABLE shop.every_type (
    id BIGINT, i INTEGER, si SMALLINT, ti SMALLINT, ub NUMERIC(20,0), flag BOOLEAN, d NUMERIC(12,2),
    d4 NUMERIC(18,4), v VARCHAR(50), t TEXT, l1 VARCHAR(10), dt TIMESTAMP, dt6 TIMESTAMP(6), ts TIMESTAMP,
    dd DATE, f REAL, db DOUBLE PRECISION)"""
TYPES_ROWS = [
    (1, -2147483648, -32768, -128, 18446744073709551615, 1, Decimal("-12.50"), Decimal("0.0001"), "héllo ☃ 😀",
     "", "café", dt.datetime(2024, 2, 29, 23, 59, 59), dt.datetime(2024, 1, 1, 0, 0, 0, 1),
     dt.datetime(2024, 6, 1, 12), dt.date(1999, 12, 31), 123456.7, 0.1),
    (2, *[None] * 16),
    (3, 0, 0, 0, 0, 0, Decimal("0.00"), Decimal("-0.0000"), "N", "a|b", "", dt.datetime(1970, 1, 1, 0, 0, 1),
     dt.datetime(2038, 1, 19, 3, 14, 7, 999999), dt.datetime(1970, 1, 2), dt.date(1, 1, 1), -1.5, 1e15),
    (4, 7, 1, 127, 9223372036854775808, 1, Decimal("99999999.99"), Decimal("12345678901234.5678"),
     "quote ' \" ` \\ ", "multi\nline", "x", dt.datetime(2024, 1, 1, 10), dt.datetime(2024, 1, 1, 10, 0, 0, 500000),
     None, dt.date(2024, 1, 1), 3.25, -2.5e-7),
]


def _every_type_table(estate) -> None:
    estate.source.writer.execute("DROP TABLE IF EXISTS shop.every_type", TYPES_SOURCE)
    estate.warehouse.query(f"DROP TABLE IF EXISTS shop.every_type; {TYPES_TARGET}")
    placeholders = ", ".join(["%s"] * len(TYPES_ROWS[0]))
    with estate.source.writer.admin(charset="utf8mb4") as conn, conn.cursor() as cur:
        cur.execute("SET time_zone = '+00:00'")
        cur.executemany(f"INSERT INTO shop.every_type VALUES ({placeholders})", TYPES_ROWS)  # noqa: S608
    for row in TYPES_ROWS:
        estate.warehouse.query(f"INSERT INTO shop.every_type VALUES ({placeholders})",  # noqa: S608
                               tuple(bool(v) if i == 5 and v is not None else v for i, v in enumerate(row)))


def test_every_supported_type_renders_and_hashes_identically(shared_estate):
    _every_type_table(shared_estate)
    pair = describe_table(*sides(shared_estate), "every_type")
    keys = [row[0] for row in TYPES_ROWS]

    places = {key: key for key in keys}
    assert pair.source.fields(places) == pair.target.fields(places) and len(pair.source.fields(places)) == 4
    assert sorted(pair.source.row_hashes([(1, 4)])) == sorted(pair.target.row_hashes([(1, 4)]))
    assert reconcile(*sides(shared_estate), ["every_type"], Settings(mode="checksum", settle_s=0)).passed


def test_both_fingerprints_summarise_every_type_identically_and_mariadb_gets_ordered_md5(shared_estate):
    _every_type_table(shared_estate)
    pair = describe_table(*sides(shared_estate), "every_type")
    assert pair.source.ref.fingerprint is Fingerprint.ORDERED_MD5
    assert pair.source.ref.concat_limit is ConcatLimit.SET_STATEMENT

    for fingerprint in Fingerprint:
        source, target = (TableReader(replace(reader.ref, fingerprint=fingerprint), reader.side)
                          for reader in (pair.source, pair.target))
        for width in (1, 2, 8):
            segments = source.segments(1, width, [(1, 4)])
            assert segments == target.segments(1, width, [(1, 4)]), (fingerprint, width)
            assert sum(rows for rows, _ in segments.values()) == len(TYPES_ROWS)


def test_a_one_column_difference_of_every_type_is_found(shared_estate):
    _every_type_table(shared_estate)
    shared_estate.warehouse.query("UPDATE shop.every_type SET dt6 = dt6 + INTERVAL '1 microsecond', "
                                  "d = d + 0.01, v = v || ' ', flag = NOT flag WHERE id = 1")
    shared_estate.warehouse.query("UPDATE shop.every_type SET t = NULL WHERE id = 3")

    result = reconcile(*sides(shared_estate), ["every_type"], Settings(mode="checksum", settle_s=0)).tables[0]

    assert [(c.key, c.columns, c.null_columns) for c in result.changed] == [
        (1, ("flag", "d", "v", "dt6"), ()), (3, ("t",), ("t",))]


@pytest.mark.parametrize("fingerprint", list(Fingerprint))
def test_each_kind_of_planted_drift_is_found_and_named(shared_estate, monkeypatch, fingerprint):
    if fingerprint is Fingerprint.ROW_HASH_SUM:  # what a Redshift warehouse gets
        monkeypatch.setattr(compared_table, "_fingerprint", lambda source, target: (fingerprint, None, None))
    shared_estate.wait_cdc_idle()
    drift.lose(shared_estate, "orders", 10)
    drift.duplicate(shared_estate, "orders", 20)
    drift.set_value(shared_estate, "orders", 30, "status", "lost-update")
    drift.set_value(shared_estate, "customers", 41, "email", None)
    drift.add_extra(shared_estate, "customers", 100000, like=5)
    try:
        report = reconcile(*sides(shared_estate), ["customers", "orders"], Settings(mode="checksum", settle_s=1))
    finally:
        for table, key in (("orders", 10), ("orders", 20), ("orders", 30), ("customers", 41),
                           ("customers", 100000)):
            drift.repair(shared_estate, table, key)

    customers, orders = report.tables
    assert not report.passed and report.drift == 5
    assert (orders.missing, orders.duplicate, orders.extra) == ((10,), (20,), ())
    assert [(c.key, c.columns) for c in orders.changed] == [(30, ("status",))]
    assert customers.extra == (100000,) and customers.cut.hi == 100000
    assert [(c.key, c.columns, c.null_columns) for c in customers.changed] == [(41, ("email",), ("email",))]
    assert "`orders` missing in target (1): 10" in report.to_markdown()
    assert reconcile(*sides(shared_estate), ["customers", "orders"], Settings(mode="checksum", settle_s=0)).passed


BIGINT_MIN, BIGINT_MAX = -2**63, 2**63 - 1
EXTREME_KEYS = [BIGINT_MIN, BIGINT_MIN + 1, BIGINT_MIN + 3, -1, 0, 1, BIGINT_MAX - 3, BIGINT_MAX - 1, BIGINT_MAX]


@pytest.fixture
def extreme_keys(shared_estate):
    """``shop.extremes`` on both sides, equal, keyed from -2**63 to 2**63 - 1 (a span no BIGINT holds)."""
    shared_estate.source.writer.execute("DROP TABLE IF EXISTS shop.extremes",
                                        "CREATE TABLE shop.extremes (id BIGINT PRIMARY KEY, v VARCHAR(30))")
    shared_estate.warehouse.query("DROP TABLE IF EXISTS shop.extremes; CREATE TABLE shop.extremes (id BIGINT, v TEXT)")
    for key in EXTREME_KEYS:
        shared_estate.source.writer.execute(f"INSERT INTO shop.extremes VALUES ({key}, 'v{key}')")  # noqa: S608
        shared_estate.warehouse.query(f"INSERT INTO shop.extremes VALUES ({key}, 'v{key}')")  # noqa: S608
    yield shared_estate
    shared_estate.source.writer.execute("DROP TABLE shop.extremes")
    shared_estate.warehouse.query("DROP TABLE shop.extremes")


@pytest.mark.parametrize("mode", ["count", "checksum"])
@pytest.mark.parametrize("fingerprint", list(Fingerprint))
def test_keys_at_both_ends_of_bigint_reconcile_and_drift_near_either_end_is_named(extreme_keys, monkeypatch, mode,
                                                                                   fingerprint):
    if fingerprint is Fingerprint.ROW_HASH_SUM:
        monkeypatch.setattr(compared_table, "_fingerprint", lambda source, target: (fingerprint, None, None))
    settings = Settings(mode=mode, settle_s=0, leaf_rows=1, max_segments=4)  # split down to single keys
    assert reconcile(*sides(extreme_keys), ["extremes"], settings).passed

    extreme_keys.warehouse.query(f"DELETE FROM shop.extremes WHERE id = {BIGINT_MIN + 1}; "  # noqa: S608
                                 f"INSERT INTO shop.extremes VALUES ({BIGINT_MIN + 2}, 'extra'), "
                                 f"({BIGINT_MAX}, 'v{BIGINT_MAX}'); "
                                 f"UPDATE shop.extremes SET v = 'changed' WHERE id = {BIGINT_MAX - 1}")
    result = reconcile(*sides(extreme_keys), ["extremes"], settings).tables[0]

    assert (result.cut.lo, result.cut.hi) == (BIGINT_MIN, BIGINT_MAX)
    assert (result.missing, result.extra, result.duplicate) == ((BIGINT_MIN + 1,), (BIGINT_MIN + 2,), (BIGINT_MAX,))
    assert [(c.key, c.columns) for c in result.changed] == [(BIGINT_MAX - 1, ("v",))]


@pytest.mark.parametrize("mode", ["count", "checksum"])
def test_live_traffic_with_cdc_running_shows_no_drift(shared_estate, mode):
    traffic = shared_estate.traffic(ops_per_second=80).start()
    try:
        report = reconcile(*sides(shared_estate), ["customers", "orders"],
                           Settings(mode=mode, settle_s=30, poll_s=0.2))
    finally:
        stats = traffic.stop()

    assert stats.committed > 0
    assert report.passed and report.drift == 0, report.to_markdown()
    assert all(t.status == "ok" and t.source > 0 for t in report.tables)


def test_cdc_stopped_mid_traffic_is_reported_as_drift(estate):
    traffic = estate.traffic(ops_per_second=80).start()
    try:
        estate.aws.client("dms").stop_replication_task(ReplicationTaskArn=estate.resources.replication_task_arn)
        estate.wait_task_status("stopped")
        committed, deadline = traffic.stats.committed, time.monotonic() + 30
        while traffic.stats.committed < committed + 40 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        traffic.stop()

    report = reconcile(*sides(estate), ["customers", "orders"], Settings(mode="count", settle_s=2, poll_s=0.5))

    assert not report.passed
    orders = next(t for t in report.tables if t.table == "orders")
    source = {row[0]: row for row in estate.source_rows("orders") if row[0] <= orders.cut.hi}
    warehouse = {row[0]: row for row in estate.warehouse_rows("orders") if row[0] <= orders.cut.hi}
    assert orders.status == "drift" and orders.missing
    assert set(orders.missing) == set(source) - set(warehouse)
    assert set(orders.extra) == set(warehouse) - set(source)
    assert {c.key for c in orders.changed} == {k for k in set(source) & set(warehouse) if source[k] != warehouse[k]}
