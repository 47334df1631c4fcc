"""Binlog readiness, pure: each prerequisite judged from facts, grants and retention parsed, the report."""

from __future__ import annotations

import dataclasses
import json

import pytest

from cdc_runbooks.binlog_readiness import ApiFacts, SqlFacts, evaluate, parse_grants, retention_hours

GOOD_PARAMETERS = {"binlog_format": "ROW", "binlog_row_image": "full", "binlog_checksum": "CRC32",
                   "binlog_row_value_options": "", "binlog_transaction_compression": "OFF",
                   "aurora_enhanced_binlog": "0"}
AURORA_GRANTS = ("GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `dms_user`@`%`",)
MARIADB_GRANTS = (
    "GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `dms_user`@`127.0.0.1` IDENTIFIED BY PASSWORD '*4A'",
    "GRANT EXECUTE ON PROCEDURE `mysql`.`rds_show_configuration` TO `dms_user`@`127.0.0.1`",
)
GOOD_API = ApiFacts(parameter_group="prod-aurora80-cdc", parameters=GOOD_PARAMETERS, writer_apply_status="in-sync",
                    writer_instance="prod-writer")
GOOD_SQL = SqlFacts(log_bin=1, binlog_format="ROW", binlog_row_image="FULL", retention_hours=48,
                    grants=AURORA_GRANTS)
_MISSING = object()
ALL_CHECKS = (
    "parameter_group.custom", "parameter_group.binlog_format", "parameter_group.binlog_row_image",
    "parameter_group.binlog_checksum", "parameter_group.binlog_row_value_options",
    "parameter_group.aurora_enhanced_binlog", "parameter_group.binlog_transaction_compression",
    "writer.parameter_apply_status", "server.log_bin", "server.binlog_format", "server.binlog_row_image",
    "server.binlog_retention_hours", "grants.replication_client", "grants.replication_slave", "grants.select",
)


def _report(api: ApiFacts = GOOD_API, sql: SqlFacts = GOOD_SQL, *, dms: str = "3.5.3", min_hours: int = 24):
    return evaluate("prod", "production", api, sql, min_retention_hours=min_hours, dms_engine_version=dms)


def _with_parameters(**changes) -> ApiFacts:
    """GOOD_API with some parameters changed; _MISSING removes one from the group."""
    parameters = {**GOOD_PARAMETERS, **changes}
    return dataclasses.replace(GOOD_API, parameters={k: v for k, v in parameters.items() if v is not _MISSING})


def _only_failure(report):
    assert len(report.failures) == 1, report.to_markdown()
    return report.failures[0]


def test_good_facts_pass_every_check():
    report = _report()
    assert report.passed and report.failures == ()
    assert tuple(check.name for check in report.checks) == ALL_CHECKS
    assert all(check.passed for check in report.checks)


@pytest.mark.parametrize(("api", "name", "actual"), [
    (dataclasses.replace(GOOD_API, parameter_group="default.aurora-mysql8.0"), "parameter_group.custom",
     "default.aurora-mysql8.0"),
    (_with_parameters(binlog_format="MIXED"), "parameter_group.binlog_format", "MIXED"),
    (_with_parameters(binlog_format="OFF"), "parameter_group.binlog_format", "OFF"),
    (_with_parameters(binlog_format=_MISSING), "parameter_group.binlog_format",
     "not set: Aurora's default OFF means no binlog"),
    (_with_parameters(binlog_format=None), "parameter_group.binlog_format",
     "not set: Aurora's default OFF means no binlog"),
    (_with_parameters(binlog_row_image="MINIMAL"), "parameter_group.binlog_row_image", "MINIMAL"),
    (_with_parameters(binlog_row_image="noblob"), "parameter_group.binlog_row_image", "noblob"),
    (_with_parameters(binlog_row_value_options="PARTIAL_JSON"), "parameter_group.binlog_row_value_options",
     "PARTIAL_JSON"),
    (_with_parameters(aurora_enhanced_binlog="1"), "parameter_group.aurora_enhanced_binlog", "1"),
    (_with_parameters(aurora_enhanced_binlog="ON"), "parameter_group.aurora_enhanced_binlog", "ON"),
    (_with_parameters(binlog_transaction_compression="ON"), "parameter_group.binlog_transaction_compression", "ON"),
    (_with_parameters(binlog_transaction_compression="1"), "parameter_group.binlog_transaction_compression", "1"),
    (dataclasses.replace(GOOD_API, writer_apply_status="pending-reboot"), "writer.parameter_apply_status",
     "pending-reboot"),
    (dataclasses.replace(GOOD_API, writer_apply_status="applying"), "writer.parameter_apply_status", "applying"),
])
def test_each_bad_api_fact_fails_exactly_its_check(api, name, actual):
    failure = _only_failure(_report(api=api))
    assert (failure.name, failure.actual) == (name, actual)
    assert failure.fix


