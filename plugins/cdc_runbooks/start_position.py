"""Is a binlog position a safe CDC start on this writer?

DMS does not check: a position in a file that the writer does not have, beyond
the file's end, or inside a transaction silently loses or replays rows, or fails
the task with MySQL error 1236 after it was reported started (see
shared/reference/local-servers.md §3). The runbook checks first, on the
current writer, from ``SHOW BINARY LOGS`` and the event at the position
(``SHOW BINLOG EVENTS IN file FROM pos LIMIT 1``).
"""

from __future__ import annotations

from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.refusal import Refusal

# Events that begin a transaction (or a file): a reader started there sees whole transactions only.
TRANSACTION_STARTS = frozenset({"Gtid", "Anonymous_Gtid", "Format_desc", "Previous_gtids", "Gtid_list",
                                "Binlog_checkpoint", "Rotate"})


class UnsafeStartPosition(Refusal, ValueError):
    """The position is not where CDC may start on this writer."""


def check_on_writer(position: BinlogPosition, binary_logs: dict[str, int], event_at_position: tuple | None,
                    writer: str) -> None:
    """Raise UnsafeStartPosition unless ``position`` starts a transaction in a binlog ``writer`` still has.

    :param binary_logs: SHOW BINARY LOGS as {file: size}.
    :param event_at_position: (event_type, info) of the event at the position, None at the file's end.
    """
    if position.file not in binary_logs:
        files = sorted(binary_logs, key=lambda name: BinlogPosition(name, 4).sequence)
        listed = f"{files[0]} .. {files[-1]}" if files else "none"
        raise UnsafeStartPosition(
            f"{position} is not on the writer {writer}: its binlog files are {listed}. The position belongs to "
            "another server (after a switchover, blue's checkpoint names a file green may also have, at "
            "unrelated offsets) or the file was purged (binlog retention too short).")
    size = binary_logs[position.file]
    if position.position > size:
        raise UnsafeStartPosition(f"{position} is past the end of {position.file} ({size} bytes) on {writer}.")
    if event_at_position is None:
        if position.position != size:
            raise UnsafeStartPosition(f"{position} is not an event boundary on {writer}.")
        return  # the end of the file: CDC starts with whatever comes next
    event_type, info = event_at_position
    starts = event_type in TRANSACTION_STARTS or (event_type == "Query" and str(info).strip().upper() == "BEGIN")
    if not starts:
        raise UnsafeStartPosition(
            f"{position} is inside a transaction on {writer} (the event there is {event_type}); starting there "
            "drops the transaction's first rows. Use a position at a transaction boundary, such as a DMS "
            "RecoveryCheckpoint or the coordinates RDS publishes after a switchover.")
