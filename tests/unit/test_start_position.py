"""start_position.check_on_writer: a CDC start position must be in a binlog the writer still has, within the file,
at a transaction boundary (or exactly at a file's end), and followed only by the writer's own events — never inside
history it replicated from another server. Pure: the writer's binlog is given as data.
"""

from __future__ import annotations

import pytest
from binlog_layouts import BLUE_ID, WRITER_ID, Layout, candidate_positions, layouts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.start_position import (
    ANOTHER_SERVER,
    TRANSACTION_STARTS,
    BinlogEvent,
    UnreadableOffset,
    UnsafeStartPosition,
    WriterBinlog,
    check_on_writer,
    own_writes_begin,
)

WRITER = "prod-green-writer-1"
LOGS = {  # SHOW BINARY LOGS: oldest first
    "mysql-bin-changelog.000022": 524_288,
    "mysql-bin-changelog.000023": 1_048_576,
    "mysql-bin-changelog.000024": 9_120,
}


def at(text: str) -> BinlogPosition:
    return BinlogPosition.parse(text)


def binlog(event: tuple | None = None, at_position: BinlogPosition | None = None,
           logs: dict | None = None) -> WriterBinlog:
    """A writer whose binlog has ``event`` (type, info) at ``at_position``, and nothing else readable:
    reading from any other offset is refused, as MySQL refuses an offset that is not an event boundary."""
    def read(file: str, start: int):
        if at_position is not None and event is not None and (file, start) == (at_position.file, at_position.position):
            return [BinlogEvent(file, start, event[0], WRITER_ID, start + 42, event[1])]
        if start == 4:
            return []
        raise UnreadableOffset("Wrong offset or I/O error")
    return WriterBinlog(WRITER, WRITER_ID, dict(logs if logs is not None else LOGS), read)


def test_transaction_starts():
    assert frozenset({"Gtid", "Anonymous_Gtid", "Format_desc", "Previous_gtids", "Gtid_list", "Binlog_checkpoint",
                      "Rotate", "Start_encryption"}) == TRANSACTION_STARTS


def test_unsafe_start_position_is_a_value_error():
    assert issubclass(UnsafeStartPosition, ValueError)


def test_a_binlog_event_reads_a_show_binlog_events_row():
    row = ("mysql-bin-changelog.000003", 352, "Gtid", 1, 394, "BEGIN GTID 0-1-19", "extra column")
    event = BinlogEvent.from_row(row)
    assert event == BinlogEvent("mysql-bin-changelog.000003", 352, "Gtid", 1, 394, "BEGIN GTID 0-1-19")
    assert event.at == at("mysql-bin-changelog.000003:352") and event.end == at("mysql-bin-changelog.000003:394")


# --- the file -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("position", [
    "mysql-bin-changelog.000021:4",  # purged
    "mysql-bin-changelog.000025:4",  # not written yet, or another server's
    "blue-bin-changelog.000024:373",  # another server's naming
])
def test_a_file_the_writer_does_not_have_is_refused_naming_its_files_and_the_likely_causes(position):
    with pytest.raises(UnsafeStartPosition) as error:
        check_on_writer(at(position), binlog(("Gtid", ""), at(position)))
    assert str(error.value) == (
        f"{position} is not on the writer {WRITER}: its binlog files are mysql-bin-changelog.000022 .. "
        "mysql-bin-changelog.000024. The position belongs to another server (after a switchover, blue's checkpoint "
        "names a file green may also have, at unrelated offsets) or the file was purged (binlog retention too short).")


def test_a_writer_with_one_binlog_file_names_it():
    with pytest.raises(UnsafeStartPosition, match=r"its binlog files are mysql-bin-changelog\.000007 \.\. "
                                                  r"mysql-bin-changelog\.000007\. "):
        check_on_writer(at("mysql-bin-changelog.000024:4"), binlog(logs={"mysql-bin-changelog.000007": 400}))


def test_a_writer_without_binlog_files_says_none():
    with pytest.raises(UnsafeStartPosition, match=r"is not on the writer prod-green-writer-1: its binlog files are "
                                                  r"none\. .*binlog retention too short"):
        check_on_writer(at("mysql-bin-changelog.000024:4"), binlog(logs={}))


