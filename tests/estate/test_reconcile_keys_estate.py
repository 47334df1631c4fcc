"""Keys of every shape against the estate's MariaDB and PostgreSQL: composite, text under a case-insensitive
collation, UUID text, UUID BINARY(16) (reported as lowercase hex), DATETIME, a unique NOT NULL index instead of a
primary key, and no key at all (a multiset of rows with duplicates). Each compares equal when equal, and each kind
of planted drift is named by its full key (or, without a key, by the row itself)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reconcile_sides import sides

from cdc_runbooks.reconcile.compared_table import TableMismatch, describe_table
from cdc_runbooks.reconcile.engine import Settings, reconcile
from cdc_runbooks.reconcile.row_checksum import TEXT_PLACES, place_bound, text_place, text_place_sql

pytestmark = pytest.mark.estate

# Split down to single keys: every level of each placement runs on the servers.
SETTINGS = Settings(mode="checksum", settle_s=0, leaf_rows=1, max_segments=4)


@dataclass(frozen=True)
class Shape:
    table: str
    source_ddl: str
    target_ddl: str
    rows: list[tuple]
    drift: str  # run on the warehouse
    expected: dict  # missing/extra/duplicate: keys; changed: {key: columns}
    key: str
    target_index: str = ""  # a column the warehouse indexes (the estate's collation, C.UTF-8: bytewise)


def _uuid(n: int) -> str:
    """A UUID-like key whose first digit is n's last hex digit: 16 of them fill every sixteenth of the text places."""
    digits = f"{n % 16:x}" + hashlib.md5(str(n).encode()).hexdigest()[1:]  # a generated key, not security
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-8{digits[17:20]}-{digits[20:32]}"


TICKETS = [_uuid(n) for n in range(20)]
SPREAD = [(f"{d * 8}-handle", "spread") for d in "0123456789abcdef"]  # one key in each sixteenth


def _tickets(table: str, collation: str, key: str) -> Shape:
    return Shape(table, f"id CHAR(36) COLLATE {collation} PRIMARY KEY, qty INT", "id VARCHAR(36), qty INTEGER",
                 [(ticket, n) for n, ticket in enumerate(TICKETS)],
                 f"DELETE FROM shop.{table} WHERE id = '{TICKETS[3]}'; UPDATE shop.{table} SET qty = 0 WHERE qty = 5; "  # noqa: S608
                 f"INSERT INTO shop.{table} VALUES ('{TICKETS[1]}', 1), ('{_uuid(99)}', 99)",
                 {"missing": [TICKETS[3]], "extra": [_uuid(99)], "duplicate": [TICKETS[1]],
                  "changed": {TICKETS[5]: ("qty",)}}, key, target_index="id")


