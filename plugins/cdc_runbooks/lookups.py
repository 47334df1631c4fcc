"""Independent read-only lookups made at the same time.

A step between the DMS pause and the CDC restart reads several services before it may act (DMS, RDS, the
writer's binlog); each round trip waits on the network, not on this process, so reading them side by side
shortens the CDC gap by the shorter ones. Only reads go here: a step's changes stay one after another, after
every check.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def look_up_together(*lookups: Callable[[], Any]) -> list[Any]:
    """Call every lookup in a thread of its own and wait for all of them; return their results in the order given.
    When lookups fail, the exception of the first failed one (in the order given) is raised, once all have ended,
    so that a step refuses for the same reason whichever lookup answered first."""
    with ThreadPoolExecutor(max_workers=len(lookups), thread_name_prefix="lookup") as pool:
        futures = [pool.submit(lookup) for lookup in lookups]
    return [future.result() for future in futures]
