"""Driving the switchover runbook on a real Airflow (``AirflowCluster``) through its REST API, as the UI does:
trigger, answer the approval through the HITL endpoint, wait for runs, read task instances and run records.
Shared by tests/airflow/ and ``bench/switchover_live.py``."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from rehearsal.airflow_cluster import DAGS, AirflowCluster, poll

SWITCHOVER, RESUME = "aurora_blue_green_switchover", "cdc_resume_after_switchover"
RECOVER = "cdc_recover_after_failure"
PARK_MARGIN_S = 3  # answering within ~1 s of parking trips a 3.3.2 race that fails the task
RUN_TIMEOUT_S = 360
TERMINAL = {"success", "failed"}


def run_path(dag_id: str, run_id: str) -> str:
    return f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"


def json_of(response) -> dict:
    assert response.status_code < 300, f"{response.request.method} {response.url}: {response.status_code} " \
                                        f"{response.text[:1000]}"
    return response.json()


def task_state(cluster: AirflowCluster, dag_id: str, run_id: str, task_id: str) -> str | None:
    response = cluster.api("GET", f"{run_path(dag_id, run_id)}/taskInstances/{task_id}")
    return response.json().get("state") if response.status_code == 200 else None


def task_instances(cluster: AirflowCluster, dag_id: str, run_id: str) -> list[dict]:
    return json_of(cluster.api("GET", f"{run_path(dag_id, run_id)}/taskInstances"))["task_instances"]


def run_state(cluster: AirflowCluster, dag_id: str, run_id: str) -> str:
    return json_of(cluster.api("GET", run_path(dag_id, run_id)))["state"]


def runs(cluster: AirflowCluster, dag_id: str) -> list[dict]:
    return json_of(cluster.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100}))["dag_runs"]


def dag_ids(cluster: AirflowCluster) -> list[str]:
    return [dag["dag_id"] for dag in json_of(cluster.api("GET", "/dags", params={"limit": 100}))["dags"]]


def resume_dag_ids(cluster: AirflowCluster) -> list[str]:
    """The data platform's resume DAG(s): one, or one per pipeline (``<runbook>.<pipeline>``)."""
    return [dag_id for dag_id in dag_ids(cluster) if dag_id.split(".")[0] == RESUME]


def all_dags_parsed(cluster: AirflowCluster) -> bool:
    """Every file of dags/ has its DAGs in the metadata DB; an import error fails at once."""
    errors = json_of(cluster.api("GET", "/importErrors"))["import_errors"]
    assert not errors, [(e["filename"], e["stack_trace"][-1500:]) for e in errors]
    dags = json_of(cluster.api("GET", "/dags", params={"limit": 100}))["dags"]
    return {Path(dag["fileloc"]).name for dag in dags} == {path.name for path in DAGS.glob("*.py")}


def trigger_switchover(cluster: AirflowCluster, pipeline: str, deployment_id: str) -> str:
    """A switchover run that asks for approval; its run id."""
    conf = {"pipeline": pipeline, "deployment_id": deployment_id, "pre_approved": False}
    run = json_of(cluster.api("POST", f"/dags/{SWITCHOVER}/dagRuns", json={"logical_date": None, "conf": conf}))
    return run["dag_run_id"]


def answer_approvals(cluster: AirflowCluster, run_ids: list[str], dag_id: str = SWITCHOVER,
                     task_id: str = "approve_switchover") -> None:
    """Approve each run's ``task_id`` through the HITL endpoint, PARK_MARGIN_S after it parks."""
    parked: dict[str, float] = {}
    pending = set(run_ids)

    def step() -> bool:
        for run_id in sorted(pending):
            if run_state(cluster, dag_id, run_id) == "failed":
                raise AssertionError(f"{run_id} failed before its approval was answered")
            if task_state(cluster, dag_id, run_id, task_id) != "awaiting_input":
                continue
            if time.monotonic() - parked.setdefault(run_id, time.monotonic()) >= PARK_MARGIN_S:
                json_of(cluster.api("PATCH", f"{run_path(dag_id, run_id)}/taskInstances/{task_id}/-1/hitlDetails",
                                    json={"chosen_options": ["Approve"], "params_input": {}}))
                pending.discard(run_id)
        return not pending

    poll(step, RUN_TIMEOUT_S, "approvals answered", check=cluster.check_alive)


