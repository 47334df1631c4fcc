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
        if self.failed_steps:
            return "failed"
        return "dry_run" if self.dry_run else "success"

    @property
    def key(self) -> str:
        """S3 key of this record: runs/<dag_id>/<run_id>.json with the run id made path-safe."""
        return f"runs/{self.dag_id}/{re.sub(r'[^A-Za-z0-9_.+-]', '_', self.run_id)}.json"

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(outcome=self.outcome, failed_steps=self.failed_steps)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str, indent=2, sort_keys=True)

    def to_markdown(self) -> str:
        lines = [f"## {self.dag_id} / {self.pipeline}: {self.outcome.upper()}", "",
                 f"run `{self.run_id}`, started {self.started_at}, recorded {self.finished_at}", "",
                 "| step | state | result or failure |", "|---|---|---|"]
        for step in self.steps:
            detail = step.failure or (json.dumps(step.result, default=str, sort_keys=True) if step.result else "")
            lines.append(f"| `{step.task_id}` | {step.state} | {detail.replace('|', '/')} |")
        return "\n".join(lines)
