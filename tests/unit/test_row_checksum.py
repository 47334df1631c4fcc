"""Generated SQL per dialect (MySQL, PostgreSQL, Redshift — Redshift has no server here, so its SQL is pinned by
these tests), column kinds from information schema rows, and hostile identifiers refused."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdc_runbooks.identifiers import InvalidIdentifier
from cdc_runbooks.reconcile.engine import _merged
from cdc_runbooks.reconcile.row_checksum import (
    GROUP_CONCAT_MAX_LEN,
    HASH_BITS,
    LENGTH_PREFIXED,
    MAX_DIGEST_COLUMNS,
    NULL,
    NULL_DIGEST,
    SEGMENTS_PER_STATEMENT,
    SEPARATOR,
    TEXT_PLACES,
    Column,
    ConcatLimit,
    Dialect,
    Fingerprint,
    Kind,
    TableRef,
    UnsupportedColumn,
    column_from_information_schema,
    field_digests_sql,
    field_sql,
    hash_blocks,
    place_bound,
    quote,
    row_hash_sql,
    row_text_sql,
    split_digests,
    split_rendering,
    text_place,
)

MY, PG, RS = Dialect.MYSQL, Dialect.POSTGRES, Dialect.REDSHIFT
ID = Column("id", Kind.INTEGER, nullable=False)
NOTE = Column("note", Kind.TEXT)
HOSTILE = ["orders; DROP TABLE x", "a`b", 'a"b', "a'b", "1abc", "", "x" * 65, "a b", "a--", "é", None, 7]


def _ref(dialect, columns=(ID, NOTE), scales=(0, 0), key="id", fingerprint=Fingerprint.ROW_HASH_SUM,
         concat_limit=None) -> TableRef:
    return TableRef(dialect, "shop", "orders", tuple(columns), key, tuple(scales), fingerprint, concat_limit)


@pytest.mark.parametrize(("dialect", "expected"), [
    (MY, "CAST(`id` AS CHAR)"), (PG, 'CAST("id" AS TEXT)'), (RS, 'CAST("id" AS VARCHAR)')])
def test_integer_renders_digits_and_not_null_skips_coalesce(dialect, expected):
    assert field_sql(dialect, ID) == expected


@pytest.mark.parametrize(("dialect", "expected"), [
    (MY, "COALESCE(CONCAT(CHAR_LENGTH(`note`), ':', `note`), 'N')"),
    (PG, """COALESCE(CAST(CHAR_LENGTH("note") AS TEXT) || ':' || "note", 'N')"""),
    (RS, """COALESCE(CAST(LEN("note") AS VARCHAR) || ':' || "note", 'N')""")])
def test_text_is_length_prefixed_and_null_is_n(dialect, expected):
    assert field_sql(dialect, NOTE) == expected


def test_mysql_text_in_another_charset_is_converted_to_utf8mb4():
    latin1 = column_from_information_schema(MY, ("name", "varchar", "NO", None, "latin1"))
    converted = "CONVERT(`name` USING utf8mb4)"
    assert field_sql(MY, latin1) == f"CONCAT(CHAR_LENGTH({converted}), ':', {converted})"


@pytest.mark.parametrize(("dialect", "declared", "scale", "expected"), [
    (MY, 2, 2, "CAST(`amount` AS CHAR)"),
    (PG, 2, 2, 'CAST("amount" AS TEXT)'),
    (RS, 2, 2, 'CAST("amount" AS VARCHAR)'),
    (MY, 2, 4, "CAST(CAST(`amount` AS DECIMAL(65,4)) AS CHAR)"),
    (PG, None, 2, 'CAST(ROUND(CAST("amount" AS NUMERIC), 2) AS TEXT)'),
    (RS, 2, 4, 'CAST(CAST("amount" AS DECIMAL(38,4)) AS VARCHAR)')])
def test_decimal_renders_at_the_canonical_scale(dialect, declared, scale, expected):
    column = Column("amount", Kind.DECIMAL, nullable=False, scale=declared)
    assert field_sql(dialect, column, scale) == expected


@pytest.mark.parametrize(("dialect", "expected"), [
    (MY, "COALESCE(NULLIF(DATE_FORMAT(`at`, '%Y-%m-%d %H:%i:%s.%f'), '0000-00-00 00:00:00.000000'), 'N')"),
    (PG, "TO_CHAR(\"at\", 'YYYY-MM-DD HH24:MI:SS.US')"),
    (RS, "TO_CHAR(\"at\", 'YYYY-MM-DD HH24:MI:SS.US')")])
def test_datetime_always_has_six_fraction_digits(dialect, expected):
    assert field_sql(dialect, Column("at", Kind.DATETIME, nullable=False)) == expected


@pytest.mark.parametrize(("dialect", "expected"), [
    (MY, "COALESCE(NULLIF(DATE_FORMAT(CONVERT_TZ(`at`, @@session.time_zone, '+00:00'), '%Y-%m-%d %H:%i:%s.%f'), "
         "'0000-00-00 00:00:00.000000'), 'N')"),
    (PG, "TO_CHAR((\"at\" AT TIME ZONE 'UTC'), 'YYYY-MM-DD HH24:MI:SS.US')")])
def test_instant_types_render_in_utc(dialect, expected):
    assert field_sql(dialect, Column("at", Kind.DATETIME, nullable=False, utc=True)) == expected


@pytest.mark.parametrize(("dialect", "expected"), [
    (MY, "COALESCE(NULLIF(DATE_FORMAT(`day`, '%Y-%m-%d'), '0000-00-00'), 'N')"),
    (RS, "TO_CHAR(\"day\", 'YYYY-MM-DD')")])
def test_date_and_a_mysql_zero_date_as_null_even_in_a_not_null_column(dialect, expected):
    assert field_sql(dialect, Column("day", Kind.DATE, nullable=False)) == expected


def test_boolean_keeps_null_distinct_from_false():
    assert field_sql(PG, Column("flag", Kind.BOOLEAN)) == \
        """COALESCE(CASE WHEN "flag" THEN '1' WHEN NOT "flag" THEN '0' END, 'N')"""


@pytest.mark.parametrize(("dialect", "expected"), [
    (MY, "CAST(CAST(`f` AS DOUBLE) AS DECIMAL(65,6))"),
    (PG, 'CAST(ROUND(CAST(CAST(CAST("f" AS DOUBLE PRECISION) AS TEXT) AS NUMERIC), 6) AS TEXT)'),
    (RS, 'CAST(CAST(CAST("f" AS FLOAT8) AS DECIMAL(38,6)) AS VARCHAR)')])
def test_float_rounds_to_six_decimals(dialect, expected):
    assert field_sql(dialect, Column("f", Kind.FLOAT, nullable=False)) == expected


def test_row_text_joins_fields_with_the_separator():
    assert row_text_sql(MY, (ID, ID), (0, 0)) == "CONCAT_WS('|', CAST(`id` AS CHAR), CAST(`id` AS CHAR))"
    assert row_text_sql(RS, (ID, ID), (0, 0)) == """CAST("id" AS VARCHAR) || '|' || CAST("id" AS VARCHAR)"""


@pytest.mark.parametrize(("dialect", "expected"), [
    (MY, "CAST(CONV(SUBSTRING(MD5(CONCAT_WS('|', CAST(`id` AS CHAR))), 1, 15), 16, 10) AS UNSIGNED)"),
    (PG, """CAST(CAST('x' || SUBSTR(MD5(CAST("id" AS TEXT)), 1, 15) AS BIT(60)) AS BIGINT)"""),
    (RS, """STRTOL(SUBSTRING(MD5(CAST("id" AS VARCHAR)), 1, 15), 16)""")])
def test_row_hash_is_60_bits_of_md5(dialect, expected):
    assert row_hash_sql(dialect, (ID,), (0,)) == expected


def test_row_hash_sum_segments_are_one_group_by_scan_per_dialect():
    hash_pg = row_hash_sql(PG, (ID, NOTE), (0, 0))
    hash_rs = row_hash_sql(RS, (ID, NOTE), (0, 0))
    assert _ref(MY).segments_sql(10, 64, [(10, 99), (200, 263)]) == [
        f"SELECT (`id` - 10) DIV 64 AS segment, COUNT(*), SUM({row_hash_sql(MY, (ID, NOTE), (0, 0))}) "  # noqa: S608
        "FROM `shop`.`orders` WHERE (`id` >= 10 AND `id` <= 99) OR (`id` >= 200 AND `id` <= 263) GROUP BY 1"]
    assert _ref(PG).segments_sql(0, 8, [(0, 7)]) == [
        f'SELECT ("id" - 0) / 8 AS segment, COUNT(*), SUM({hash_pg}) FROM "shop"."orders" '  # noqa: S608
        'WHERE ("id" >= 0 AND "id" <= 7) GROUP BY 1']
    assert _ref(RS).segments_sql(-5, 2, [(-5, 4)]) == [
        f'SELECT ("id" - -5) / 2 AS segment, COUNT(*), SUM(CAST({hash_rs} AS DECIMAL(38,0))) '  # noqa: S608
        'FROM "shop"."orders" WHERE ("id" >= -5 AND "id" <= 4) GROUP BY 1']


def test_ordered_md5_segments_in_postgres_are_one_group_by_scan_in_key_order():
    text = row_text_sql(PG, (ID, NOTE), (0, 0))
    assert _ref(PG, fingerprint=Fingerprint.ORDERED_MD5).segments_sql(0, 8, [(0, 15)]) == [
        f"""SELECT ("id" - 0) / 8 AS segment, COUNT(*), MD5(STRING_AGG({text}, ';' ORDER BY "id")) """  # noqa: S608
        """FROM "shop"."orders" WHERE ("id" >= 0 AND "id" <= 15) GROUP BY 1"""]


def _mysql_read(segment, where):
    text = row_text_sql(MY, (ID, NOTE), (0, 0))
    return (f"SELECT {segment} AS segment, COUNT(*), MD5(GROUP_CONCAT({text} SEPARATOR ';')) "  # noqa: S608
            f"FROM `shop`.`orders` WHERE {where} HAVING COUNT(*) > 0")


def test_ordered_md5_segments_in_mariadb_are_key_range_reads_with_the_limit_lifted_for_the_statement():
    ref = _ref(MY, fingerprint=Fingerprint.ORDERED_MD5, concat_limit=ConcatLimit.SET_STATEMENT)
    # segments of width 8 from 0: ranges 3..9 and 12..13 share segment 1 (8..15): one read of both parts
    assert ref.segments_sql(0, 8, [(3, 9), (12, 13)]) == [
        f"SET STATEMENT group_concat_max_len = {GROUP_CONCAT_MAX_LEN} FOR "
        + _mysql_read(0, "(`id` >= 3 AND `id` <= 7)") + " UNION ALL "
        + _mysql_read(1, "(`id` >= 8 AND `id` <= 9) OR (`id` >= 12 AND `id` <= 13)")]


def test_ordered_md5_segments_in_mysql_8_carry_the_set_var_hint_in_every_select():
    ref = _ref(MY, fingerprint=Fingerprint.ORDERED_MD5, concat_limit=ConcatLimit.SET_VAR_HINT)
    hint = f"SELECT /*+ SET_VAR(group_concat_max_len = {GROUP_CONCAT_MAX_LEN}) */ "
    statements = ref.segments_sql(0, 1, [(0, SEGMENTS_PER_STATEMENT)])  # one more segment than a statement holds

    assert len(statements) == 2
    assert statements[1] == hint + _mysql_read(SEGMENTS_PER_STATEMENT, f"(`id` >= {SEGMENTS_PER_STATEMENT} AND "
                                               f"`id` <= {SEGMENTS_PER_STATEMENT})").removeprefix("SELECT ")
    assert statements[0].count(hint) == statements[0].count(" UNION ALL ") + 1 == SEGMENTS_PER_STATEMENT


@pytest.mark.parametrize(("version", "limit"), [
    ("10.11.19-MariaDB-0+deb12u1-log", ConcatLimit.SET_STATEMENT), ("8.0.32", ConcatLimit.SET_VAR_HINT),
    ("5.7.12", ConcatLimit.SET_VAR_HINT)])  # 5.7 ignores the hint: the probe in describe_table tells
def test_the_concat_limit_form_follows_the_server(version, limit):
    assert ConcatLimit.for_version(version) is limit


@pytest.mark.parametrize(("dialect", "limit"), [(RS, None), (MY, None)])
def test_ordered_md5_is_refused_where_it_cannot_be_computed(dialect, limit):
    with pytest.raises(ValueError, match="cannot fingerprint segments by ordered_md5"):
        _ref(dialect, fingerprint=Fingerprint.ORDERED_MD5, concat_limit=limit)


def test_ordered_md5_key_bounds_must_be_integers():
    ref = _ref(MY, fingerprint=Fingerprint.ORDERED_MD5, concat_limit=ConcatLimit.SET_STATEMENT)
    with pytest.raises(TypeError, match="must be an integer"):
        ref.segments_sql(0, 8, [(0, "7; DROP TABLE x")])
    with pytest.raises(ValueError, match="at least one key range"):
        ref.segments_sql(0, 8, [])


EXACT_BUCKET = "((CAST({k} AS DECIMAL(20,0)) - {o}) - MOD((CAST({k} AS DECIMAL(20,0)) - {o}), 4)) / 4 AS segment"


@pytest.mark.parametrize(("dialect", "key"), [(MY, "`id`"), (PG, '"id"'), (RS, '"id"')])
def test_segments_of_an_integer_key_use_integer_arithmetic_while_the_span_fits_a_bigint(dialect, key):
    divide = "DIV" if dialect is MY else "/"
    statement, = _ref(dialect).segments_sql(-2**62, 4, [(-2**62, 2**62 - 1)])
    assert statement.startswith(f"SELECT ({key} - {-2**62}) {divide} 4 AS segment")


@pytest.mark.parametrize(("dialect", "key"), [(MY, "`id`"), (PG, '"id"'), (RS, '"id"')])
def test_segments_of_keys_spanning_more_than_a_bigint_use_exact_decimal_arithmetic(dialect, key):
    """(key - origin) overflows a BIGINT beyond 2**63 - 1; dividing an exact multiple of the width rounds nothing."""
    statement, = _ref(dialect).segments_sql(-2**63, 4, [(-2**63, 0), (1, 2**63 - 1)])
    assert statement.startswith("SELECT " + EXACT_BUCKET.format(k=key, o=-2**63))


def test_a_numeric_key_in_the_warehouse_is_bucketed_exactly():
    """NUMERIC division would round the quotient (to about 16 digits in PostgreSQL), and FLOOR of a rounded-up
    quotient is the next segment."""
    key = Column("id", Kind.DECIMAL, nullable=False, scale=0)
    statement, = _ref(PG, (key,), (0,)).segments_sql(1, 4, [(1, 8)])
    assert statement.startswith("SELECT " + EXACT_BUCKET.format(k='"id"', o=1))


def test_bounds_count_and_key_queries():
    ref = _ref(RS)
    assert ref.bounds_sql() == 'SELECT MIN("id"), MAX("id") FROM "shop"."orders"'
    assert ref.count_sql(42) == ('SELECT COUNT(*) - (SELECT COUNT(*) FROM "shop"."orders" WHERE "id" > 42) '
                                 'FROM "shop"."orders"')
    assert ref.row_hashes_sql([(1, 2)]).endswith('WHERE ("id" >= 1 AND "id" <= 2)')
    assert ref.fields_by_key_sql([5]) == (f'SELECT "id", {field_sql(RS, ID)}, {field_sql(RS, NOTE)} '  # noqa: S608
                                          'FROM "shop"."orders" WHERE "id" IN (5)')


def test_a_nullable_key_counts_only_rows_with_a_key():
    nullable = Column("id", Kind.INTEGER, nullable=True)
    assert _ref(MY, (nullable,), (0,)).count_sql(7) == (
        "SELECT COUNT(`id`) - (SELECT COUNT(*) FROM `shop`.`orders` WHERE `id` > 7) FROM `shop`.`orders`")


@pytest.mark.parametrize("bad", ["1; DROP TABLE x", 1.5, True, None])
def test_key_bounds_must_be_integers(bad):
    with pytest.raises(TypeError, match="integer"):
        _ref(MY).count_sql(bad)


def test_empty_ranges_and_keys_are_refused():
    with pytest.raises(ValueError, match="key range"):
        _ref(PG).row_hashes_sql([])
    with pytest.raises(ValueError, match="key is required"):
        _ref(PG).fields_by_key_sql([])


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_identifiers_are_refused_everywhere(name):
    with pytest.raises(InvalidIdentifier):
        quote(MY, name)
    with pytest.raises(InvalidIdentifier):
        TableRef(PG, "shop", name, (ID,), "id", (0,))
    with pytest.raises(InvalidIdentifier):
        TableRef(PG, name, "orders", (ID,), "id", (0,))
    with pytest.raises(InvalidIdentifier):
        column_from_information_schema(MY, (name, "int", "NO", None, None), "orders")
    with pytest.raises(InvalidIdentifier):
        field_sql(RS, Column(name, Kind.INTEGER))


@pytest.mark.parametrize(("dialect", "row", "kind", "scale", "utc"), [
    (MY, ("a", "tinyint", "YES", 0, None), Kind.INTEGER, 0, False),
    (MY, ("a", "bigint", "NO", 0, None), Kind.INTEGER, 0, False),
    (MY, ("a", "decimal", "NO", 2, None), Kind.DECIMAL, 2, False),
    (MY, ("a", "double", "YES", None, None), Kind.FLOAT, None, False),
    (MY, ("a", "longtext", "YES", None, "utf8mb4"), Kind.TEXT, None, False),
    (MY, ("a", "timestamp", "YES", None, None), Kind.DATETIME, None, True),
    (MY, ("a", "date", "YES", None, None), Kind.DATE, None, False),
    (PG, ("a", "boolean", "YES", None, None), Kind.BOOLEAN, None, False),
    (PG, ("a", "numeric", "YES", 4, None), Kind.DECIMAL, 4, False),
    (RS, ("a", "character varying", "YES", None, None), Kind.TEXT, None, False),
    (RS, ("a", "timestamp with time zone", "YES", None, None), Kind.DATETIME, None, True),
    (RS, ("a", "double precision", "YES", None, None), Kind.FLOAT, None, False),
    (MY, ("a", "varbinary", "YES", None, None), Kind.BINARY, None, False),
    (MY, ("a", "longblob", "YES", None, None), Kind.BINARY, None, False),
    (MY, ("a", "bit", "YES", None, None), Kind.BIT, None, False),
    (MY, ("a", "time", "YES", None, None), Kind.TIME, None, False),
    (MY, ("a", "json", "YES", None, None), Kind.JSON, None, False),
    (PG, ("a", "bytea", "YES", None, None), Kind.BINARY, None, False),
    (PG, ("a", "jsonb", "YES", None, None), Kind.JSON, None, False),
    (RS, ("a", "binary varying", "YES", None, None), Kind.BINARY, None, False)])
def test_kinds_from_information_schema(dialect, row, kind, scale, utc):
    column = column_from_information_schema(dialect, row)
    assert (column.kind, column.scale, column.utc, column.nullable) == (kind, scale, utc, row[2] == "YES")


@pytest.mark.parametrize(("dialect", "kind", "expected"), [
    (MY, Kind.BINARY, "CONCAT(CHAR_LENGTH(LOWER(HEX(`v`))), ':', LOWER(HEX(`v`)))"),
    (PG, Kind.BINARY, """CAST(CHAR_LENGTH(ENCODE("v", 'hex')) AS TEXT) || ':' || ENCODE("v", 'hex')"""),
    (RS, Kind.BINARY, """CAST(LEN(LOWER(TO_HEX("v"))) AS VARCHAR) || ':' || LOWER(TO_HEX("v"))"""),
    (MY, Kind.BIT, "CAST(`v` + 0 AS CHAR)"),
    (MY, Kind.TIME, "CONCAT(CHAR_LENGTH(CAST(`v` AS CHAR)), ':', CAST(`v` AS CHAR))"),
    (MY, Kind.JSON, "CONCAT(CHAR_LENGTH(CAST(`v` AS CHAR)), ':', CAST(`v` AS CHAR))"),
    (PG, Kind.JSON, """CAST(CHAR_LENGTH(CAST("v" AS TEXT)) AS TEXT) || ':' || CAST("v" AS TEXT)""")])
def test_binary_is_length_prefixed_lowercase_hex_bit_digits_time_and_json_their_text(dialect, kind, expected):
    """Binary as hex text is what a VARCHAR that DMS filled with hex renders as TEXT (the same prefix)."""
    assert field_sql(dialect, Column("v", kind, nullable=False)) == expected


@pytest.mark.parametrize(("dialect", "data_type"), [(PG, "json"), (PG, "time without time zone"), (MY, "geometry"),
                                                    (RS, "super")])
def test_types_without_a_canonical_rendering_are_refused_by_name(dialect, data_type):
    with pytest.raises(UnsupportedColumn, match=f"orders.payload: type '{data_type}'"):
        column_from_information_schema(dialect, ("payload", data_type, "YES", None, None), "orders")


def test_a_key_that_is_not_a_column_is_refused():
    with pytest.raises(ValueError, match="key column 'uuid'"):
        _ref(MY, key="uuid")


HASH_TOP = 2**HASH_BITS - 1


@given(st.lists(st.tuples(st.integers(0, HASH_TOP), st.integers(0, 2**12)), min_size=1, max_size=6),
       st.integers(0, HASH_BITS))
def test_hash_ranges_split_into_aligned_blocks_that_cover_exactly_them(starts, bits):
    """Any ranges (engine-shaped runs of 2**bits-wide segments, or arbitrary ones) are covered exactly."""
    width = 2**bits
    ranges = [(start, min(HASH_TOP, start + length)) for start, length in starts]
    ranges += [(lo - lo % width, min(HASH_TOP, lo - lo % width + width - 1)) for lo, _ in ranges[:2]]
    covered = sorted((block * size, (block + 1) * size - 1) for size, found in hash_blocks(ranges).items()
                     for block in found)

    assert _merged(covered) == _merged(ranges)  # the same union
    assert all(lo % (hi - lo + 1) == 0 and (hi - lo + 1) & (hi - lo) == 0 for lo, hi in covered)


def test_runs_of_whole_segments_need_one_block_size():
    assert hash_blocks([(0, HASH_TOP)]) == {2**HASH_BITS: {0}}
    assert hash_blocks([(0, 2**51 - 1), (2**53, 2**53 + 2**50 - 1)]) == {2**50: {0, 1, 8}}


@pytest.mark.parametrize(("lo", "hi"), [(-1, 5), (0, HASH_TOP + 1), (7, 6)])
def test_a_hash_range_outside_the_hash_space_is_refused(lo, hi):
    with pytest.raises(ValueError, match="outside"):
        hash_blocks([(lo, hi)])


def _hashed(dialect, key_columns=("note", "id")) -> TableRef:
    return TableRef(dialect, "shop", "orders", (ID, NOTE), "id", (0, 0), key_columns=key_columns)


@pytest.mark.parametrize("dialect", list(Dialect))
def test_hashed_placement_reads_the_whole_hash_space_and_computes_the_hash_once_per_block_size(dialect):
    ref = _hashed(dialect)
    place = row_hash_sql(dialect, (NOTE, ID), (0, 0))  # in the key's order, not the table's
    divide = "DIV" if dialect is MY else "/"

    assert ref.bounds_sql() == (f"SELECT MIN(0), MIN({HASH_TOP}) "  # noqa: S608 - one row read, no count
                                f"FROM (SELECT 1 AS present FROM {ref.name} LIMIT 1) AS one")
    assert ref.count_sql(HASH_TOP) == f"SELECT COUNT(*) FROM {ref.name}"  # noqa: S608
    whole, = ref.segments_sql(0, 2**48, [(0, HASH_TOP)])
    assert whole.endswith("WHERE 1 = 1 GROUP BY 1") and whole.count("MD5(") == 2  # no filter over the whole space
    statement, = ref.segments_sql(0, 2**50, [(0, 2**51 - 1), (2**53, 2**53 + 2**50 - 1)])
    assert statement.endswith(f"WHERE ({place} {divide} {2**50} IN (0, 1, 8)) GROUP BY 1")
    assert statement.count("MD5(") == 3  # the segment, the filter, the row hash
    rows = ref.row_hashes_sql([(4, 7), (9, 9)])
    assert rows.startswith(f"SELECT {place}, {row_text_sql(dialect, (NOTE, ID), (0, 0))}, ")  # one text a row
    assert rows.endswith(f"FROM {ref.name} WHERE ({place} {divide} 1 IN (4, 5, 6, 7, 9))")
    assert "1, 8)" not in rows  # every column is the key: no changed row, no field digests
    keyed_by_note = _hashed(dialect, key_columns=("note",)).row_hashes_sql([(4, 7)])
    assert f"{field_digests_sql(dialect, ref.columns, ref.scales)} FROM {ref.name}" in keyed_by_note
    wide = tuple(Column(f"c{i}", Kind.INTEGER) for i in range(MAX_DIGEST_COLUMNS))
    too_wide = TableRef(dialect, "shop", "orders", (ID, *wide), "id", (0,) * (1 + len(wide)), key_columns=("id",))
    assert "1, 8)" not in too_wide.row_hashes_sql([(4, 7)])  # its changed fields are read by key instead
    assert ref.fields_by_key_sql([12, 3, 12]).endswith(f"WHERE ({place} {divide} 1 IN (3, 12))")


def test_hashed_placement_needs_known_key_columns_and_row_hash_sums():
    with pytest.raises(ValueError, match="key column 'nope'"):
        _hashed(PG, ("nope",))
    with pytest.raises(ValueError, match="row_hash_sum only"):
        TableRef(PG, "shop", "orders", (ID, NOTE), "id", (0, 0), Fingerprint.ORDERED_MD5, key_columns=("note",))


@pytest.mark.parametrize("dialect", list(Dialect))
def test_a_key_led_by_an_integer_places_rows_at_that_column_and_tells_them_apart_by_every_key_column(dialect):
    """Ranges of the leading column (served by the key's index, the same integer order on both sides), never its
    hash; each row's identity is the canonical rendering of every key column."""
    amount = Column("amount", Kind.DECIMAL, scale=2)
    ref = TableRef(dialect, "shop", "lines", (ID, NOTE, amount), "id", (0, 0, 2), key_columns=("id", "note"),
                   leading_key=True)
    key = quote(dialect, "id")

    assert not ref.hashed and "MD5" not in ref.bounds_sql() + ref.count_sql(9)
    assert ref.bounds_sql() == f"SELECT MIN({key}), MAX({key}) FROM {ref.name}"  # noqa: S608
    statement, = ref.segments_sql(1, 4, [(1, 8)])
    assert statement.endswith(f"WHERE ({key} >= 1 AND {key} <= 8) GROUP BY 1")
    assert ref.row_hashes_sql([(3, 3)]) == (  # no field digests: a changed key's fields are read through the index
        f"SELECT {key}, {row_text_sql(dialect, (ID, NOTE), (0, 0))}, "  # noqa: S608
        f"{row_hash_sql(dialect, ref.columns, ref.scales)} FROM {ref.name} WHERE ({key} >= 3 AND {key} <= 3)")
    assert ref.fields_by_key_sql([7, 3]).endswith(f"WHERE {key} IN (7, 3)")
    assert ref.fields_by_key_sql([7], [12, 5, 12]).endswith(  # the changed rows, not every row of order 7
        f"WHERE ({key} IN (7)) AND {row_hash_sql(dialect, ref.columns, ref.scales)} IN (5, 12)")
    assert ref.null_keys_sql() is None  # id is NOT NULL here
    nullable = Column("id", Kind.INTEGER)  # a warehouse column without the source's NOT NULL
    assert TableRef(dialect, "shop", "lines", (nullable, NOTE), "id", (0, 0), key_columns=("id", "note"),
                    leading_key=True).null_keys_sql() == f"SELECT COUNT(*) FROM {ref.name} WHERE {key} IS NULL"  # noqa: S608
    assert TableRef(dialect, "shop", "lines", (nullable, NOTE), "id", (0, 0),
                    key_columns=("id", "note")).null_keys_sql() is None  # hashed: a NULL hashes as N
    with pytest.raises(ValueError, match="leading_key: 'note' is not the first"):
        TableRef(dialect, "shop", "lines", (ID, NOTE), "note", (0, 0), key_columns=("id", "note"), leading_key=True)


@pytest.mark.parametrize("dialect", list(Dialect))
def test_field_digests_are_one_text_of_eight_hex_digits_per_column(dialect):
    sql = field_digests_sql(dialect, (ID, NOTE), (0, 0))

    assert sql.count("MD5(") == 2 and sql.count(", 1, 8)") == 2
    assert split_digests("0123456789abcdef") == ("01234567", "89abcdef")
    assert split_digests("") == ()
    assert hashlib.md5(b"N").hexdigest()[:8] == NULL_DIGEST


_FIELD_TEXT = {  # what a field of each kind can render as (a NULL: N), as the SQL renders it
    Kind.INTEGER: st.integers(-2**63, 2**64).map(str),
    Kind.DECIMAL: st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
    Kind.DATETIME: st.datetimes().map(lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S.%f")),
    **{kind: st.text().map(lambda text: f"{len(text)}:{text}") for kind in LENGTH_PREFIXED},
}


@given(st.lists(st.sampled_from(sorted(_FIELD_TEXT)).flatmap(
    lambda kind: st.tuples(st.just(kind), _FIELD_TEXT[kind] | st.just(NULL))), min_size=1, max_size=6))
def test_a_rendering_splits_back_into_its_fields_whatever_the_texts_hold(fields):
    """Texts holding the separator, colons, digits or ``N`` do not move a field's end: the length prefix does."""
    kinds, texts = [kind for kind, _ in fields], tuple(text for _, text in fields)

    assert split_rendering(SEPARATOR.join(texts), kinds) == texts


@given(st.text(), st.lists(st.sampled_from(sorted(_FIELD_TEXT)), min_size=1, max_size=4))
def test_any_text_splits_into_fields_that_render_it_or_is_refused(text, kinds):
    """What comes back joins into the same text, with as many fields as kinds (which split, where a prefix counted
    otherwise, cannot be told: keys are matched on the whole text, the split only shows them)."""
    fields = split_rendering(text, kinds)

    assert fields is None or (SEPARATOR.join(fields) == text and len(fields) == len(kinds))


def _place_by_search(key: str) -> int:
    """The largest place whose bound is at or below ``key`` in code point order, by bisection over every place."""
    lo, hi = 0, TEXT_PLACES - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if place_bound(mid) <= key else (lo, mid - 1)
    return lo


TEXTISH = st.text(st.sampled_from("0123456789abcdefABCDEFgz-:`{ é😀\x01"), max_size=12)


@given(st.one_of(TEXTISH, st.text(max_size=12)))
def test_a_texts_place_is_the_last_bound_at_or_below_it_in_code_point_order(key):
    """Whatever the key holds (upper case, punctuation between '9' and 'a', characters above 'f', fewer than 8
    characters, nothing): what the warehouse's scan computes is what its bytewise index's ranges select."""
    place = text_place(key)

    assert place == _place_by_search(key)
    assert place == 0 or place_bound(place) <= key
    assert place == TEXT_PLACES - 1 or key < place_bound(place + 1)


@given(st.integers(0, TEXT_PLACES - 2))
def test_bounds_increase_with_their_places_in_every_collation_that_orders_hex_digits(place):
    """Fixed-width lowercase hex: ordered as numbers by code point, by case-insensitive weights and by digits-first
    collations alike, so each side's places partition its keys in its own order."""
    low, high = place_bound(place), place_bound(place + 1)
    assert len(low) == len(high) == 8 and low < high and low.upper() < high.upper()


@pytest.mark.parametrize("dialect", [MY, PG])
def test_text_places_are_ranges_of_the_keys_index_with_open_ends(dialect):
    """Each segment is one index range read; the lowest and highest places are open so every key has a place,
    and a NULL key has none (it is counted apart)."""
    key = quote(dialect, "note")
    ref = _ranged(dialect)

    assert ref.bounds_sql().startswith(f"SELECT MIN(0), MIN({TEXT_PLACES - 1}) ")
    assert ref.count_sql(TEXT_PLACES - 1) == f"SELECT COUNT(*) FROM {ref.name}"  # noqa: S608
    assert ref.null_keys_sql() is None
    reads = ref.row_hashes_sql([(0, 15), (16, 16), (2**31, TEXT_PLACES - 1)])
    assert reads.count("UNION ALL") == 2 and "MD5(" in reads  # the row hash, no key hash
    assert f"SELECT 0, {row_text_sql(dialect, ref.columns[1:], (0,))}, " in reads
    assert f"WHERE ({key} < '00000010') UNION ALL SELECT 16, " in reads
    assert f"WHERE ({key} >= '00000010' AND {key} < '00000011') UNION ALL " in reads
    assert reads.endswith(f"WHERE ({key} >= '80000000')")
    below, = [s for s in ref.segments_sql(0, 2**28, [(2**29, 2**30 - 1)])]  # not the whole space: one read each
    assert below.count(" UNION ALL ") == 1 and f"({key} >= '20000000' AND {key} < '30000000')" in below
    whole = ref.segments_sql(0, 2**28, [(0, TEXT_PLACES - 1)])
    if dialect is PG:  # one scan grouped by place, in the key's (bytewise) order within each
        assert len(whole) == 1 and whole[0].endswith(f"WHERE {key} IS NOT NULL GROUP BY 1")
        assert f"ORDER BY {key}))" in whole[0] and "LTRIM(LEFT(" in whole[0]
    else:  # one read per segment, in the clustered key's order
        assert len(whole) == 1 and whole[0].count("GROUP_CONCAT(") == 16 and "LTRIM" not in whole[0]
    with pytest.raises(ValueError, match="outside"):
        ref.row_hashes_sql([(0, TEXT_PLACES)])


@given(st.lists(st.text(max_size=20), min_size=1, max_size=4))
def test_a_text_key_is_looked_up_by_hex_literals_so_no_key_text_reaches_the_sql(keys):
    identities = [f"{len(key)}:{key}" for key in keys]
    literals = {MY: lambda key: f"_utf8mb4 X'{key.encode().hex()}'",
                PG: lambda key: "U&'" + "".join(f"\\+{ord(c):06x}" for c in key) + "'"}
    for dialect, literal in literals.items():
        statement = _ranged(dialect).fields_by_key_sql([0] * len(keys), [7], identities)
        values = ", ".join(map(literal, keys))
        assert statement.endswith(f"WHERE ({quote(dialect, 'note')} IN ({values})) "
                                  f"AND {row_hash_sql(dialect, _ranged(dialect).columns, (0, 0))} IN (7)")


def test_text_places_need_one_key_column_and_an_index_redshift_has_none():
    with pytest.raises(ValueError, match="ranged_key"):
        _ranged(Dialect.REDSHIFT)
    with pytest.raises(ValueError, match="ranged_key"):
        TableRef(PG, "shop", "orders", (ID, NOTE), "note", (0, 0), key_columns=("note", "id"), ranged_key=True)


def _ranged(dialect: Dialect) -> TableRef:
    concat = ConcatLimit.SET_STATEMENT if dialect is MY else None
    fingerprint = Fingerprint.ROW_HASH_SUM if dialect is Dialect.REDSHIFT else Fingerprint.ORDERED_MD5
    return TableRef(dialect, "shop", "orders", (ID, Column("note", Kind.TEXT, nullable=False)), "note", (0, 0),
                    fingerprint, concat, key_columns=("note",), ranged_key=True)
