"""Run the switchover runbook DAGs with ``dag.test()`` against a running estate (``make demo``).

Airflow runs in this process with a throw-away AIRFLOW_HOME (SQLite, no examples),
this repository's dags/, and connections pointing at the estate.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from rehearsal.estate import Estate
from rehearsal.traffic import TrafficStats

DAGS = Path(__file__).resolve().parent.parent / "dags"
RESUME = "cdc_resume_after_switchover.shop"  # the data platform's DAG of the estate's pipeline


def prepare_airflow(estate: Estate) -> None:
    """Environment for an in-process Airflow against the estate; call before importing airflow."""
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="cdc-airflow-home-"))
    os.environ.update({"AIRFLOW__CORE__DAGS_FOLDER": str(DAGS), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                       "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR"),
                       **estate.airflow_env()})
    from airflow.utils.db import resetdb

    from rehearsal.dag_test import dag_test_keeps_defer_kwargs

    resetdb()
    dag_test_keeps_defer_kwargs()


def rehearse_switchover_runbook(estate: Estate) -> tuple[dict, dict, TrafficStats]:
    """The switchover runbook pre-approved, with application write traffic on through all of it."""
    traffic = estate.traffic().start()
    try:
        product, data = run_switchover_runbook(estate)
    finally:
        stats = traffic.stop()
    return product, data, stats


def summary_of(data: dict) -> dict:
    """cdc_resume_after_switchover's summary step result ({} when the run did not get that far)."""
    return next((s["result"] for s in data["steps"] if s["task_id"] == "summarize"), None) or {}


def run_switchover_runbook(estate: Estate) -> tuple[dict, dict]:
    """aurora_blue_green_switchover (pre-approved), then cdc_resume_after_switchover; their run records."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS), safe_mode=False)
    product = bag.dags["aurora_blue_green_switchover"].test(run_conf={
        "pipeline": "shop", "deployment_id": estate.deployment_id, "pre_approved": True})
    data = bag.dags[RESUME].test()
    return _record(estate, "aurora_blue_green_switchover", product.run_id), _record(estate, RESUME, data.run_id)


def _record(estate: Estate, dag_id: str, run_id: str) -> dict:
    from cdc_runbooks.run_record import RunRecord

    key = RunRecord(dag_id=dag_id, run_id=run_id, pipeline="", started_at=None, finished_at=None,
                    dry_run=False).key
    body = estate.aws.client("s3").get_object(Bucket=estate.resources.records_bucket, Key=key)["Body"].read()
    return json.loads(body)


def render(product: dict, data: dict) -> str:
    summary = summary_of(data)
    lines = [f"aurora_blue_green_switchover: {product['outcome'].upper()}   "
             f"{RESUME}: {data['outcome'].upper()}"]
    if summary:
        lines += [
            f"blue checkpoint at pause      {summary['blue_checkpoint']}",
            f"old blue binlog end (drained) {summary['old_blue_end']}",
            f"green coordinates             {summary['new_position']}  ({summary['position_source']})",
            f"CDC gap (stopped -> running)  {summary['cdc_gap_s']:.2f} s",
            f"{'table':<12} {'source':>8} {'warehouse':>10} {'diff':>6}",
            *(f"{t:<12} {c['source']:>8} {c['target']:>10} {c['diff']:>+6}" for t, c in summary["tables"].items()),
            f"drift = {summary['drift']}",
        ]
    failed = [s for r in (product, data) for s in r["steps"] if s.get("failure")]
    lines += [f"FAILED {s['task_id']}: {s['failure']}" for s in failed]
    return "\n".join(lines)
