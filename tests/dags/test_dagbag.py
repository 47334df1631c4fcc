"""Every file in dags/ imports without errors (parse time is measured by `make bench`, not here)."""

from __future__ import annotations

from pathlib import Path

import pytest

DAGS = sorted((Path(__file__).resolve().parents[2] / "dags").glob("*.py"))


@pytest.mark.skipif(not DAGS, reason="no DAG files in dags/ yet")
@pytest.mark.parametrize("dag_file", DAGS, ids=lambda p: p.name)
def test_dag_file_imports_cleanly(dag_file):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dag_file), safe_mode=False)

    assert bag.import_errors == {}
    assert bag.dag_ids, f"{dag_file.name} defines no DAG"
