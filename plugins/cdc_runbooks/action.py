"""What a production-changing step does after checking state: the one decision every such step makes.

A step first looks at the resource it would change (a DMS task, a blue/green deployment, a snapshot or
export, a pipeline's lock), then acts, waits for its own earlier attempt, or adopts what its run already
did. So a retried or cleared task never repeats a change.
"""

from __future__ import annotations

import enum


class Action(enum.Enum):
    ACT = "act"  # call the API
    WAIT = "wait"  # the change is under way (ours, retried): wait for it
    ADOPT = "adopt"  # this run already did it: report it again