SHAPES = [
    Shape("order_lines", "order_id BIGINT, line_no INT, sku VARCHAR(20), qty INT, PRIMARY KEY (order_id, line_no)",
          "order_id BIGINT, line_no INTEGER, sku VARCHAR(20), qty INTEGER",
          [(order, line, f"sku-{order}-{line}", line) for order in (1, 2, 10, 2**40) for line in (1, 2, 3)],
          "DELETE FROM shop.order_lines WHERE order_id = 2 AND line_no = 3; "
          "UPDATE shop.order_lines SET qty = 99 WHERE order_id = 10 AND line_no = 1; "
          "INSERT INTO shop.order_lines VALUES (1, 1, 'sku-1-1', 1), (3, 1, 'new', 1)",
          {"missing": [(2, 3)], "extra": [(3, 1)], "duplicate": [(1, 1)], "changed": {(10, 1): ("qty",)}},
          "order_id (leading column of order_id, line_no)"),
    Shape("flags", "active TINYINT(1), id INT, v INT, PRIMARY KEY (active, id)",
          "active BOOLEAN, id INTEGER, v INTEGER", [(True, 1, 1), (False, 2, 2)],
          "UPDATE shop.flags SET v = 9 WHERE id = 2",  # TINYINT(1) landed as a boolean: no ranges of it there
          {"changed": {(0, 2): ("v",)}}, "hash(active, id)"),
    Shape("scaled", "k INT, t VARCHAR(5), q INT, PRIMARY KEY (k, t)", "k NUMERIC(12,2), t VARCHAR(5), q INTEGER",
          [(1, "a", 1), (2, "a", 1)], "UPDATE shop.scaled SET q = 5 WHERE k = 2",  # keys render as '2.00'
          {"changed": {(2, "a"): ("q",)}}, "k (leading column of k, t)"),
    Shape("nulled", "order_id INT, line_no INT, sku VARCHAR(9), PRIMARY KEY (order_id, line_no)",
          "order_id INTEGER, line_no INTEGER, sku VARCHAR(9)", [(o, n, f"s{o}{n}") for o in (1, 2) for n in (1, 2)],
          "INSERT INTO shop.nulled VALUES (NULL, 1, 'ghost')",  # in no range of order_id: reported, key NULL
          {"extra": [None]}, "order_id (leading column of order_id, line_no)"),
    Shape("tags", "name VARCHAR(40) COLLATE utf8mb4_general_ci PRIMARY KEY, note TEXT",
          "name VARCHAR(40), note TEXT",
          [("abc", "lower"), ("Zebra", None), ("é|x", "pipe"), ("trailing ", "space"), ("😀", "emoji")],
          "UPDATE shop.tags SET name = 'ABC' WHERE name = 'abc'; UPDATE shop.tags SET note = 'x' WHERE name = 'Zebra'",
          {"missing": ["abc"], "extra": ["ABC"], "changed": {"Zebra": ("note",)}},  # bytes differ: other keys
          "hash(name)"),
    Shape("devices", "id CHAR(36) PRIMARY KEY, seen DATETIME(6)", "id CHAR(36), seen TIMESTAMP(6)",
          [(f"6f1c2a3b-0000-4000-8000-{n:012d}", dt.datetime(2024, 1, 1, 0, 0, n, n)) for n in range(1, 9)],
          "UPDATE shop.devices SET seen = seen + INTERVAL '1 microsecond' "
          "WHERE id = '6f1c2a3b-0000-4000-8000-000000000004'",
          {"changed": {"6f1c2a3b-0000-4000-8000-000000000004": ("seen",)}}, "hash(id)"),
    _tickets("tickets", "utf8mb4_general_ci", "place(id)"),
    _tickets("tickets_da", "utf8mb4_danish_ci", "hash(id)"),  # 'aa' sorts after 'z': no text places there
    Shape("handles", "name VARCHAR(40) COLLATE utf8mb4_general_ci PRIMARY KEY, note TEXT",
          "name VARCHAR(40), note TEXT",
          [("abc", "lower"), ("Zebra", None), ("0A1", "x"), ("0a2", "y"), ("é|x", "pipe"), ("trailing ", "space"),
           ("😀", "emoji"), ("B", "b"), ("ffffffffZ", "high"), ("", "empty"), *SPREAD],
          "UPDATE shop.handles SET name = 'ABC' WHERE name = 'abc'; "
          "UPDATE shop.handles SET note = 'changed' WHERE name = '0A1'",
          {"missing": ["abc"], "extra": ["ABC"], "changed": {"0A1": ("note",)}},  # the collations place '0A1' apart
          "place(name)", target_index="name"),
    Shape("sessions", "id BINARY(16) PRIMARY KEY, user_id INT", "id BYTEA, user_id INTEGER",
          [(bytes.fromhex(f"6f1c2a3b00004000800000000000{n:04x}"), n) for n in range(1, 9)],
          "DELETE FROM shop.sessions WHERE id = '\\x6f1c2a3b000040008000000000000003'::bytea; "
          "UPDATE shop.sessions SET user_id = 0 WHERE user_id = 5",
          {"missing": ["6f1c2a3b000040008000000000000003"],
           "changed": {"6f1c2a3b000040008000000000000005": ("user_id",)}},
          "hash(id)"),
    Shape("readings", "taken DATETIME(6) PRIMARY KEY, celsius DECIMAL(5,2)", "taken TIMESTAMP(6), celsius NUMERIC(5,2)",
          [(dt.datetime(2024, 3, 1, 12, 0, 0, n), n / 4) for n in range(8)],
          "DELETE FROM shop.readings WHERE taken = '2024-03-01 12:00:00.000005'",
          {"missing": ["2024-03-01 12:00:00.000005"]}, "hash(taken)"),
    Shape("accounts", "id INT NULL, email VARCHAR(60) NOT NULL, region CHAR(2) NOT NULL, "
          "UNIQUE KEY uq_email (email, region), UNIQUE KEY uq_id (id)",
          "id INTEGER, email VARCHAR(60), region CHAR(2)",
          [(n, f"u{n}@example.com", "eu") for n in range(6)],
          "UPDATE shop.accounts SET id = 42 WHERE email = 'u3@example.com'",
          {"changed": {("u3@example.com", "eu"): ("id",)}}, "hash(email, region)"),
    Shape("events", "kind VARCHAR(10), amount DECIMAL(8,2)", "kind VARCHAR(10), amount NUMERIC(8,2)",
          [("click", 1), ("click", 1), ("view", None), ("view", 2.5)],
          "DELETE FROM shop.events WHERE ctid IN (SELECT ctid FROM shop.events WHERE kind = 'click' LIMIT 1); "
          "INSERT INTO shop.events VALUES ('view', NULL)",
          {"missing": [("click", "1.00")], "extra": [("view", None)]}, "hash(every column: no key)"),
]


