"""How long the estate's AWS operations themselves took, apart from the orchestration around them.

The estate's controllers make long-running AWS operations (DMS stopping and starting, a
blue/green switchover) take a fixed time, as AWS does, instead of finishing on whichever
describe poll comes next. Each operation is logged with the moment AWS would report it
done, so a benchmark can split a CDC gap into "AWS was busy" and "our orchestration":
polling late or doing work between operations is overhead, not AWS time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class AwsOperation:
    name: str
    started: datetime
    finished: datetime


class AwsOperationLog:
    def __init__(self) -> None:
        self._operations: list[AwsOperation] = []
        self._lock = threading.Lock()

    def record(self, name: str, started: datetime, duration_s: float) -> datetime:
        """Log an operation that AWS completes ``duration_s`` after ``started``; return when it completes."""
        finished = started + timedelta(seconds=duration_s)
        with self._lock:
            self._operations.append(AwsOperation(name, started, finished))
        return finished

    @property
    def operations(self) -> list[AwsOperation]:
        with self._lock:
            return list(self._operations)

    def busy_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds of [start, end] during which at least one operation was in progress (overlaps count once)."""
        spans = sorted((max(op.started, start), min(op.finished, end)) for op in self.operations
                       if op.finished > start and op.started < end)
        busy, covered_to = 0.0, start
        for begin, finish in spans:
            begin = max(begin, covered_to)
            if finish > begin:
                busy += (finish - begin).total_seconds()
                covered_to = finish
        return busy
