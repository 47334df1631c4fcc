"""The MySQL types beyond numbers, text and datetimes, against the estate's MariaDB and PostgreSQL, each with the
target type DMS creates on Redshift (docs/reference/dms-mysql-to-redshift-types.md) or the native one a warehouse may
have: binary as hex text or bytea, BIT as boolean or integer, TIME as text, zero dates as NULL, ENUM and SET as
their labels, YEAR, DECIMAL(65,30). Each renders and hashes identically when equal, and a planted difference in
each is found and named by its column."""

from __future__ import annotations

import datetime as dt

import pytest
from reconcile_sides import sides

from cdc_runbooks.reconcile.compared_table import describe_table
from cdc_runbooks.reconcile.engine import Settings, reconcile

pytestmark = pytest.mark.estate

SOURCE = """CREATE TABLE shop.more_types (
    id BIGINT PRIMARY KEY, bin4 BINARY(4), vbin VARBINARY(16), blb BLOB, bin_hex VARBINARY(16), flag BIT(1),
    bits BIT(10), t TIME, t6 TIME(6), zd DATE, zdt DATETIME(6) NOT NULL, e ENUM('small', 'large', ''),
    s SET('a', 'b', 'c'), y YEAR, wide DECIMAL(65,30)) DEFAULT CHARSET=utf8mb4"""
TARGET = """CREATE TABLE shop.more_types (
    id BIGINT, bin4 BYTEA, vbin BYTEA, blb BYTEA, bin_hex VARCHAR(32), flag BOOLEAN, bits INTEGER, t VARCHAR(20),
    t6 VARCHAR(20), zd DATE, zdt TIMESTAMP(6), e VARCHAR(5), s VARCHAR(5), y SMALLINT, wide NUMERIC(65,30))"""
WIDE = "12345678901234567890123456789012345.123456789012345678901234567890"
ROWS = [  # source values; the target gets what DMS writes for each (see _target_row)
    (1, b"\x00\x01", b"\xff\x00|:N", b"blob \x00 bytes", b"\xde\xad\xbe\xef", 1, 1023, "-838:59:59",
     "12:00:00.500000", dt.date(2024, 2, 29), dt.datetime(2024, 1, 1, 0, 0, 0, 1), "large", "a,c", 2024, WIDE),
    (2, None, b"", None, b"", 0, 0, "00:00:00", "838:59:59.000000", "0000-00-00", "0000-00-00 00:00:00", "",
     "", 1901, "-0.000000000000000000000000000001"),
    (3, b"N", None, b"", None, None, None, None, None, None, dt.datetime(1970, 1, 1), None, None, None, None),
]


def _target_row(row: tuple) -> tuple:
    """DMS's rendering on the target: BINARY padded to its length, hex text for a VARCHAR, zero dates NULL."""
    key, bin4, vbin, blb, bin_hex, flag, bits, t, t6, zd, zdt, *labels_year_wide = row
    zero = {"0000-00-00", "0000-00-00 00:00:00"}
    return (key, None if bin4 is None else bin4.ljust(4, b"\x00"), vbin, blb,
            None if bin_hex is None else bin_hex.hex(), None if flag is None else bool(flag), bits, t, t6,
            None if zd in zero else zd, None if zdt in zero else zdt, *labels_year_wide)


@pytest.fixture
def more_types(shared_estate):
    placeholders = ", ".join(["%s"] * len(ROWS[0]))
    shared_estate.source.writer.execute("DROP TABLE IF EXISTS shop.more_types", SOURCE)
    shared_estate.warehouse.query(f"DROP TABLE IF EXISTS shop.more_types; {TARGET}")
    with shared_estate.source.writer.admin(charset="utf8mb4") as conn, conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")  # zero dates allowed, as on a source that has them
        cur.executemany(f"INSERT INTO shop.more_types VALUES ({placeholders})", ROWS)  # noqa: S608
    for row in ROWS:
        shared_estate.warehouse.query(f"INSERT INTO shop.more_types VALUES ({placeholders})",  # noqa: S608
                                      _target_row(row))
    yield shared_estate
    shared_estate.source.writer.execute("DROP TABLE shop.more_types")
    shared_estate.warehouse.query("DROP TABLE shop.more_types")


def test_binary_bit_time_and_zero_dates_render_and_hash_identically(more_types):
    pair = describe_table(*sides(more_types), "more_types")
    places = {row[0]: row[0] for row in ROWS}

    assert pair.source.fields(places) == pair.target.fields(places)
    assert sorted(pair.source.row_hashes([(1, 3)])) == sorted(pair.target.row_hashes([(1, 3)]))
    assert reconcile(*sides(more_types), ["more_types"], Settings(mode="checksum", settle_s=0)).passed


@pytest.mark.parametrize(("change", "column"), [
    ("bin4 = '\\x00010000'::bytea WHERE id = 3", "bin4"),  # 'N' became 0x00 0x01 (padded)
    ("vbin = NULL WHERE id = 2", "vbin"),  # an empty binary is not NULL
    ("blb = '\\x'::bytea WHERE id = 1", "blb"),
    ("bin_hex = 'DEADBEEF' WHERE id = 1", "bin_hex"),  # the same bytes, upper case: not the encoding assumed
    ("flag = NOT flag WHERE id = 1", "flag"),
    ("bits = 1022 WHERE id = 1", "bits"),
    ("t = '-838:59:58' WHERE id = 1", "t"),
    ("t6 = '12:00:00.5' WHERE id = 1", "t6"),  # another rendering of the same time is not what DMS writes
    ("zd = '2024-02-28' WHERE id = 2", "zd"),  # a zero date that arrived as a date
    ("zdt = zdt + INTERVAL '1 microsecond' WHERE id = 3", "zdt"),
    ("e = 'small' WHERE id = 2", "e"),  # the empty error label is a value, not NULL
    ("s = 'c,a' WHERE id = 1", "s"),  # MySQL prints a SET in definition order
    ("y = 1902 WHERE id = 2", "y"),
    ("wide = wide + 0.000000000000000000000000000001 WHERE id = 1", "wide"),  # the 65th digit
])
def test_a_difference_in_each_type_is_found_and_named(more_types, change, column):
    more_types.warehouse.query(f"UPDATE shop.more_types SET {change}")  # noqa: S608

    result = reconcile(*sides(more_types), ["more_types"], Settings(mode="checksum", settle_s=0)).tables[0]

    assert [c.columns for c in result.changed] == [(column,)]
