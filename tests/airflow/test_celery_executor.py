"""The switchover runbook on a real CeleryExecutor deployment (rehearsal/airflow_cluster.py) on 127.0.0.1:
two pipelines, each on its own estate, switch over at once; triggered and approved through the REST API as
the UI does; CDC resumes on green with drift 0 for both; every process started is stopped."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from rehearsal.airflow_cluster import AirflowCluster, poll
from rehearsal.estate_process import EstateProcess
from rehearsal.pipelines_file import connection_env, pipeline_settings, write_pipelines

# Marker: "estate" until pyproject registers "celery" (starts a CeleryExecutor Airflow on loopback).
pytestmark = [pytest.mark.estate, pytest.mark.celery, pytest.mark.timeout(900)]

DAGS = Path(__file__).resolve().parents[2] / "dags"
SWITCHOVER, RESUME = "aurora_blue_green_switchover", "cdc_resume_after_switchover"
SUFFIXES = ("a", "b")
PARK_MARGIN_S = 3  # answering within ~1 s of parking trips a 3.3.2 race that fails the task
RUN_TIMEOUT_S = 360
TERMINAL = {"success", "failed"}


def _pipeline(suffix: str) -> str:
    return f"shop_{suffix}"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """Two estates (one per pipeline) and a CeleryExecutor Airflow with both pipelines configured."""
    config = tmp_path_factory.mktemp("pipelines") / "pipelines.yaml"
    write_pipelines(config, {_pipeline(s): pipeline_settings(s) for s in SUFFIXES})
    with EstateProcess.running_many(len(SUFFIXES)) as estates:
        def env() -> dict[str, str]:
            connections = [connection_env(e.info["airflow_env"], s) for s, e in zip(SUFFIXES, estates, strict=True)]
            return {"CDC_RUNBOOKS_PIPELINES": str(config), **{k: v for c in connections for k, v in c.items()}}

        with AirflowCluster.running(env) as cluster:
            yield cluster, dict(zip(SUFFIXES, estates, strict=True))
        assert cluster.leftover_processes() == []


def _run_path(dag_id: str, run_id: str) -> str:
    return f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"


def _json(response) -> dict:
    assert response.status_code < 300, f"{response.request.method} {response.url}: {response.status_code} " \
                                        f"{response.text[:1000]}"
    return response.json()


def _task_state(cluster, dag_id: str, run_id: str, task_id: str) -> str | None:
    response = cluster.api("GET", f"{_run_path(dag_id, run_id)}/taskInstances/{task_id}")
    return response.json().get("state") if response.status_code == 200 else None


def _run_state(cluster, dag_id: str, run_id: str) -> str:
    return _json(cluster.api("GET", _run_path(dag_id, run_id)))["state"]


def _runs(cluster, dag_id: str) -> list[dict]:
    return _json(cluster.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100}))["dag_runs"]


def _dag_ids(cluster) -> list[str]:
    return [dag["dag_id"] for dag in _json(cluster.api("GET", "/dags", params={"limit": 100}))["dags"]]


def _resume_dag_ids(cluster) -> list[str]:
    """The data platform's resume DAG(s): one, or one per pipeline (``<runbook>.<pipeline>``)."""
    return [dag_id for dag_id in _dag_ids(cluster) if dag_id.split(".")[0] == RESUME]


def _all_dags_parsed(cluster) -> bool:
    """Every file of dags/ has its DAGs in the metadata DB; an import error fails at once."""
    errors = _json(cluster.api("GET", "/importErrors"))["import_errors"]
    assert not errors, [(e["filename"], e["stack_trace"][-1500:]) for e in errors]
    dags = _json(cluster.api("GET", "/dags", params={"limit": 100}))["dags"]
    return {Path(dag["fileloc"]).name for dag in dags} == {path.name for path in DAGS.glob("*.py")}


