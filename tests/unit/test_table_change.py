"""table_change: what DMS carries of each kind of change, schema differences, the warehouse table DMS would create,
and the task's selection rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdc_runbooks.identifiers import InvalidIdentifier
from cdc_runbooks.reconcile.compared_table import compatible
from cdc_runbooks.reconcile.row_checksum import Column, Dialect, Kind
from cdc_runbooks.table_change import (
    ChangeKind,
    SourceColumn,
    TableNotReplicated,
    UnmappedColumn,
    create_table_sql,
    plan_change,
    require_replicated,
    schema_differences,
    warehouse_column,
    warehouse_type,
)


@pytest.mark.parametrize(("kind", "reload"), [
    ("add_column", False), ("drop_column", False), ("rename_column", False), ("widen_varchar", False),
    ("change_type", True), ("rebuild", True), ("truncate", False), ("backfill", False)])
def test_what_dms_carries_with_the_default_settings(kind, reload):
    assert plan_change(kind, None).reload is reload


@pytest.mark.parametrize(("kind", "setting"), [("add_column", "HandleSourceTableAltered"),
                                               ("truncate", "HandleSourceTableTruncated")])
def test_a_change_the_task_does_not_apply_is_reloaded(kind, setting):
    plan = plan_change(kind, {setting: False})
    assert plan.reload and setting in plan.why
    assert not plan_change(kind, {setting: True}).reload


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="'drop_table' is not a valid ChangeKind"):
        plan_change("drop_table", None)


def test_schema_differences_name_columns_missing_extra_retyped_and_newly_not_null():
    source = [Column("id", Kind.INTEGER, False), Column("note", Kind.TEXT), Column("amount", Kind.DECIMAL),
              Column("seen", Kind.DATETIME)]
    target = [Column("ID", Kind.INTEGER, False), Column("note", Kind.TEXT, False), Column("amount", Kind.TEXT),
              Column("legacy", Kind.TEXT)]
    assert schema_differences(source, target, compatible) == [
        "seen: not in the warehouse", "legacy: only in the warehouse",
        "note: nullable on the source, NOT NULL in the warehouse",
        "amount: decimal on the source, text in the warehouse"]
    assert schema_differences(source, source, compatible) == []


@pytest.mark.parametrize(("column_type", "expected", "kind"), [
    ("bigint(20)", "BIGINT", Kind.INTEGER), ("bigint unsigned", "NUMERIC(20,0)", Kind.DECIMAL),
    ("int(11)", "INTEGER", Kind.INTEGER), ("tinyint(1)", "SMALLINT", Kind.INTEGER),
    ("decimal(12,2)", "NUMERIC(12,2)", Kind.DECIMAL), ("decimal(38,0)", "NUMERIC(38,0)", Kind.DECIMAL),
    ("varchar(64)", "VARCHAR(64)", Kind.TEXT), ("datetime(6)", "TIMESTAMP", Kind.DATETIME),
    ("date", "DATE", Kind.DATE), ("text", "VARCHAR(65535)", Kind.TEXT), ("bit(1)", "BOOLEAN", Kind.BOOLEAN),
    ("double", "DOUBLE PRECISION", Kind.FLOAT), ("time(6)", "VARCHAR(17)", Kind.TEXT),
    ("smallint(5) unsigned", "INTEGER", Kind.INTEGER), ("int(10) unsigned", "BIGINT", Kind.INTEGER),
    ("tinyint unsigned", "SMALLINT", Kind.INTEGER), ("enum('new','paid','shipped')", "VARCHAR(7)", Kind.TEXT),
    ("enum('it''s','a,b)','')", "VARCHAR(4)", Kind.TEXT), ("enum('','x')", "VARCHAR(1)", Kind.TEXT),
    ("enum('é','ab')", "VARCHAR(2)", Kind.TEXT), ("ENUM('😀')", "VARCHAR(4)", Kind.TEXT)])
def test_warehouse_types_as_dms_creates_them(column_type, expected, kind):
    assert warehouse_type(column_type) == expected
    assert warehouse_column(SourceColumn("c", column_type, True)).kind is kind


@pytest.mark.parametrize("column_type", ["decimal(65,2)", "varbinary(16)", "set('a','b')", "enum()", "enum('a)",
                                         "enum('a','b') x", "enum('a');drop table t", "geometry",
                                         "varchar(70000)", "bit(8)", "int; DROP TABLE x", ""])
def test_a_type_without_a_warehouse_type_is_refused(column_type):
    with pytest.raises(UnmappedColumn):
        warehouse_type(column_type)


def test_the_table_is_re_created_with_quoted_names_and_nullability():
    columns = [SourceColumn("id", "bigint(20)", False), SourceColumn("note", "varchar(255)", True)]
    assert create_table_sql(Dialect.POSTGRES, "shop", "orders", columns) == [
        'DROP TABLE IF EXISTS "shop"."orders"',
        'CREATE TABLE "shop"."orders" ("id" BIGINT NOT NULL, "note" VARCHAR(255))']


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=20))
def test_names_that_are_not_identifiers_never_reach_the_ddl(name):
    try:
        statements = create_table_sql(Dialect.REDSHIFT, "shop", "orders", [SourceColumn(name, "int", True)])
    except InvalidIdentifier:
        return
    assert f'"{name}" INTEGER' in statements[1] and '"' not in name and ";" not in name


MAPPINGS = {"rules": [
    {"rule-type": "selection", "rule-id": "1", "rule-action": "include",
     "object-locator": {"schema-name": "shop", "table-name": "%"}},
    {"rule-type": "selection", "rule-id": "2", "rule-action": "exclude",
     "object-locator": {"schema-name": "shop", "table-name": "audit[_]%"}}]}


def test_tables_the_selection_rules_include_pass_and_excluded_ones_are_refused():
    require_replicated(MAPPINGS, "shop", ["orders", "Customers"])
    with pytest.raises(TableNotReplicated, match="audit_log not selected"):
        require_replicated(MAPPINGS, "shop", ["orders", "audit_log"])
    with pytest.raises(TableNotReplicated, match="orders not selected"):
        require_replicated(MAPPINGS, "other", ["orders"])
    with pytest.raises(TableNotReplicated):
        require_replicated({}, "shop", ["orders"])


def test_an_underscore_in_a_rule_matches_one_character_and_dots_are_literal():
    rules = {"rules": [{"rule-type": "selection", "rule-action": "include",
                        "object-locator": {"schema-name": "shop", "table-name": "order_"}}]}
    require_replicated(rules, "shop", ["orders"])
    with pytest.raises(TableNotReplicated):
        require_replicated(rules, "shop", ["order"])
    with pytest.raises(TableNotReplicated):
        require_replicated({"rules": [{**rules["rules"][0], "object-locator": {"schema-name": "s.op",
                                                                                "table-name": "%"}}]},
                           "shop", ["orders"])


def test_every_kind_has_a_rule():
    assert {plan_change(kind.value, None).kind for kind in ChangeKind} == set(ChangeKind)


def test_bracket_wildcards_and_explicit_rules_select_as_dms_does():
    require_replicated({"rules": [{"rule-type": "selection", "rule-action": "explicit",
                                   "object-locator": {"schema-name": "shop", "table-name": "orders"}}]}, "shop",
                       ["orders"])
    ranged = {"rules": [{"rule-type": "selection", "rule-action": "include",
                         "object-locator": {"schema-name": "shop", "table-name": "[a-c]%"}}]}
    require_replicated(ranged, "shop", ["customers"])
    with pytest.raises(TableNotReplicated):
        require_replicated(ranged, "shop", ["orders"])
    require_replicated(MAPPINGS, "shop", ["auditlog"])  # [_] is a literal underscore: not excluded


@pytest.mark.parametrize("rule", [
    {"rule-type": "transformation", "rule-action": "rename", "rule-target": "table",
     "object-locator": {"schema-name": "shop", "table-name": "orders"}, "value": "orders_v2"},
    {"rule-type": "transformation", "rule-action": "remove-column", "rule-target": "column",
     "object-locator": {"schema-name": "shop", "table-name": "%", "column-name": "email"}},
    {"rule-type": "selection", "rule-action": "include", "object-locator": {"schema-name": "shop", "table-name":
     "orders"}, "filters": [{"filter-type": "source", "column-name": "region", "filter-conditions": []}]}])
def test_tables_the_mappings_filter_or_transform_are_refused(rule):
    with pytest.raises(TableNotReplicated, match="filter rows or transform the table"):
        require_replicated({"rules": [*MAPPINGS["rules"], rule]}, "shop", ["orders"])
