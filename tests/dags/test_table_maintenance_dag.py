"""cdc_table_maintenance on the estate, under write traffic: a change DMS carries needs no reload; a rebuild by an
online schema change tool and a type change Redshift cannot follow are reloaded as of the DMS checkpoint; every run
ends with a checksum reconcile at drift 0."""

from __future__ import annotations

import pytest
from conftest import change_when_asked

pytestmark = pytest.mark.estate
DAG_ID = "cdc_table_maintenance"


def step(record: dict, task_id: str) -> dict:
    return next(s for s in record["steps"] if s["task_id"] == task_id)


def states(record: dict) -> dict[str, str]:
    return {s["task_id"]: s["state"] for s in record["steps"]}


def run_change(estate, run_dag, change: str, *statements: str):
    traffic = estate.traffic().start()
    try:
        changer = change_when_asked(estate, DAG_ID, *statements)
        dag_run, record = run_dag(estate, DAG_ID, pipeline="shop", tables=["orders"], change=change, dry_run=False,
                                  settle_s=20)
        changer.join(10)
    finally:
        traffic.stop()
    return dag_run, record


def warehouse_columns(estate) -> dict[str, str]:
    return dict(estate.warehouse.query("SELECT column_name, data_type FROM information_schema.columns "
                                       "WHERE table_schema = 'shop' AND table_name = 'orders'"))


def test_an_added_column_is_carried_by_dms_and_nothing_is_reloaded(estate, run_dag):
    dag_run, record = run_change(estate, run_dag, "add_column",
                                 "ALTER TABLE orders ADD COLUMN coupon VARCHAR(20) NULL")

    assert (dag_run.state, record["outcome"]) == ("success", "success"), record
    compared = step(record, "compare_schemas")["result"]
    assert compared["reload"] is False and compared["tables"]["orders"]["differences"] == []
    assert states(record)["pause_dms_task"] == "skipped" and states(record)["reload_tables"] == "skipped"
    assert "coupon" in warehouse_columns(estate)
    assert step(record, "reconcile")["result"]["drift"] == 0


def test_an_online_schema_change_rebuild_is_reloaded_with_the_new_definition(estate, run_dag, fault_row):
    row = fault_row("Online schema change rebuild (RENAME swap DMS does not capture) under traffic",
                    expected="compare_schemas finds the new column missing in the warehouse and DMS's Table error; "
                             "the table is re-created and re-copied as of the checkpoint; reconcile: drift 0")
    dag_run, record = run_change(
        estate, run_dag, "rebuild",
        "CREATE TABLE _orders_new LIKE orders", "ALTER TABLE _orders_new ADD COLUMN channel VARCHAR(10) NULL",
        "INSERT INTO _orders_new (id, customer_id, amount, status, note, updated_at) "
        "SELECT id, customer_id, amount, status, note, updated_at FROM orders",
        "RENAME TABLE orders TO _orders_old, _orders_new TO orders", "DROP TABLE _orders_old")

    assert (dag_run.state, record["outcome"]) == ("success", "success"), record
    compared = step(record, "compare_schemas")["result"]
    assert compared["reload"] is True
    assert "channel: not in the warehouse" in compared["tables"]["orders"]["differences"]
    assert step(record, "reload_tables")["result"]["tables"][0]["method"] == "table"
    assert warehouse_columns(estate)["channel"] == "character varying"
    assert step(record, "reconcile")["result"]["drift"] == 0
    assert row.settled(estate, "success; orders re-created with channel and re-copied; reconcile drift 0") == 0


@pytest.mark.parametrize(("statement", "column", "created"), [
    ("ALTER TABLE orders MODIFY amount DECIMAL(14,3) NOT NULL", "amount", ("numeric", None, 14, 3)),
    # DMS would narrow the warehouse column to NVARCHAR(8) (the longest label), which Redshift cannot
    ("ALTER TABLE orders MODIFY status ENUM('new','paid','shipped','refunded') NOT NULL", "status",
     ("character varying", 8, None, None)),
], ids=["decimal", "enum"])
def test_a_type_change_redshift_cannot_follow_is_reloaded(estate, run_dag, statement, column, created):
    """Table error, so the table is re-created with the type DMS creates now and re-copied (ENUM labels as text)."""
    dag_run, record = run_change(estate, run_dag, "change_type", statement)

    assert (dag_run.state, record["outcome"]) == ("success", "success"), record
    assert step(record, "compare_schemas")["result"]["tables"]["orders"]["table_state"] == "Table error"
    assert estate.warehouse.query("SELECT data_type, character_maximum_length, numeric_precision, numeric_scale "
                                  "FROM information_schema.columns WHERE table_schema = 'shop' AND "
                                  "table_name = 'orders' AND column_name = %s", (column,)) == [created]
    assert step(record, "reconcile")["result"]["drift"] == 0
    estate.wait_cdc_idle()
    assert estate.source_rows("orders") == estate.warehouse_rows("orders")


def test_a_dry_run_plans_and_changes_nothing_and_an_unreplicated_table_is_refused(shared_estate, run_dag):
    dag_run, record = run_dag(shared_estate, DAG_ID, pipeline="shop", tables=["orders"], change="rebuild")

    assert dag_run.state == "success" and record["dry_run"]
    assert states(record)["approve_change"] == "skipped"
    assert "the swap is a RENAME TABLE, which DMS does not capture" in step(record, "plan_change")["result"]["markdown"]
    assert shared_estate.task()["Status"] == "running"

    refused, record = run_dag(shared_estate, DAG_ID, pipeline="shop", tables=["payments"], change="add_column")
    assert refused.state == "failed"
    failure = step(record, "plan_change")["failure"]
    assert "UnknownTable: tables: ['payments'] are not tables of pipeline shop" in failure


def test_a_reload_that_fails_leaves_the_old_table_restarts_cdc_and_cdc_repair_recovers(estate, run_dag,
                                                                                       answer_approval, fault_row):
    row = fault_row("Table reload fails (a type the warehouse table cannot be created for)",
                    expected="reload_tables refuses before writing, the old warehouse table stays; restart_cdc "
                             "restarts CDC from the checkpoint; cdc_repair re-copies what DMS skipped: drift 0")
    traffic = estate.traffic().start()
    try:
        changer = change_when_asked(estate, DAG_ID, "ALTER TABLE orders MODIFY amount DECIMAL(40,2) NOT NULL")
        dag_run, record = run_dag(estate, DAG_ID, pipeline="shop", tables=["orders"], change="change_type",
                                  dry_run=False, settle_s=5)
        changer.join(10)
    finally:
        traffic.stop()

    assert dag_run.state == "failed" and record["failed_steps"] == ["reload_tables"], record
    assert "UnmappedColumn: type 'decimal(40,2)'" in step(record, "reload_tables")["failure"]
    assert states(record)["restart_cdc"] == "success" and estate.task()["Status"] == "running"
    assert warehouse_columns(estate)["amount"] == "numeric"  # the old table, as it was
    answer_approval("cdc_repair", "approve_repair", "Approve")
    repaired, repair = run_dag(estate, "cdc_repair", pipeline="shop", tables=["orders"], dry_run=False, settle_s=10)
    assert repaired.state == "success", repair
    assert row.settled(estate, f"failed at reload_tables (UnmappedColumn), CDC restarted; cdc_repair: "
                               f"{repaired.state}") == 0