@pytest.mark.parametrize(("sql", "name", "actual"), [
    (dataclasses.replace(GOOD_SQL, log_bin=0), "server.log_bin", "OFF"),
    (dataclasses.replace(GOOD_SQL, log_bin="OFF"), "server.log_bin", "OFF"),
    (dataclasses.replace(GOOD_SQL, binlog_format="MIXED"), "server.binlog_format", "MIXED"),
    (dataclasses.replace(GOOD_SQL, binlog_format="STATEMENT"), "server.binlog_format", "STATEMENT"),
    (dataclasses.replace(GOOD_SQL, binlog_row_image="MINIMAL"), "server.binlog_row_image", "MINIMAL"),
    (dataclasses.replace(GOOD_SQL, retention_hours=12), "server.binlog_retention_hours", "12 h"),
    (dataclasses.replace(GOOD_SQL, retention_hours=None), "server.binlog_retention_hours",
     "NULL (lazy purge: binlogs are removed as soon as possible, usually within a day)"),
])
def test_each_bad_sql_fact_fails_exactly_its_check(sql, name, actual):
    failure = _only_failure(_report(sql=sql))
    assert (failure.name, failure.actual) == (name, actual)


def test_parameters_missing_from_the_group_take_engine_defaults():
    api = _with_parameters(binlog_row_image=_MISSING, binlog_checksum=_MISSING, binlog_row_value_options=_MISSING,
                           aurora_enhanced_binlog=_MISSING, binlog_transaction_compression=None)
    checks = {check.name: check for check in _report(api=api).checks}
    assert _report(api=api).passed
    assert checks["parameter_group.binlog_row_image"].actual == "not set (engine default FULL)"
    assert checks["parameter_group.binlog_checksum"].actual == "not set (engine default CRC32)"
    assert checks["parameter_group.aurora_enhanced_binlog"].actual == "not set (engine default 0)"
    assert checks["parameter_group.binlog_transaction_compression"].actual == "not set (engine default OFF)"
    assert _only_failure(_report(api=api, dms="3.4.7")).actual == "not set (engine default CRC32)"


@pytest.mark.parametrize(("dms", "checksum", "passed"), [
    ("3.4.7", "NONE", True), ("3.4.7", "CRC32", False), ("3.4.6", "CRC32", False), ("3.4", "CRC32", False),
    ("3.4.7", "none", True), ("3.5.1", "CRC32", True), ("3.5.3", "NONE", True), ("3.6.0", "crc32", True),
])
def test_binlog_checksum_rule_follows_the_dms_version(dms, checksum, passed):
    report = _report(api=_with_parameters(binlog_checksum=checksum), dms=dms)
    check = next(c for c in report.checks if c.name == "parameter_group.binlog_checksum")
    assert check.passed is passed and report.passed is passed
    assert check.expected == ("NONE or CRC32" if dms.startswith(("3.5", "3.6")) else "NONE")


def test_a_dms_version_that_is_not_one_is_refused():
    with pytest.raises(ValueError, match="dms_engine_version: 'latest'"):
        _report(dms="latest")


@pytest.mark.parametrize(("lines", "expected"), [
    (AURORA_GRANTS, {"SELECT", "REPLICATION SLAVE", "REPLICATION CLIENT"}),
    (MARIADB_GRANTS, {"SELECT", "REPLICATION SLAVE", "BINLOG MONITOR"}),
    (("GRANT ALL PRIVILEGES ON *.* TO `admin`@`%` WITH GRANT OPTION",), {"ALL PRIVILEGES"}),
    (("GRANT ALL ON *.* TO 'admin'@'%'",), {"ALL PRIVILEGES"}),
    (("GRANT REPLICATION SLAVE,REPLICATION CLIENT ON *.* TO `u`@`%`",
      "GRANT SELECT ON `shop`.* TO `u`@`%`",
      "GRANT SELECT (`id`, `name`) ON `shop`.`customers` TO `u`@`%`",
      "GRANT `cdc_role`@`%` TO `u`@`%`"), {"REPLICATION SLAVE", "REPLICATION CLIENT"}),
    (("GRANT USAGE ON *.* TO `u`@`%`",), {"USAGE"}),
    (("GRANT REPLICATION REPLICA ON *.* TO `u`@`%`",), {"REPLICATION REPLICA"}),
])
def test_parse_grants_keeps_the_global_privileges(lines, expected):
    assert parse_grants(lines) == expected


@pytest.mark.parametrize("grants", [AURORA_GRANTS, MARIADB_GRANTS, ("GRANT ALL PRIVILEGES ON *.* TO `u`@`%`",),
                                    ("GRANT SELECT, REPLICATION REPLICA, REPLICATION CLIENT ON *.* TO `u`@`%`",)])
def test_grants_pass_in_every_spelling(grants):
    assert _report(sql=dataclasses.replace(GOOD_SQL, grants=grants)).passed


