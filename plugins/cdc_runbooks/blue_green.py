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

from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.dms_task import Action
from cdc_runbooks.refusal import Refusal

COORDINATES_EVENT = re.compile(
    r"^Binary log coordinates in green environment after switchover: "
    r"file (?P<file>[A-Za-z0-9_.-]+) and position (?P<position>[0-9]{1,20})\.?$")


class BlueGreenStateError(Refusal, RuntimeError):
    """The deployment is in a state in which the step must not run."""


class SwitchoverRolledBack(RuntimeError):
    """The switchover failed or timed out and RDS rolled it back: production is still blue."""


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


def switchover_finished(state: DeploymentState, called: bool) -> bool:
    """True once the switchover this step started (or adopted) has ended, either way."""
    return state.status != "SWITCHOVER_IN_PROGRESS" and (called or state.status != "AVAILABLE")


def require_completed(state: DeploymentState) -> None:
    """Raise SwitchoverRolledBack unless the switchover completed."""
    if state.status != "SWITCHOVER_COMPLETED":
        raise SwitchoverRolledBack(f"switchover did not complete: {state.describe()}. RDS rolled it back; "
                                   "production is still blue.")


def coordinates_from_event(message: str) -> BinlogPosition | None:
    """The position in a coordinates event message, None for any other message."""
    match = COORDINATES_EVENT.match(message.strip())
    return BinlogPosition(match["file"], int(match["position"])) if match else None


def find_coordinates(events: list[dict], green_writer: str, since: datetime) -> BinlogPosition | None:
    """Green's coordinates from DescribeEvents(SourceType=db-instance) entries: the newest coordinates
    event of the old green writer (its name before the switchover) dated at or after ``since``."""
    found = [(e["Date"], coordinates_from_event(e["Message"])) for e in events
             if e.get("SourceIdentifier") == green_writer and e["Date"] >= since]
    found = [(date, position) for date, position in found if position is not None]
    return max(found, key=lambda item: item[0])[1] if found else None
