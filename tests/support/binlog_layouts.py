"""Binlog layouts for the position guards' tests: a model of a writer's binlog (files, rotations, transactions
replicated from another server or written locally, housekeeping events), rendered as the SHOW BINARY LOGS and
SHOW BINLOG EVENTS a server would answer, and hypothesis strategies that generate them.

The model knows what a position *means* (which transactions a reader started there would apply), so the tests'
oracles are stated in those terms, independently of how ``start_position`` decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.start_position import BinlogEvent, UnreadableOffset, WriterBinlog

BASENAME = "mysql-bin-changelog"
WRITER_ID, BLUE_ID, OTHER_ID = 2, 1, 7


@dataclass(frozen=True)
class Transaction:
    """A committed transaction in the binlog: where it starts and ends and which server logged it."""

    start: BinlogPosition
    end: BinlogPosition
    server_id: int


@dataclass
class Layout:
    """One server's binlog: events per file (in order) and the transactions they form."""

    server_id: int
    files: dict[str, list[BinlogEvent]] = field(default_factory=dict)
    transactions: list[Transaction] = field(default_factory=list)

    def sizes(self) -> dict[str, int]:
        return {name: events[-1].end_position for name, events in self.files.items()}

    def binlog(self, writer: str = "green-writer") -> WriterBinlog:
        """The layout as a check sees it; the reader refuses offsets that are not event starts, as MySQL does."""
        def read(file: str, start: int):
            events = self.files[file]
            if start not in {e.position for e in events}:
                raise UnreadableOffset("Error when executing command SHOW BINLOG EVENTS: Wrong offset or I/O error")
            return [e for e in events if e.position >= start]
        return WriterBinlog(writer, self.server_id, self.sizes(), read)

    def positions(self) -> list[BinlogPosition]:
        """Every event start and every file end: the offsets a reader can be at."""
        return [*(e.at for events in self.files.values() for e in events),
                *(BinlogPosition(name, size) for name, size in self.sizes().items())]

    def order(self, position: BinlogPosition) -> tuple[int, int]:
        """Where ``position`` (in one of the files) stands in the binlog: the file's place in SHOW BINARY LOGS."""
        return list(self.files).index(position.file), position.position

    def applied_from(self, position: BinlogPosition) -> list[Transaction]:
        """The whole transactions a reader started at ``position`` applies."""
        return [t for t in self.transactions if self.order(t.start) >= self.order(position)]

    def splits_a_transaction(self, position: BinlogPosition) -> bool:
        return any(self.order(t.start) < self.order(position) < self.order(t.end) for t in self.transactions)


# A file item: a transaction of (server id, row events) or a local binlog checkpoint.
_ITEM = st.one_of(
    st.tuples(st.sampled_from([WRITER_ID, BLUE_ID, OTHER_ID]), st.integers(1, 3)),
    st.just("checkpoint"),
)


@st.composite
def layouts(draw, server_id: int = WRITER_ID) -> Layout:
    """A binlog of 1-4 files (the last one active), each opening with the server's header events, then
    transactions of any origin and local checkpoints in any order, closed by a Rotate except the last; sometimes
    the base name changes part-way (``log_bin`` renamed: a new sequence from 1)."""
    first = draw(st.integers(1, 4))
    layout = Layout(server_id)
    file_items = draw(st.lists(st.lists(_ITEM, max_size=6), min_size=1, max_size=4))
    renamed_at = draw(st.integers(1, 5))
    names = [f"{BASENAME}.{first + i:06d}" if i < renamed_at else f"mysql-bin.{1 + i - renamed_at:06d}"
             for i in range(len(file_items))]
    for index, items in enumerate(file_items):
        name = names[index]
        writer = _FileWriter(name, server_id, draw)
        for kind in ("Format_desc", "Gtid_list", "Binlog_checkpoint"):
            writer.event(kind, server_id)
        for item in items:
            if item == "checkpoint":
                writer.event("Binlog_checkpoint", server_id)
            else:
                layout.transactions.append(writer.transaction(*item))
        if index < len(file_items) - 1:
            writer.event("Rotate", server_id, f"{names[index + 1]};pos=4")
        layout.files[name] = writer.events
    return layout


class _FileWriter:
    def __init__(self, name: str, server_id: int, draw) -> None:
        self.name, self.server_id, self.draw = name, server_id, draw
        self.events: list[BinlogEvent] = []
        self.offset = 4

    def event(self, kind: str, server_id: int, info: str = "") -> BinlogEvent:
        length = self.draw(st.integers(19, 300))
        event = BinlogEvent(self.name, self.offset, kind, server_id, self.offset + length, info)
        self.events.append(event)
        self.offset += length
        return event

    def transaction(self, server_id: int, rows: int) -> Transaction:
        begin = self.event("Gtid", server_id, "BEGIN GTID 0-1-1")
        self.event("Table_map", server_id, "table_id: 20 (shop.customers)")
        for _ in range(rows):
            self.event("Write_rows_v1", server_id, "table_id: 20 flags: STMT_END_F")
        commit = self.event("Xid", server_id, "COMMIT /* xid=1 */")
        return Transaction(begin.at, commit.end, server_id)


def candidate_positions(layout: Layout, other: Layout, offsets: list[int]) -> list[BinlogPosition]:
    """What an adversary tries on ``layout``: its own boundaries, off-by-one offsets, past-the-end offsets, arbitrary
    offsets in its files, and every position of another server (same file names, unrelated offsets)."""
    sizes = layout.sizes()
    own = layout.positions()
    nearby = [BinlogPosition(p.file, p.position + delta) for p in own for delta in (-1, 1) if p.position + delta >= 4]
    arbitrary = [BinlogPosition(name, offset) for name in sizes for offset in offsets]
    return sorted({*own, *nearby, *arbitrary, *other.positions()}, key=lambda p: (p.file, p.position))
