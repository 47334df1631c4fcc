"""Runbook pages: ``runbooks/<dag_id>.md``, shown as the DAG's ``doc_md``; a DAG made per pipeline
(``<runbook>.<pipeline>``) shows its runbook's page.

A step of a page is a level-3 heading whose text is the task id in backticks
(``### `pause_dms_task` ``); tests/dags/test_runbook_pages.py keeps a page's steps and its DAG's task ids equal.
"""

from __future__ import annotations

import os
from pathlib import Path

RUNBOOKS_DIR = Path(os.environ.get("CDC_RUNBOOKS_DIR") or Path(__file__).resolve().parents[2] / "runbooks")


def runbook_page(dag_id: str) -> str:
    return (RUNBOOKS_DIR / f"{runbook_of(dag_id)}.md").read_text()


def runbook_of(dag_id: str) -> str:
    """The runbook a DAG implements: its id, without the ``.<pipeline>`` of a per-pipeline DAG."""
    return dag_id.partition(".")[0]