def _diagnosis(cluster, estates) -> str:
    """Task states of every run, the failed tasks' logs, and the components' and estates' log tails."""
    lines = []
    try:
        for dag_id in (SWITCHOVER, *_resume_dag_ids(cluster)):
            for run in _runs(cluster, dag_id):
                tis = _json(cluster.api("GET", f"{_run_path(dag_id, run['dag_run_id'])}/taskInstances"))
                states = {ti["task_id"]: ti["state"] for ti in tis["task_instances"]}
                lines.append(f"{dag_id} {run['dag_run_id']} {run['state']} {states}")
                lines += [f"--- {task_id} log:\n{cluster.task_log(dag_id, run['dag_run_id'], task_id)}"
                          for task_id, state in states.items() if state in ("failed", "up_for_retry")]
    except Exception as error:  # the API may be what failed: the logs below still help
        lines.append(f"(no run states from the REST API: {error!r})")
    lines += [f"=== {name}:\n{cluster.component_log(name, 1500)}" for name in cluster.processes]
    lines += [f"=== estate {suffix}:\n{estate.log_tail(1500)}" for suffix, estate in estates.items()]
    return "\n".join(lines)


def _trigger(cluster, estate, suffix: str) -> str:
    conf = {"pipeline": _pipeline(suffix), "deployment_id": estate.info["deployment_id"], "pre_approved": False}
    run = _json(cluster.api("POST", f"/dags/{SWITCHOVER}/dagRuns", json={"logical_date": None, "conf": conf}))
    return run["dag_run_id"]


def _answer_approvals(cluster, run_ids: list[str]) -> None:
    """Approve each run's approve_switchover through the HITL endpoint, PARK_MARGIN_S after it parks."""
    parked: dict[str, float] = {}
    pending = set(run_ids)

    def step() -> bool:
        for run_id in sorted(pending):
            if _run_state(cluster, SWITCHOVER, run_id) == "failed":
                raise AssertionError(f"{run_id} failed before its approval was answered")
            if _task_state(cluster, SWITCHOVER, run_id, "approve_switchover") != "awaiting_input":
                continue
            if time.monotonic() - parked.setdefault(run_id, time.monotonic()) >= PARK_MARGIN_S:
                _json(cluster.api("PATCH", f"{_run_path(SWITCHOVER, run_id)}/taskInstances/approve_switchover/-1/"
                                           "hitlDetails", json={"chosen_options": ["Approve"], "params_input": {}}))
                pending.discard(run_id)
        return not pending

    poll(step, RUN_TIMEOUT_S, "approvals answered", check=cluster.check_alive)


def _wait_runs(cluster, dag_id: str, run_ids: list[str]) -> dict[str, str]:
    def states():
        found = {run_id: _run_state(cluster, dag_id, run_id) for run_id in run_ids}
        return found if set(found.values()) <= TERMINAL else None

    return poll(states, RUN_TIMEOUT_S, f"{dag_id} runs finished", check=cluster.check_alive)


def _records(estate, dag_id: str) -> list[dict]:
    s3 = estate.client("s3")
    bucket = estate.info["records_bucket"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/{dag_id}").get("Contents", [])
    return [json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()) for item in listed]


def _drift_by_pipeline(records: list[dict]) -> dict[str, int]:
    """Drift per pipeline from the resume runs' records (their ``summarize`` step)."""
    summaries = {r["pipeline"]: next(s["result"] for s in r["steps"] if s["task_id"] == "summarize") or {}
                 for r in records}
    return {pipeline: summary["drift"] for pipeline, summary in summaries.items() if "drift" in summary}


def _resumed(cluster, estates) -> dict[str, int] | None:
    """Drift per pipeline once every resume run has finished and both pipelines have one (else None)."""
    runs = [run for dag_id in _resume_dag_ids(cluster) for run in _runs(cluster, dag_id)]
    if not runs or not {run["state"] for run in runs} <= TERMINAL:
        return None
    if any(run["state"] == "failed" for run in runs):
        raise AssertionError(f"{RESUME} failed: {[(r['dag_run_id'], r['state']) for r in runs]}")
    drift = _drift_by_pipeline([record for estate in estates.values() for record in _records(estate, RESUME)])
    return drift if set(drift) >= {_pipeline(s) for s in SUFFIXES} else None


