"""What the reconciliation does when it cannot verify: a SQL error names the table and is a refusal (the step is
not retried for nothing), a lost connection is transient (retried); a table that cannot be compared is refused
together with every other such table. Pure: fake sides and real driver exception classes, no database."""

from __future__ import annotations

import mysql.connector.errors as mysql_errors
import psycopg2
import psycopg2.errors
import pytest

from cdc_runbooks.reconcile.compared_table import QueryFailed, Side, TableMismatch
from cdc_runbooks.reconcile.engine import reconcile
from cdc_runbooks.reconcile.row_checksum import COLUMNS_SQL, UNIQUE_KEYS_SQL, Dialect
from cdc_runbooks.reconcile.sides import SideUnreachable, _reading
from cdc_runbooks.refusal import Refusal

SQL_ERRORS = [
    psycopg2.errors.NumericValueOutOfRange("bigint out of range"),
    psycopg2.errors.UndefinedColumn('column "id" does not exist'),
    mysql_errors.DatabaseError("BIGINT value is out of range", errno=1690, sqlstate="22003"),
    mysql_errors.OperationalError("BIGINT value is out of range", errno=1690, sqlstate="22003"),  # as pymysql files it
    mysql_errors.ProgrammingError("You have an error in your SQL syntax", errno=1064, sqlstate="42000"),
]
CONNECTION_ERRORS = [
    psycopg2.OperationalError("server closed the connection unexpectedly\n\tThis probably means ..."),
    mysql_errors.InterfaceError("2003: Can't connect to MySQL server on '127.0.0.1:9'", errno=2003),
    mysql_errors.OperationalError("Lost connection to MySQL server during query", errno=2013, sqlstate="HY000"),
]


def _raising(error: Exception):
    def get_records(sql, parameters=None):
        raise error
    return get_records


@pytest.mark.parametrize("error", SQL_ERRORS, ids=repr)
def test_a_sql_error_is_a_refusal_naming_the_side(error):
    with pytest.raises(QueryFailed, match=r"^the warehouse \(connection 'warehouse'\) refused a query: ") as raised:
        _reading("warehouse", "warehouse", _raising(error))("SELECT 1")
    assert isinstance(raised.value, Refusal)


class ServerError(Exception):
    """An error as the driver raises it from the server, with its SQLSTATE (psycopg2 files class 54 as an
    OperationalError, whose constructor cannot set it)."""

    def __init__(self, message: str, pgcode: str) -> None:
        super().__init__(message)
        self.pgcode = pgcode


def test_a_program_limit_is_a_refusal_not_a_lost_connection():
    """A segment whose rows render to more than 1 GB fails the same way every time: not retried for nothing."""
    error = ServerError("out of memory\nDETAIL: Cannot enlarge string buffer containing 1073021455 bytes", "54000")
    with pytest.raises(QueryFailed, match="refused a query: out of memory"):
        _reading("warehouse", "warehouse", _raising(error))("SELECT 1")


@pytest.mark.parametrize("error", CONNECTION_ERRORS, ids=repr)
def test_a_connection_error_is_transient(error):
    with pytest.raises(SideUnreachable, match=r"^could not read the source \(connection 'source_mysql'\): ") as raised:
        _reading("source", "source_mysql", _raising(error))("SELECT 1")
    assert not isinstance(raised.value, Refusal)


class Database:
    """Information schemas of ``tables`` (table -> (columns, primary key)); data queries fail as SQL errors."""

    def __init__(self, tables: dict[str, tuple[list[tuple], tuple[str, ...]]]) -> None:
        self.tables = tables

    def run(self, sql, params):
        if sql == UNIQUE_KEYS_SQL:
            return [("PRIMARY", k) for k in self.tables[params[1]][1]]
        if sql in COLUMNS_SQL.values():
            return self.tables.get(params[1], ([], ()))[0]
        raise QueryFailed("the warehouse (connection 'warehouse') refused a query: bigint out of range")


GOOD = ([("id", "bigint", "NO", 0, None), ("v", "varchar", "YES", None, "utf8mb4")], ("id",))
APPROXIMATE_KEY = ([("r", "real", "NO", None, None)], ("r",))
TEXT_KEY = ([("name", "varchar", "NO", None, "utf8mb4")], ("name",))


def _sides(tables) -> tuple[Side, Side]:
    target = {name: ([(c, "text" if t == "varchar" else t, n, s, None) for c, t, n, s, _ in columns], key)
              for name, (columns, key) in tables.items()}
    return Side(Dialect.MYSQL, "shop", Database(tables).run), Side(Dialect.REDSHIFT, "shop", Database(target).run)


def test_a_sql_error_while_reading_a_table_names_the_table():
    with pytest.raises(QueryFailed, match=r"^orders: the warehouse \(connection 'warehouse'\) refused a query: "
                                          "bigint out of range"):
        reconcile(*_sides({"orders": GOOD}), ["orders"])


def test_every_table_that_cannot_be_compared_is_named_before_any_data_query():
    source, target = _sides({"orders": GOOD, "notes": APPROXIMATE_KEY, "tags": TEXT_KEY})

    with pytest.raises(TableMismatch) as refused:
        reconcile(source, target, ["notes", "orders", "tags", "absent"])

    message = str(refused.value)
    assert message.startswith("2 of 4 tables cannot be compared: ")  # a text key is a key like any other
    assert "notes: key column r is approximate" in message
    assert "absent: no such table on the source" in message