@pytest.mark.parametrize(("grants", "name"), [
    (("GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `dms_user`@`%`",
      "GRANT SELECT ON `shop`.* TO `dms_user`@`%`"), "grants.select"),
    (("GRANT SELECT, REPLICATION SLAVE ON *.* TO `dms_user`@`%`",), "grants.replication_client"),
    (("GRANT SELECT, BINLOG MONITOR ON *.* TO `dms_user`@`%`",), "grants.replication_slave"),
])
def test_a_missing_grant_fails_its_check(grants, name):
    failure = _only_failure(_report(sql=dataclasses.replace(GOOD_SQL, grants=grants)))
    assert failure.name == name
    assert failure.actual == "ON *.*: " + ", ".join(sorted(parse_grants(grants)))
    assert failure.fix == f"GRANT {failure.expected} TO `dms_user`@`%`;"


def test_replication_privileges_count_only_on_all_databases():
    grants = ("GRANT SELECT ON *.* TO `dms_user`@`%`", "GRANT REPLICATION SLAVE ON `shop`.* TO `dms_user`@`%`")
    report = _report(sql=dataclasses.replace(GOOD_SQL, grants=grants))
    assert [c.name for c in report.failures] == ["grants.replication_client", "grants.replication_slave"]
    assert report.failures[0].actual == "ON *.*: SELECT"


@pytest.mark.parametrize(("rows", "expected"), [
    ([("binlog retention hours", None, "binlog retention hours specifies ..."), ("source delay", "0", "...")], None),
    ([("source delay", "0", "..."), ("binlog retention hours", "24", "...")], 24),
    ([("binlog retention hours", 168, "...")], 168),
])
def test_retention_hours_from_rds_show_configuration(rows, expected):
    assert retention_hours(rows) == expected


def test_retention_hours_without_its_row_is_an_error():
    with pytest.raises(ValueError, match="no 'binlog retention hours' row"):
        retention_hours([("source delay", "0", "...")])


@pytest.mark.parametrize(("hours", "passed"), [(None, False), (0, False), (23, False), (24, True), (2160, True)])
def test_retention_must_reach_the_minimum(hours, passed):
    report = _report(sql=dataclasses.replace(GOOD_SQL, retention_hours=hours))
    assert report.passed is passed


def test_markdown_names_cluster_role_every_check_and_the_fix_of_a_failure():
    api = _with_parameters(binlog_format="MIXED")
    report = evaluate("prod-green-abc123", "green", api, dataclasses.replace(GOOD_SQL, retention_hours=None),
                      min_retention_hours=24, dms_engine_version="3.5.3")
    markdown = report.to_markdown()
    heading, blank, header, rule, *rows = markdown.splitlines()
    assert "`prod-green-abc123` (green)" in heading and "NOT READY (2 of 15 checks failed)" in heading
    assert header == "| check | expected | actual | result | why | fix |"
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == list(ALL_CHECKS)
    assert "| parameter_group.binlog_format | ROW | MIXED | FAIL |" in markdown
    assert ("Set binlog_format=ROW in DB cluster parameter group prod-aurora80-cdc (ModifyDBClusterParameterGroup), "
            "then reboot writer prod-writer") in markdown
    assert "CALL mysql.rds_set_configuration('binlog retention hours', 24);" in markdown
    assert "| server.log_bin | ON | ON | pass |" in markdown


def test_markdown_heading_of_a_ready_cluster_and_escaped_cells():
    report = _report(api=_with_parameters(binlog_row_value_options="a|b"))
    assert report.to_markdown().splitlines()[0].endswith("cluster `prod` (production): ready")
    assert "| a\\|b |" in report.to_markdown()


def test_to_dict_is_json_and_names_the_failures():
    report = _report(api=dataclasses.replace(GOOD_API, writer_apply_status="pending-reboot"))
    data = json.loads(json.dumps(report.to_dict()))
    assert (data["cluster"], data["role"], data["passed"]) == ("prod", "production", False)
    assert data["failures"] == ["writer.parameter_apply_status"]
    assert [c["name"] for c in data["checks"]] == list(ALL_CHECKS)
    assert data["checks"][7] == {
        "name": "writer.parameter_apply_status", "expected": "in-sync", "actual": "pending-reboot", "passed": False,
        "why": report.checks[7].why,
        "fix": "Reboot writer prod-writer (RebootDBInstance) so it applies DB cluster parameter group "
               "prod-aurora80-cdc."}


def test_the_module_imports_without_airflow():
    import subprocess
    import sys

    code = ("import sys; import cdc_runbooks.binlog_readiness; "
            "sys.exit(any(m == 'airflow' or m.startswith('airflow.') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_a_cell_shows_markdown_specials_as_typed():
    """A grant row read "REPLICATION CLIENT ON ." in the UI: the asterisks were taken for emphasis."""
    from cdc_runbooks.binlog_readiness import markdown_cell

    assert markdown_cell("GRANT REPLICATION CLIENT ON *.* TO `dms`@`%` | <x> [y] >= 24\nz") == \
        "GRANT REPLICATION CLIENT ON \\*.\\* TO \\`dms\\`@\\`%\\` \\| \\<x> \\[y\\] >= 24 z"
    assert markdown_cell("parameter_group.binlog_format") == "parameter_group.binlog_format"
