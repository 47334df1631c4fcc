"""docker-compose.yml, checked against this repository and the installed Airflow (Docker cannot run here):
every service, mount, file path, command, connection and dependency refers to something that exists."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker",
           "airflow-init")
ESTATE = {name for name, service in SERVICES.items() if "estate" in service.get("profiles", ())}
_INTERPOLATION = re.compile(r"^\$\{(?P<name>\w+)(?::(?P<op>[-?])(?P<rest>.*))?\}$", re.DOTALL)


def _value(raw: object) -> str:
    """A compose value as it is without a .env file: ``${VAR:-default}`` gives the default."""
    text = str(raw).strip()
    match = _INTERPOLATION.match(text)
    if match and match["op"] == "-":
        return match["rest"]
    return text


def _env(service: str) -> dict[str, str]:
    return {key: _value(value) for key, value in SERVICES[service].get("environment", {}).items()}


def _mounts(service: str) -> list[tuple[str, str]]:
    return [tuple(volume.split(":")[:2]) for volume in SERVICES[service].get("volumes", ())]


def _repo_path(service: str, container_path: str) -> Path | None:
    """Where a container path of a service comes from in this repository (through its bind mounts)."""
    for source, target in _mounts(service):
        if source.startswith(".") and (container_path == target or container_path.startswith(target + "/")):
            return (REPO / source / container_path[len(target):].lstrip("/")).resolve()
    return None


def _host(url: str) -> str:
    return urlsplit(url.removeprefix("db+")).hostname


def test_the_team_stack_and_the_estate_profile_are_all_there():
    assert set(AIRFLOW) | {"postgres", "redis"} <= set(SERVICES) - ESTATE
    assert {"source-mysql", "warehouse", "moto"} == ESTATE


@pytest.mark.parametrize("service", AIRFLOW)
def test_airflow_services_build_the_repository_image_of_the_installed_airflow(service):
    import airflow

    assert SERVICES[service]["build"] == "."
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(rf"^FROM apache/airflow:{re.escape(airflow.__version__)}-python3\.11$", dockerfile, re.M)
    for source in re.findall(r"^COPY (?:--\S+ )*(\S+) ", dockerfile, re.M):
        assert (REPO / source).exists(), f"Dockerfile copies {source}, which is not in the repository"


@pytest.mark.parametrize("service", sorted(set(SERVICES) - set(AIRFLOW)))
def test_other_services_use_pinned_images(service):
    image = SERVICES[service]["image"]
    assert re.fullmatch(r"[a-z/]+:\d[\w.-]*", image), image


def test_the_moto_image_is_the_version_the_estate_is_tested_with():
    import moto

    assert SERVICES["moto"]["image"] == f"motoserver/moto:{moto.__version__}"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_mount_is_a_repository_path_or_a_declared_volume(service):
    for source, _target in _mounts(service):
        if source.startswith("."):
            assert (REPO / source).exists(), f"{service} mounts {source}, missing from the repository"
        else:
            assert source in COMPOSE["volumes"], f"{service} mounts undeclared volume {source}"


@pytest.mark.parametrize("service", AIRFLOW)
def test_the_runbook_code_and_configuration_are_mounted_where_airflow_looks(service):
    mounts = dict((target, source) for source, target in _mounts(service))
    assert {mounts[f"/opt/airflow/{name}"] for name in ("dags", "plugins", "runbooks", "config")} == {
        "./dags", "./plugins", "./runbooks", "./config"}


@pytest.mark.parametrize("service", AIRFLOW)
def test_file_paths_in_the_environment_exist_in_the_repository(service):
    env = _env(service)
    assert _repo_path(service, env["CDC_RUNBOOKS_PIPELINES"]) == REPO / "config" / "pipelines.yaml"
    assert _repo_path(service, env["CDC_RUNBOOKS_DIR"]) == REPO / "runbooks"
    for key, value in env.items():
        if value.startswith("/opt/airflow/"):
            path = _repo_path(service, value)
            assert path is not None and path.exists(), f"{service} {key}={value} is not in the repository"


@pytest.mark.parametrize("service", AIRFLOW)
def test_commands_are_real_airflow_subcommands(service):
    from airflow.cli.cli_config import core_commands
    from airflow.providers.celery.executors.celery_executor import CeleryExecutor

    def names(commands):
        return {c.name: c for c in commands}

    words = SERVICES[service]["command"].split()
    command = names([*core_commands, *CeleryExecutor.get_cli_commands()])[words[0]]
    for word in words[1:]:
        command = names(command.subcommands)[word]
    assert not hasattr(command, "subcommands"), f"{service}: '{' '.join(words)}' names a group, not a command"


def test_celery_executor_with_the_compose_broker_and_databases():
    env = _env("airflow-scheduler")
    postgres = SERVICES["postgres"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert _host(env["AIRFLOW__CELERY__BROKER_URL"]) == "redis"
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
        url = urlsplit(env[key].removeprefix("db+"))
        assert (url.hostname, url.username, url.password, url.path) == (
            "postgres", postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], "/" + postgres["POSTGRES_DB"])


def test_every_component_shares_one_jwt_secret_that_must_be_set():
    for service in AIRFLOW:
        assert str(SERVICES[service]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"]).startswith(
            "${AIRFLOW_JWT_SECRET:?")
    assert _env("airflow-worker")["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:")


def _connections() -> dict[str, object]:
    from airflow.models.connection import Connection

    return {key.removeprefix("AIRFLOW_CONN_").lower(): Connection(conn_id=key, uri=value)
            for key, value in _env("airflow-worker").items() if key.startswith("AIRFLOW_CONN_")}


def test_every_connection_the_pipelines_name_is_defined():
    from cdc_runbooks.pipelines import load_pipelines

    needed = {getattr(p, name) for p in load_pipelines(REPO / "config" / "pipelines.yaml").values()
              for name in ("aws_conn_id", "source_conn_id", "target_conn_id")}
    assert needed <= set(_connections())


def test_default_connections_point_at_the_estate_profile():
    connections = _connections()
    mysql, warehouse = SERVICES["source-mysql"], SERVICES["warehouse"]["environment"]
    init_sql = COMPOSE["configs"]["source-mysql-init"]["content"]

    assert urlsplit(connections["aws_default"].extra_dejson["endpoint_url"]).netloc == "moto:5000"
    source = connections["source_mysql"]
    assert (source.host, source.port, source.schema) == ("source-mysql", 3306, mysql["environment"]["MYSQL_DATABASE"])
    assert f"CREATE USER '{source.login}'@'%' IDENTIFIED BY '{source.password}'" in init_sql
    target = connections["warehouse"]
    assert (target.host, target.port, target.login, target.password, target.schema) == (
        "warehouse", 5432, warehouse["POSTGRES_USER"], warehouse["POSTGRES_PASSWORD"], warehouse["POSTGRES_DB"])


def test_the_source_writes_the_binlog_dms_cdc_needs():
    flags = SERVICES["source-mysql"]["command"]
    assert {"--log-bin=mysql-bin", "--binlog-format=ROW", "--binlog-row-image=FULL"} <= set(flags)
    assert any(flag.startswith("--server-id=") for flag in flags)
    for config in SERVICES["source-mysql"]["configs"]:
        assert config["source"] in COMPOSE["configs"]


@pytest.mark.parametrize("service", sorted(set(SERVICES) - {"airflow-init"}))
def test_long_running_services_have_healthchecks(service):
    assert SERVICES[service]["healthcheck"]["test"]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_dependencies_exist_and_the_team_stack_never_needs_the_estate(service):
    depends_on = SERVICES[service].get("depends_on", {})
    assert set(depends_on) <= set(SERVICES)
    if service not in ESTATE:
        assert not set(depends_on) & ESTATE
    for name, condition in depends_on.items():
        if condition["condition"] == "service_healthy":
            assert "healthcheck" in SERVICES[name]


@pytest.mark.parametrize("service", AIRFLOW)
def test_the_deployment_sets_what_the_cdc_gap_was_measured_with(service):
    """The settings the README's deployment section names for the CDC gap are the rehearsal cluster's, on every
    component (a worker reads the heartbeat interval, the scheduler the idle sleep and the Celery options)."""
    from rehearsal.airflow_cluster import AirflowCluster

    measured = AirflowCluster(Path("/nonexistent"), dict).env()
    for key in ("AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME", "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL",
                "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"):
        assert _env(service)[key] == measured[key], key
