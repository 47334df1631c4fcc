"""Secrets stay secret: after the recorded runbook runs (tests/recorded_runs.py), no connection password, AWS
secret key, DMS endpoint password or replication password appears in the task logs (Airflow's output and every
stdlib log record at DEBUG), the run records, the SNS notifications, the XComs or the published asset events.
All of them are random per estate, so a match is a real leak. And the code takes credentials only from Airflow
connections: no literal secret in plugins/ or dags/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from recorded_runs import recorded_runs

REPO = Path(__file__).resolve().parents[2]
CHANNELS = ("logs", "records", "notifications", "xcoms", "asset_events")


@pytest.fixture(scope="module")
def runs(airflow_db):
    return recorded_runs()


@pytest.mark.estate
def test_every_secret_is_distinctive(runs):
    assert {"AIRFLOW_CONN_AWS_DEFAULT connection password", "AIRFLOW_CONN_SOURCE_MYSQL connection password",
            "replication user password", "DMS source endpoint password"} <= set(runs.secrets)
    assert all(len(value) >= 16 for value in runs.secrets.values())


@pytest.mark.estate
@pytest.mark.parametrize("channel", CHANNELS)
def test_no_secret_reaches(runs, channel):
    values = getattr(runs, channel)
    text = values if isinstance(values, str) else "\n".join(values)

    leaked = sorted(name for name, secret in runs.secrets.items() if secret in text)
    assert text, f"nothing was captured from {channel}: the search would prove nothing"
    assert not leaked, f"{channel} contain {leaked}"


@pytest.mark.estate
def test_the_captured_logs_hold_the_task_output_and_the_aws_requests(runs):
    """The log capture sees what a leak would go through: task log lines and botocore's request bodies."""
    assert "Run record written to s3://" in runs.logs
    assert "Making request for OperationModel(name=StopReplicationTask)" in runs.logs


LITERAL_SECRET = re.compile(r"""(?i)\b\w*(password|passwd|secret|token|access_key)\w*\s*[=:]\s*["'][^"'{]+["']""")


@pytest.mark.parametrize("folder", ["plugins", "dags"])
def test_no_literal_credentials_in_code(folder):
    files = sorted((REPO / folder).rglob("*.py"))
    found = [f"{path.relative_to(REPO)}:{n}" for path in files
             for n, line in enumerate(path.read_text().splitlines(), 1) if LITERAL_SECRET.search(line)]

    assert files and not found, f"credentials must come from Airflow connections: {found}"
