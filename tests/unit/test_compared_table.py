"""describe_table: a table is validated on both information schemas, and refused with the reason, before any
data query; hostile names never reach SQL."""

from __future__ import annotations

import pytest

from cdc_runbooks.identifiers import InvalidIdentifier
from cdc_runbooks.reconcile.compared_table import Side, TableMismatch, describe_table
from cdc_runbooks.reconcile.row_checksum import (
    COLUMNS_SQL,
    CONCAT_PROBE_SQL,
    GROUP_CONCAT_MAX_LEN,
    HEX_ORDER_PAIRS,
    RANGE_INDEX_SQL,
    UNIQUE_KEYS_SQL,
    ConcatLimit,
    Dialect,
    Fingerprint,
    UnsupportedColumn,
)

SOURCE_COLUMNS = [("id", "bigint", "NO", 0, None), ("amount", "decimal", "NO", 2, None),
                  ("flag", "tinyint", "YES", 0, None), ("note", "varchar", "YES", None, "utf8mb4")]
TARGET_COLUMNS = [("id", "bigint", "NO", 0, None), ("amount", "numeric", "NO", 4, None),
                  ("flag", "boolean", "YES", None, None), ("note", "character varying", "YES", None, None)]


class FakeDatabase:
    """Answers only information-schema queries (with parameters), the version and the group_concat_max_len
    probe (``honours`` the statement's limit, else MySQL's default 1024); records every statement.
    ``range_indexes``: what the range-index query answers for any column (index names, or collations)."""

    def __init__(self, columns, primary_key=("id",), version="10.11.19-MariaDB", honours=True, unique=(),
                 range_indexes=()) -> None:
        self.columns, self.primary_key, self.unique, self.statements = columns, primary_key, list(unique), []
        self.version, self.honours, self.range_indexes = version, honours, range_indexes

    def run(self, sql, params):
        self.statements.append((sql, params))
        if sql == UNIQUE_KEYS_SQL:
            return [("PRIMARY", k) for k in self.primary_key] + self.unique
        if sql == "SELECT VERSION()":
            return [(self.version,)]
        if sql in {limit.statement([CONCAT_PROBE_SQL]) for limit in ConcatLimit}:
            return [(GROUP_CONCAT_MAX_LEN if self.honours else 1024,)]
        if sql in RANGE_INDEX_SQL.values():  # MySQL: (charset, collation); PostgreSQL: (locale,)
            return [(("utf8mb4", name) if sql == RANGE_INDEX_SQL[Dialect.MYSQL] else (name,))
                    for name in self.range_indexes]
        if sql.startswith("SELECT (_utf8mb4'00' COLLATE "):  # the hex order probe: Danish sorts 'aa' after 'z'
            return [(HEX_ORDER_PAIRS - sql.startswith("SELECT (_utf8mb4'00' COLLATE utf8mb4_danish_ci"),)]
        assert sql in COLUMNS_SQL.values(), f"unexpected data query {sql}"
        return list(self.columns)


def _describe(source_columns=SOURCE_COLUMNS, target_columns=TARGET_COLUMNS, table="orders", key=None,
              primary_key=("id",), target_dialect=Dialect.REDSHIFT, target_indexes=(), **server):
    source = FakeDatabase(source_columns, primary_key, **server)
    target = FakeDatabase(target_columns, range_indexes=target_indexes)
    pair = describe_table(Side(Dialect.MYSQL, "shop", source.run), Side(target_dialect, "shop", target.run),
                          table, key)
    return pair, source, target


@pytest.mark.parametrize(("server", "limit"), [
    ({"version": "10.11.19-MariaDB"}, ConcatLimit.SET_STATEMENT), ({"version": "8.0.32"}, ConcatLimit.SET_VAR_HINT)])
def test_mysql_to_postgres_fingerprints_ordered_md5_with_the_servers_concat_limit(server, limit):
    pair, source, _ = _describe(target_dialect=Dialect.POSTGRES, **server)

    assert pair.source.ref.fingerprint is pair.target.ref.fingerprint is Fingerprint.ORDERED_MD5
    assert pair.source.ref.concat_limit is limit and pair.target.ref.concat_limit is None
    assert (limit.statement([CONCAT_PROBE_SQL]), None) in source.statements


