"""The human decision before a production change: Airflow's HITL approval, failing safe with a clear record."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.providers.standard.exceptions import HITLRejectException
from airflow.providers.standard.operators.hitl import ApprovalOperator

from cdc_runbooks.refusal import Refusal
from cdc_runbooks.step import records_failure


def deadline_line(deadline: datetime) -> str:
    """The first line of the Required Action page: when nobody answering rejects the change."""
    return (f"**Decide by {deadline:%Y-%m-%d %H:%M} UTC.** Without an answer by then the change is rejected "
            "automatically and nothing is changed.")


class ChangeNotApproved(Refusal, RuntimeError):
    """A person rejected the change, or nobody answered in time; nothing was changed."""


class RunbookApprovalOperator(ApprovalOperator):
    """An :class:`ApprovalOperator` that fails the run on Reject (``fail_on_reject``), with "Reject" as the
    default when nobody answers within ``response_timeout``, and records *why* it failed: who rejected, or
    that nobody answered, and that nothing was changed (the run record's failure for this step)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(defaults="Reject", fail_on_reject=True, retries=0, **kwargs)

    def execute(self, context):
        """Put the auto-reject deadline first on the Required Action page, above the (rendered) body."""
        if self.response_timeout:
            self.body = f"{deadline_line(datetime.now(UTC) + self.response_timeout)}\n\n{self.body or ''}"
        return super().execute(context)

    @records_failure
    def execute_complete(self, context, event: dict):
        try:
            return super().execute_complete(context=context, event=event)
        except HITLRejectException:
            user = event.get("responded_by_user") or {}
            who = user.get("name") or user.get("id")
            if who:
                raise ChangeNotApproved(f"rejected by {who} at {event.get('responded_at')}: nothing was changed. "
                                        "Trigger a new run when the change should go ahead.") from None
            raise ChangeNotApproved(f"nobody answered within {self.response_timeout}; the default (Reject) applied: "
                                    "nothing was changed. Trigger a new run when someone can decide.") from None
