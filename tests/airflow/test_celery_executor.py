"""The switchover runbook on a real CeleryExecutor deployment (rehearsal/airflow_cluster.py) on 127.0.0.1:
two pipelines, each on its own estate, switch over at once; triggered and approved through the REST API as
the UI does; CDC resumes on green with drift 0 for both; every process started is stopped."""

from __future__ import annotations

import pytest

from rehearsal.airflow_cluster import AirflowCluster, poll
from rehearsal.airflow_runs import (
    RESUME,
    RUN_TIMEOUT_S,
    SWITCHOVER,
    TERMINAL,
    trigger_switchover,
)
from rehearsal.airflow_runs import all_dags_parsed as _all_dags_parsed
from rehearsal.airflow_runs import answer_approvals as _answer_approvals
from rehearsal.airflow_runs import diagnosis as _diagnosis
from rehearsal.airflow_runs import drift_by_pipeline as _drift_by_pipeline
from rehearsal.airflow_runs import json_of as _json
from rehearsal.airflow_runs import records as _records
from rehearsal.airflow_runs import resume_dag_ids as _resume_dag_ids
from rehearsal.airflow_runs import run_path as _run_path
from rehearsal.airflow_runs import runs as _runs
from rehearsal.airflow_runs import wait_runs as _wait_runs
from rehearsal.estate_process import EstateProcess
from rehearsal.pipelines_file import connection_env, pipeline_settings, write_pipelines

# Marker: "estate" until pyproject registers "celery" (starts a CeleryExecutor Airflow on loopback).
pytestmark = [pytest.mark.estate, pytest.mark.celery, pytest.mark.timeout(900)]

SUFFIXES = ("a", "b")


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


def _trigger(cluster, estate, suffix: str) -> str:
    return trigger_switchover(cluster, _pipeline(suffix), estate.info["deployment_id"])


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
    note = _json(cluster.api("GET", _run_path(SWITCHOVER, run_id)))["note"]
    assert note.startswith(f"**{SWITCHOVER} / {_pipeline('a')}: FAILED at `preflight`**"), note
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
    # Each run's outcome at a glance: record_run's summary is the run's note (the run's page in the UI).
    assert [_json(cluster.api("GET", _run_path(SWITCHOVER, run_id)))["note"].split("\n")[0] for run_id in run_ids] \
        == [f"**{SWITCHOVER} / {_pipeline(s)}: SUCCESS**" for s in SUFFIXES]
    for suffix in SUFFIXES:
        note = _runs(cluster, f"{RESUME}.{_pipeline(suffix)}")[0]["note"]
        assert note.startswith(f"**{RESUME}.{_pipeline(suffix)} / {_pipeline(suffix)}: SUCCESS** · drift: 0 rows, "
                               "CDC gap: "), note
        assert "- drift: 0 rows, CDC gap: " in note and "- positions: " in note, note

