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


@pytest.mark.skipif(not DAGS, reason="no DAG files in dags/ yet")
@pytest.mark.parametrize("dag_file", DAGS, ids=lambda p: p.name)
def test_every_param_says_what_it_expects(dag_file):
    """A trigger-time error shows the Param's schema: its title and description must say the form and range."""
    from airflow.dag_processing.dagbag import DagBag

    for dag in DagBag(dag_folder=str(dag_file), safe_mode=False).dags.values():
        for name in dag.params:
            param = dag.params.get_param(name)
            schema, description = param.schema, param.description or ""
            assert schema.get("title") and len(description) >= 20, (dag.dag_id, name, schema, description)
            bounds = [schema[k] for k in ("minimum", "maximum") if k in schema]
            assert all(f"{b:g}" in description for b in bounds), (dag.dag_id, name, "ranges", description)
