"""Live switchover benchmark: the flagship runbook on a real Airflow on 127.0.0.1 (rehearsal/airflow_cluster.py:
CeleryExecutor, scheduler, dag-processor, triggerer, api-server), triggered and approved through the REST API as
the UI does, with the application's write traffic on against the estate throughout.

Prints ``BENCH switchover_live cdc_gap_s=… aws_s=… overhead_s=… handoff_s=… tasks_in_gap=… drift=…``:
cdc_gap_s is DMS stopped (the pause's stopped_at) -> running again on green (restart_cdc's running_since), from
the resume run's summary; aws_s the part of it during which an AWS operation itself was in progress (the estate's
operation log); overhead_s = cdc_gap_s - aws_s; handoff_s the switchover run's hand_over_cdc finished -> the
resume run's first task started; tasks_in_gap the task instances (both runs) that started inside the gap.
``bench/switchover.py`` measures the same runbook under ``dag.test()`` (no scheduler, no workers).
Target: overhead_s <= 5 with drift 0.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from rehearsal.airflow_cluster import AirflowCluster, poll
from rehearsal.airflow_runs import (
    RUN_TIMEOUT_S,
    SWITCHOVER,
    all_dags_parsed,
    answer_approvals,
    diagnosis,
    json_of,
    records,
    resume_dag_ids,
    runs,
    summaries_by_pipeline,
    task_instances,
    trigger_switchover,
    wait_runs,
)
from rehearsal.estate_process import EstateProcess
from rehearsal.pipelines_file import connection_env, pipeline_settings, write_pipelines

TARGET_OVERHEAD_S = 5.0
# Each wait in the gap notices its end up to one poll late: the pipeline's poll_interval_s, printed with the result.
POLL_S = 0.2
SUFFIX = "a"
PIPELINE = f"shop_{SUFFIX}"


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _resumed(cluster: AirflowCluster, estate: EstateProcess) -> dict | None:
    """The resume run's summary once it has finished (AssertionError if it failed)."""
    found = [run for dag_id in resume_dag_ids(cluster) for run in runs(cluster, dag_id)]
    if not found or any(run["state"] not in ("success", "failed") for run in found):
        return None
    assert all(run["state"] == "success" for run in found), [(r["dag_run_id"], r["state"]) for r in found]
    return summaries_by_pipeline(records(estate, "cdc_resume_after_switchover")).get(PIPELINE)


def _keep_logs(cluster: AirflowCluster, tasks: list[tuple[str, str, dict]]) -> None:
    """With BENCH_TASK_LOGS=<dir>, every task's log and every component's (scheduler, workers, ...) are copied there
    (where the time inside a task, and between two tasks, went)."""
    directory = os.environ.get("BENCH_TASK_LOGS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for dag_id, run_id, ti in tasks:
            log = cluster.task_log(dag_id, run_id, ti["task_id"], chars=200_000)
            (Path(directory) / f"{dag_id}.{ti['task_id']}.log").write_text(log)
        for name in cluster.processes:
            (Path(directory) / f"component.{name}.log").write_text(cluster.component_log(name, chars=2_000_000))


def main() -> int:
    settings = {**pipeline_settings(SUFFIX), "poll_interval_s": POLL_S}
    with tempfile.TemporaryDirectory(prefix="cdc-bench-live-") as directory:
        return _measure(write_pipelines(Path(directory) / "pipelines.yaml", {PIPELINE: settings}))


def _measure(config: Path) -> int:
    with EstateProcess.running_many(1, traffic=True) as (estate,):
        def env() -> dict[str, str]:
            return {"CDC_RUNBOOKS_PIPELINES": str(config), **connection_env(estate.info["airflow_env"], SUFFIX)}

        with AirflowCluster.running(env) as cluster:
            poll(lambda: all_dags_parsed(cluster), 180, "every DAG file parsed", check=cluster.check_alive)
            json_of(cluster.api("PATCH", f"/dags/{SWITCHOVER}", json={"is_paused": False}))
            run_id = trigger_switchover(cluster, PIPELINE, estate.info["deployment_id"])
            try:
                answer_approvals(cluster, [run_id])
                state = wait_runs(cluster, SWITCHOVER, [run_id])[run_id]
                summary = poll(lambda: _resumed(cluster, estate), RUN_TIMEOUT_S, "resume run",
                               check=cluster.check_alive)
            except BaseException:
                print(diagnosis(cluster, {SUFFIX: estate}))
                raise
            resume_dag = resume_dag_ids(cluster)[0]
            resume_run = runs(cluster, resume_dag)[0]["dag_run_id"]
            product_tis = task_instances(cluster, SWITCHOVER, run_id)
            resume_tis = task_instances(cluster, resume_dag, resume_run)
            _keep_logs(cluster, [(SWITCHOVER, run_id, ti) for ti in product_tis] +
                       [(resume_dag, resume_run, ti) for ti in resume_tis])
        operations = estate.operations()
    if state != "success" or not summary:
        print(f"BENCH switchover_live failed: switchover={state} summary={summary}")
        return 1
    stopped, running = _at(summary["cdc_stopped_at"]), _at(summary["cdc_running_at"])
    aws_s = operations.busy_seconds(stopped, running)
    for op in operations.operations:
        if op.finished > stopped and op.started < running:
            print(f"  aws  {op.name:<24} +{(op.started - stopped).total_seconds():6.2f} s "
                  f"for {(op.finished - op.started).total_seconds():.2f} s")
    tis = sorted((ti for ti in product_tis + resume_tis if ti["start_date"] and ti["state"] != "skipped"),
                 key=lambda ti: ti["start_date"])  # a skipped task never started a process
    for ti in tis:
        start, end = _at(ti["start_date"]), _at(ti["end_date"])
        if end is not None and end > stopped and start < running:
            print(f"  task {ti['task_id']:<24} +{(start - stopped).total_seconds():6.2f} s "
                  f"for {(end - start).total_seconds():.2f} s ({ti['dag_id']})")
    in_gap = sum(stopped < _at(ti["start_date"]) < running for ti in tis)
    handed_over = _at(next(ti["end_date"] for ti in product_tis if ti["task_id"] == "hand_over_cdc"))
    handoff = (min(_at(ti["start_date"]) for ti in resume_tis if ti["start_date"]) - handed_over).total_seconds()
    gap = summary["cdc_gap_s"]
    overhead = gap - aws_s
    print(f"BENCH switchover_live cdc_gap_s={gap:.2f} aws_s={aws_s:.2f} overhead_s={overhead:.2f} "
          f"handoff_s={handoff:.2f} tasks_in_gap={in_gap} drift={summary['drift']} poll_s={POLL_S:g} "
          f"target_overhead_s={TARGET_OVERHEAD_S:g}")
    return 0 if overhead <= TARGET_OVERHEAD_S and summary["drift"] == 0 else 1
