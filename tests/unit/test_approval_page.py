"""The Required Action page of the switchover: the deadline, the plan, anything not passing, then the passing checks
as a count; the binlog readiness reports last."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from cdc_runbooks.operators.approval import RunbookApprovalOperator, deadline_line
from cdc_runbooks.operators.blue_green import BlueGreenPreflightOperator

PLAN = "### Plan: switch `prod` over to `prod-green` (upgrade, bgd-0123456789abcdef)\n\n1. pause DMS"
READINESS = [SimpleNamespace(to_markdown=lambda: "### Binlog readiness for DMS CDC: cluster `prod` (blue): ready")]


def test_the_plan_comes_first_and_passing_checks_are_one_count_with_the_readiness_reports_last():
    page = BlueGreenPreflightOperator._approval(PLAN, [("deployment AVAILABLE", True, "AVAILABLE"),
                                                       ("green replica lag", True, "0.0 s (max 5 s)")], READINESS)
    assert page.startswith(PLAN)
    assert "Not passing" not in page
    assert page.index("### Preflight: 2 of 2 checks pass") < page.index("| green replica lag | 0.0 s (max 5 s) |")
    assert page.rstrip().endswith("(blue): ready")


def test_a_failing_check_is_listed_right_after_the_plan():
    page = BlueGreenPreflightOperator._approval(PLAN, [("deployment AVAILABLE", True, "AVAILABLE"),
                                                       ("DMS task running", False, "stopped")], READINESS)
    assert page.index(PLAN) < page.index("### Not passing (1 of 2 checks)\n\n- **DMS task running**: stopped") < \
        page.index("### Preflight: 1 of 2 checks pass")


def test_the_deadline_line_says_when_no_answer_rejects():
    assert deadline_line(datetime(2026, 12, 1, 23, 58, 30, tzinfo=UTC)) == (
        "**Decide by 2026-12-01 23:58 UTC.** Without an answer by then the change is rejected automatically and "
        "nothing is changed.")


def test_a_wait_for_a_change_made_by_hand_does_not_claim_nothing_changed_when_rejected():
    """Rejecting (or not answering) ``confirm_change_done`` does not undo what the product team may have done."""
    means = "nothing is compared or reloaded, but the source may have been changed already"
    waiting = RunbookApprovalOperator(task_id="confirm_change_done", subject="Done?", rejected_means=means,
                                      response_timeout=timedelta(hours=8))
    deciding = RunbookApprovalOperator(task_id="approve_change", subject="Go?", response_timeout=timedelta(hours=2))
    by_person = {"responded_by_user": {"name": "On-call SRE"}, "responded_at": "2026-12-03T13:00:00Z"}

    assert waiting.rejection({}) == ("nobody answered within 8:00:00; the default (Reject) applied: " + means
                                     + ". Trigger a new run when someone can decide.")
    assert waiting.rejection(by_person).startswith(f"rejected by On-call SRE at 2026-12-03T13:00:00Z: {means}.")
    assert "nothing was changed" in deciding.rejection(by_person) and "nothing was changed" not in (
        waiting.rejection(by_person) + waiting.rejection({}))
    assert deadline_line(datetime(2026, 12, 1, 23, 58, tzinfo=UTC), means).endswith(
        f"Without an answer by then the default (Reject) applies: {means}.")
