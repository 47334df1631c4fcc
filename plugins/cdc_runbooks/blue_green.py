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
from cdc_runbooks.start_position import (
    BINLOG_HOUSEKEEPING,
    UnsafeStartPosition,
    WriterBinlog,
    check_on_writer,
    own_writes_begin,
)

COORDINATES_EVENT = re.compile(
    r"^Binary log coordinates in green environment after switchover: "
    r"file (?P<file>[A-Za-z0-9_.-]+) and position (?P<position>[0-9]{1,20})\.?$")


class BlueGreenStateError(Refusal, RuntimeError):
    """The deployment is in a state in which the step must not run."""


class SwitchoverRolledBack(Refusal, RuntimeError):
    """The switchover failed or timed out and RDS rolled it back: production is still blue. Final for the run:
    after a timeout the deployment is AVAILABLE again, and switching again is a person's decision."""


class CoordinatesDisagree(Refusal, RuntimeError):
    """Green's published coordinates and green's binlog name different resume points: CDC must not restart from
    either until a person has looked."""


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


def find_coordinates(events: list[dict], green_writer: str, since: datetime, until: datetime) -> BinlogPosition | None:
    """Green's coordinates from DescribeEvents(SourceType=db-instance) entries: the newest coordinates event of the
    old green writer (its name before the switchover) dated within [``since``, ``until``]. An older event is another
    switchover's; a later one cannot be this switchover's (a skewed clock, a replayed or injected event); an event
    without a time zone cannot be placed and is ignored. Two newest events that name different positions raise
    CoordinatesDisagree: neither can be trusted over the other."""
    found = [(e["Date"], coordinates_from_event(e["Message"])) for e in events
             if e.get("SourceIdentifier") == green_writer and getattr(e["Date"], "tzinfo", None) is not None
             and since <= e["Date"] <= until]
    found = [(date, position) for date, position in found if position is not None]
    if not found:
        return None
    newest = max(date for date, _ in found)
    positions = {position for date, position in found if date == newest}
    if len(positions) > 1:
        raise CoordinatesDisagree(f"{green_writer} published coordinates events dated {newest.isoformat()} naming "
                                  f"different positions ({', '.join(sorted(map(str, positions)))})")
    return positions.pop()


def check_coordinates(position: BinlogPosition, green: WriterBinlog) -> BinlogPosition:
    """Cross-check green's coordinates (from the RDS event) against green's binlog; return where green's own writes
    begin.

    They must name the same point: the end of the last event green replicated from blue, or a later position with
    only binlog housekeeping (rotation, checkpoints) in between. Earlier re-applies blue's transactions; later skips
    green's own. A binlog with nothing replicated cannot confirm anything. Raises CoordinatesDisagree.
    """
    begins = own_writes_begin(green)
    if begins is None:
        raise CoordinatesDisagree(f"cannot cross-check the coordinates {position}: {green.writer}'s binlog holds "
                                  "nothing replicated from blue (purged, or not the switched-over green)")
    try:
        check_on_writer(position, green)
    except UnsafeStartPosition as error:
        raise CoordinatesDisagree(f"the coordinates {position} disagree with {green.writer}'s binlog, where its own "
                                  f"writes begin at {begins}: {error}") from None
    skipped = [e for e in green.events_between(begins, position) if e.event_type not in BINLOG_HOUSEKEEPING]
    if skipped:
        raise CoordinatesDisagree(
            f"the coordinates {position} disagree with {green.writer}'s binlog: its own writes begin at {begins}, "
            f"and starting at {position} would skip {len(skipped)} of its events (the first {skipped[0].event_type} "
            f"at {skipped[0].at})")
    return begins
