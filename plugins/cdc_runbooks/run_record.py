"""Run records: what a runbook run did, for the on-call engineer now and the post-mortem later.

A record lists every step (task id, final state, the result the step returned),
the pipeline, the outcome and timings. It is written as JSON to the pipeline's
records bucket and rendered as markdown in the log. The outcome is ``success``
only when every step succeeded; a dry run says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime

SUCCESS_STATES = frozenset({"success", "skipped"})


@dataclass
class StepRecord:
    task_id: str
    state: str | None
    result: dict | None = None
    failure: str | None = None


@dataclass
class RunRecord:
    dag_id: str
    run_id: str
    pipeline: str
    started_at: datetime | None
    finished_at: datetime
    dry_run: bool
    steps: list[StepRecord] = field(default_factory=list)

    @property
    def failed_steps(self) -> list[str]:
        """The steps that did not succeed, without those that only did not run because an earlier one failed
        (``upstream_failed``) — unless nothing else is there to name."""
        unsuccessful = [s.task_id for s in self.steps if s.state not in SUCCESS_STATES]
        own = [s.task_id for s in self.steps if s.state not in SUCCESS_STATES and s.state != "upstream_failed"]
        return own or unsuccessful

    @property
    def outcome(self) -> str:
        """``failed``, ``dry_run``, ``skipped`` (every step skipped: nothing was done, e.g. a duplicate event) or
        ``success``."""
        if self.failed_steps:
            return "failed"
        if self.dry_run:
            return "dry_run"
        return "skipped" if self.steps and all(s.state == "skipped" for s in self.steps) else "success"

    @property
    def key(self) -> str:
        """S3 key of this record (:func:`record_key`)."""
        return record_key(self.dag_id, self.run_id)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(outcome=self.outcome, failed_steps=self.failed_steps)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str, indent=2, sort_keys=True)

    def summary_markdown(self) -> str:
        """A few lines for a person (the DAG run note, the top of ``record_run``'s log): the outcome, where it failed
        and why, drift, CDC gap, positions, and what to do next. The JSON stays in the record."""
        failed = self.failed_steps
        heading = f"**{self.dag_id} / {self.pipeline}: {self.outcome.upper()}**"
        if failed:
            heading = f"{heading[:-2]} at {', '.join(f'`{s}`' for s in failed)}**"
        facts = _facts(self.steps)
        measured = ", ".join(filter(None, (f"drift: {facts['drift']} rows" if "drift" in facts else "",
                                           f"CDC gap: {facts['cdc_gap_s']} s" if "cdc_gap_s" in facts else "")))
        # The UI shows a note's first line until it is opened: the outcome and what was measured go there.
        lines = [f"{heading} · {measured}" if measured else heading, ""]
        reasons = [step for step in self.steps if step.task_id in failed and step.failure]
        lines += [f"- why (`{step.task_id}`): {_first_line(step.failure)}" for step in reasons]
        if measured:
            lines.append(f"- {measured}")
        positions = [f"{label} `{facts[key]}`" for key, label in _POSITIONS if facts.get(key)]
        if positions:
            lines.append("- positions: " + ", ".join(positions))
        if facts.get("damage"):  # e.g. DMS read green from blue's coordinates before it was stopped
            lines.append(f"- damage: {_first_line(str(facts['damage']))}")
        if failed:
            nxt = (f"follow the runbook page's recovery for `{failed[0]}` (the DAG's Docs), fix the cause, then clear "
                   "that step or trigger a new run")
        elif self.dry_run:
            nxt = "dry run: nothing was changed; trigger again with dry_run off to make the change"
        else:
            nxt = "nothing; the run record has every step's result"
        lines.append(f"- next: {nxt}")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        lines = [f"## {self.dag_id} / {self.pipeline}: {self.outcome.upper()}", "",
                 f"run `{self.run_id}`, started {self.started_at}, recorded {self.finished_at}", "",
                 "| step | state | result or failure |", "|---|---|---|"]
        for step in self.steps:
            detail = step.failure or (json.dumps(step.result, default=str, sort_keys=True) if step.result else "")
            lines.append(f"| `{step.task_id}` | {step.state} | {detail.replace('|', '/')} |")
        return "\n".join(lines)


# Result keys the summary shows, in the order of a runbook: where CDC paused, where it restarts.
_POSITIONS = (("recovery_checkpoint", "paused at"), ("checkpoint", "checkpoint"), ("position", "restart from"),
              ("cdc_start_position", "CDC start"))
_SUMMARY_KEYS = ("drift", "cdc_gap_s", "damage", *(key for key, _ in _POSITIONS))


def _facts(steps: list[StepRecord]) -> dict:
    """The summary's keys as the steps' results (top level) last reported them."""
    facts: dict = {}
    for step in steps:
        if isinstance(step.result, dict):
            facts.update({k: step.result[k] for k in _SUMMARY_KEYS if step.result.get(k) is not None})
    return facts


def _first_line(text: str, limit: int = 300) -> str:
    """A failure's first line, shortened; the record keeps it whole."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return (line if len(line) <= limit else line[:limit - 1] + "…").replace("|", "/")


def record_key(dag_id: str, run_id: str) -> str:
    """S3 key of a run's record: runs/<dag_id>/<run_id>.json with the run id made path-safe."""
    return f"runs/{dag_id}/{re.sub(r'[^A-Za-z0-9_.+-]', '_', run_id)}.json"
