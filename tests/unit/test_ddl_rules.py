"""ddl_rules: how the estate's DMS task treats a source DDL statement (docs/reference/dms-ddl-emulation.md)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg2 import sql

from rehearsal.ddl_rules import (
    APPLY,
    IGNORE,
    SUSPEND,
    MySqlType,
    TargetType,
    decide,
    definitions_from_columns,
    parse_column_type,
    redshift_type,
    tokenize,
    transaction_marker,
)

DEFINITIONS = definitions_from_columns([
    ("customers", "id", "bigint(20)"), ("customers", "name", "varchar(64)"), ("customers", "email", "varchar(128)"),
    ("customers", "created_at", "datetime"),
    ("orders", "id", "bigint(20)"), ("orders", "customer_id", "bigint(20)"), ("orders", "amount", "decimal(12,2)"),
    ("orders", "status", "varchar(16)"), ("orders", "note", "varchar(255)"), ("orders", "updated_at", "datetime(6)"),
    ("orders", "qty", "int(11)"),
])
DERANDOMIZED = settings(derandomize=True, deadline=None, max_examples=300)


def run(statement: str, default_schema: str = "shop", definitions=DEFINITIONS, ansi_quotes: bool = False):
    return decide(statement, default_schema=default_schema, schema="shop", tables=("customers", "orders"),
                  definitions=definitions, ansi_quotes=ansi_quotes)


def parts(composable) -> list:
    """The pieces of a composed statement, in order: SQL text as str, names as tuples."""
    if isinstance(composable, sql.Composed):
        return [piece for part in composable.seq for piece in parts(part)]
    if isinstance(composable, sql.Identifier):
        return [composable.strings]
    assert isinstance(composable, sql.SQL), composable
    return [composable.string]


def render(composable) -> str:
    """As PostgreSQL would read it (quote_ident needs a connection; this is its rule for any name)."""
    return "".join(".".join('"' + s.replace('"', '""') + '"' for s in p) if isinstance(p, tuple) else p
                   for p in parts(composable))


def rendered(decision) -> list[str]:
    return [render(s) for s in decision.statements]


def backticked(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


# -- what is applied, ignored, suspended --------------------------------------------------------------------------
@pytest.mark.parametrize(("statement", "expected"), [
    ("ALTER TABLE orders ADD COLUMN coupon VARCHAR(20)",
     ['ALTER TABLE "shop"."orders" ADD COLUMN "coupon" VARCHAR(20)']),
    ("ALTER TABLE shop.orders ADD coupon VARCHAR(20) NOT NULL DEFAULT 'x' AFTER status",
     ['ALTER TABLE "shop"."orders" ADD COLUMN "coupon" VARCHAR(20)']),
    ("alter table `orders` add column `qty2` int(11) unsigned zerofill first",
     ['ALTER TABLE "shop"."orders" ADD COLUMN "qty2" INTEGER']),
    ("ALTER TABLE orders ADD COLUMN big BIGINT UNSIGNED, ADD COLUMN price DECIMAL(9,3), ADD COLUMN at DATETIME(3)",
     ['ALTER TABLE "shop"."orders" ADD COLUMN "big" NUMERIC(20, 0)',
      'ALTER TABLE "shop"."orders" ADD COLUMN "price" NUMERIC(9, 3)',
      'ALTER TABLE "shop"."orders" ADD COLUMN "at" TIMESTAMP(3)']),
    ("ALTER TABLE orders ADD (flag BOOL, kind ENUM('a','bbb'), INDEX (flag))",
     ['ALTER TABLE "shop"."orders" ADD COLUMN "flag" SMALLINT',
      'ALTER TABLE "shop"."orders" ADD COLUMN "kind" VARCHAR(3)']),
    ("ALTER TABLE orders DROP COLUMN note", ['ALTER TABLE "shop"."orders" DROP COLUMN "note"']),
    ("ALTER TABLE orders DROP NOTE", ['ALTER TABLE "shop"."orders" DROP COLUMN "note"']),
    ("ALTER TABLE orders RENAME COLUMN note TO remark",
     ['ALTER TABLE "shop"."orders" RENAME COLUMN "note" TO "remark"']),
    ("ALTER TABLE orders CHANGE note remark VARCHAR(255) NULL",
     ['ALTER TABLE "shop"."orders" RENAME COLUMN "note" TO "remark"']),
    ("ALTER TABLE orders MODIFY status VARCHAR(32) NOT NULL",
     ['ALTER TABLE "shop"."orders" ALTER COLUMN "status" TYPE VARCHAR(32)']),
    ("ALTER TABLE orders CHANGE COLUMN status state VARCHAR(20)",
     ['ALTER TABLE "shop"."orders" RENAME COLUMN "status" TO "state"',
      'ALTER TABLE "shop"."orders" ALTER COLUMN "state" TYPE VARCHAR(20)']),
    ("ALTER TABLE orders MODIFY status TEXT",
     ['ALTER TABLE "shop"."orders" ALTER COLUMN "status" TYPE VARCHAR(65535)']),
    ("ALTER TABLE orders ADD COLUMN c INT, ALGORITHM=INPLACE, LOCK=NONE, ADD INDEX c_idx (c)",
     ['ALTER TABLE "shop"."orders" ADD COLUMN "c" INTEGER']),
    ("/* by hand */ ALTER TABLE orders -- why\n ADD COLUMN c INT # later\n;",
     ['ALTER TABLE "shop"."orders" ADD COLUMN "c" INTEGER']),
    ("TRUNCATE TABLE orders", ['TRUNCATE TABLE "shop"."orders"']),
    ("truncate shop.customers", ['TRUNCATE TABLE "shop"."customers"']),
])
def test_captured_ddl_is_applied(statement, expected):
    decision = run(statement)
    assert (decision.action, decision.captured) == (APPLY, True), decision.reason
    assert rendered(decision) == expected


def test_a_truncate_is_applied_but_not_counted_as_an_applied_ddl():
    truncate, alter = run("TRUNCATE orders"), run("ALTER TABLE orders DROP COLUMN note")
    assert (truncate.counted_as_applied, alter.counted_as_applied) == (False, True)


# Not captured from a MySQL source (or not understood): ignored, with the rule in the reason.
NOT_CAPTURED = [
    ("RENAME TABLE orders TO orders_old", "RENAME TABLE"),
    ("RENAME TABLE orders TO _orders_old, _orders_new TO orders", "RENAME TABLE"),
    ("ALTER TABLE orders RENAME TO orders_old", "RENAME TABLE"),
    ("DROP TABLE `shop`.`orders` /* generated by server */", "DROP TABLE"),
    ("DROP TABLE IF EXISTS customers, orders", "DROP TABLE"),
    ("ALTER TABLE orders MODIFY amount DECIMAL(12,2) NULL DEFAULT 0", "same data type"),
    ("ALTER TABLE orders MODIFY note VARCHAR(255) CHARACTER SET latin1 COLLATE latin1_bin", "same data type"),
    ("ALTER TABLE orders MODIFY COLUMN status VARCHAR(16) NOT NULL FIRST", "same data type"),
    ("ALTER TABLE orders ALTER COLUMN status SET DEFAULT 'new'", "default"),
    ("ALTER TABLE orders ALTER status DROP DEFAULT", "default"),
    ("ALTER TABLE orders CONVERT TO CHARACTER SET utf8mb4", "table option"),
    ("ALTER TABLE orders DEFAULT CHARSET=latin1", "table option"),
    ("ALTER TABLE orders ENGINE=InnoDB", "table option"),
    ("ALTER TABLE orders ADD INDEX (status), DROP KEY k", "index"),
    ("ALTER TABLE orders ADD COLUMN IF NOT EXISTS note VARCHAR(9)", "exists already"),
    ("ALTER TABLE orders DROP COLUMN IF EXISTS nothing", "no such column"),
    ("ALTER TABLE orders FROBNICATE everything", "not understood"),
    ("ALTER TABLE orders ADD COLUMN c NOSUCHTYPE", "not understood"),
    ("CREATE TABLE orders (id INT)", "CREATE TABLE of a mapped table"),
]


@pytest.mark.parametrize("statement", [
    "CREATE TABLE _orders_new LIKE orders",
    "ALTER TABLE _orders_new ADD COLUMN channel VARCHAR(10)",
    "ALTER TABLE other.orders ADD COLUMN c INT",
    "TRUNCATE TABLE Orders",  # table names are case-sensitive on the estate's (Linux) source
    "DROP TABLE `shop`.`c2` /* generated by server */",
    "GRANT SELECT ON shop.* TO 'app'@'127.0.0.1'",
    "CREATE DEFINER='root'@'localhost' PROCEDURE mysql.p() BEGIN SELECT 1; END",
    "FLUSH BINARY LOGS",
    "",
    "ALTER TABLE `unterminated",
])
def test_statements_about_no_mapped_table_are_ignored(statement):
    decision = run(statement)
    assert (decision.action, decision.table, decision.statements) == (IGNORE, None, ())


def test_an_unqualified_name_is_read_in_the_statements_current_database():
    assert run("ALTER TABLE orders ADD COLUMN c INT", default_schema="").action == IGNORE
    assert run("ALTER TABLE orders ADD COLUMN c INT", default_schema="other").action == IGNORE
    assert run("ALTER TABLE shop.orders ADD COLUMN c INT", default_schema="other").action == APPLY


# Captured, but Redshift cannot apply them: the table is suspended and nothing is applied.
UNAPPLIABLE = [
    ("ALTER TABLE orders MODIFY qty BIGINT", "INT -> BIGINT"),
    ("ALTER TABLE orders MODIFY amount DECIMAL(14,2)", "DECIMAL(12,2) -> DECIMAL(14,2)"),
    ("ALTER TABLE orders MODIFY amount DECIMAL(12,3) NOT NULL", "DECIMAL(12,2) -> DECIMAL(12,3)"),
    ("ALTER TABLE orders MODIFY status VARCHAR(8)", "VARCHAR(16) -> VARCHAR(8)"),
    ("ALTER TABLE orders MODIFY updated_at DATETIME(3)", "DATETIME(6) -> DATETIME(3)"),
    ("ALTER TABLE orders MODIFY qty INT UNSIGNED", "INT -> INT UNSIGNED"),
    ("ALTER TABLE orders MODIFY status MEDIUMTEXT", "VARCHAR(16) -> MEDIUMTEXT"),
    ("ALTER TABLE orders CHANGE qty quantity BIGINT", "INT -> BIGINT"),
    ("ALTER TABLE orders ADD COLUMN doc JSON", "no settled Redshift type"),
    ("ALTER TABLE orders MODIFY ghost INT", "not in the task's table definition"),
    ("ALTER TABLE orders ADD COLUMN c INT, MODIFY qty BIGINT", "INT -> BIGINT"),
]


@pytest.mark.parametrize(("statement", "action", "why"), [(s, IGNORE, why) for s, why in NOT_CAPTURED]
                         + [(s, SUSPEND, why) for s, why in UNAPPLIABLE])
def test_ddl_on_a_mapped_table_that_is_not_applied_says_why(statement, action, why):
    decision = run(statement)
    assert (decision.action, decision.captured, decision.statements) == (action, action == SUSPEND, ())
    assert decision.table in ("orders", "customers") and why in decision.reason


def test_the_definition_follows_the_applied_ddl():
    decision = run("ALTER TABLE orders ADD COLUMN coupon VARCHAR(20) FIRST, DROP COLUMN note, "
                   "CHANGE status state VARCHAR(30), RENAME COLUMN qty TO quantity")
    assert list(decision.definition) == ["id", "customer_id", "amount", "state", "updated_at", "quantity", "coupon"]
    assert decision.definition["state"] == MySqlType("VARCHAR", (30,))
    assert list(DEFINITIONS["orders"])[3] == "status"  # the caller's definitions are left alone


def test_column_names_are_matched_case_insensitively_as_mysql_does():
    assert rendered(run("ALTER TABLE orders DROP COLUMN `Note`")) == ['ALTER TABLE "shop"."orders" DROP COLUMN "note"']
    assert rendered(run("ALTER TABLE orders MODIFY STATUS VARCHAR(40)")) == [
        'ALTER TABLE "shop"."orders" ALTER COLUMN "status" TYPE VARCHAR(40)']


def test_ansi_quotes_make_double_quotes_name_a_column():
    assert rendered(run('ALTER TABLE "orders" ADD COLUMN "a""b" INT', ansi_quotes=True)) == [
        'ALTER TABLE "shop"."orders" ADD COLUMN "a""b" INTEGER']
    assert run('ALTER TABLE "orders" ADD COLUMN c INT').action == IGNORE  # a string is not a table name


def test_executable_comments_are_read_as_the_server_runs_them():
    assert run("/*!50100 ALTER TABLE orders ADD COLUMN c INT */").action == APPLY
    assert run("/*M!100100 TRUNCATE TABLE orders */").action == APPLY


@pytest.mark.parametrize(("statement", "marker"), [
    ("BEGIN", "inside"), ("START TRANSACTION", "inside"), ("SAVEPOINT s1", "inside"),
    ("ROLLBACK TO SAVEPOINT s1", "inside"), ("RELEASE SAVEPOINT s1", "inside"), ("XA START 'x'", "inside"),
    ("COMMIT", "end"), ("ROLLBACK", "end"), ("COMMIT;", "end"),
    ("ALTER TABLE orders ADD COLUMN c INT", None), ("TRUNCATE orders", None), ("GRANT ALL ON *.* TO x", None),
])
def test_transaction_markers(statement, marker):
    assert transaction_marker(statement) == marker


# -- types ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("column_type", "target"), [
    ("tinyint(1)", "SMALLINT"), ("tinyint(3) unsigned", "SMALLINT"), ("smallint(5) unsigned", "SMALLINT"),
    ("year(4)", "SMALLINT"), ("mediumint(8)", "INTEGER"), ("int(10) unsigned", "INTEGER"), ("bigint(20)", "BIGINT"),
    ("bigint(20) unsigned", "NUMERIC(20, 0)"), ("decimal(12,2)", "NUMERIC(12, 2)"), ("decimal(38,0)", "NUMERIC(38, 0)"),
    ("double", "DOUBLE PRECISION"), ("float", "DOUBLE PRECISION"), ("date", "DATE"), ("datetime", "TIMESTAMP(0)"),
    ("datetime(6)", "TIMESTAMP(6)"), ("timestamp(3)", "TIMESTAMP(3)"), ("char(3)", "VARCHAR(3)"),
    ("varchar(255)", "VARCHAR(255)"), ("tinytext", "VARCHAR(255)"), ("text", "VARCHAR(65535)"),
    ("enum('new','paid')", "VARCHAR(4)"), ("set('a','bc')", "VARCHAR(4)"),
    ("decimal(39,2)", None), ("time", None), ("bit(1)", None), ("json", None), ("mediumtext", None), ("blob", None),
    ("varbinary(16)", None), ("point", None),
])
def test_redshift_types_follow_the_type_mapping_page(column_type, target):
    parsed = parse_column_type(column_type)
    assert parsed is not None
    assert (str(redshift_type(parsed)) if redshift_type(parsed) else None) == target


@pytest.mark.parametrize(("written", "same_as"), [
    ("INTEGER", "int(11)"), ("DEC", "decimal(10,0)"), ("NUMERIC(7)", "decimal(7,0)"), ("FIXED(5,1)", "decimal(5,1)"),
    ("REAL", "double"), ("DOUBLE PRECISION", "double"), ("FLOAT(30)", "double"), ("FLOAT(10)", "float"),
    ("BOOLEAN", "tinyint(1)"), ("SERIAL", "bigint(20) unsigned"), ("CHARACTER VARYING(9)", "varchar(9)"),
    ("NATIONAL CHAR(4)", "char(4)"), ("CHAR", "char(1)"), ("DATETIME(0)", "datetime"), ("TEXT(70000)", "mediumtext"),
    ("INT ZEROFILL", "int(10) unsigned zerofill"),
])
def test_type_synonyms_are_normalised(written, same_as):
    assert parse_column_type(written) == parse_column_type(same_as) is not None


@pytest.mark.parametrize("text", ["", "varchar", "nosuch", "int(", "enum()", "decimal(1,2,3)", "int(11) junk"])
def test_unknown_column_types_are_none(text):
    assert parse_column_type(text) is None


def test_target_types_refuse_anything_but_known_names_and_integers():
    for bad in (("VARCHAR(1); DROP TABLE x", ()), ("VARCHAR", ("1",)), ("VARCHAR", (-1,)), ("VARCHAR", (True,))):
        with pytest.raises(ValueError, match="not a target type"):
            TargetType(*bad)


# -- properties -----------------------------------------------------------------------------------------------------
NAMES = st.text(st.one_of(st.sampled_from("`'\"\\;-#/*() .,\n"), st.characters(codec="utf-8", exclude_characters="\0")),
                min_size=1, max_size=24)
SAFE_SQL = re.compile(r"[A-Z0-9 (),]*")


def mixed_case(draw, words: str) -> str:
    return "".join(c.upper() if draw(st.booleans()) else c.lower() for c in words)


@DERANDOMIZED
@given(name=NAMES, length=st.integers(1, 65535), placement=st.sampled_from(["", " FIRST", " AFTER `status`"]))
def test_names_are_never_pasted_into_target_sql(name, length, placement):
    decision = run(f"ALTER TABLE `orders` ADD COLUMN {backticked(name)} VARCHAR({length}){placement}")
    assert decision.action == APPLY
    (statement,) = decision.statements
    assert [p for p in parts(statement) if isinstance(p, tuple)] == [("shop", "orders"), (name,)]
    assert all(SAFE_SQL.fullmatch(p) for p in parts(statement) if isinstance(p, str))
    assert decision.definition[name] == MySqlType("VARCHAR", (length,))


@DERANDOMIZED
@given(old=NAMES, new=NAMES)
def test_renamed_and_dropped_columns_are_names_too(old, new):
    definitions = {"orders": {old: MySqlType("INT"), "id": MySqlType("BIGINT")}}
    renamed = run(f"ALTER TABLE orders RENAME COLUMN {backticked(old)} TO {backticked(new)}", definitions=definitions)
    dropped = run(f"ALTER TABLE orders DROP COLUMN {backticked(old)}", definitions=definitions)
    for decision in (renamed, dropped):
        assert all(SAFE_SQL.fullmatch(p) for s in decision.statements for p in parts(s) if isinstance(p, str))
    assert [p for s in dropped.statements for p in parts(s) if isinstance(p, tuple)] == [("shop", "orders"), (old,)]
    if old != new:
        assert [p for s in renamed.statements for p in parts(s) if isinstance(p, tuple)] == [
            ("shop", "orders"), (old,), (new,)]


@DERANDOMIZED
@given(name=NAMES)
def test_backticked_names_read_back_exactly(name):
    tokens = tokenize(f"{backticked(name)}.{backticked(name)}")
    assert [(t.kind, t.text) for t in tokens] == [("ident", name), ("punct", "."), ("ident", name)]


@DERANDOMIZED
@given(data=st.data(), statement=st.sampled_from([
    "alter table shop.orders add column c int after status",
    "alter online table orders modify status varchar(40) not null",
    "alter table orders change column note remark varchar(255) null default null first",
    "alter table orders drop column note, algorithm=inplace",
    "alter table orders rename column note to remark",
    "alter table orders modify amount decimal(14,2)",
    "truncate table orders",
    "rename table orders to orders_old",
]))
def test_keywords_are_case_insensitive(data, statement):
    names = {"orders", "status", "note", "remark", "amount", "c", "shop.orders", "orders_old"}
    words = [w if w.rstrip(",") in names else mixed_case(data.draw, w) for w in statement.split(" ")]
    assert _outcome(run(" ".join(words))) == _outcome(run(statement))


def _outcome(decision):
    return decision.action, decision.table, decision.captured, rendered(decision)


@DERANDOMIZED
@given(column_type=st.sampled_from(["INT", "VARCHAR(12)", "DECIMAL(10,2)", "DATETIME(6)", "BIGINT UNSIGNED",
                                    "ENUM('a','b')", "TEXT"]),
       attributes=st.sampled_from(["", " NOT NULL", " NULL DEFAULT NULL", " COMMENT 'first'", " DEFAULT 'after'"]),
       placement=st.sampled_from([" FIRST", " AFTER id", " AFTER `first`", " after amount"]))
def test_first_and_after_are_ignored(column_type, attributes, placement):
    placed = run(f"ALTER TABLE orders ADD COLUMN c {column_type}{attributes}{placement}")
    appended = run(f"ALTER TABLE orders ADD COLUMN c {column_type}{attributes}")
    assert _outcome(placed) == _outcome(appended)
    assert list(placed.definition)[-1] == "c"


@DERANDOMIZED
@given(before=st.integers(1, 65535), after=st.integers(1, 65535), verb=st.sampled_from(["MODIFY", "CHANGE note"]))
def test_only_varchar_widening_is_applied(before, after, verb):
    definitions = {"orders": {"note": MySqlType("VARCHAR", (before,))}}
    decision = run(f"ALTER TABLE orders {verb} note VARCHAR({after}) NULL", definitions=definitions)
    expected = IGNORE if after == before else APPLY if after > before else SUSPEND
    assert decision.action == expected
    if expected == APPLY:
        assert rendered(decision) == [f'ALTER TABLE "shop"."orders" ALTER COLUMN "note" TYPE VARCHAR({after})']


@DERANDOMIZED
@given(before=st.sampled_from(["tinyint", "smallint", "int", "bigint", "decimal(12,2)", "double", "date",
                               "datetime", "varchar(20)", "char(5)"]),
       after=st.sampled_from(["smallint", "int", "bigint", "bigint unsigned", "decimal(14,2)", "float", "datetime(6)",
                              "timestamp", "time", "json", "blob"]))
def test_other_type_changes_suspend(before, after):
    definitions = {"orders": {"c": parse_column_type(before)}}
    decision = run(f"ALTER TABLE orders MODIFY c {after}", definitions=definitions)
    assert decision.action == (IGNORE if parse_column_type(before) == parse_column_type(after) else SUSPEND)
    assert decision.statements == ()


@DERANDOMIZED
@given(table=NAMES.filter(lambda t: t not in ("orders", "customers")),
       statement=st.sampled_from(["ALTER TABLE {} ADD COLUMN c INT", "TRUNCATE TABLE {}", "ALTER TABLE {} DROP c",
                                  "ALTER TABLE shop.{} MODIFY c BIGINT", "RENAME TABLE {} TO x"]))
def test_ddl_on_unmapped_tables_is_always_ignored(table, statement):
    decision = run(statement.format(backticked(table)))
    assert (decision.action, decision.table, decision.statements) == (IGNORE, None, ())


@DERANDOMIZED
@given(text=st.text(max_size=200) | st.builds("ALTER TABLE orders {}".format, st.text(max_size=80)))
def test_any_statement_gets_a_decision_without_raising(text):
    decision = run(text)
    assert decision.action in (APPLY, IGNORE, SUSPEND)
    assert all(SAFE_SQL.fullmatch(p) for s in decision.statements for p in parts(s) if isinstance(p, str))