def test_a_missing_file_is_reported_before_anything_about_the_event():
    position = at("mysql-bin-changelog.000030:999999")
    with pytest.raises(UnsafeStartPosition, match="is not on the writer"):
        check_on_writer(position, binlog(("Write_rows", "table_id: 88"), position))


def test_the_file_range_follows_the_sequence_past_six_digits():
    logs = {"mysql-bin-changelog.999998": 100, "mysql-bin-changelog.999999": 100, "mysql-bin-changelog.1000000": 100}
    with pytest.raises(UnsafeStartPosition) as error:
        check_on_writer(at("mysql-bin-changelog.000024:4"), binlog(logs=logs))
    assert "its binlog files are mysql-bin-changelog.999998 .. mysql-bin-changelog.1000000." in str(error.value)


# --- the offset within the file ---------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [9_121, 9_200, 10**12])
def test_past_the_end_of_the_file_is_refused_as_another_servers_position(offset):
    position = BinlogPosition("mysql-bin-changelog.000024", offset)
    with pytest.raises(UnsafeStartPosition) as error:
        check_on_writer(position, binlog(("Gtid", ""), position))
    assert str(error.value) == (f"mysql-bin-changelog.000024:{offset} is past the end of mysql-bin-changelog.000024 "
                                f"(9120 bytes) on {WRITER}. {ANOTHER_SERVER}")
    assert "looks like another server's position" in str(error.value)


def test_exactly_at_the_end_of_the_file_is_safe():
    assert check_on_writer(at("mysql-bin-changelog.000024:9120"), binlog()) is None


def test_exactly_at_the_end_of_an_older_file_is_safe_when_the_later_files_are_the_writers_own():
    assert check_on_writer(at("mysql-bin-changelog.000022:524288"), binlog()) is None


@pytest.mark.parametrize("offset", [5, 373, 9_119])
def test_an_offset_the_server_refuses_is_not_an_event_boundary(offset):
    position = BinlogPosition("mysql-bin-changelog.000024", offset)
    with pytest.raises(UnsafeStartPosition) as error:
        check_on_writer(position, binlog())
    assert str(error.value) == (f"mysql-bin-changelog.000024:{offset} is not an event boundary on {WRITER} (the "
                                f"server says: Wrong offset or I/O error). {ANOTHER_SERVER}")


def test_an_event_read_at_another_offset_than_asked_is_not_a_boundary():
    """A server that answers from somewhere else than the position asked must not pass for a boundary."""
    elsewhere = BinlogEvent("mysql-bin-changelog.000024", 400, "Gtid", WRITER_ID, 442, "")
    reader = WriterBinlog(WRITER, WRITER_ID, LOGS, lambda file, start: [elsewhere])
    with pytest.raises(UnsafeStartPosition, match="is not an event boundary on prod-green-writer-1. It looks like"):
        check_on_writer(at("mysql-bin-changelog.000024:373"), reader)


# --- the event at the position ------------------------------------------------------------------------------------


@pytest.mark.parametrize("event", [
    ("Gtid", "SET @@SESSION.GTID_NEXT= '3E11FA47-71CA-11E1-9E33-C80AA9429562:23'"),
    ("Gtid", "BEGIN GTID 0-1-42"),  # MariaDB
    ("Anonymous_Gtid", "SET @@SESSION.GTID_NEXT= 'ANONYMOUS'"),
    ("Query", "BEGIN"),
    ("Query", "begin"),
    ("Query", "  BEGIN\n"),
    ("Format_desc", "Server ver: 8.0.32, Binlog ver: 4"),
    ("Previous_gtids", ""),
    ("Gtid_list", "[0-1-41]"),
    ("Binlog_checkpoint", "mysql-bin-changelog.000024"),
    ("Rotate", "mysql-bin-changelog.000025;pos=4"),
    ("Start_encryption", ""),  # MariaDB, encrypted binlogs: right after Format_desc
])
def test_a_transaction_start_is_safe(event):
    position = at("mysql-bin-changelog.000024:373")
    assert check_on_writer(position, binlog(event, position)) is None


