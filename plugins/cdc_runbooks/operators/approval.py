"""The human decision before a production change: Airflow's HITL approval, failing safe with a clear record."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.providers.standard.exceptions import HITLRejectException
from airflow.providers.standard.operators.hitl import ApprovalOperator

from cdc_runbooks.refusal import Refusal
from cdc_runbooks.step import records_failure


def deadline_line(deadline: datetime, rejected_means: str | None = None) -> str:
    """The first line of the Required Action page: when nobody answering rejects the change, and what that means
    (``rejected_means``; by default that nothing is changed)."""
    consequence = f"the default (Reject) applies: {rejected_means}" if rejected_means else (
        "the change is rejected automatically and nothing is changed")
    return f"**Decide by {deadline:%Y-%m-%d %H:%M} UTC.** Without an answer by then {consequence}."


class ChangeNotApproved(Refusal, RuntimeError):
    """A person rejected the change, or nobody answered in time (the message says what that left done)."""


class RunbookApprovalOperator(ApprovalOperator):
    """An :class:`ApprovalOperator` that fails the run on Reject (``fail_on_reject``), with "Reject" as the
    default when nobody answers within ``response_timeout``, and records *why* it failed: who rejected, or
    that nobody answered, and what a Reject means here (the run record's failure for this step).

    :param rejected_means: what a Reject leaves done, for the page and the failure (default: nothing was changed;
        a step that waits for a change made by hand says that it may have been made all the same).
    """

    def __init__(self, rejected_means: str | None = None, **kwargs) -> None:
        super().__init__(defaults="Reject", fail_on_reject=True, retries=0, **kwargs)
        self.rejected_means = rejected_means

    def execute(self, context):
        """Put the auto-reject deadline first on the Required Action page, above the (rendered) body."""
        if self.response_timeout:
            self.body = (f"{deadline_line(datetime.now(UTC) + self.response_timeout, self.rejected_means)}\n\n"
                         f"{self.body or ''}")
        return super().execute(context)

    @records_failure
    def execute_complete(self, context, event: dict):
        try:
            return super().execute_complete(context=context, event=event)
        except HITLRejectException:
            raise ChangeNotApproved(self.rejection(event)) from None

    def rejection(self, event: dict) -> str:
        """Why the run stops: who rejected and when, or that nobody answered; then what that leaves done."""
        means = self.rejected_means or "nothing was changed"
        user = event.get("responded_by_user") or {}
        who = user.get("name") or user.get("id")
        if who:
            return (f"rejected by {who} at {event.get('responded_at')}: {means}. Trigger a new run when "
                    "the change should go ahead.")
        return (f"nobody answered within {self.response_timeout}; the default (Reject) applied: {means}. "
                "Trigger a new run when someone can decide.")
