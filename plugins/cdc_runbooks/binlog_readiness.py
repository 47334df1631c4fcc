"""Binlog readiness of one Aurora MySQL cluster for DMS CDC: every prerequisite, judged from facts.

Pure: the caller gathers the facts (``ApiFacts`` from the RDS API, ``SqlFacts``
from the writer) and ``evaluate`` turns them into one ``Check`` per prerequisite,
each with what was expected, what was found, why it matters for DMS CDC and how
to fix it. A report passes only when every check passes.

The prerequisites are DMS's for a MySQL-compatible source
(https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Source.MySQL.html):
binary logging on with ``binlog_format=ROW`` and ``binlog_row_image=FULL`` in the
DB cluster parameter group and on the running writer, ``binlog_checksum=NONE``
for DMS 3.4.7 and earlier, binlogs retained long enough, REPLICATION CLIENT,
REPLICATION SLAVE and SELECT for the DMS user, and neither Aurora's enhanced
binlog nor binlog transaction compression. ``binlog_row_value_options=PARTIAL_JSON``
is not on DMS's page, but it logs JSON updates as diffs that a row-image reader
cannot rebuild (zero-ETL refuses it too), so it is refused here as well.

A parameter absent from the group (or present without a value) has its engine
default: ``binlog_format`` OFF (Aurora writes no binlog), ``binlog_row_image`` FULL,
``binlog_checksum`` CRC32, and the rest off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from cdc_runbooks.refusal import Refusal

RETENTION_SETTING = "binlog retention hours"
LAST_VERSION_NEEDING_NO_CHECKSUM = (3, 4, 7)
_TRUE = {"1", "ON", "TRUE"}
_GRANT = re.compile(r"^GRANT (?P<privileges>.+?) ON (?P<target>\S+) TO (?P<grantee>\S+)", re.IGNORECASE)
_ALL = "ALL PRIVILEGES"
# The three privileges DMS needs on *.*, each with the spellings that grant it.
_REQUIRED_GRANTS = (
    ("grants.replication_client", "REPLICATION CLIENT", ("REPLICATION CLIENT", "BINLOG MONITOR"),
     "DMS reads the binlog coordinates (SHOW MASTER STATUS, SHOW BINARY LOGS) to start and checkpoint CDC."),
    ("grants.replication_slave", "REPLICATION SLAVE", ("REPLICATION SLAVE", "REPLICATION REPLICA"),
     "DMS streams the binlog as a replica does; without it the CDC connection is refused."),
    ("grants.select", "SELECT", ("SELECT",),
     "DMS reads table metadata and rows of the replicated tables."),
)


class BinlogNotReady(Refusal, RuntimeError):
    """The cluster is not a fit DMS CDC source; the message carries the whole report."""


@dataclass(frozen=True)
class Check:
    """One prerequisite: ``why`` it matters for DMS CDC and how to ``fix`` it when it fails."""

    name: str
    expected: str
    actual: str
    passed: bool
    why: str
    fix: str


@dataclass(frozen=True)
class ApiFacts:
    """What the RDS API says: the cluster's parameter group, its parameters (name -> value, None when
    the group holds no value) and the writer's DBClusterParameterGroupStatus."""

    parameter_group: str
    parameters: Mapping[str, str | None]
    writer_apply_status: str
    writer_instance: str | None = None


@dataclass(frozen=True)
class SqlFacts:
    """What the writer says: global binlog variables, ``binlog retention hours`` (None is NULL) and the
    DMS user's SHOW GRANTS lines."""

    log_bin: bool | int | str
    binlog_format: str | None
    binlog_row_image: str | None
    retention_hours: int | None
    grants: Sequence[str]


