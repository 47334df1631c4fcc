"""cdc_repair on the estate, under write traffic: planted drift of each kind is repaired key by key or table by
table, a key written on the source during the repair ends with its newest value (and a row inserted then is not
applied twice), and a run ends green only when the verify reconcile shows drift 0."""

from __future__ import annotations

import pytest

from cdc_runbooks.repair import copy as repair_copy
from rehearsal import drift

pytestmark = pytest.mark.estate
DAG_ID = "cdc_repair"


def step(record: dict, task_id: str) -> dict:
    return next(s for s in record["steps"] if s["task_id"] == task_id)


def keys(estate, table: str, count: int) -> list[int]:
    return [k for (k,) in estate.warehouse.query(f"SELECT id FROM shop.{table} ORDER BY id LIMIT {count}")]  # noqa: S608


def plant_each_kind(estate) -> dict[str, int]:
    """One row of each kind of drift in orders, a changed one in customers; the keys by kind."""
    estate.wait_cdc_idle()
    lost, doubled, changed, nulled = keys(estate, "orders", 4)
    extra = 10_000_000 + lost
    drift.lose(estate, "orders", lost)
    drift.duplicate(estate, "orders", doubled)
    drift.set_value(estate, "orders", changed, "status", "WRONG")
    drift.set_value(estate, "orders", nulled, "note", None)
    drift.add_extra(estate, "orders", extra, doubled)
    (customer,) = keys(estate, "customers", 1)
    drift.set_value(estate, "customers", customer, "name", "WRONG")
    return {"missing": lost, "duplicate": doubled, "changed": changed, "nulled": nulled, "extra": extra,
            "customer": customer}


def writes_during_the_repair(monkeypatch, estate, statements: list[tuple[str, tuple]]) -> list[str]:
    """Run ``statements`` on the source once, after DMS stopped at its checkpoint and right before the repair's first
    read (its source transaction's snapshot): the rows it reads then hold changes CDC has not applied yet and will
    apply when it restarts from the checkpoint (a row copied as read would be inserted twice). Returns the source
    reads made."""
    read = repair_copy._read
    reads: list[str] = []

    def write_then_read(source, statement):
        reads.append(statement)
        if len(reads) == 1:
            with estate.source.connect_app() as conn, conn.cursor() as cur:
                for sql, args in statements:
                    cur.execute(sql, args)
                conn.commit()
        yield from read(source, statement)

    monkeypatch.setattr(repair_copy, "_read", write_then_read)
    return reads


def test_drift_of_each_kind_is_repaired_key_by_key_under_traffic(estate, run_dag, answer_approval, fault_row):
    row = fault_row("Drift found by a reconcile (missing, extra, duplicate, changed, NULL-vs-value rows)",
                    expected="cdc_repair plans the keys, a person approves, the rows are re-copied as of the DMS "
                             "checkpoint; verify_repair: drift 0")
    planted = plant_each_kind(estate)
    traffic = estate.traffic().start()
    try:
        answer_approval(DAG_ID, "approve_repair", "Approve")
        dag_run, record = run_dag(estate, DAG_ID, pipeline="shop", dry_run=False, settle_s=20)
    finally:
        traffic.stop()

    assert (dag_run.state, record["outcome"]) == ("success", "success"), record
    plan = step(record, "plan_repair")["result"]
    methods = {t["table"]: (t["method"], sorted(t["keys"])) for t in plan["tables"]}
    assert methods == {"orders": ("rows", sorted(planted[k] for k in ("missing", "duplicate", "changed", "nulled",
                                                                       "extra"))),
                       "customers": ("rows", [planted["customer"]])}
    assert "Keys of `orders` (id): " in plan["markdown"]
    done = {t["table"]: t for t in step(record, "repair_drift")["result"]["tables"]}
    assert (done["orders"]["method"], done["orders"]["keys"]) == ("rows", 5)
    assert step(record, "verify_repair")["result"]["drift"] == 0
    assert estate.task()["Status"] == "running"
    assert row.settled(estate, "success; keys re-copied as of the checkpoint") == 0


def test_a_key_written_during_the_repair_ends_with_its_newest_value(estate, run_dag, answer_approval, monkeypatch,
                                                                   fault_row):
    row = fault_row("A key changes on the source while cdc_repair re-copies it",
                    expected="the repair writes the row as of the DMS checkpoint, CDC applies the change once: the "
                             "warehouse ends with the newest value; drift 0")
    planted = plant_each_kind(estate)
    key, extra = planted["changed"], planted["extra"]
    writes_during_the_repair(monkeypatch, estate, [
        ("UPDATE orders SET status = 'NEWEST' WHERE id = %s", (key,)),
        ("DELETE FROM orders WHERE id = %s", (planted["nulled"],)),
        # the key the warehouse held extra now exists on the source too: its insert is applied by CDC, once
        ("INSERT INTO orders (id, customer_id, amount, status) SELECT %s, customer_id, amount, status FROM orders "
         "WHERE id = %s", (extra, planted["duplicate"])),
    ])
    answer_approval(DAG_ID, "approve_repair", "Approve")
    dag_run, record = run_dag(estate, DAG_ID, pipeline="shop", dry_run=False, settle_s=20)

    assert (dag_run.state, record["outcome"]) == ("success", "success"), record
    estate.wait_cdc_idle()
    assert estate.warehouse.query("SELECT status FROM shop.orders WHERE id = %s", (key,)) == [("NEWEST",)]
    assert estate.warehouse.query("SELECT COUNT(*) FROM shop.orders WHERE id = %s", (extra,)) == [(1,)]
    assert estate.warehouse.query("SELECT COUNT(*) FROM shop.orders WHERE id = %s", (planted["nulled"],)) == [(0,)]
    done = {t["table"]: t for t in step(record, "repair_drift")["result"]["tables"]}
    assert done["orders"]["rewound"] == 3  # the update, the delete and the insert named repaired keys
    assert row.settled(estate, "success; newest value, no row applied twice") == 0


