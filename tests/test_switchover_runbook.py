"""The flagship runbook against the estate, traffic running: aurora_blue_green_switchover, then the data
platform's cdc_resume_after_switchover on the fact it publishes."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.estate


def _step(record: dict, task_id: str) -> dict:
    return next(s for s in record["steps"] if s["task_id"] == task_id)


def _switch(estate, run_dag, **conf):
    return run_dag(estate, "aurora_blue_green_switchover", pipeline="shop", deployment_id=estate.deployment_id,
                   **conf)


def test_happy_path_hands_cdc_to_green_with_no_drift(estate, run_dag):
    traffic = estate.traffic().start()
    try:
        switched, product = _switch(estate, run_dag, pre_approved=True)
        resumed, data = run_dag(estate, "cdc_resume_after_switchover")
    finally:
        traffic.stop()

    assert switched.state == "success", product
    assert _step(product, "approve_switchover")["state"] == "skipped"
    assert _step(product, "resume_on_blue")["state"] == "skipped"
    assert resumed.state == "success", data
    summary = _step(data, "summarize")["result"]
    assert summary["new_position"] == str(estate.bluegreen.coordinates)
    assert summary["position_source"] == "event" and summary["drift"] == 0
    assert summary["cdc_gap_s"] > 0
    estate.wait_cdc_idle()
    for table in ("customers", "orders"):
        assert estate.source_rows(table) == estate.warehouse_rows(table)
