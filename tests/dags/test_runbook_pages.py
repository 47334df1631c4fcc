"""Every DAG shows its runbook page, and the page's steps are exactly the DAG's task ids."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cdc_runbooks.runbook_docs import RUNBOOKS_DIR, runbook_of

STEP = re.compile(r"^### `([a-z0-9_]+)`", re.MULTILINE)  # a step of a page: a level-3 heading, the task id
DAG_FILES = sorted((Path(__file__).resolve().parents[2] / "dags").glob("*.py"))


def runbook_steps(page: str) -> list[str]:
    """Task ids of the page's steps, in order."""
    return STEP.findall(page)


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAG_FILES[0].parent), safe_mode=False)


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.stem)
def test_every_dag_file_makes_dags_of_its_runbook(dagbag, dag_file):
    made = [dag_id for dag_id, dag in dagbag.dags.items() if dag.fileloc == str(dag_file)]
    assert made and {runbook_of(dag_id) for dag_id in made} == {dag_file.stem}


@pytest.mark.parametrize("dag_id", ["aurora_blue_green_switchover", "cdc_binlog_guard", "dms_cdc_pause",
                                    "dms_cdc_restart", "cdc_resume_after_switchover.shop",
                                    "cdc_recover_after_failure.shop", "cdc_repair",
                                    "cdc_table_maintenance"])
def test_page_steps_equal_task_ids(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    page = (RUNBOOKS_DIR / f"{runbook_of(dag.dag_id)}.md").read_text()

    steps = runbook_steps(page)
    assert dag.doc_md == page
    assert sorted(steps) == sorted(dag.task_ids) and len(steps) == len(set(steps))
    for position, task_id in enumerate(steps):  # the page reads in an order the DAG can run in
        assert dag.get_task(task_id).upstream_task_ids <= set(steps[:position]), f"{task_id} is out of order"
    for heading in ("## Purpose", "## Preconditions", "## How to recover", "## How to roll back", "**Owner:**"):
        assert heading in page, f"{runbook_of(dag.dag_id)}.md lacks {heading}"