@pytest.mark.parametrize("event", [
    ("Table_map", "table_id: 88 (shop.orders)"),
    ("Write_rows", "table_id: 88 flags: STMT_END_F"),
    ("Update_rows", "table_id: 88 flags: STMT_END_F"),
    ("Delete_rows", "table_id: 88 flags: STMT_END_F"),
    ("Write_rows_v1", "table_id: 88 flags: STMT_END_F"),
    ("Xid", "COMMIT /* xid=1234 */"),
    ("Query", "COMMIT"),
    ("Query", "use `shop`; INSERT INTO orders VALUES (1)"),
    ("Query", "use `shop`; CREATE TABLE t (a int)"),
    ("Query", "BEGIN; INSERT INTO t VALUES (1)"),
    ("Query", ""),
    ("Query", None),
    ("Rows_query", "# INSERT INTO orders VALUES (1)"),
    ("gtid", "lower-case event types are not MySQL's"),
])
def test_a_position_inside_a_transaction_is_refused(event):
    position = at("mysql-bin-changelog.000024:373")
    with pytest.raises(UnsafeStartPosition) as error:
        check_on_writer(position, binlog(event, position))
    assert str(error.value) == (
        f"mysql-bin-changelog.000024:373 is inside a transaction on {WRITER} (the event there is {event[0]}); "
        "starting there drops the transaction's first rows. Use a position at a transaction boundary, such as a DMS "
        "RecoveryCheckpoint or the coordinates RDS publishes after a switchover.")


def test_the_first_event_of_a_file_is_safe():
    position = at("mysql-bin-changelog.000023:4")
    assert check_on_writer(position, binlog(("Format_desc", "Server ver: 8.0.32"), position)) is None


# --- whose history: the writer's own, or replicated from another server ------------------------------------------


def test_a_transaction_start_logged_by_another_server_is_refused_as_another_servers_position():
    """The issue's reproduction in miniature: old blue's checkpoint lands exactly on a GTID event green logged
    for a transaction it replicated from blue (server id 1)."""
    position = at("mysql-bin-changelog.000003:352")
    rest = [BinlogEvent("mysql-bin-changelog.000003", 394, "Xid", BLUE_ID, 425),
            BinlogEvent("mysql-bin-changelog.000003", 425, "Gtid", WRITER_ID, 467)]
    logs = {"mysql-bin-changelog.000003": 500}
    with pytest.raises(UnsafeStartPosition) as error:
        check_on_writer(position, _green(position, rest, logs))
    assert str(error.value) == (
        f"mysql-bin-changelog.000003:352 is inside history that {WRITER} (server id 2) replicated from another "
        "server: its binlog holds events of server id 1 after it (Gtid at mysql-bin-changelog.000003:352, the last "
        "ending at mysql-bin-changelog.000003:425, where this writer's own writes begin). Starting there re-applies "
        f"transactions CDC already delivered from that server (duplicates). {ANOTHER_SERVER}")


def _green(position: BinlogPosition, rest: list[BinlogEvent], logs: dict) -> WriterBinlog:
    first = BinlogEvent(position.file, position.position, "Gtid", BLUE_ID, 394, "BEGIN GTID 0-1-19")
    return WriterBinlog(WRITER, WRITER_ID, logs, lambda file, start: [first, *rest])


def test_own_writes_begin_at_the_end_of_the_last_replicated_event_looking_back_into_older_files():
    files = {
        "mysql-bin-changelog.000003": [BinlogEvent("mysql-bin-changelog.000003", 256, "Gtid", BLUE_ID, 298),
                                       BinlogEvent("mysql-bin-changelog.000003", 298, "Xid", BLUE_ID, 329)],
        "mysql-bin-changelog.000004": [BinlogEvent("mysql-bin-changelog.000004", 4, "Format_desc", WRITER_ID, 256),
                                       BinlogEvent("mysql-bin-changelog.000004", 256, "Gtid", WRITER_ID, 298)],
    }
    green = WriterBinlog(WRITER, WRITER_ID, {"mysql-bin-changelog.000003": 329, "mysql-bin-changelog.000004": 298},
                         lambda file, start: files[file])
    assert own_writes_begin(green) == at("mysql-bin-changelog.000003:329")
    assert own_writes_begin(WriterBinlog(WRITER, BLUE_ID, green.files, green.read)) == at(
        "mysql-bin-changelog.000004:298")
    assert own_writes_begin(WriterBinlog(WRITER, WRITER_ID, {}, green.read)) is None


