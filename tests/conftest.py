"""Test set-up: a private AIRFLOW_HOME (SQLite, no examples) and the rehearsal estate fixtures."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Before anything imports airflow: a throw-away home, this repo's dags/, no examples.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="cdc-airflow-home-"))
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"


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
