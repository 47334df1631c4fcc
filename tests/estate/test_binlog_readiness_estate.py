"""Binlog readiness against the estate: blue and green pass as seeded, and each fault on one side
fails exactly its check there while the other side still passes.

API faults change a side's DB cluster parameter group; server faults change that
side's MariaDB only (``sql_log_bin=0`` keeps blue's changes from replicating to
green; green's own writes never reach blue). Every test restores what it changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from cdc_runbooks.aws.readiness import check_binlog_readiness
from cdc_runbooks.binlog_readiness import BinlogNotReady, markdown_cell
from cdc_runbooks.operators.binlog_readiness import BinlogReadinessOperator
from cdc_runbooks.pipelines import get_pipeline
from rehearsal.mariadb import MariaDBServer
from rehearsal.net import LOOPBACK

pytestmark = pytest.mark.estate

SIDES = ("blue", "green")
BASELINE_RETENTION_HOURS = 48
NULL_RETENTION = "NULL (lazy purge: binlogs are removed as soon as possible, usually within a day)"


@dataclass(frozen=True)
class Side:
    name: str
    cluster: str
    role: str
    parameter_group: str
    writer_instance: str
    server: MariaDBServer


@pytest.fixture(scope="module")
def ready_estate(shared_estate):
    """The shared estate with binlog retention long enough (seeded NULL), on blue and, replicated, green."""
    source = shared_estate.source
    source.blue.execute(f"CALL mysql.rds_set_configuration('binlog retention hours', {BASELINE_RETENTION_HOURS})")
    source.wait_green_caught_up(timeout=10)
    yield shared_estate
    source.blue.execute("CALL mysql.rds_set_configuration('binlog retention hours', NULL)")


@pytest.fixture(autouse=True)
def airflow_connections(monkeypatch, ready_estate):
    for name, value in ready_estate.airflow_env().items():
        monkeypatch.setenv(name, value)


def _side(estate, name: str) -> Side:
    cluster = estate.resources.cluster if name == "blue" else estate.green_cluster
    found = estate.aws.client("rds").describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]
    writer = next(m["DBInstanceIdentifier"] for m in found["DBClusterMembers"] if m["IsClusterWriter"])
    return Side(name, cluster, "production" if name == "blue" else "green", found["DBClusterParameterGroup"],
                writer, estate.source.blue if name == "blue" else estate.source.green)


def _report(estate, side: Side):
    return check_binlog_readiness(get_pipeline("shop"), side.cluster, side.role)


def _other(estate, side: Side) -> Side:
    return _side(estate, "green" if side.name == "blue" else "blue")


def _assert_fails_only(estate, side: Side, failing: dict[str, tuple[str, str]]) -> str:
    """The side fails exactly ``failing`` (check name -> (expected, actual)); the other side passes."""
    report = _report(estate, side)
    markdown = report.to_markdown()
    assert {check.name for check in report.failures} == set(failing), markdown
    for name, (expected, actual) in failing.items():
        assert f"| {name} | {markdown_cell(expected)} | {markdown_cell(actual)} | FAIL |" in markdown
    assert f"`{side.cluster}` ({side.role}): NOT READY" in markdown
    other = _report(estate, _other(estate, side))
    assert other.passed, other.to_markdown()
    return markdown


# -- faults, each restoring what it changed ------------------------------------------------------
@contextlib.contextmanager
def _group_parameter(estate, side: Side, name: str, value: str, apply_method: str = "immediate") -> Iterator[None]:
    rds = estate.aws.client("rds")
    parameters = rds.describe_db_cluster_parameters(DBClusterParameterGroupName=side.parameter_group)["Parameters"]
    original = next(p["ParameterValue"] for p in parameters if p["ParameterName"] == name)

    def set_to(new: str, method: str) -> None:
        rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=side.parameter_group, Parameters=[
            {"ParameterName": name, "ParameterValue": new, "ApplyMethod": method}])

    set_to(value, apply_method)
    try:
        yield
    finally:
        set_to(original, "immediate")
        rds.reboot_db_instance(DBInstanceIdentifier=side.writer_instance)  # applies whatever was left pending


@contextlib.contextmanager
def _server_global(side: Side, variable: str, value: str) -> Iterator[None]:
    (original,) = side.server.execute(f"SELECT @@GLOBAL.{variable}")[0]
    side.server.execute(f"SET GLOBAL {variable} = '{value}'")
    try:
        yield
    finally:
        side.server.execute(f"SET GLOBAL {variable} = '{original}'")


def _on_this_side_only(side: Side, *statements: str) -> None:
    side.server.execute("SET SESSION sql_log_bin = 0", *statements)


@contextlib.contextmanager
def _retention(side: Side, hours: int | None) -> Iterator[None]:
    value = "NULL" if hours is None else hours
    _on_this_side_only(side, f"CALL mysql.rds_set_configuration('binlog retention hours', {value})")
    try:
        yield
    finally:
        _on_this_side_only(side, "CALL mysql.rds_set_configuration('binlog retention hours', "
                                 f"{BASELINE_RETENTION_HOURS})")


@contextlib.contextmanager
def _revoked(estate, side: Side, privilege: str) -> Iterator[None]:
    grantee = f"'{estate.source.dms.user}'@'{LOOPBACK}'"
    _on_this_side_only(side, f"REVOKE {privilege} ON *.* FROM {grantee}")
    try:
        yield
    finally:
        _on_this_side_only(side, f"GRANT {privilege} ON *.* TO {grantee}")


Fault = Callable[[object, Side], contextlib.AbstractContextManager]
FAULTS: dict[str, tuple[Fault, dict[str, tuple[str, str]]]] = {
    "group binlog_format MIXED": (
        lambda e, s: _group_parameter(e, s, "binlog_format", "MIXED"),
        {"parameter_group.binlog_format": ("ROW", "MIXED")}),
    "server binlog_format MIXED": (
        lambda e, s: _server_global(s, "binlog_format", "MIXED"),
        {"server.binlog_format": ("ROW", "MIXED")}),
    "group binlog_row_image MINIMAL": (
        lambda e, s: _group_parameter(e, s, "binlog_row_image", "minimal"),
        {"parameter_group.binlog_row_image": ("FULL", "minimal")}),
    "server binlog_row_image MINIMAL": (
        lambda e, s: _server_global(s, "binlog_row_image", "MINIMAL"),
        {"server.binlog_row_image": ("FULL", "MINIMAL")}),
    "retention NULL": (
        lambda e, s: _retention(s, None),
        {"server.binlog_retention_hours": (">= 24 h", NULL_RETENTION)}),
    "retention 12 h": (
        lambda e, s: _retention(s, 12),
        {"server.binlog_retention_hours": (">= 24 h", "12 h")}),
    "REPLICATION CLIENT revoked": (
        lambda e, s: _revoked(e, s, "REPLICATION CLIENT"),
        {"grants.replication_client": ("REPLICATION CLIENT ON *.*",
                                       "ON *.*: REPLICATION SLAVE, SELECT, SLAVE MONITOR")}),
    "enhanced binlog on (static: the writer waits for a reboot)": (
        lambda e, s: _group_parameter(e, s, "aurora_enhanced_binlog", "1", apply_method="pending-reboot"),
        {"parameter_group.aurora_enhanced_binlog": ("0 (off)", "1"),
         "writer.parameter_apply_status": ("in-sync", "pending-reboot")}),
}


# -- tests ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("side_name", SIDES)
def test_seeded_estate_is_ready_on_both_sides(ready_estate, side_name):
    report = _report(ready_estate, _side(ready_estate, side_name))
    assert report.passed, report.to_markdown()
    assert len(report.checks) == 15


@pytest.mark.parametrize("side_name", SIDES)
@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_fails_its_check_on_that_side_only(ready_estate, fault, side_name):
    side = _side(ready_estate, side_name)
    make_fault, failing = FAULTS[fault]
    with make_fault(ready_estate, side):
        _assert_fails_only(ready_estate, side, failing)
    assert _report(ready_estate, side).passed


@pytest.mark.parametrize("side_name", SIDES)
def test_pending_reboot_until_the_writer_reboots(ready_estate, side_name):
    side = _side(ready_estate, side_name)
    rds = ready_estate.aws.client("rds")
    with _group_parameter(ready_estate, side, "binlog_format", "ROW", apply_method="pending-reboot"):
        markdown = _assert_fails_only(ready_estate, side, {
            "writer.parameter_apply_status": ("in-sync", "pending-reboot")})
        assert f"Reboot writer {side.writer_instance} (RebootDBInstance)" in markdown
        rds.reboot_db_instance(DBInstanceIdentifier=side.writer_instance)
        assert _report(ready_estate, side).passed


def test_operator_returns_the_report_when_ready(ready_estate):
    result = BinlogReadinessOperator(task_id="x", pipeline_name="shop", cluster="prod").execute(context={})
    assert (result["cluster"], result["role"], result["passed"], result["failures"]) == (
        "prod", "production", True, [])
    assert len(result["checks"]) == 15


def test_operator_fails_with_the_whole_report(ready_estate):
    green = _side(ready_estate, "green")
    operator = BinlogReadinessOperator(task_id="x", pipeline_name="shop", cluster=green.cluster, role="green")
    with _server_global(green, "binlog_format", "MIXED"), pytest.raises(BinlogNotReady) as raised:
        operator.execute(context={})
    message = str(raised.value)
    assert message.startswith(f"cluster {green.cluster} (green) is not ready for DMS CDC: server.binlog_format\n")
    assert "| check | expected | actual | result | why | fix |" in message
    assert "| server.binlog_format | ROW | MIXED | FAIL |" in message
    assert "| server.log_bin | ON | ON | pass |" in message
