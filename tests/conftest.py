"""Test set-up: a private AIRFLOW_HOME (SQLite, no examples) and the rehearsal estate fixtures."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
AIRFLOW_HOME_PREFIX = "cdc-airflow-home-"
pytest_plugins = ["fault_matrix"]  # the fault matrix table (tests/support/fault_matrix.py)

# Before anything imports airflow: a throw-away home (its own per parallel worker: the metadata DB is SQLite
# in it), this repo's dags/, no examples.
# Once per process: this module imported again under another name must not move the home under Airflow's feet.
# The process that made the home removes it when it exits (not a forked child that runs exit handlers).
def _remove_home(home: str, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(home, ignore_errors=True)


if os.environ.get("CDC_TESTS_AIRFLOW_HOME_OF") != str(os.getpid()):
    if os.environ.get("PYTEST_XDIST_WORKER") or "AIRFLOW_HOME" not in os.environ:
        os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix=AIRFLOW_HOME_PREFIX)
        atexit.register(_remove_home, os.environ["AIRFLOW_HOME"], os.getpid())
    os.environ["CDC_TESTS_AIRFLOW_HOME_OF"] = str(os.getpid())
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
# Unit-test mode draws a new Fernet key in every process; the processes of one run (xdist workers, a second
# `dag.test()` process on the same metadata DB) must read the trigger kwargs each other encrypted.
if "AIRFLOW__CORE__FERNET_KEY" not in os.environ:
    from cryptography.fernet import Fernet

    os.environ["AIRFLOW__CORE__FERNET_KEY"] = Fernet.generate_key().decode()


def _worker_ports() -> None:
    """Parallel workers (pytest -n N) start estates side by side: give each its own slice of ports."""
    from rehearsal.net import PORTS, PORTS_ENV

    worker, count = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if worker and count:
        size = len(PORTS) // int(count)
        first = PORTS.start + int(worker.removeprefix("gw")) * size
        os.environ[PORTS_ENV] = f"{first}-{first + size - 1}"


_worker_ports()


@pytest.fixture
def estate():
    """A fresh estate for a test that changes production (a switchover is one-way)."""
    from rehearsal.estate import Estate

    with Estate.running() as running:
        yield running


@pytest.fixture(scope="module")
def shared_estate():
    """One estate for a module whose tests leave production as they found it."""
    from rehearsal.estate import Estate

    with Estate.running() as running:
        yield running


@pytest.fixture
def moto_aws(monkeypatch):
    """moto in-process behind the ``aws_default`` connection (us-east-1)."""
    import json

    from moto import mock_aws

    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({
        "conn_type": "aws", "login": "test", "password": "test", "extra": {"region_name": "us-east-1"}}))
    with mock_aws():
        yield


@pytest.fixture
def records_s3(moto_aws):
    """An S3 client of in-process moto with the pipelines' records bucket (``cdc-runbook-records``)."""
    import boto3

    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="cdc-runbook-records")
    return client


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated metadata DB (SQLite) in the private AIRFLOW_HOME, for dag.test()."""
    from airflow.utils.db import resetdb

    from rehearsal.dag_test import dag_test_keeps_defer_kwargs

    resetdb()
    dag_test_keeps_defer_kwargs()


@pytest.fixture
def run_dag(airflow_db, monkeypatch):
    """Run a DAG of dags/ with dag.test() against an estate; return (DagRun, run record from S3)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"], safe_mode=False)

    def run(estate, dag_id: str, **conf):
        for name, value in estate.airflow_env().items():
            monkeypatch.setenv(name, value)
        dag_run = bag.dags[dag_id].test(run_conf=conf)
        return dag_run, run_record(estate, dag_id, dag_run.run_id)

    def clear_and_rerun(estate, dag_run, task_id: str):
        """What an on-call engineer does in the UI: clear ``task_id`` with its downstream tasks in a finished run,
        and let the scheduler carry the same run on (upstream results and XComs stay)."""
        return _clear_and_rerun(bag.dags[dag_run.dag_id], dag_run.run_id, task_id), run_record(
            estate, dag_run.dag_id, dag_run.run_id)

    def triggered(estate, dag_id: str, run_id: str):
        """What the scheduler does with a run another run triggered (e.g. the resume run of a switchover)."""
        return run_existing(bag.dags[dag_id], run_id), run_record(estate, dag_id, run_id)

    def started_by_events(estate, dag_id: str, events: dict[str, list[dict]]):
        """What the scheduler does when asset events arrive (``events``: asset name -> each event's payload, as the
        runbooks' event trigger makes it): an asset-triggered run that consumed them, run to its end."""
        for name, value in estate.airflow_env().items():
            monkeypatch.setenv(name, value)
        return triggered(estate, dag_id, asset_triggered_run(bag, dag_id, events))

    run.bag = bag
    run.clear_and_rerun = clear_and_rerun
    run.triggered = triggered
    run.started_by_events = started_by_events
    return run


