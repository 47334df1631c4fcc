"""Runbook pages read at the Airflow UI's default Docs-modal width: no inline code span and no word (a run of
characters without a space) long enough to force horizontal scrolling and cut every line of the page. Fenced code
blocks scroll on their own and are not checked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

RUNBOOKS = sorted((Path(__file__).resolve().parents[2] / "runbooks").glob("*.md"))
LONGEST = 60
_FENCE = re.compile(r"^[ \t]*```.*?^[ \t]*```", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def too_long(text: str) -> list[str]:
    """Inline code spans and words of ``text`` (markdown outside fenced blocks) longer than LONGEST characters."""
    prose = _FENCE.sub("", text)
    spans = [m.group(2).strip() for m in _CODE_SPAN.finditer(prose)]
    words = re.sub(r"\]\([^)]*\)", "]", prose).split()  # a link's target is not shown
    return [s for s in spans if len(s) > LONGEST] + [w for w in words if len(w) > LONGEST]


def test_the_check_finds_a_long_test_id_and_a_long_word_but_not_a_fenced_block():
    test_id = "`tests/dags/test_switchover_runbook.py::test_a_run_cleared_after_a_lost_worker_resumes`"
    assert too_long(f"- see {test_id}") == [test_id.strip("`"), test_id]
    assert too_long("```\n" + "x" * 80 + "\n```\nshort words only") == []


@pytest.mark.parametrize("page", RUNBOOKS, ids=lambda p: p.name)
def test_no_inline_code_span_or_word_is_too_long_for_the_docs_modal(page):
    assert too_long(page.read_text()) == []