@dataclass(frozen=True)
class ReadinessReport:
    """Every check of one cluster in a fixed order; ready only when all pass."""

    cluster: str
    role: str
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.passed)

    def to_markdown(self) -> str:
        """A heading naming the cluster, role and verdict, then one table row per check."""
        verdict = "ready" if self.passed else f"NOT READY ({len(self.failures)} of {len(self.checks)} checks failed)"
        lines = [f"### Binlog readiness for DMS CDC: cluster `{self.cluster}` ({self.role}): {verdict}", "",
                 "| check | expected | actual | result | why | fix |", "|---|---|---|---|---|---|"]
        for check in self.checks:
            cells = (check.name, check.expected, check.actual, "pass" if check.passed else "FAIL", check.why,
                     "" if check.passed else check.fix)
            lines.append("| " + " | ".join(markdown_cell(cell) for cell in cells) + " |")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-able (an XCom value): the verdict, the failing check names and every check."""
        return {"cluster": self.cluster, "role": self.role, "passed": self.passed,
                "failures": [check.name for check in self.failures],
                "checks": [asdict(check) for check in self.checks]}


def evaluate(cluster: str, role: str, api: ApiFacts, sql: SqlFacts, *, min_retention_hours: int,
             dms_engine_version: str) -> ReadinessReport:
    """Judge every binlog prerequisite of DMS CDC on ``cluster`` (its ``role``: "production", "green")."""
    checks = (*_api_checks(cluster, api, dms_engine_version), *_sql_checks(cluster, api, sql, min_retention_hours))
    return ReadinessReport(cluster=cluster, role=role, checks=checks)


def parse_grants(lines: Iterable[str]) -> set[str]:
    """The global privileges (``ON *.*``) in SHOW GRANTS lines, upper-cased: e.g. {"SELECT",
    "REPLICATION SLAVE", "BINLOG MONITOR"}. ``ALL`` is reported as "ALL PRIVILEGES"."""
    privileges: set[str] = set()
    for line in lines:
        match = _GRANT.match(line.strip())
        if match is None or match["target"].replace("`", "") != "*.*":
            continue
        for privilege in match["privileges"].split(","):
            name = " ".join(privilege.split()).upper()
            privileges.add(_ALL if name == "ALL" else name)
    return privileges


def retention_hours(rows: Iterable[Sequence]) -> int | None:
    """``binlog retention hours`` from ``CALL mysql.rds_show_configuration`` rows (name, value,
    description); None when it is NULL (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/
    mysql-stored-proc-configuring.html)."""
    for name, value, *_ in rows:
        if name == RETENTION_SETTING:
            return None if value is None else int(value)
    raise ValueError(f"mysql.rds_show_configuration has no {RETENTION_SETTING!r} row")


# -- the API checks ------------------------------------------------------------------------------
def _api_checks(cluster: str, api: ApiFacts, dms_engine_version: str) -> tuple[Check, ...]:
    group, params = api.parameter_group, api.parameters
    writer = _writer(cluster, api)
    modify = f"in DB cluster parameter group {group} (ModifyDBClusterParameterGroup), then reboot {writer}"
    checksums = ("NONE",) if _needs_no_checksum(dms_engine_version) else ("NONE", "CRC32")
    checksum = _param(params, "binlog_checksum", "CRC32")
    row_value_options = _param(params, "binlog_row_value_options", "")
    enhanced = _param(params, "aurora_enhanced_binlog", "0")
    compression = _param(params, "binlog_transaction_compression", "OFF")
    binlog_format, row_image = params.get("binlog_format"), _param(params, "binlog_row_image", "FULL")
    return (
        Check("parameter_group.custom", "a custom DB cluster parameter group (not default.*)", group,
              not group.startswith("default."),
              "A default group cannot be modified, and Aurora turns the binlog on only through binlog_format "
              "in the DB cluster parameter group.",
              f"Create a custom DB cluster parameter group with binlog_format=ROW and binlog_row_image=FULL, attach "
              f"it to cluster {cluster} (ModifyDBCluster DBClusterParameterGroupName), then reboot {writer}."),
        Check("parameter_group.binlog_format", "ROW",
              binlog_format or "not set: Aurora's default OFF means no binlog",
              (binlog_format or "").upper() == "ROW",
              "DMS CDC decodes row events only; OFF writes no binlog, STATEMENT or MIXED lose changes.",
              f"Set binlog_format=ROW {modify}; binlog_format applies to new sessions only, so restart DML "
              f"applications."),
        Check("parameter_group.binlog_row_image", "FULL", _shown(row_image, params, "binlog_row_image"),
              row_image.upper() == "FULL",
              "DMS needs every column of the before and after images; MINIMAL or NOBLOB drop columns.",
              f"Set binlog_row_image=FULL {modify}."),
        Check("parameter_group.binlog_checksum", " or ".join(checksums),
              _shown(checksum, params, "binlog_checksum"), checksum.upper() in checksums,
              f"DMS {dms_engine_version} reads {' or '.join(checksums)} binlog events "
              f"(DMS 3.4.7 and earlier need binlog_checksum=NONE).",
              f"Set binlog_checksum=NONE {modify}, or upgrade the DMS replication instance past 3.4.7."),
        Check("parameter_group.binlog_row_value_options", "not PARTIAL_JSON",
              _shown(row_value_options, params, "binlog_row_value_options"),
              "PARTIAL_JSON" not in row_value_options.upper(),
              "PARTIAL_JSON logs JSON updates as diffs, not the full after image DMS replicates.",
              f"Set binlog_row_value_options to empty {modify}."),
        Check("parameter_group.aurora_enhanced_binlog", "0 (off)", _shown(enhanced, params, "aurora_enhanced_binlog"),
              not _is_on(enhanced),
              "DMS does not support Aurora MySQL enhanced binlog.",
              f"Set aurora_enhanced_binlog=0 (and binlog_backup=1, binlog_replication_globaldb=1) {modify}."),
        Check("parameter_group.binlog_transaction_compression", "OFF",
              _shown(compression, params, "binlog_transaction_compression"), not _is_on(compression),
              "DMS does not support binlog transaction compression (compressed transaction payload events).",
              f"Set binlog_transaction_compression=OFF {modify}."),
        Check("writer.parameter_apply_status", "in-sync", api.writer_apply_status or "unknown",
              api.writer_apply_status == "in-sync",
              "Until the writer is rebooted it runs with other settings than the parameter group shows.",
              f"Reboot {writer} (RebootDBInstance) so it applies DB cluster parameter group {group}."),
    )


# -- the SQL checks ------------------------------------------------------------------------------
def _sql_checks(cluster: str, api: ApiFacts, sql: SqlFacts, min_hours: int) -> tuple[Check, ...]:
    writer = _writer(cluster, api)
    group = api.parameter_group
    running_format, running_image = (sql.binlog_format or "").upper(), (sql.binlog_row_image or "").upper()
    return (
        Check("server.log_bin", "ON", "ON" if _is_on(sql.log_bin) else "OFF", _is_on(sql.log_bin),
              "Without binary logging there is nothing for DMS CDC to read.",
              f"Set binlog_format=ROW in DB cluster parameter group {group}, then reboot {writer}."),
        Check("server.binlog_format", "ROW", running_format or "unknown", running_format == "ROW",
              "The writer logs in the format it runs with, whatever the parameter group says.",
              f"Make binlog_format=ROW in DB cluster parameter group {group} take effect: reboot {writer}, "
              f"or at least restart DML applications (the format applies to new sessions only)."),
        Check("server.binlog_row_image", "FULL", running_image or "unknown", running_image == "FULL",
              "The writer logs the row images it runs with, whatever the parameter group says.",
              f"Set binlog_row_image=FULL in DB cluster parameter group {group} and reboot {writer}."),
        _retention_check(cluster, sql.retention_hours, min_hours),
        *_grant_checks(sql.grants),
    )


def _retention_check(cluster: str, hours: int | None, min_hours: int) -> Check:
    if hours is None:
        actual = "NULL (lazy purge: binlogs are removed as soon as possible, usually within a day)"
    else:
        actual = f"{hours} h"
    return Check("server.binlog_retention_hours", f">= {min_hours} h", actual,
                 hours is not None and hours >= min_hours,
                 "CDC can only resume (after a stop, a failure or a switchover) from binlogs still on the writer.",
                 f"On the writer of {cluster}: CALL mysql.rds_set_configuration('{RETENTION_SETTING}', "
                 f"{min_hours});")


def _grant_checks(lines: Sequence[str]) -> tuple[Check, ...]:
    held = parse_grants(lines)
    actual = "ON *.*: " + (", ".join(sorted(held)) or "nothing")
    grantee = _grantee(lines)
    return tuple(
        Check(name, f"{privilege} ON *.*", actual, _ALL in held or any(s in held for s in spellings), why,
              f"GRANT {privilege} ON *.* TO {grantee};")
        for name, privilege, spellings, why in _REQUIRED_GRANTS)


# -- helpers -------------------------------------------------------------------------------------
def _param(params: Mapping[str, str | None], name: str, default: str) -> str:
    value = params.get(name)
    return default if value is None else value


def _shown(value: str, params: Mapping[str, str | None], name: str) -> str:
    """The value as found, or that the group leaves it at the engine default."""
    if params.get(name) is None:
        return f"not set (engine default {value or 'empty'})"
    return value if value != "" else "empty"


def _is_on(value: bool | int | str | None) -> bool:
    return str(value).strip().upper() in _TRUE


def _needs_no_checksum(dms_engine_version: str) -> bool:
    parts = re.findall(r"\d+", dms_engine_version)
    if not parts:
        raise ValueError(f"dms_engine_version: {dms_engine_version!r} is not a version such as '3.5.3'")
    return tuple(int(p) for p in parts[:3]) <= LAST_VERSION_NEEDING_NO_CHECKSUM


def _writer(cluster: str, api: ApiFacts) -> str:
    return f"writer {api.writer_instance}" if api.writer_instance else f"the writer instance of {cluster}"


def _grantee(lines: Sequence[str]) -> str:
    return next((m["grantee"] for m in map(_GRANT.match, lines) if m), "the DMS user")


# CommonMark would read these as emphasis, code, HTML or links ("ON *.*" rendered as "ON ."), GFM "~~" as
# strikethrough and "https://", "www." as links; escaped, they show as typed
# (https://spec.commonmark.org/0.31.2/#backslash-escapes). "_" inside a name is never emphasis there, so only an "_"
# at a word's edge is escaped.
_MARKDOWN = re.compile(r"[\\`*\[\]<|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|:(?=//)|(?<=\bwww)\.")


def markdown_cell(text: str) -> str:
    """A table cell (or a line) showing ``text`` as typed: Markdown's special characters escaped, on one line (any
    line break, ``\\r`` included, would start a new block)."""
    return _MARKDOWN.sub(lambda special: "\\" + special[0], " ".join(text.split()))