@pytest.fixture
def shaped(shared_estate, request):
    shape: Shape = request.param
    placeholders = ", ".join(["%s"] * len(shape.rows[0]))
    shared_estate.source.writer.execute(f"DROP TABLE IF EXISTS shop.{shape.table}",
                                        f"CREATE TABLE shop.{shape.table} ({shape.source_ddl}) DEFAULT CHARSET=utf8mb4")
    shared_estate.warehouse.query(f"DROP TABLE IF EXISTS shop.{shape.table}; "
                                  f"CREATE TABLE shop.{shape.table} ({shape.target_ddl})")
    with shared_estate.source.writer.admin(charset="utf8mb4") as conn, conn.cursor() as cur:
        cur.executemany(f"INSERT INTO shop.{shape.table} VALUES ({placeholders})", shape.rows)  # noqa: S608
    for row in shape.rows:
        shared_estate.warehouse.query(f"INSERT INTO shop.{shape.table} VALUES ({placeholders})", row)  # noqa: S608
    if shape.target_index:
        shared_estate.warehouse.query(f"CREATE INDEX ON shop.{shape.table} ({shape.target_index})")
    yield shared_estate, shape
    shared_estate.source.writer.execute(f"DROP TABLE shop.{shape.table}")
    shared_estate.warehouse.query(f"DROP TABLE shop.{shape.table}")


@pytest.mark.parametrize("shaped", SHAPES, indirect=True, ids=[shape.table for shape in SHAPES])
def test_every_key_shape_compares_equal_and_names_planted_drift_by_its_full_key(shaped):
    estate, shape = shaped
    assert describe_table(*sides(estate), shape.table).key == shape.key
    equal = reconcile(*sides(estate), [shape.table], SETTINGS).tables[0]
    assert equal.status == "ok" and equal.source == equal.target == len(shape.rows), equal
    assert equal.cut.key == shape.key  # compared as described, not placed at a hash on the way

    estate.warehouse.query(shape.drift)
    result = reconcile(*sides(estate), [shape.table], SETTINGS).tables[0]

    expected = shape.expected
    assert result.cut.key == shape.key
    assert list(result.missing) == expected.get("missing", [])
    assert list(result.extra) == expected.get("extra", [])
    assert list(result.duplicate) == expected.get("duplicate", [])
    assert {c.key: c.columns for c in result.changed} == expected.get("changed", {})
    assert result.drift == sum(len(expected.get(kind, ())) for kind in ("missing", "extra", "duplicate", "changed"))
    report = result.to_dict()
    assert report["status"] == "drift" and report["missing"] == [list(k) if isinstance(k, tuple) else k
                                                                 for k in expected.get("missing", [])]