def asset_triggered_run(bag, dag_id: str, events: dict[str, list[dict]]) -> str:
    """A queued asset-triggered run of ``dag_id`` that consumed new asset events with ``events``' payloads (the DAG
    synced to the metadata DB first, as dag.test() does); its run id."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import sync_bag_to_db
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.dagrun import DagRun
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils import timezone
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import select

    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "dags-folder", None)
    with create_session() as session:
        assets = {a.name: a for a in session.scalars(select(AssetModel).where(AssetModel.name.in_(events)))}
        consumed = [AssetEvent(asset_id=assets[name].id, extra={"from_trigger": True, "payload": payload})
                    for name, payloads in events.items() for payload in payloads]
        session.add_all(consumed)
        run_after = timezone.utcnow()
        dag_run = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(bag.dags[dag_id])).create_dagrun(
            run_id=DagRun.generate_run_id(run_type=DagRunType.ASSET_TRIGGERED, logical_date=None,
                                          run_after=run_after),
            run_after=run_after, run_type=DagRunType.ASSET_TRIGGERED, triggered_by=DagRunTriggeredByType.ASSET,
            state=DagRunState.QUEUED, session=session)
        dag_run.consumed_asset_events.extend(consumed)
        return dag_run.run_id


def _clear_and_rerun(dag, run_id: str, task_id: str):
    """The scheduler loop of ``dag.test()`` over an existing run after clearing part of it (dag.test itself
    always replaces the run)."""
    return run_existing(dag, run_id, {task_id} | dag.get_task(task_id).get_flat_relative_ids(upstream=False))


def run_existing(dag, run_id: str, cleared: set[str] = frozenset()):
    """The scheduler loop of ``dag.test()`` over an existing run: a queued one (e.g. triggered by another run), or a
    finished one whose ``cleared`` tasks are cleared first."""
    import time as _time
    from types import SimpleNamespace

    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import clear_task_instances
    from airflow.sdk.definitions.dag import _run_task
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from sqlalchemy import select

    with create_session() as session:
        dag_run = session.scalar(select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id))
        dag_run.dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
        if cleared:
            clear_task_instances([ti for ti in dag_run.get_task_instances(session=session) if ti.task_id in cleared],
                                 session, dag_run_state=DagRunState.RUNNING)
        else:
            dag_run.state = DagRunState.RUNNING
        session.commit()
        while dag_run.state == DagRunState.RUNNING:
            session.expire_all()
            schedulable, _ = dag_run.update_state(session=session)
            for ti in schedulable:
                ti.try_number += 1
                ti.state = TaskInstanceState.SCHEDULED
            session.commit()
            scheduled = [ti for ti in dag_run.get_task_instances(session=session)
                         if ti.state == TaskInstanceState.SCHEDULED]
            for ti in scheduled:
                _run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)
            if not scheduled:
                _time.sleep(0.5)
        return SimpleNamespace(dag_id=dag_run.dag_id, run_id=dag_run.run_id, state=dag_run.state)


def run_record(estate, dag_id: str, run_id: str) -> dict | None:
    """The run record a runbook wrote to the estate's records bucket (None if it wrote none)."""
    import json

    from cdc_runbooks.run_record import RunRecord

    key = RunRecord(dag_id=dag_id, run_id=run_id, pipeline="", started_at=None, finished_at=None,
                    dry_run=False).key
    s3 = estate.aws.client("s3")
    try:
        body = s3.get_object(Bucket=estate.resources.records_bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return json.loads(body)


@pytest.fixture
def answer_approval():
    """Answer a HITL approval from a background thread (:func:`answer_when_parked`); joined at the end."""
    threads = []

    def answer(dag_id: str, task_id: str, option: str, timeout: float = 120):
        threads.append(answer_when_parked(dag_id, task_id, option, timeout))
        return threads[-1]

    yield answer
    for thread in threads:
        thread.join(timeout=5)


def answer_when_parked(dag_id: str, task_id: str, option: str, timeout: float = 120):
    """Answer ``task_id``'s HITL approval with ``option`` from a background thread, as the REST API handler does,
    once the task is parked (plus a margin: answering within ~1 s of parking trips a 3.3.2 race that fails the
    task); the started thread."""
    import threading
    import time as _time
    from datetime import UTC, datetime

    def run():
        from airflow.models.hitl import HITLDetail
        from airflow.models.taskinstance import TaskInstance
        from airflow.models.trigger import handle_event_submit
        from airflow.triggers.base import TriggerEvent
        from airflow.utils.session import create_session
        from sqlalchemy import select

        deadline = _time.monotonic() + timeout
        while _time.monotonic() < deadline:
            with create_session() as session:
                ti = session.scalar(select(TaskInstance).where(
                    TaskInstance.dag_id == dag_id, TaskInstance.task_id == task_id,
                    TaskInstance.state == "awaiting_input"))
                if ti is not None:
                    _time.sleep(3)
                    detail = session.scalar(select(HITLDetail).where(HITLDetail.ti_id == ti.id))
                    detail.responded_by = {"id": "oncall", "name": "On-call SRE"}
                    detail.responded_at = datetime.now(UTC)
                    detail.chosen_options = [option]
                    detail.params_input = {}
                    session.add(detail)
                    handle_event_submit(TriggerEvent(detail.as_resume_event_payload()), task_instance=ti,
                                        session=session)
                    return
            _time.sleep(0.5)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def change_when_asked(estate, dag_id: str, *statements: str):
    """The product team in a ``cdc_table_maintenance`` run: approve the go-ahead, and once the run asks whether the
    change is done, make it on the writer (as the schema owner) and answer Approve; the started thread."""
    import threading
    import time as _time

    answer_when_parked(dag_id, "approve_change", "Approve")

    def change():
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session
        from sqlalchemy import select

        deadline = _time.monotonic() + 180
        while _time.monotonic() < deadline:
            with create_session() as session:
                if session.scalar(select(TaskInstance).where(
                        TaskInstance.dag_id == dag_id, TaskInstance.task_id == "confirm_change_done",
                        TaskInstance.state == "awaiting_input")) is not None:
                    break
            _time.sleep(0.5)
        estate.source.writer.execute("USE shop", *statements)
        answer_when_parked(dag_id, "confirm_change_done", "Approve").join(60)

    thread = threading.Thread(target=change, daemon=True)
    thread.start()
    return thread
