"""plan_repair: which repair each drifted table gets, the statements it shows and runs, and its XCom round trip."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdc_runbooks.identifiers import InvalidIdentifier
from cdc_runbooks.reconcile.report import ChangedRow, Cut, Segment, TableResult
from cdc_runbooks.reconcile.row_checksum import Dialect, Kind
from cdc_runbooks.repair.plan import (
    RepairPlan,
    RepairRefused,
    TableDrift,
    TableRepair,
    drifted_tables,
    inexact_key,
    plan_repair,
)

COLUMNS = ("id", "customer_id", "amount")


def result(table="orders", missing=(), extra=(), changed=(), duplicate=(), unexplored=(), localised=True, target=10):
    return TableResult(table, "checksum", 10, target, Cut("id", 1, 10), 0.1, 1, missing=tuple(missing),
                       extra=tuple(extra), changed=tuple(ChangedRow(k, ("amount",)) for k in changed),
                       duplicate=tuple(duplicate), unexplored=tuple(unexplored), localised=localised)


def drift(found, key_columns=("id",), integer_key=True):
    columns = (*key_columns, "amount") if key_columns != ("id",) else COLUMNS
    return TableDrift(result=found, key_columns=key_columns, integer_key=integer_key, columns=columns,
                      target_columns=columns)


def test_a_few_integer_keys_are_repaired_row_by_row_and_the_statements_name_them():
    plan = plan_repair("shop", "shop", [drift(result(missing=[3], extra=[9], changed=[5], duplicate=[5]))], 10)
    (repair,) = plan.tables
    assert (repair.method, repair.keys) == ("rows", (3, 5, 9))
    assert repair.source_select("shop") == ("SELECT `id`, `customer_id`, `amount` FROM `shop`.`orders` "
                                            "WHERE `id` IN (3, 5, 9)")
    assert repair.target_delete("shop", Dialect.POSTGRES) == 'DELETE FROM "shop"."orders" WHERE "id" IN (3, 5, 9)'
    assert repair.target_insert("shop", Dialect.POSTGRES) == (
        'INSERT INTO "shop"."orders" ("id", "customer_id", "amount") VALUES (%s, %s, %s)')
    page = plan.to_markdown(Dialect.POSTGRES)
    assert page.startswith("**Repair 1 table(s) of shop?**")
    assert "Keys of `orders` (id): 3, 5, 9" in page and 'WHERE "id" IN (3, 5, 9)' in page


def test_composite_integer_keys_are_repaired_row_by_row():
    found = result(missing=[(1, 2)], changed=[(4, 1)])
    (repair,) = plan_repair("shop", "shop", [drift(found, ("order_id", "line"))], 10).tables
    assert repair.method == "rows"
    assert repair.target_delete("shop", Dialect.POSTGRES).endswith('WHERE ("order_id", "line") IN ((1, 2), (4, 1))')


@pytest.mark.parametrize(("found", "integer_key", "why"), [
    (result(missing=range(1, 12)), True, "11 differing keys, more than 10"),
    (result(missing=[1], unexplored=[Segment(100, 199, 5, 3)]), True, "1 differing key range(s) were not localised"),
    (result(localised=False, target=12), True, "the differing rows were not localised to keys"),
    (result(missing=["a"]), False, "is not made of integers"),
])
def test_anything_else_with_a_key_is_re_copied_whole(found, integer_key, why):
    (repair,) = plan_repair("shop", "shop", [drift(found, integer_key=integer_key)], 10).tables
    assert repair.method == "table" and why in repair.why
    assert repair.source_select("shop") == "SELECT `id`, `customer_id`, `amount` FROM `shop`.`orders`"
    assert repair.target_delete("shop", Dialect.REDSHIFT) == 'DELETE FROM "shop"."orders"'


def test_a_table_without_a_key_is_refused_naming_it_and_nothing_is_planned():
    with pytest.raises(RepairRefused, match=r"events: drift 1, but the table has no primary key .* Nothing was"):
        plan_repair("shop", "shop", [drift(result(missing=[1])), drift(result("events", missing=[(1, "x")]), ())],
                    10)


def test_tables_without_drift_are_not_planned():
    assert plan_repair("shop", "shop", [drift(result())], 10).tables == ()


@pytest.mark.parametrize("key", [True, "3", 3.0, None, [1], (1, 2)])
def test_a_key_that_is_not_an_integer_never_reaches_a_statement(key):
    with pytest.raises(RepairRefused, match="is not 1 integer"):
        TableRepair("orders", "rows", ("id",), COLUMNS, COLUMNS, 1, "x", keys=(key,))


@pytest.mark.parametrize("table", ["orders; DROP TABLE x", "o`rders", 'o"rders', ""])
def test_a_table_name_that_is_not_an_identifier_is_refused(table):
    with pytest.raises(InvalidIdentifier):
        TableRepair(table, "table", ("id",), COLUMNS, COLUMNS, 1, "x")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-2**63, max_value=2**64 - 1), min_size=1, max_size=30, unique=True),
       st.booleans())
def test_the_plan_survives_its_xcom_round_trip(keys, composite):
    key_columns = ("order_id", "line") if composite else ("id",)
    found = result(missing=[(k, 1) if composite else k for k in keys])
    plan = plan_repair("shop", "shop", [drift(found, key_columns)], 100)
    back = RepairPlan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert back == plan
    assert back.tables[0].target_delete("shop", Dialect.POSTGRES) == plan.tables[0].target_delete(
        "shop", Dialect.POSTGRES)


def test_a_whole_table_re_copy_of_a_key_the_binlog_gives_in_another_form_is_refused():
    found = drift(result(missing=range(1, 12)), key_columns=("uuid",), integer_key=False)
    odd = TableDrift(**{**found.__dict__, "inexact_key": inexact_key(("uuid",), (Kind.BINARY,))})
    with pytest.raises(RepairRefused, match=r"uuid \(binary\) come from the binlog in another form"):
        plan_repair("shop", "shop", [odd], 10)
    assert inexact_key(("id", "day"), (Kind.INTEGER, Kind.DATE)) is None


def test_time_columns_are_read_as_mysqls_text_of_them():
    (repair,) = plan_repair("shop", "shop", [TableDrift(**{**drift(result(missing=[1])).__dict__,
                                                          "text_columns": ("amount",)})], 10).tables
    assert repair.source_select("shop").startswith("SELECT `id`, `customer_id`, CAST(`amount` AS CHAR) AS `amount` ")


def test_the_tables_a_reconcile_run_found_drifting_are_read_from_its_record():
    record = {"run_id": "scheduled__x", "steps": [{"task_id": "reconcile", "state": "failed", "result": {"tables": {
        "shop.orders": {"status": "drift"}, "shop.customers": {"status": "ok"}, "other.orders": {"status": "drift"},
        "events": {"status": "drift"}}}}]}
    assert drifted_tables(record, "shop") == ["orders", "events"]
    with pytest.raises(RepairRefused, match="left no report .* ended upstream_failed"):
        drifted_tables({"steps": [{"task_id": "reconcile", "state": "upstream_failed", "result": None}]}, "shop")
    with pytest.raises(InvalidIdentifier):
        drifted_tables({"steps": [{"task_id": "reconcile", "result": {"tables": {"o;x": {"status": "drift"}}}}]},
                       "shop")