def _table(estate, name: str, source_ddl: str, target_ddl: str, rows: list[tuple]) -> None:
    placeholders = ", ".join(["%s"] * len(rows[0]))
    estate.source.writer.execute(f"DROP TABLE IF EXISTS shop.{name}",
                                 f"CREATE TABLE shop.{name} ({source_ddl}) DEFAULT CHARSET=utf8mb4")
    estate.warehouse.query(f"DROP TABLE IF EXISTS shop.{name}; CREATE TABLE shop.{name} ({target_ddl})")
    with estate.source.writer.admin(charset="utf8mb4") as conn, conn.cursor() as cur:
        cur.executemany(f"INSERT INTO shop.{name} VALUES ({placeholders})", rows)  # noqa: S608
    for row in rows:
        estate.warehouse.query(f"INSERT INTO shop.{name} VALUES ({placeholders})", row)  # noqa: S608


def test_a_key_is_matched_on_its_text_whatever_type_the_target_gave_its_columns(shared_estate):
    """DMS maps BIGINT UNSIGNED to NUMERIC(20,0): one changed column is one changed row, not missing + extra."""
    _table(shared_estate, "accounts_u",
           "account BIGINT UNSIGNED, name VARCHAR(20), qty INT, PRIMARY KEY (account, name)",
           "account NUMERIC(20,0), name VARCHAR(20), qty INTEGER", [(n, f"n{n}", n) for n in range(1, 9)])
    settings = Settings(mode="checksum", settle_s=0, max_segments=1)  # every row in one leaf
    try:
        assert reconcile(*sides(shared_estate), ["accounts_u"], settings).tables[0].status == "ok"
        shared_estate.warehouse.query("UPDATE shop.accounts_u SET qty = 99 WHERE account = 3")
        result = reconcile(*sides(shared_estate), ["accounts_u"], settings).tables[0]
    finally:
        shared_estate.source.writer.execute("DROP TABLE shop.accounts_u")
        shared_estate.warehouse.query("DROP TABLE shop.accounts_u")

    assert (result.missing, result.extra, [(c.key, c.columns) for c in result.changed]) == (
        (), (), [((3, "n3"), ("qty",))])


def test_text_keys_that_all_start_alike_are_compared_at_their_hash_not_piled_at_one_text_place(shared_estate):
    """'user_…' keys would all sit at the top text place (one segment, one fingerprint of the whole table): the
    first key of each sixteenth of the places is looked up first, and most are missing, so the table is hashed."""
    _table(shared_estate, "users_t", "name VARCHAR(40) PRIMARY KEY, n INT", "name VARCHAR(40), n INTEGER",
           [(f"user_{n}", n) for n in range(8)])
    shared_estate.warehouse.query("CREATE INDEX ON shop.users_t (name)")
    try:
        assert describe_table(*sides(shared_estate), "users_t").key == "place(name)"
        shared_estate.warehouse.query("DELETE FROM shop.users_t WHERE n = 3")
        result = reconcile(*sides(shared_estate), ["users_t"], SETTINGS).tables[0]
    finally:
        shared_estate.source.writer.execute("DROP TABLE shop.users_t")
        shared_estate.warehouse.query("DROP TABLE shop.users_t")

    assert (result.cut.key, result.missing, result.extra, result.status) == ("hash(name)", ("user_3",), (), "drift")


