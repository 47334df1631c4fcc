"""Blue/green deployments: what a runbook may do in each state, and where CDC resumes after a switchover.

Pure decisions over DescribeBlueGreenDeployments entries
(https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_BlueGreenDeployment.html) and
DescribeEvents messages. The amazon provider has no blue/green operator; boto3 has no waiter for it.

After a switchover, RDS publishes (best effort) an event from the old green writer:
``Binary log coordinates in green environment after switchover: file F and position P``. That is
where binlog consumers resume on the new writer, after they have applied everything old blue wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from cdc_runbooks.action import Action
from cdc_runbooks.binlog_position import BinlogPosition, InvalidBinlogPosition
from cdc_runbooks.refusal import Refusal

COORDINATES_EVENT = re.compile(
    r"^Binary log coordinates in green environment after switchover: "
    r"file (?P<file>[A-Za-z0-9_.-]+) and position (?P<position>[0-9]{1,20})\.?$")


class BlueGreenStateError(Refusal, RuntimeError):
    """The deployment is in a state in which the step must not run."""


class SwitchoverRolledBack(Refusal, RuntimeError):
    """The switchover failed or timed out and RDS rolled it back: production is still blue. Final for the run:
    after a timeout the deployment is AVAILABLE again, and switching again is a person's decision."""


@dataclass(frozen=True)
class DeploymentState:
    identifier: str
    name: str
    source: str
    target: str
    status: str
    status_details: str | None = None

    @classmethod
    def from_api(cls, deployment: dict) -> DeploymentState:
        return cls(identifier=deployment["BlueGreenDeploymentIdentifier"],
                   name=deployment["BlueGreenDeploymentName"], source=deployment["Source"],
                   target=deployment["Target"], status=deployment["Status"],
                   status_details=deployment.get("StatusDetails"))

    def describe(self) -> str:
        details = f" ({self.status_details})" if self.status_details else ""
        return f"blue/green deployment {self.name} ({self.identifier}) is {self.status}{details}"


def plan_switchover(state: DeploymentState) -> Action:
    """AVAILABLE: switch over. In progress: wait for it (never call twice). Completed: adopt (a retry of the
    step that did it). Anything else refuses: a failed switchover is for a person to look at."""
    if state.status == "AVAILABLE":
        return Action.ACT
    if state.status == "SWITCHOVER_IN_PROGRESS":
        return Action.WAIT
    if state.status == "SWITCHOVER_COMPLETED":
        return Action.ADOPT
    raise BlueGreenStateError(f"refusing to switch over: {state.describe()}. Only an AVAILABLE deployment can "
                              "be switched over; read StatusDetails and the deployment's events first.")


def require_completed(state: DeploymentState) -> None:
    """Raise SwitchoverRolledBack unless the switchover completed."""
    if state.status != "SWITCHOVER_COMPLETED":
        raise SwitchoverRolledBack(f"switchover did not complete: {state.describe()}. RDS rolled it back; "
                                   "production is still blue and CDC resumes there (resume_on_blue). Read the "
                                   "deployment's StatusDetails and events, fix the cause, then switch over in a new "
                                   "run.")


def production_is_blue(state: DeploymentState) -> bool:
    """True when the deployment shows production still on blue: never switched (AVAILABLE, also after a
    timeout's rollback) or rolled back (SWITCHOVER_FAILED). Only then may CDC resume on blue's checkpoint; in
    progress or completed, blue's coordinates no longer describe production."""
    return state.status in ("AVAILABLE", "SWITCHOVER_FAILED")


def coordinates_from_event(message: str) -> BinlogPosition | None:
    """The position in a coordinates event message, None for any other message."""
    match = COORDINATES_EVENT.match(message.strip())
    if match is None:
        return None
    try:
        return BinlogPosition(match["file"], int(match["position"]))
    except InvalidBinlogPosition:
        return None


def find_coordinates(events: list[dict], green_writer: str, since: datetime) -> BinlogPosition | None:
    """Green's coordinates from DescribeEvents(SourceType=db-instance) entries: the newest coordinates
    event of the old green writer (its name before the switchover) dated at or after ``since``."""
    found = [(e["Date"], coordinates_from_event(e["Message"])) for e in events
             if e.get("SourceIdentifier") == green_writer and e["Date"] >= since]
    found = [(date, position) for date, position in found if position is not None]
    return max(found, key=lambda item: item[0])[1] if found else None


def position_after_replicated(binlog: list[tuple[str, list[tuple]]], blue_server_id: int) -> BinlogPosition | None:
    """Fallback for a missing coordinates event: the end of the last transaction replicated from blue in the new
    writer's binlog.

    Green logs what it replicated from blue with blue's server id and what it wrote itself, after the
    switchover, with its own; so the end of blue's last event (its ``End_log_pos``, a commit) is exactly where
    the new writer's own writes begin. ``binlog`` is [(file, SHOW BINLOG EVENTS rows)] in file order, rows as
    (Log_name, Pos, Event_type, Server_id, End_log_pos, Info). None when no event of blue is there.
    """
    for file, rows in reversed(binlog):
        from_blue = [row for row in rows if int(row[3]) == blue_server_id]
        if from_blue:
            return BinlogPosition(file, int(from_blue[-1][4]))
    return None