def test_the_source_is_probed_once_however_many_tables_are_described_on_it():
    source, target = FakeDatabase(SOURCE_COLUMNS), FakeDatabase(TARGET_COLUMNS)
    sides = Side(Dialect.MYSQL, "shop", source.run), Side(Dialect.POSTGRES, "shop", target.run)
    pairs = [describe_table(*sides, table) for table in ("orders", "customers")]

    assert all(pair.source.ref.fingerprint is Fingerprint.ORDERED_MD5 for pair in pairs)
    assert [sql for sql, _ in source.statements].count("SELECT VERSION()") == 1


def test_a_mysql_that_ignores_the_limit_falls_back_to_row_hash_sums():
    pair, _, _ = _describe(target_dialect=Dialect.POSTGRES, version="5.7.12", honours=False)
    assert pair.source.ref.fingerprint is pair.target.ref.fingerprint is Fingerprint.ROW_HASH_SUM


def test_redshift_always_gets_row_hash_sums_without_probing_the_source():
    pair, source, _ = _describe(target_dialect=Dialect.REDSHIFT)

    assert pair.source.ref.fingerprint is pair.target.ref.fingerprint is Fingerprint.ROW_HASH_SUM
    assert ("SELECT VERSION()", None) not in source.statements


def test_pairs_columns_with_the_larger_scale_and_the_primary_key():
    pair, source, target = _describe()

    assert (pair.table, pair.key, pair.columns) == ("orders", "id", ("id", "amount", "flag", "note"))
    assert pair.source.ref.scales == pair.target.ref.scales == (0, 4, 0, 0)
    assert source.statements[0] == (COLUMNS_SQL[Dialect.MYSQL], ("shop", "orders"))
    assert target.statements == [(COLUMNS_SQL[Dialect.REDSHIFT], ("shop", "orders"))]


def test_target_column_names_match_case_insensitively_and_keep_their_spelling():
    upper = [("ID", *c[1:]) if c[0] == "id" else c for c in TARGET_COLUMNS]
    pair, _, _ = _describe(target_columns=upper)

    assert pair.target.ref.key == "ID" and pair.source.ref.key == "id"


@pytest.mark.parametrize("table", ["orders; DROP TABLE x", "a`b", 'a"b', "", None, "x" * 65])
def test_hostile_table_names_are_refused_before_any_query(table):
    source, target = FakeDatabase(SOURCE_COLUMNS), FakeDatabase(TARGET_COLUMNS)
    with pytest.raises(InvalidIdentifier):
        describe_table(Side(Dialect.MYSQL, "shop", source.run), Side(Dialect.POSTGRES, "shop", target.run), table)
    assert source.statements == target.statements == []


def test_hostile_schema_is_refused():
    with pytest.raises(InvalidIdentifier, match="schema"):
        Side(Dialect.MYSQL, "shop`; DROP DATABASE x", FakeDatabase([]).run)


def test_a_hostile_column_name_found_in_the_information_schema_is_refused():
    with pytest.raises(InvalidIdentifier, match="orders.column"):
        _describe(source_columns=[*SOURCE_COLUMNS, ('x"; DROP TABLE y; --', "int", "YES", 0, None)])


def test_absent_table_is_named_with_its_side():
    with pytest.raises(TableMismatch, match=r"orders: no such table on the target \(shop.orders"):
        _describe(target_columns=[])


def test_different_columns_are_listed():
    with pytest.raises(TableMismatch, match=r"only on the source \['note'\], only on the target \['remark'\]"):
        _describe(target_columns=[*TARGET_COLUMNS[:3], ("remark", "text", "YES", None, None)])


def test_incompatible_types_are_refused_by_column():
    with pytest.raises(TableMismatch, match="orders.note: source text and target integer"):
        _describe(target_columns=[*TARGET_COLUMNS[:3], ("note", "integer", "YES", None, None)])


@pytest.mark.parametrize(("source_type", "target_type", "refused"), [
    ("varbinary", "character varying", False), ("varbinary", "bytea", False), ("bit", "boolean", False),
    ("bit", "integer", False), ("time", "character varying", False), ("json", "jsonb", False),
    ("time", "integer", True), ("varbinary", "integer", True), ("varchar", "bytea", True), ("varchar", "jsonb", True)])