def test_many_keys_re_copy_the_whole_table_and_writes_during_it_are_applied_once(estate, run_dag, answer_approval,
                                                                                 monkeypatch):
    planted = plant_each_kind(estate)
    writes_during_the_repair(monkeypatch, estate, [
        ("INSERT INTO orders (customer_id, amount, status) VALUES (1, 1.50, 'new')", ()),
        ("UPDATE orders SET status = 'NEWEST' WHERE id = %s", (planted["changed"],)),
    ])
    traffic = estate.traffic().start()
    try:
        answer_approval(DAG_ID, "approve_repair", "Approve")
        dag_run, record = run_dag(estate, DAG_ID, pipeline="shop", tables=["orders"], max_rows=2, dry_run=False,
                                  settle_s=20)
    finally:
        traffic.stop()

    assert (dag_run.state, record["outcome"]) == ("success", "success"), record
    (table,) = step(record, "plan_repair")["result"]["tables"]
    assert table["method"] == "table"  # more differing keys than max_rows (or not localised beyond them)
    estate.wait_cdc_idle()
    assert estate.source_rows("orders") == estate.warehouse_rows("orders")
    assert step(record, "verify_repair")["result"]["drift"] == 0


def test_a_dry_run_shows_the_statements_and_changes_nothing(estate, run_dag):
    planted = plant_each_kind(estate)
    checkpoint_before = estate.task().get("RecoveryCheckpoint")

    dag_run, record = run_dag(estate, DAG_ID, pipeline="shop", tables=["orders"], settle_s=5)

    assert dag_run.state == "success" and record["dry_run"]
    assert {s["task_id"]: s["state"] for s in record["steps"]}["repair_drift"] == "skipped"
    (table,) = step(record, "plan_repair")["result"]["tables"]
    assert 'DELETE FROM "shop"."orders" WHERE "id" IN (' in step(record, "plan_repair")["result"]["markdown"]
    assert table["method"] == "rows"
    assert estate.task()["Status"] == "running" and estate.task().get("RecoveryCheckpoint") == checkpoint_before
    assert estate.warehouse.query("SELECT COUNT(*) FROM shop.orders WHERE id = %s", (planted["missing"],)) == [(0,)]


def test_nothing_to_repair_is_green_and_stops_nothing(shared_estate, run_dag):
    shared_estate.wait_cdc_idle()
    dag_run, record = run_dag(shared_estate, DAG_ID, pipeline="shop", dry_run=False, settle_s=5)

    assert dag_run.state == "success"
    states = {s["task_id"]: s["state"] for s in record["steps"]}
    assert states["plan_repair"] == "skipped" and states["pause_dms_task"] == "skipped"
    assert shared_estate.task()["Status"] == "running"


def test_a_row_the_warehouse_rejects_rolls_the_table_back_and_cdc_restarts(estate, run_dag, answer_approval,
                                                                           fault_row):
    row = fault_row("The warehouse rejects a row cdc_repair writes",
                    expected="repair_drift fails naming the rejection, the table's transaction rolled back; "
                             "restart_cdc restarts CDC from the checkpoint; the cause fixed, cdc_repair again: drift 0")
    planted = plant_each_kind(estate)
    lost = int(planted["missing"])
    estate.warehouse.query(f"ALTER TABLE shop.orders ADD CONSTRAINT no_lost_rows CHECK (id <> {lost})")
    before = estate.warehouse_rows("orders")
    answer_approval(DAG_ID, "approve_repair", "Approve")
    dag_run, record = run_dag(estate, DAG_ID, pipeline="shop", tables=["orders"], dry_run=False, settle_s=5)

    assert dag_run.state == "failed" and record["failed_steps"] == ["repair_drift"], record
    assert "no_lost_rows" in step(record, "repair_drift")["failure"]
    assert step(record, "restart_cdc")["state"] == "success" and estate.task()["Status"] == "running"
    estate.wait_cdc_idle()
    assert estate.warehouse_rows("orders") == before  # nothing of the table was written
    estate.warehouse.query("ALTER TABLE shop.orders DROP CONSTRAINT no_lost_rows")
    answer_approval(DAG_ID, "approve_repair", "Approve")
    repaired, repair = run_dag(estate, DAG_ID, pipeline="shop", tables=None, dry_run=False, settle_s=10)
    assert repaired.state == "success", repair
    assert row.settled(estate, f"failed at repair_drift (rejected), CDC restarted; again: {repaired.state}") == 0


def test_the_tables_a_reconcile_run_found_drifting_are_repaired(estate, run_dag, answer_approval):
    planted = plant_each_kind(estate)
    found, report = run_dag(estate, "cdc_reconcile", pipeline="shop", tables=["orders"], mode="checksum", settle_s=2)
    assert found.state == "failed" and step(report, "reconcile")["result"]["tables"]["orders"]["status"] == "drift"

    answer_approval(DAG_ID, "approve_repair", "Approve")
    dag_run, record = run_dag(estate, DAG_ID, pipeline="shop", reconcile_run_id=found.run_id, dry_run=False,
                              settle_s=10)

    assert dag_run.state == "success", record
    (table,) = step(record, "plan_repair")["result"]["tables"]  # orders only: customers was not in that run
    assert table["table"] == "orders" and planted["missing"] in table["keys"]
    verified = step(record, "verify_repair")["result"]
    assert verified["drift"] == 0 and set(verified["tables"]) == {"orders"}  # what was repaired is proven
