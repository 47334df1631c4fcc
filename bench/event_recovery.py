"""Event-driven recovery benchmark: Aurora fails over under write traffic on the estate, with a real Airflow on
127.0.0.1 (rehearsal/airflow_cluster.py: scheduler, triggerer, Celery worker) and nobody triggering anything.

Each round: the writer stays down longer than DMS retries a lost source (the task fails), RDS's failover event
goes EventBridge -> SQS -> the triggerer's watcher -> the pipeline's asset, and cdc_recover_after_failure.shop
resumes CDC from the task's checkpoint and reconciles. Prints, per round,
``BENCH event_recovery detect_s=… cdc_gap_s=… drift=… recovery=…``: detect_s = event published -> recovery run
queued (the incident's first event -> its first run); cdc_gap_s = DMS task failed (its event) -> running again
(restart_cdc's running_since, in the run that restarted: the failover's event and the task failure's can start one
run or two); drift from that run's reconcile. Target: detect_s <= 10 with the documented SQS settings (long poll
10 s), drift 0.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime

from rehearsal.airflow_cluster import AirflowCluster, poll
from rehearsal.airflow_runs import RECOVER, all_dags_parsed, incident_runs, published, queued_after_s, runs
from rehearsal.estate import Estate

TARGET_DETECT_S = 10.0
ROUNDS = 3
DAG_ID = f"{RECOVER}.shop"


def _round(cluster: AirflowCluster, estate: Estate) -> tuple[float, int]:
    earlier = {run["dag_run_id"] for run in runs(cluster, DAG_ID)}
    traffic = estate.traffic().start()
    try:
        estate.fail_over()
        estate.wait_task_status("failed", timeout=60)
        incident = incident_runs(cluster, estate, DAG_ID, earlier)
    finally:
        traffic.stop()
    # The failover's event and the task failure's can start one run or two: the one that restarted CDC recovered.
    run = next(r for r in incident if _steps(r)["restart_cdc"]["state"] == "success")
    steps = _steps(run)
    first = min(published(estate, "EventID", "RDS-EVENT-0071")[-1], published(estate, "eventId", "DMS-EVENT-0078")[-1],
                key=lambda event: event["at"])
    detect_s = min(queued_after_s(r, first) for r in incident)
    failed = published(estate, "eventId", "DMS-EVENT-0078")[-1]
    restarted = steps["restart_cdc"]["result"]["running_since"]
    gap = (datetime.fromisoformat(restarted) - failed["at"]).total_seconds()
    drift = (steps["reconcile"]["result"] or {}).get("drift", -1)
    print(f"BENCH event_recovery detect_s={detect_s:.1f} cdc_gap_s={gap:.1f} drift={drift} "
          f"recovery={steps['assess']['result']['recovery']} runs={len(incident)} run={run['state']}", flush=True)
    return detect_s, drift


def _steps(run: dict) -> dict:
    return {step["task_id"]: step for step in (run["record"] or {}).get("steps", [])}


def main() -> int:
    with Estate.running() as estate:
        estate.add_reader()
        estate.dms.faults.recoverable_error_s = 1.0
        estate.failover.faults.outage_s = 3.0
        with AirflowCluster.running(estate.airflow_env, workers=1) as cluster:
            poll(lambda: all_dags_parsed(cluster), 180, "every DAG file parsed", check=cluster.check_alive)
            poll(lambda: re.search(r"trigger ID \d+ starting", cluster.component_log("triggerer", 200_000)), 120,
                 "the failover watcher running", check=cluster.check_alive)
            results = [_round(cluster, estate) for _ in range(ROUNDS)]
    met = all(detect <= TARGET_DETECT_S and drift == 0 for detect, drift in results)
    print(f"BENCH event_recovery target detect_s<={TARGET_DETECT_S:g} drift=0: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
