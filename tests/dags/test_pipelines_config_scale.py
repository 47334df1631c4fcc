"""Pipelines as configuration at scale: 50 pipelines in the file CDC_RUNBOOKS_PIPELINES names reach every
runbook's enum and every scheduled DAG; a bad file is an import error, naming file:line, of exactly the DAGs
that load pipelines, and leaves the other DAGs importable. (Parse time: bench/dag_parse.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from cdc_runbooks.pipelines import DEFAULT_PATH, load_pipelines
from rehearsal.pipelines_file import many_pipelines, write_pipelines

DAGS = Path(__file__).resolve().parents[2] / "dags"
LOADS_PIPELINES = sorted(str(p) for p in DAGS.glob("*.py") if "pipeline_param(" in p.read_text()
                         or "load_pipelines(" in p.read_text())
COUNT = 50


def _bag(monkeypatch, path: Path):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("CDC_RUNBOOKS_PIPELINES", str(path))
    return DagBag(dag_folder=str(DAGS), safe_mode=False)


def _line(path: Path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if line == text)


@pytest.fixture(scope="module")
def fifty():
    return many_pipelines(COUNT)


def test_every_dag_imports_and_offers_all_50_pipelines(fifty, tmp_path, monkeypatch):
    bag = _bag(monkeypatch, write_pipelines(tmp_path / "pipelines.yaml", fifty))

    assert bag.import_errors == {}
    assert {Path(dag.fileloc).name for dag in bag.dags.values()} == {p.name for p in DAGS.glob("*.py")}
    offering = [dag for dag in bag.dags.values() if "pipeline" in dag.params]
    assert offering, "no runbook offers a pipeline param"
    repository_pipelines = set(load_pipelines(DEFAULT_PATH))
    for dag in offering:
        choices = set(dag.params.get_param("pipeline").schema["enum"])
        assert set(fifty) <= choices and not choices & repository_pipelines, dag.dag_id
    guard = bag.dags["cdc_binlog_guard"].params.get_param("pipelines")
    assert sorted(guard.value) == sorted(fifty) == sorted(guard.schema["items"]["enum"])
    resume = {dag_id for dag_id in bag.dag_ids if dag_id.startswith("cdc_resume_after_switchover.")}
    assert resume == {f"cdc_resume_after_switchover.{name}" for name in fifty}


@pytest.mark.parametrize(("change", "message"), [
    ({"typo_key": 1}, r"unknown keys \['typo_key'\]"),
    ({"dms_task_arn": "arn:aws:dms:us-east-1:12345:task:x"}, "dms_task_arn: .* is not valid"),
    ({"tables": []}, "tables: at least one table is required"),
], ids=["unknown-key", "bad-arn", "no-tables"])
def test_a_bad_pipeline_is_an_import_error_naming_the_file_and_line(fifty, tmp_path, monkeypatch, change, message):
    import re

    bad = {name: dict(settings) for name, settings in fifty.items()}
    bad["pipeline_037"].update(change)
    path = write_pipelines(tmp_path / "pipelines.yaml", bad)
    where = f"{path}:{_line(path, '  pipeline_037:')}: pipeline 'pipeline_037'"

    bag = _bag(monkeypatch, path)

    assert sorted(bag.import_errors) == LOADS_PIPELINES
    for error in bag.import_errors.values():
        assert where in error and re.search(message, error), error
    unrelated = {str(p) for p in DAGS.glob("*.py")} - set(LOADS_PIPELINES)
    assert {dag.fileloc for dag in bag.dags.values()} == unrelated, "DAGs without pipelines still import"


def test_a_missing_field_names_the_pipeline_line(fifty, tmp_path, monkeypatch):
    bad = {name: dict(settings) for name, settings in fifty.items()}
    del bad["pipeline_049"]["target_schema"]
    path = write_pipelines(tmp_path / "pipelines.yaml", bad)

    errors = _bag(monkeypatch, path).import_errors

    assert sorted(errors) == LOADS_PIPELINES
    line = _line(path, "  pipeline_049:")
    assert all(f"{path}:{line}: pipeline 'pipeline_049': missing keys ['target_schema']" in e for e in errors.values())