def test_files_are_read_in_the_order_of_show_binary_logs_across_a_renamed_base_name():
    """log_bin renamed: a new sequence (``mysql-bin.000001``) follows the old one. A position in the old base name is
    followed by the new files too, and the newest replicated event is in the newest file, whatever the names."""
    old = [BinlogEvent("mysql-bin-changelog.000009", 4, "Format_desc", WRITER_ID, 190),
           BinlogEvent("mysql-bin-changelog.000009", 190, "Rotate", WRITER_ID, 230)]
    new = [BinlogEvent("mysql-bin.000001", 4, "Format_desc", WRITER_ID, 190),
           BinlogEvent("mysql-bin.000001", 190, "Gtid", BLUE_ID, 230)]
    files = {"mysql-bin-changelog.000009": old, "mysql-bin.000001": new}
    green = WriterBinlog(WRITER, WRITER_ID, {"mysql-bin-changelog.000009": 230, "mysql-bin.000001": 230},
                         lambda file, start: [e for e in files[file] if e.position >= start])
    with pytest.raises(UnsafeStartPosition, match="replicated from another server"):
        check_on_writer(at("mysql-bin-changelog.000009:190"), green)
    assert own_writes_begin(green) == at("mysql-bin.000001:230")


# --- property: exactly the safe positions are accepted, whatever the layout -------------------------------------


def _safe(layout: Layout, position: BinlogPosition) -> bool:
    """What a position means: safe when a reader started there is at an offset the server can read from, applies
    whole transactions only, and applies only transactions the writer itself logged."""
    return (position in layout.positions() and not layout.splits_a_transaction(position)
            and all(t.server_id == layout.server_id for t in layout.applied_from(position)))


def _accepted(layout: Layout, position: BinlogPosition) -> bool:
    try:
        check_on_writer(position, layout.binlog())
    except UnsafeStartPosition:
        return False
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(green=layouts(), blue=layouts(server_id=BLUE_ID),
       offsets=st.lists(st.integers(4, 3_000), max_size=8))
def test_exactly_the_safe_positions_are_accepted_on_any_binlog_layout(green, blue, offsets):
    """Rotations on both servers, overlapping file names, replicated and local transactions in any order, own
    checkpoints between replicated transactions: every position a reader could be given — the writer's own
    boundaries, off-by-one and past-the-end offsets, arbitrary offsets, and every position of the other
    server — is accepted exactly when starting there applies only whole transactions the writer logged."""
    for position in candidate_positions(green, blue, offsets):
        assert _accepted(green, position) == _safe(green, position), position


@settings(max_examples=200, deadline=None)
@given(green=layouts())
def test_the_end_of_replicated_history_is_always_accepted_and_nothing_before_it(green):
    begins = own_writes_begin(green.binlog())
    foreign = [t for t in green.transactions if t.server_id != green.server_id]
    if not foreign:
        assert begins is None
        return
    assert begins == max((t.end for t in foreign), key=green.order)
    assert _accepted(green, begins)
    assert not any(_accepted(green, p) for p in green.positions() if green.order(p) < green.order(begins))


@pytest.mark.parametrize("ends", ["XA COMMIT X'7831',X'',1", "xa rollback X'7831',X'',1"])
def test_the_group_that_ends_an_xa_transaction_prepared_earlier_is_refused(ends):
    """MySQL logs an XA transaction's rows at XA PREPARE; the XA COMMIT comes later in a group of its own, which
    starts like any transaction. Starting there applies a commit whose rows CDC never read."""
    start = at("mysql-bin-changelog.000024:373")
    events = [BinlogEvent(start.file, 373, "Anonymous_Gtid", WRITER_ID, 450, "SET @@SESSION.GTID_NEXT= 'ANONYMOUS'"),
              BinlogEvent(start.file, 450, "Query", WRITER_ID, 520, ends)]
    writer = WriterBinlog(WRITER, WRITER_ID, {start.file: 520}, lambda file, offset: events)
    with pytest.raises(UnsafeStartPosition, match="inside an XA transaction"):
        check_on_writer(start, writer)
