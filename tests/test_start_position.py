"""start_position.check_on_writer: a CDC start position must be in a binlog the writer still has, within the file,
and at a transaction boundary (or exactly at the file's end). Pure: SHOW BINARY LOGS and the event at the position
are given as data.
"""

from __future__ import annotations

import pytest

from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.start_position import TRANSACTION_STARTS, UnsafeStartPosition, check_on_writer

WRITER = "prod-green-writer-1"
LOGS = {
    "mysql-bin-changelog.000023": 1_048_576,
    "mysql-bin-changelog.000024": 9_120,
    "mysql-bin-changelog.000022": 524_288,
}


def at(text: str) -> BinlogPosition:
    return BinlogPosition.parse(text)


def test_transaction_starts():
    assert frozenset({"Gtid", "Anonymous_Gtid", "Format_desc", "Previous_gtids", "Gtid_list", "Binlog_checkpoint",
                      "Rotate"}) == TRANSACTION_STARTS


def test_unsafe_start_position_is_a_value_error():
    assert issubclass(UnsafeStartPosition, ValueError)


# --- the file -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("position", [
    "mysql-bin-changelog.000021:4",  # purged
    "mysql-bin-changelog.000025:4",  # not written yet, or another server's
    "blue-bin-changelog.000024:373",  # another server's naming
])
def test_a_file_the_writer_does_not_have_is_refused_naming_its_files_and_the_likely_causes(position):
    with pytest.raises(UnsafeStartPosition) as error:
        check_on_writer(at(position), LOGS, ("Gtid", "SET @@SESSION.GTID_NEXT= 'ANONYMOUS'"), WRITER)
    assert str(error.value) == (
        f"{position} is not on the writer {WRITER}: its binlog files are mysql-bin-changelog.000022 .. "
        "mysql-bin-changelog.000024. The position belongs to another server (after a switchover, blue's checkpoint "
        "names a file green may also have, at unrelated offsets) or the file was purged (binlog retention too short).")


def test_a_writer_with_one_binlog_file_names_it():
    with pytest.raises(UnsafeStartPosition, match=r"its binlog files are mysql-bin-changelog\.000007 \.\. "
                                                  r"mysql-bin-changelog\.000007\. "):
        check_on_writer(at("mysql-bin-changelog.000024:4"), {"mysql-bin-changelog.000007": 400}, None, WRITER)


def test_a_writer_without_binlog_files_says_none():
    with pytest.raises(UnsafeStartPosition, match=r"is not on the writer prod-green-writer-1: its binlog files are "
                                                  r"none\. .*binlog retention too short"):
        check_on_writer(at("mysql-bin-changelog.000024:4"), {}, None, WRITER)


def test_a_missing_file_is_reported_before_anything_about_the_event():
    with pytest.raises(UnsafeStartPosition, match="is not on the writer"):
        check_on_writer(at("mysql-bin-changelog.000030:999999"), LOGS, ("Write_rows", "table_id: 88"), WRITER)


# --- the offset within the file ---------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [9_121, 9_200, 10**12])
def test_past_the_end_of_the_file_is_refused(offset):
    position = BinlogPosition("mysql-bin-changelog.000024", offset)
    with pytest.raises(UnsafeStartPosition) as error:
        check_on_writer(position, LOGS, None, WRITER)
    assert str(error.value) == (f"mysql-bin-changelog.000024:{offset} is past the end of mysql-bin-changelog.000024 "
                                f"(9120 bytes) on {WRITER}.")


def test_past_the_end_is_refused_whatever_event_is_claimed():
    with pytest.raises(UnsafeStartPosition, match="is past the end of"):
        check_on_writer(at("mysql-bin-changelog.000024:9121"), LOGS, ("Gtid", ""), WRITER)


def test_exactly_at_the_end_of_the_file_is_safe():
    assert check_on_writer(at("mysql-bin-changelog.000024:9120"), LOGS, None, WRITER) is None


def test_exactly_at_the_end_of_an_older_file_is_safe():
    assert check_on_writer(at("mysql-bin-changelog.000022:524288"), LOGS, None, WRITER) is None


@pytest.mark.parametrize("offset", [4, 373, 9_119])
def test_no_event_before_the_end_of_the_file_is_not_a_boundary(offset):
    position = BinlogPosition("mysql-bin-changelog.000024", offset)
    with pytest.raises(UnsafeStartPosition) as error:
        check_on_writer(position, LOGS, None, WRITER)
    assert str(error.value) == f"mysql-bin-changelog.000024:{offset} is not an event boundary on {WRITER}."


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
])
def test_a_transaction_start_is_safe(event):
    assert check_on_writer(at("mysql-bin-changelog.000024:373"), LOGS, event, WRITER) is None


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
    with pytest.raises(UnsafeStartPosition) as error:
        check_on_writer(at("mysql-bin-changelog.000024:373"), LOGS, event, WRITER)
    assert str(error.value) == (
        f"mysql-bin-changelog.000024:373 is inside a transaction on {WRITER} (the event there is {event[0]}); "
        "starting there drops the transaction's first rows. Use a position at a transaction boundary, such as a DMS "
        "RecoveryCheckpoint or the coordinates RDS publishes after a switchover.")


def test_the_first_event_of_a_file_is_safe():
    assert check_on_writer(at("mysql-bin-changelog.000023:4"), LOGS, ("Format_desc", "Server ver: 8.0.32"),
                           WRITER) is None


def test_the_file_range_follows_the_sequence_past_six_digits():
    logs = {"mysql-bin-changelog.999998": 100, "mysql-bin-changelog.999999": 100, "mysql-bin-changelog.1000000": 100}
    with pytest.raises(UnsafeStartPosition) as error:
        check_on_writer(at("mysql-bin-changelog.000024:4"), logs, None, WRITER)
    assert "its binlog files are mysql-bin-changelog.999998 .. mysql-bin-changelog.1000000." in str(error.value)