def test_the_target_types_dms_creates_for_binary_bit_time_and_json_are_compatible(source_type, target_type, refused):
    source = [*SOURCE_COLUMNS, ("v", source_type, "YES", None, None)]
    target = [*TARGET_COLUMNS, ("v", target_type, "YES", None, None)]
    if refused:
        with pytest.raises(TableMismatch, match="orders.v: source .* and target .* cannot be compared"):
            _describe(source_columns=source, target_columns=target)
    else:
        assert _describe(source_columns=source, target_columns=target)[0].columns[-1] == "v"


def test_unsupported_type_is_refused():
    with pytest.raises(UnsupportedColumn, match="orders.shape: type 'geometry'"):
        _describe(source_columns=[*SOURCE_COLUMNS, ("shape", "geometry", "YES", None, None)])


def test_a_single_integer_key_places_rows_at_the_key():
    pair, _, _ = _describe()

    assert (pair.key, pair.multiset, pair.source.ref.key_columns, pair.target.ref.key_columns) == ("id", False, (), ())


def test_a_key_of_several_columns_led_by_an_integer_places_rows_at_that_column():
    """(order_id, line_no): ranges of order_id, served by the key's index; every column of the key tells rows apart.
    Placed at a hash instead, it is the same table with a hashed key."""
    pair, _, _ = _describe(primary_key=("id", "amount"))

    assert (pair.key, pair.hashed, pair.leading, pair.multiset) == ("id (leading column of id, amount)", False,
                                                                    True, False)
    for ref in (pair.source.ref, pair.target.ref):
        assert (ref.key, ref.key_columns, ref.leading_key, ref.hashed) == ("id", ("id", "amount"), True, False)
        assert ref.fingerprint is Fingerprint.ROW_HASH_SUM
    hashed = pair.placed_at_hash()
    assert (hashed.key, hashed.hashed, hashed.leading, hashed.key_kinds) == ("hash(id, amount)", True, False,
                                                                             pair.key_kinds)
    assert hashed.source.ref.hashed and hashed.target.ref.hashed and hashed.source.side is pair.source.side


@pytest.mark.parametrize(("primary_key", "unique", "key_columns"), [
    (("amount", "id"), [], ("amount", "id")),  # composite primary key led by a decimal
    ((), [("uq_note", "note")], None),  # a unique index with a nullable column is no key (DMS neither)
    ((), [("uq_c", "flag"), ("uq_b", "amount")], ("amount",)),  # the first unique NOT NULL index by name
    ((), [("uq_a", "amount"), ("uq_a", "id")], ("amount", "id")),
    ((), [("uq_a", None), ("uq_b", "amount")], ("amount",)),  # a functional key part (MySQL 8) has no column name
    ((), [("uq_lower_note", None)], None),
])
def test_any_other_key_places_rows_at_a_hash_of_the_key_and_no_key_compares_whole_rows(primary_key, unique,
                                                                                        key_columns):
    source_columns = [*SOURCE_COLUMNS[:2], ("flag", "tinyint", "NO", 0, None), SOURCE_COLUMNS[3]]
    pair, _, _ = _describe(source_columns=source_columns, primary_key=primary_key, unique=unique)

    every = ("id", "amount", "flag", "note")
    assert pair.multiset is (key_columns is None)
    assert pair.source.ref.key_columns == pair.target.ref.key_columns == (key_columns or every)
    assert pair.source.ref.fingerprint is Fingerprint.ROW_HASH_SUM
    assert pair.key == (f"hash({', '.join(key_columns)})" if key_columns else "hash(every column: no key)")


def test_a_named_key_may_be_any_not_null_columns_but_not_an_approximate_nullable_or_unknown_one():
    source = [SOURCE_COLUMNS[0], SOURCE_COLUMNS[1], ("flag", "tinyint", "NO", 0, None),
              ("note", "varchar", "NO", None, "utf8mb4")]
    # TINYINT(1) landed as a boolean: no arithmetic on the warehouse side, so placed at its hash
    assert _describe(source_columns=source, key="flag", primary_key=())[0].key == "hash(flag)"
    assert _describe(source_columns=source, key="note")[0].source.ref.key_columns == ("note",)
    assert _describe(source_columns=source, key="note, id")[0].source.ref.key_columns == ("note", "id")
    with pytest.raises(TableMismatch, match="key column note allows NULL"):  # several NULLs: not a key
        _describe(key="note, id")
    with pytest.raises(TableMismatch, match="key column 'nope' is not a column"):
        _describe(key="nope")
    with pytest.raises(TableMismatch, match="key column f is approximate"):
        _describe(source_columns=[*SOURCE_COLUMNS, ("f", "double", "NO", None, None)],
                  target_columns=[*TARGET_COLUMNS, ("f", "double precision", "NO", None, None)], key="f")


