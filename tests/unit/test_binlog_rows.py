"""row_changes_since over a stand-in stream: row images become RowChanges; any statement naming the table since the
checkpoint (DDL, however commented or version-gated) and a partial JSON update are refused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pymysqlreplication.event import QueryEvent
from pymysqlreplication.row_event import DeleteRowsEvent, PartialUpdateRowsEvent, UpdateRowsEvent, WriteRowsEvent

from cdc_runbooks.aws import binlog_rows
from cdc_runbooks.aws.cluster import ClusterWriter
from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.repair.rewind import RowChange

WRITER = ClusterWriter("prod", "127.0.0.1", 3306, "prod-1", "pg", "in-sync", "8.0")
START = BinlogPosition("mysql-bin-changelog.000001", 4)


def event(kind, **fields):
    """An event of ``kind`` with these attributes (a rows event's ``rows`` is a property over a private list)."""
    made = kind.__new__(kind)
    if "rows" in fields:
        fields["_RowsEvent__rows"] = fields.pop("rows")
    made.__dict__.update(fields)
    return made


def changes(monkeypatch, events, table="orders"):
    monkeypatch.setattr(binlog_rows.BaseHook, "get_connection",
                        classmethod(lambda cls, conn_id: SimpleNamespace(login="dms", password="x")))
    monkeypatch.setattr(binlog_rows, "BinLogStreamReader", lambda **kwargs: _Stream(events))
    return list(binlog_rows.row_changes_since("source_mysql", WRITER, START, "shop", table))


class _Stream:
    def __init__(self, events) -> None:
        self.events = events

    def __iter__(self):
        return iter(self.events)

    def close(self) -> None:
        pass


def rows(kind, *images):
    return event(kind, schema="shop", table="orders", rows=list(images))


def test_row_images_become_row_changes_in_binlog_order(monkeypatch):
    found = changes(monkeypatch, [
        event(QueryEvent, query="BEGIN"),
        rows(WriteRowsEvent, {"values": {"id": 1}}),
        rows(UpdateRowsEvent, {"before_values": {"id": 1}, "after_values": {"id": 2}}),
        event(WriteRowsEvent, schema="shop", table="customers", rows=[{"values": {"id": 9}}]),
        rows(DeleteRowsEvent, {"values": {"id": 2}}),
        event(QueryEvent, query="COMMIT")])
    assert found == [RowChange(None, {"id": 1}), RowChange({"id": 1}, {"id": 2}), RowChange({"id": 2}, None)]


@pytest.mark.parametrize("statement", [
    "ALTER TABLE orders DROP COLUMN note", "/* gh-ost */ ALTER TABLE `shop`.`orders` DROP COLUMN note",
    "/*!50700 ALTER TABLE orders MODIFY note VARCHAR(10) */", "-- migration 42\nALTER TABLE orders DROP COLUMN note",
    "RENAME TABLE orders TO _orders_old, _orders_new TO orders", "TRUNCATE shop.orders"])
def test_a_statement_naming_the_table_since_the_checkpoint_is_refused(monkeypatch, statement):
    with pytest.raises(binlog_rows.DefinitionChanged, match="changed definition since the DMS checkpoint"):
        changes(monkeypatch, [event(QueryEvent, query=statement)])


@pytest.mark.parametrize("statement", ["ALTER TABLE _orders_old DROP COLUMN note", "ALTER TABLE orders_archive "
                                       "ADD COLUMN x INT", "BEGIN", "XA START 'x'"])
def test_statements_about_other_tables_pass(monkeypatch, statement):
    assert changes(monkeypatch, [event(QueryEvent, query=statement)]) == []


def test_a_partial_json_update_is_refused(monkeypatch):
    with pytest.raises(binlog_rows.DefinitionChanged, match="partial JSON updates"):
        changes(monkeypatch, [rows(PartialUpdateRowsEvent, {"before_values": {"id": 1}, "after_values": {"id": 1}})])


def test_unnamed_columns_are_refused(monkeypatch):
    with pytest.raises(binlog_rows.DefinitionChanged, match="could not be given column names"):
        changes(monkeypatch, [rows(WriteRowsEvent, {"values": {"UNKNOWN_COL0": 1}})])