def test_a_paused_resume_dag_is_refused_at_preflight_on_a_real_scheduler(deployment):
    """Pausing the resume DAG (the UI toggle, through the REST API) makes a switchover refuse at preflight (read
    through the Task SDK on a real worker), changing nothing: the next test switches the same pipelines over."""
    cluster, estates = deployment
    poll(lambda: _all_dags_parsed(cluster), 180, "every DAG file parsed", check=cluster.check_alive)
    resume = f"{RESUME}.{_pipeline('a')}"
    assert _json(cluster.api("GET", f"/dags/{resume}"))["is_paused"] is False, "resume DAGs are created unpaused"
    _json(cluster.api("PATCH", f"/dags/{SWITCHOVER}", json={"is_paused": False}))
    _json(cluster.api("PATCH", f"/dags/{resume}", json={"is_paused": True}))
    try:
        run_id = _trigger(cluster, estates["a"], "a")
        assert _wait_runs(cluster, SWITCHOVER, [run_id]) == {run_id: "failed"}
    finally:
        _json(cluster.api("PATCH", f"/dags/{resume}", json={"is_paused": False}))
    record = next(r for r in _records(estates["a"], SWITCHOVER) if r["run_id"] == run_id)
    failure = next(s for s in record["steps"] if s["task_id"] == "preflight")["failure"]
    assert f"| CDC resume DAG can run | FAIL | the resume DAG {resume} is paused" in failure
    assert estates["a"].client("dms").describe_replication_tasks()["ReplicationTasks"][0]["Status"] == "running"


def test_two_pipelines_switch_over_at_once_approved_through_the_rest_api(deployment):
    cluster, estates = deployment
    try:
        poll(lambda: _all_dags_parsed(cluster), 180, "every DAG file parsed", check=cluster.check_alive)
        # DAGs are created paused here (as Airflow's default), except the resume DAGs: nothing unpauses them.
        assert {dag_id: _json(cluster.api("GET", f"/dags/{dag_id}"))["is_paused"]
                for dag_id in _resume_dag_ids(cluster)} == {f"{RESUME}.{_pipeline(s)}": False for s in SUFFIXES}
        _json(cluster.api("PATCH", f"/dags/{SWITCHOVER}", json={"is_paused": False}))
        run_ids = [_trigger(cluster, estates[s], s) for s in SUFFIXES]

        _answer_approvals(cluster, run_ids)
        switched = _wait_runs(cluster, SWITCHOVER, run_ids)
        drift = poll(lambda: _resumed(cluster, estates), RUN_TIMEOUT_S, f"{RESUME} for both pipelines",
                     check=cluster.check_alive)
    except BaseException:
        print(_diagnosis(cluster, estates))
        raise

    assert switched == dict.fromkeys(run_ids, "success"), _diagnosis(cluster, estates)
    first, second = (_json(cluster.api("GET", _run_path(SWITCHOVER, run_id))) for run_id in run_ids)
    assert first["start_date"] < second["end_date"] and second["start_date"] < first["end_date"], "ran one by one"
    for suffix in SUFFIXES:
        product = next(r for r in _records(estates[suffix], SWITCHOVER) if r["run_id"] in run_ids)
        approval = next(s for s in product["steps"] if s["task_id"] == "approve_switchover")["result"]
        assert approval["chosen_options"] == ["Approve"] and approval["responded_by_user"]["name"] == "admin"
        confirmed = next(s for s in product["steps"] if s["task_id"] == "confirm_cdc_resumes")["result"]
        assert confirmed["resume_run_id"].startswith("switchover__")
    assert drift == {_pipeline(s): 0 for s in SUFFIXES}