def test_a_hashed_key_is_matched_on_its_texts_and_shown_with_the_sources_kinds():
    """BIGINT UNSIGNED lands as NUMERIC(20,0) and TINYINT(1) as boolean: both sides render the key as '5', '1'."""
    pair, _, _ = _describe(source_columns=[("account", "bigint", "NO", 0, None), ("flag", "tinyint", "NO", 0, None),
                                           ("name", "varchar", "NO", None, "utf8mb4"), ("qty", "int", "YES", 0, None)],
                           target_columns=[("account", "numeric", "NO", 0, None), ("flag", "boolean", "NO", None, None),
                                           ("name", "character varying", "NO", None, None),
                                           ("qty", "integer", "YES", 0, None)],
                           primary_key=("account", "flag", "name"))
    rendering = "5|1|1:a"

    assert pair.source._key(rendering) == pair.target._key(rendering) == rendering
    assert pair.shown_key(rendering) == (5, 1, "a")
    assert pair.shown_key("5.00|1|1:a") == (5, 1, "a")  # an INT landed as NUMERIC(12,2) renders so
    assert pair.shown_key("5|1|3:a|b") == (5, 1, "a|b")  # the length prefix, not the separator, ends a text
    assert pair.shown_key("5|1|2:a") == "5|1|2:a"  # a prefix that does not count its text: shown as it is
    assert pair.shown_key("5.50|1|1:a") == "5.50|1|1:a"  # an integer key column holding 5.50 in the warehouse
    assert pair.shown_key("Infinity|1|1:a") == "Infinity|1|1:a"


UUID_SOURCE = [("id", "char", "NO", None, "utf8mb4"), ("qty", "int", "NO", 0, None)]
UUID_TARGET = [("id", "character varying", "NO", None, None), ("qty", "integer", "NO", 0, None)]


GENERAL = ("utf8mb4_general_ci",)  # the collation of the source's index on the key


@pytest.mark.parametrize(("source_indexes", "target_dialect", "target_indexes", "ranged"), [
    (GENERAL, Dialect.POSTGRES, ("C.UTF-8",), True),
    (GENERAL, Dialect.POSTGRES, ("en_US.UTF-8", "C"), True),  # one bytewise index is enough
    (GENERAL, Dialect.POSTGRES, ("en_US.UTF-8",), False),  # its order is not the text places' order
    (GENERAL, Dialect.POSTGRES, (None,), False),  # an ICU or builtin collation, whatever its name
    (("utf8mb4_danish_ci",), Dialect.POSTGRES, ("C",), False),  # 'aa' after 'z': bounds out of order
    ((), Dialect.POSTGRES, ("C",), False),  # no index on the source: every range read would be a scan
    (GENERAL, Dialect.REDSHIFT, ("C",), False),  # no index to read ranges of
])
def test_a_text_key_is_placed_at_text_places_only_where_an_index_of_each_side_orders_it(
        source_indexes, target_dialect, target_indexes, ranged):
    pair, _, target = _describe(source_columns=UUID_SOURCE, target_columns=UUID_TARGET, target_dialect=target_dialect,
                                target_indexes=target_indexes, range_indexes=source_indexes)

    assert (pair.ranged, pair.hashed, pair.key) == (ranged, not ranged, "place(id)" if ranged else "hash(id)")
    assert all(side.ref.ranged_key is ranged for side in (pair.source, pair.target))
    fingerprint = Fingerprint.ORDERED_MD5 if ranged else Fingerprint.ROW_HASH_SUM
    assert pair.source.ref.fingerprint is pair.target.ref.fingerprint is fingerprint
    if target_dialect is Dialect.REDSHIFT:  # not even asked
        assert all(sql not in RANGE_INDEX_SQL.values() for sql, _ in target.statements)
    if ranged:
        hashed = pair.placed_at_hash()
        assert (hashed.ranged, hashed.hashed, hashed.key, hashed.source.ref.fingerprint) == (
            False, True, "hash(id)", Fingerprint.ROW_HASH_SUM)
