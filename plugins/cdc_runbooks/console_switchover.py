"""A blue/green switchover started outside Airflow (the RDS console, the CLI) while DMS reads blue: which deployment
it is, and whether DMS ran on green with blue's coordinates before it was stopped.

Pure decisions over DescribeBlueGreenDeployments entries
(https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_BlueGreenDeployment.html) and the deployments'
DescribeEvents history (SourceType ``blue-green-deployment``,
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_Events.Messages.html): RDS-EVENT-0247
"Switchover from *blue* to *green* started." and RDS-EVENT-0248 "Switchover completed on blue/green deployment.".

Green's binlog has the same file names as blue's and other offsets. A DMS task still running when the switchover
completes reconnects through the cluster endpoint, now green, and reads green from blue's coordinates: it skips or
re-applies rows, or fails. So the runbook stops DMS at once, and afterwards asks whether it stopped in time: only a
stop (DMS's StopDate) before the completion (the RDS event's Date) is clean. Both are AWS's clocks; a stop in the same
instant as the completion counts as too late.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from cdc_runbooks.blue_green import DeploymentState
from cdc_runbooks.refusal import Refusal

STARTED = re.compile(r"^Switchover from \S+ to \S+ started\.?$")
COMPLETED = re.compile(r"^Switchover completed on blue/green deployment\.?$")


class SwitchoverNotFound(Refusal, RuntimeError):
    """No blue/green deployment (or more than one) switches the pipeline's production cluster over now."""


@dataclass(frozen=True)
class ConsoleSwitchover:
    """The deployment switching production over, when its switchover started and (once it has) completed."""

    deployment: DeploymentState
    started_at: datetime
    completed_at: datetime | None = None


def find_console_switchover(deployments: list[DeploymentState], events: list[dict], production_arn: str,
                            since: datetime) -> ConsoleSwitchover:
    """The deployment switching ``production_arn`` over now: the one whose switchover of it is in progress (its
    source is production), or else the one whose switchover of it started last, at or after ``since``: its source is
    production (failed or rolled back) or, once completed, its target is (RDS renames the clusters), with a
    "Switchover ... started" event in ``events`` dated at or after ``since``. Its latest start (``since`` for one in
    progress whose start event is not in RDS's history yet), and the first completion at or after that start.
    Refuses (SwitchoverNotFound) none, or two (in progress, or started at the same instant), naming them."""
    switching = [d for d in deployments if d.source == production_arn
                 or (d.status == "SWITCHOVER_COMPLETED" and d.target == production_arn)]
    found = []
    for deployment in switching:
        own = [e for e in events if e.get("SourceIdentifier") == deployment.identifier
               and isinstance(e.get("Date"), datetime) and e["Date"] >= since]
        starts = [e["Date"] for e in own if STARTED.match(str(e.get("Message", "")))]
        switching_now = deployment.status == "SWITCHOVER_IN_PROGRESS" and deployment.source == production_arn
        if starts or switching_now:
            started = max(starts, default=since)
            completions = [e["Date"] for e in own
                           if COMPLETED.match(str(e.get("Message", ""))) and e["Date"] >= started]
            found.append(ConsoleSwitchover(deployment, started, min(completions, default=None)))
    in_progress = [s for s in found if s.deployment.status == "SWITCHOVER_IN_PROGRESS"]
    found.sort(key=lambda s: s.started_at, reverse=True)
    if len(in_progress) == 1:
        return in_progress[0]
    if not in_progress and found and (len(found) == 1 or found[0].started_at > found[1].started_at):
        return found[0]
    now = in_progress or found
    named = ", ".join(s.deployment.describe() for s in now) or \
        ", ".join(d.describe() for d in switching) or "none"
    what = "switch it at once" if now else f"started a switchover of it since {since.isoformat()}"
    raise SwitchoverNotFound(
        f"{'two' if now else 'no'} blue/green deployments of {production_arn} {what} (RDS's deployments and their "
        f"events): {named}. Which one moves production is for a person to say: find it in the RDS console "
        "(Databases, the blue/green deployment's Events).")


def dms_read_green(switchover: ConsoleSwitchover, stopped_at: datetime | None) -> str | None:
    """Why DMS may have read green from blue's coordinates before it stopped, or None when it stopped in time (or
    the switchover has not completed). ``stopped_at``: the task's StopDate after the stop."""
    if switchover.deployment.status != "SWITCHOVER_COMPLETED":
        return None
    if switchover.completed_at is None:
        return ("the switchover completed, and RDS's history has no completion event to tell whether DMS stopped "
                "before it")
    if stopped_at is None:
        return f"the switchover completed at {switchover.completed_at.isoformat()}, and DMS reports no stop time"
    if stopped_at >= switchover.completed_at:
        return (f"DMS stopped at {stopped_at.isoformat()}, not before the switchover completed at "
                f"{switchover.completed_at.isoformat()}: it may have read green from blue's coordinates")
    return None