def test_every_lost_copy_of_a_row_counts_and_a_nullable_key_is_refused(shared_estate):
    """Without a key, 3 copies against 1 is drift 2 (a tolerance of 1 does not pass it); a UNIQUE column allows
    several NULLs, so naming it as the key is refused rather than comparing the NULL rows' first copy only."""
    _table(shared_estate, "clicks", "kind VARCHAR(10), amount DECIMAL(8,2), email VARCHAR(60) NULL UNIQUE",
           "kind VARCHAR(10), amount NUMERIC(8,2), email VARCHAR(60)", [("click", 1, None)] * 3)
    try:
        shared_estate.warehouse.query("DELETE FROM shop.clicks WHERE ctid IN (SELECT ctid FROM shop.clicks LIMIT 2)")
        report = reconcile(*sides(shared_estate), ["clicks"], Settings(mode="checksum", settle_s=0, tolerance=1))
        with pytest.raises(TableMismatch, match="key column email allows NULL"):
            reconcile(*sides(shared_estate), ["clicks"], SETTINGS, keys={"clicks": "email"})
    finally:
        shared_estate.source.writer.execute("DROP TABLE shop.clicks")
        shared_estate.warehouse.query("DROP TABLE shop.clicks")

    assert report.tables[0].missing == (("click", "1.00", None),) * 2
    assert report.tables[0].drift == 2 and not report.passed


@pytest.mark.parametrize("shaped", SHAPES[:1], indirect=True, ids=[SHAPES[0].table])
def test_an_order_with_more_lines_than_a_read_may_hold_is_compared_at_the_hash_of_its_key(shaped):
    estate, shape = shaped
    estate.warehouse.query(shape.drift)

    result = reconcile(*sides(estate), [shape.table], replace(SETTINGS, leaf_budget_rows=2)).tables[0]

    assert result.cut.key == "hash(order_id, line_no)"
    assert (list(result.missing), list(result.extra), list(result.duplicate)) == ([(2, 3)], [(3, 1)], [(1, 1)])
    assert {c.key: c.columns for c in result.changed} == {(10, 1): ("qty",)}


NULLED = next(shape for shape in SHAPES if shape.table == "nulled")


@pytest.mark.parametrize("shaped", [NULLED], indirect=True, ids=[NULLED.table])
@pytest.mark.parametrize("mode", ["count", "checksum"])
def test_a_warehouse_row_whose_leading_key_is_null_is_drift_in_either_mode(shaped, mode):
    estate, shape = shaped
    estate.warehouse.query(shape.drift)

    result = reconcile(*sides(estate), [shape.table], replace(SETTINGS, mode=mode)).tables[0]

    assert (result.status, result.extra, result.source, result.target) == ("drift", (None,), 4, 5)


@given(st.lists(st.one_of(st.text(st.sampled_from("0123456789abcdefABCDEFgz-:`{ é😀"), max_size=12),
                          st.text(st.characters(blacklist_characters="\x00"), max_size=12)), min_size=1, max_size=20))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_postgresql_places_every_text_as_its_bytewise_index_orders_it(shared_estate, keys):
    """The scan grouped by text place and the index's range reads agree on the estate's collation (C.UTF-8): each
    key's computed place is the one whose bounds hold it by the server's own comparison."""
    rows = shared_estate.warehouse.query(
        f"SELECT k, {text_place_sql('k')} FROM (SELECT UNNEST(CAST(%s AS TEXT[])) AS k) AS keys", (keys,))  # noqa: S608
    assert [(key, place) for key, place in rows] == [(key, text_place(key)) for key in keys]
    checks = " UNION ALL ".join(
        f"SELECT {i}, k >= '{place_bound(place)}', k < '{place_bound(min(place + 1, TEXT_PLACES - 1))}' "  # noqa: S608
        f"FROM (SELECT CAST(%s AS TEXT) AS k) AS one" for i, place in enumerate(map(text_place, keys)))
    for i, at_or_above, below in shared_estate.warehouse.query(checks, tuple(keys)):
        place = text_place(keys[i])
        assert at_or_above or place == 0, keys[i]
        assert below or place == TEXT_PLACES - 1, keys[i]
