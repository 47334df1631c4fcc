"""repair_table on DB-API stand-ins: one warehouse transaction per table (rolled back on any error), the changes read
after the rows, rows written as of the checkpoint; target_value: values as DMS lands them on Redshift."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from cdc_runbooks.reconcile.row_checksum import Column, Dialect, Kind
from cdc_runbooks.repair import copy
from cdc_runbooks.repair.plan import TableRepair
from cdc_runbooks.repair.rewind import RowChange

COLUMNS = ("id", "status")
PAIRS = tuple((Column(c, k), Column(c, k)) for c, k in zip(COLUMNS, (Kind.INTEGER, Kind.TEXT), strict=True))


class Cursor:
    def __init__(self, log: list, rows=(), fail_on: str | None = None) -> None:
        self.log, self.rows, self.fail_on = log, list(rows), fail_on
        self.description = [(c,) for c in COLUMNS]

    def execute(self, statement, args=None):
        self.log.append(("execute", statement, args))
        if self.fail_on and self.fail_on in statement:
            raise RuntimeError("rejected")

    def executemany(self, statement, rows):
        self.log.append(("executemany", statement, list(rows)))
        if self.fail_on and self.fail_on in statement:
            raise RuntimeError("rejected")

    def fetchmany(self, size):
        batch, self.rows = self.rows[:size], self.rows[size:]
        return batch

    def close(self):
        self.log.append(("close",))


class Connection:
    def __init__(self, rows=(), fail_on=None) -> None:
        self.log: list = []
        self.rows, self.fail_on = rows, fail_on

    def cursor(self):
        return Cursor(self.log, self.rows, self.fail_on)

    def commit(self):
        self.log.append(("commit",))

    def rollback(self):
        self.log.append(("rollback",))


def repair(method="rows", keys=(1, 2, 3)):
    return TableRepair("orders", method, ("id",), COLUMNS, COLUMNS, 3, "x", keys=keys if method == "rows" else ())


def test_rows_are_written_as_of_the_checkpoint_in_one_transaction_after_the_changes_are_read():
    source, target, order = Connection([(1, "now"), (2, "now")]), Connection(), []

    def changes():
        order.append(("changes", len(source.log)))  # the source rows were read before
        return [RowChange({"id": 1, "status": "at checkpoint"}, {"id": 1, "status": "now"}),
                RowChange(None, {"id": 2, "status": "now"}), RowChange(None, {"id": 9, "status": "other key"})]

    done = copy.repair_table(repair(), "shop", source, target, Dialect.POSTGRES, changes, PAIRS)

    assert order[0][1] > 0 and done.to_dict() == {"table": "orders", "method": "rows", "keys": 3, "rows_written": 1,
                                                   "rewound": 2}
    kinds = [entry[0] for entry in target.log]
    assert kinds == ["execute", "executemany", "close", "commit"]
    assert target.log[0][1] == 'DELETE FROM "shop"."orders" WHERE "id" IN (1, 2, 3)'
    assert target.log[1][2] == [(1, "at checkpoint")]


def test_a_whole_table_is_copied_in_batches_then_the_changed_keys_are_put_back(monkeypatch):
    monkeypatch.setattr(copy, "BATCH_ROWS", 2)
    source, target = Connection([(1, "a"), (2, "b"), (3, "c")]), Connection()
    changes = [RowChange({"id": 3, "status": "old"}, {"id": 3, "status": "c"}),
               RowChange(None, {"id": 2, "status": "b"})]

    done = copy.repair_table(repair("table"), "shop", source, target, Dialect.POSTGRES, lambda: changes, PAIRS)

    assert (done.rows_written, done.rewound) == (3, 2)
    statements = [(entry[1], entry[2]) for entry in target.log if entry[0] in ("execute", "executemany")]
    assert statements == [
        ('DELETE FROM "shop"."orders"', None),
        ('INSERT INTO "shop"."orders" ("id", "status") VALUES (%s, %s)', [(1, "a"), (2, "b")]),
        ('INSERT INTO "shop"."orders" ("id", "status") VALUES (%s, %s)', [(3, "c")]),
        ('DELETE FROM "shop"."orders" WHERE "id" = %s', [(3,), (2,)]),
        ('INSERT INTO "shop"."orders" ("id", "status") VALUES (%s, %s)', [(3, "old")]),
    ]
    assert target.log[-1] == ("commit",)


def test_a_rejected_write_rolls_the_table_back_and_raises():
    target = Connection(fail_on="INSERT")
    with pytest.raises(RuntimeError, match="rejected"):
        copy.repair_table(repair(), "shop", Connection([(1, "x")]), target, Dialect.POSTGRES, list, PAIRS)
    assert target.log[-1] == ("rollback",) and ("commit",) not in target.log


@pytest.mark.parametrize(("source", "target", "value", "expected"), [
    (Kind.BINARY, Kind.TEXT, b"\x00\xab", "00ab"),
    (Kind.BINARY, Kind.BINARY, bytearray(b"\x01"), b"\x01"),
    (Kind.TIME, Kind.TEXT, timedelta(hours=-838, minutes=-59, seconds=-59), "-838:59:59"),
    (Kind.TIME, Kind.TEXT, timedelta(seconds=5, microseconds=120), "00:00:05.000120"),
    (Kind.TIME, Kind.TEXT, timedelta(hours=-1, minutes=-30), "-01:30:00"),
    (Kind.JSON, Kind.TEXT, {"a": [1, 2]}, '{"a": [1, 2]}'),
    (Kind.JSON, Kind.TEXT, {b"a": [b"\xc3\xa9", 1]}, '{"a": ["\u00e9", 1]}'),
    (Kind.BIT, Kind.INTEGER, "101", 5),
    (Kind.BIT, Kind.BOOLEAN, "0", False),
    (Kind.JSON, Kind.TEXT, '{"a": 1}', '{"a": 1}'),
    (Kind.BIT, Kind.BOOLEAN, "1", True),
    (Kind.BIT, Kind.BOOLEAN, 0, False),
    (Kind.DECIMAL, Kind.DECIMAL, Decimal("1.50"), Decimal("1.50")),
    (Kind.TEXT, Kind.TEXT, None, None),
])
def test_values_land_as_dms_lands_them(source, target, value, expected):
    assert copy.target_value(Column("c", source), Column("c", target), value) == expected
