"""The switchover preflight against the estate: it refuses a deployment that is not the pipeline's before it
connects to any database, refuses an unknown deployment (a refusal, not retried), and checks every step's
preconditions up front, among them that the resume DAG's reconciliation can verify every pipeline table (naming
every table it cannot, not only the first)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from cdc_runbooks.blue_green import BlueGreenStateError
from cdc_runbooks.operators.blue_green import BlueGreenPreflightOperator, SwitchoverPreflightFailed
from cdc_runbooks.pipelines import ENV_VAR, pipelines_path
from cdc_runbooks.refusal import Refusal

pytestmark = pytest.mark.estate


class Connected(BaseException):  # not an Exception: nothing in the code under test can swallow it
    """A database connection was opened."""


@pytest.fixture
def hooks_reach(shared_estate, monkeypatch):
    for name, value in shared_estate.airflow_env().items():
        monkeypatch.setenv(name, value)
    return shared_estate


@pytest.fixture
def no_database(monkeypatch):
    """Any SQL connection trips (AWS calls still go to the estate's control plane)."""
    from airflow.providers.mysql.hooks.mysql import MySqlHook
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    def connect(*args, **kwargs):
        raise Connected("a database connection was opened")

    monkeypatch.setattr(MySqlHook, "get_conn", connect)
    monkeypatch.setattr(PostgresHook, "get_conn", connect)


class RunningTask:
    """The task instance, as far as the preflight uses it: the resume DAG exists and is not paused; a failure's
    record is kept."""

    def __init__(self) -> None:
        self.pushed: dict = {}

    @staticmethod
    def get_dag(dag_id: str) -> SimpleNamespace:
        return SimpleNamespace(dag_id=dag_id, is_paused=False)

    def xcom_push(self, key: str, value) -> None:
        self.pushed[key] = value


def _preflight(deployment_id: str) -> dict:
    return BlueGreenPreflightOperator(task_id="preflight", pipeline_name="shop",
                                      deployment_identifier=deployment_id).execute({"ti": RunningTask()})


def _other_clusters_deployment(estate) -> str:
    """A blue/green deployment of another cluster in the same account (its endpoints lead nowhere)."""
    rds = estate.aws.client("rds")
    cluster = rds.create_db_cluster(DBClusterIdentifier="billing", Engine="aurora-mysql",
                                    EngineVersion="5.7.mysql_aurora.2.11.2", MasterUsername="admin",
                                    MasterUserPassword="not-used-by-the-estate")["DBCluster"]
    rds.create_db_instance(DBInstanceIdentifier="billing-writer", DBClusterIdentifier="billing",
                           Engine="aurora-mysql", DBInstanceClass="db.r6g.large")
    return rds.create_blue_green_deployment(BlueGreenDeploymentName="billing-upgrade", Source=cluster["DBClusterArn"],
                                            TargetEngineVersion="8.0.mysql_aurora.3.05.2",
                                            )["BlueGreenDeployment"]["BlueGreenDeploymentIdentifier"]


def test_another_clusters_deployment_is_refused_before_any_connection(hooks_reach, no_database):
    other = _other_clusters_deployment(hooks_reach)

    with pytest.raises(BlueGreenStateError, match="not the pipeline's production cluster prod") as refused:
        _preflight(other)
    assert other in str(refused.value) and isinstance(refused.value, Refusal)


def test_an_unknown_deployment_is_a_refusal_naming_it(hooks_reach, no_database):
    with pytest.raises(BlueGreenStateError, match="deployment_id: no blue/green deployment bgd-0000000000000000"):
        _preflight("bgd-0000000000000000")


UNVERIFIABLE = {  # table -> (source DDL, warehouse DDL): what the reconcile refuses (it takes any key, and none)
    "readings": ("CREATE TABLE shop.readings (r DOUBLE PRIMARY KEY)",
                 "CREATE TABLE shop.readings (r DOUBLE PRECISION)"),
    "shapes": ("CREATE TABLE shop.shapes (id INT PRIMARY KEY, g GEOMETRY)",
               "CREATE TABLE shop.shapes (id INT, g TEXT)"),
}


@pytest.fixture
def unverifiable_tables(hooks_reach, monkeypatch, tmp_path: Path):
    """The pipeline also replicates two tables the reconcile cannot verify (an approximate key, a spatial column)."""
    estate = hooks_reach
    for table, (source, warehouse) in UNVERIFIABLE.items():
        estate.source.writer.execute(f"DROP TABLE IF EXISTS shop.{table}", source)
        estate.warehouse.query(f"DROP TABLE IF EXISTS shop.{table}; {warehouse}")
    document = yaml.safe_load(pipelines_path().read_text())
    document["pipelines"]["shop"]["tables"] += sorted(UNVERIFIABLE)
    path = tmp_path / "pipelines.yaml"
    path.write_text(yaml.safe_dump(document))
    monkeypatch.setenv(ENV_VAR, str(path))
    yield estate
    for table in UNVERIFIABLE:
        estate.source.writer.execute(f"DROP TABLE IF EXISTS shop.{table}")
        estate.warehouse.query(f"DROP TABLE IF EXISTS shop.{table}")


def test_tables_the_reconcile_cannot_verify_fail_the_preflight_all_named(unverifiable_tables):
    with pytest.raises(SwitchoverPreflightFailed) as failed:
        _preflight(unverifiable_tables.deployment_id)

    report = str(failed.value)
    assert "| tables verifiable by the reconciliation | FAIL |" in report
    assert "readings: key column r is approximate" in report
    assert "shapes.g: type 'geometry' has no canonical rendering" in report


def test_the_preflight_passes_with_verifiable_tables(hooks_reach):
    result = _preflight(hooks_reach.deployment_id)

    assert "| tables verifiable by the reconciliation | pass | customers, orders |" in result["markdown"]
