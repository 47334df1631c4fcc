"""Is a binlog position a safe CDC start on this writer?

DMS does not check: a position in a file that the writer does not have, beyond
the file's end, or inside a transaction silently loses or replays rows, or fails
the task with MySQL error 1236 after it was reported started. Nor does it check
*whose* position it is. After a blue/green switchover the new writer's binlog
also holds the history it replicated from old blue, logged with blue's server id
under file names that blue uses too (``mysql-bin-changelog.000003`` on both, at
unrelated offsets): one of old blue's positions can land exactly on a
transaction start in that replicated history, and starting there re-applies
transactions CDC already delivered from blue (duplicates; Redshift enforces no
keys).

So a safe start on a writer is a transaction boundary in a binlog file the writer
still has, **after which the binlog holds only the writer's own events** (logged
with its ``@@server_id``): where its own writes continue, never inside history
replicated from another server. The end of the last replicated event is where
the writer's own writes begin (:func:`own_writes_begin`); after a switchover
that is green's coordinates. Everything is read from the writer with ``SHOW
BINARY LOGS`` and ``SHOW BINLOG EVENTS``
(https://dev.mysql.com/doc/refman/8.0/en/show-binlog-events.html), given here as
data so that this module stays pure.

Files are read in the order SHOW BINARY LOGS lists them (the binlog index), which
also holds across a renamed base name. DMS is sent the native position that was
checked, never the rest of a checkpoint string.

Limitations, failing closed: a writer that is itself a binlog replica of another
server (``log_replica_updates``) has only replicated history, and every position on
it is refused. If an in-cluster failover leaves events logged under the previous
writer's server id in the binlog (not documented by AWS either way), positions
before the failover are refused too, and the position the refusal names as where
the writer's own writes begin is then *not* a safe substitute: compare source and
warehouse before choosing one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from cdc_runbooks.binlog_position import FIRST_EVENT_POSITION, BinlogPosition
from cdc_runbooks.refusal import Refusal

# Events that begin a transaction (or a file): a reader started there sees whole transactions only.
TRANSACTION_STARTS = frozenset({"Gtid", "Anonymous_Gtid", "Format_desc", "Previous_gtids", "Gtid_list",
                                "Binlog_checkpoint", "Rotate", "Start_encryption"})
# Events a server logs about its binlog itself, carrying no data: between two positions with only these, starting
# at either gives the same rows.
BINLOG_HOUSEKEEPING = frozenset({"Format_desc", "Previous_gtids", "Gtid_list", "Binlog_checkpoint", "Rotate", "Stop",
                                 "Start_encryption"})

# An XA transaction's rows are logged at XA PREPARE; the group that commits or rolls it back comes later.
_XA_ENDS = ("XA COMMIT", "XA ROLLBACK")

ANOTHER_SERVER = (
    "It looks like another server's position: after a blue/green switchover, old blue's checkpoint names binlog "
    "files that green also has, at unrelated offsets. Resume from a position taken on this writer: a DMS "
    "RecoveryCheckpoint taken while the task read it or, after a switchover, green's coordinates (the switchover "
    "run's record).")


class UnsafeStartPosition(Refusal, ValueError):
    """The position is not where CDC may start on this writer."""


class UnreadableOffset(Exception):
    """The server refused to read its binlog from an offset (MySQL error 1220: not an event boundary)."""


@dataclass(frozen=True)
class BinlogEvent:
    """One row of ``SHOW BINLOG EVENTS``: Log_name, Pos, Event_type, Server_id, End_log_pos, Info."""

    file: str
    position: int
    event_type: str
    server_id: int
    end_position: int
    info: str | None = None

    @classmethod
    def from_row(cls, row: Sequence) -> BinlogEvent:
        file, position, event_type, server_id, end_position, info = row[:6]
        return cls(str(file), int(position), str(event_type), int(server_id), int(end_position),
                   None if info is None else str(info))

    @property
    def at(self) -> BinlogPosition:
        return BinlogPosition(self.file, self.position)

    @property
    def end(self) -> BinlogPosition:
        return BinlogPosition(self.file, self.end_position)

    @property
    def starts_transaction(self) -> bool:
        return self.event_type in TRANSACTION_STARTS or (
            self.event_type == "Query" and str(self.info).strip().upper() == "BEGIN")


# (file, start) -> the events of ``file`` from ``start`` (an offset the caller believes is an event boundary) to
# the file's end; raises UnreadableOffset when the server refuses the offset.
EventReader = Callable[[str, int], Iterable[BinlogEvent]]


@dataclass(frozen=True)
class WriterBinlog:
    """A writer's binlog as a check sees it: its instance name, ``@@server_id``, SHOW BINARY LOGS as
    {file: size}, and a reader of its events."""

    writer: str
    server_id: int
    files: dict[str, int]
    read: EventReader

    def events_from(self, position: BinlogPosition) -> Iterator[BinlogEvent]:
        """Every event from ``position`` (in one of the writer's files) to the end of the binlog, across rotations,
        in the order of SHOW BINARY LOGS (its index: also across a change of the binlog's base name)."""
        names = list(self.files)
        for name in names[names.index(position.file):]:
            start = position.position if name == position.file else FIRST_EVENT_POSITION
            if start < self.files[name]:
                yield from self.read(name, start)

    def events_between(self, first: BinlogPosition, last: BinlogPosition) -> Iterator[BinlogEvent]:
        """The events from ``first`` (a boundary) up to, not including, ``last`` (both in the writer's files)."""
        index = {name: number for number, name in enumerate(self.files)}
        for event in self.events_from(first):
            if (index[event.file], event.position) >= (index[last.file], last.position):
                return
            yield event


def check_on_writer(position: BinlogPosition, binlog: WriterBinlog) -> None:
    """Raise UnsafeStartPosition unless ``position`` starts a transaction in a file the writer still has and only
    the writer's own events follow it (nothing replicated from another server)."""
    writer = binlog.writer
    if position.file not in binlog.files:
        files = list(binlog.files)
        listed = f"{files[0]} .. {files[-1]}" if files else "none"
        raise UnsafeStartPosition(
            f"{position} is not on the writer {writer}: its binlog files are {listed}. The position belongs to "
            "another server (after a switchover, blue's checkpoint names a file green may also have, at "
            "unrelated offsets) or the file was purged (binlog retention too short).")
    size = binlog.files[position.file]
    if position.position > size:
        raise UnsafeStartPosition(f"{position} is past the end of {position.file} ({size} bytes) on {writer}. "
                                  f"{ANOTHER_SERVER}")
    events = binlog.events_from(position)
    try:
        head = list(itertools.islice(events, 2))
    except UnreadableOffset as error:
        raise UnsafeStartPosition(f"{position} is not an event boundary on {writer} (the server says: {error}). "
                                  f"{ANOTHER_SERVER}") from None
    if position.position < size:
        _require_transaction_start(position, head, writer)
    _require_own_history(position, head, events, binlog)


def own_writes_begin(binlog: WriterBinlog) -> BinlogPosition | None:
    """The end of the last event in the writer's binlog logged by another server (replicated to it): the writer's
    own writes begin there. None when the binlog holds nothing from another server. Reads files newest first and
    stops at the first that holds such an event."""
    for name in reversed(list(binlog.files)):
        last = None
        for event in binlog.read(name, FIRST_EVENT_POSITION):
            if event.server_id != binlog.server_id:
                last = event
        if last is not None:
            return last.end
    return None


def _require_transaction_start(position: BinlogPosition, head: list[BinlogEvent], writer: str) -> None:
    """``head``: the first two events read from the position."""
    first = head[0] if head else None
    if first is None or first.at != position:
        raise UnsafeStartPosition(f"{position} is not an event boundary on {writer}. {ANOTHER_SERVER}")
    if not first.starts_transaction:
        raise UnsafeStartPosition(
            f"{position} is inside a transaction on {writer} (the event there is {first.event_type}); starting there "
            "drops the transaction's first rows. Use a position at a transaction boundary, such as a DMS "
            "RecoveryCheckpoint or the coordinates RDS publishes after a switchover.")
    ends_xa = len(head) > 1 and str(head[1].info).strip().upper().startswith(_XA_ENDS)
    if ends_xa:
        raise UnsafeStartPosition(
            f"{position} is inside an XA transaction on {writer}: the group there ends one ({head[1].info}) whose rows "
            "were logged before the position, at its XA PREPARE; starting there loses them. Use a position before the "
            "XA START, such as a DMS RecoveryCheckpoint.")


def _require_own_history(position: BinlogPosition, head: list[BinlogEvent], rest: Iterator[BinlogEvent],
                         binlog: WriterBinlog) -> None:
    """Read to the end of the binlog (what CDC would read from ``position``) and refuse if another server logged
    any of it; the refusal says where the writer's own writes begin."""
    seen, last = None, None
    for event in itertools.chain(head, rest):
        if event.server_id != binlog.server_id:
            seen, last = seen or event, event
    if seen is not None:
        raise UnsafeStartPosition(
            f"{position} is inside history that {binlog.writer} (server id {binlog.server_id}) replicated from "
            f"another server: its binlog holds events of server id {seen.server_id} after it ({seen.event_type} at "
            f"{seen.at}, the last ending at {last.end}, where this writer's own writes begin). Starting there "
            f"re-applies transactions CDC already delivered from that server (duplicates). {ANOTHER_SERVER}")
