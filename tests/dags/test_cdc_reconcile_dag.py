"""cdc_reconcile against the estate: passes on equal tables under traffic, fails loudly with the drifted key,
and records the run either way."""

from __future__ import annotations

import pytest

from rehearsal import drift

pytestmark = pytest.mark.estate


def _step(record: dict, task_id: str) -> dict:
    return next(s for s in record["steps"] if s["task_id"] == task_id)


def test_equal_tables_under_traffic_pass_and_are_recorded(shared_estate, run_dag):
    traffic = shared_estate.traffic().start()
    try:
        dag_run, record = run_dag(shared_estate, "cdc_reconcile", mode="checksum", settle_s=30)
    finally:
        traffic.stop()

    assert dag_run.state == "success", record
    result = _step(record, "reconcile")["result"]
    assert result["passed"] and result["drift"] == 0
    assert set(result["tables"]) == {"customers", "orders"}
    assert all(t["status"] == "ok" and t["source"] > 0 for t in result["tables"].values())


def test_drift_fails_the_run_and_names_the_key(shared_estate, run_dag):
    shared_estate.wait_cdc_idle()
    (key,) = shared_estate.warehouse.query("SELECT MIN(id) FROM shop.orders")[0]
    drift.lose(shared_estate, "orders", key)
    try:
        dag_run, record = run_dag(shared_estate, "cdc_reconcile", pipeline="shop", tables=["orders"], settle_s=1)
    finally:
        drift.repair(shared_estate, "orders", key)

    assert dag_run.state == "failed" and record["outcome"] == "failed"
    failure = _step(record, "reconcile")["failure"]
    assert failure.startswith("ReconciliationDrift") and f"`orders` missing in target (1): {key}" in failure


def test_unknown_table_is_refused_before_reading(shared_estate, run_dag):
    dag_run, record = run_dag(shared_estate, "cdc_reconcile", pipeline="shop", tables=["payments"])

    assert dag_run.state == "failed"
    assert "UnknownTable: tables: ['payments'] are not tables of pipeline shop" in _step(record, "reconcile")["failure"]