def wait_runs(cluster: AirflowCluster, dag_id: str, run_ids: list[str]) -> dict[str, str]:
    def states():
        found = {run_id: run_state(cluster, dag_id, run_id) for run_id in run_ids}
        return found if set(found.values()) <= TERMINAL else None

    return poll(states, RUN_TIMEOUT_S, f"{dag_id} runs finished", check=cluster.check_alive)


def finished_runs(cluster: AirflowCluster, dag_id: str, count: int) -> list[dict]:
    """``dag_id``'s runs, oldest first, once there are ``count`` and all have finished (runs nobody triggered:
    asset-triggered by an event)."""
    def done():
        found = sorted(runs(cluster, dag_id), key=lambda run: run["queued_at"] or "")
        return found if len(found) >= count and {run["state"] for run in found} <= TERMINAL else None

    return poll(done, RUN_TIMEOUT_S, f"{count} run(s) of {dag_id}", check=cluster.check_alive)


def incident_runs(cluster: AirflowCluster, estate, dag_id: str, earlier: set[str]) -> list[dict]:
    """The runs of ``dag_id`` an incident started after the runs ``earlier`` (a failover and the task failure it
    causes can start one run or two), once the in-process estate's event queue is empty and all of them have
    finished, oldest first, each with its run record under ``record``."""
    def finished():
        if sum(estate.events.queued().values()):
            return None
        new = [run for run in runs(cluster, dag_id) if run["dag_run_id"] not in earlier]
        if not new or any(run["state"] not in TERMINAL for run in new):
            return None
        kept = {r["run_id"]: r for r in run_records(estate.aws.client("s3"), estate.resources.records_bucket, dag_id)}
        return sorted(({**run, "record": kept.get(run["dag_run_id"])} for run in new), key=lambda r: r["queued_at"])

    return poll(finished, RUN_TIMEOUT_S, f"the incident's runs of {dag_id} finished", check=cluster.check_alive)


def published(estate, key: str, value: str) -> list[dict]:
    """The events an in-process estate published whose detail has ``key`` = ``value``, oldest first."""
    return [event for event in estate.events.published if event["detail"].get(key) == value]


def queued_after_s(run: dict, event: dict) -> float:
    """An event published -> the run it started queued."""
    return (datetime.fromisoformat(run["queued_at"]) - event["at"]).total_seconds()


def records(estate, dag_id: str) -> list[dict]:
    """The run records (``record_run``) of ``dag_id`` in an ``EstateProcess``'s records bucket."""
    return run_records(estate.client("s3"), estate.info["records_bucket"], dag_id)


def run_records(s3, bucket: str, dag_id: str) -> list[dict]:
    """The run records of ``dag_id`` in ``bucket``."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/{dag_id}").get("Contents", [])
    return [json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()) for item in listed]


def summaries_by_pipeline(resume_records: list[dict]) -> dict[str, dict]:
    """The resume runs' ``summarize`` results per pipeline."""
    return {r["pipeline"]: next(s["result"] for s in r["steps"] if s["task_id"] == "summarize") or {}
            for r in resume_records}


def drift_by_pipeline(resume_records: list[dict]) -> dict[str, int]:
    """Drift per pipeline from the resume runs' records (their ``summarize`` step)."""
    return {pipeline: summary["drift"] for pipeline, summary in summaries_by_pipeline(resume_records).items()
            if "drift" in summary}


def diagnosis(cluster: AirflowCluster, estates: dict) -> str:
    """Task states of every run, the failed tasks' logs, and the components' and estates' log tails."""
    lines = []
    try:
        for dag_id in (SWITCHOVER, *resume_dag_ids(cluster)):
            for run in runs(cluster, dag_id):
                states = {ti["task_id"]: ti["state"] for ti in task_instances(cluster, dag_id, run["dag_run_id"])}
                lines.append(f"{dag_id} {run['dag_run_id']} {run['state']} {states}")
                lines += [f"--- {task_id} log:\n{cluster.task_log(dag_id, run['dag_run_id'], task_id)}"
                          for task_id, state in states.items() if state in ("failed", "up_for_retry")]
    except Exception as error:  # the API may be what failed: the logs below still help
        lines.append(f"(no run states from the REST API: {error!r})")
    lines += [f"=== {name}:\n{cluster.component_log(name, 1500)}" for name in cluster.processes]
    lines += [f"=== estate {suffix}:\n{estate.log_tail(1500)}" for suffix, estate in estates.items()]
    return "\n".join(lines)
