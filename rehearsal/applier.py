"""The CDC applier: what a running DMS task does, for real, on the estate.

It follows a MySQL binlog from a ``file:position`` through the production
endpoint (as DMS follows the cluster writer endpoint) and applies row inserts,
updates and deletes of the mapped tables to the warehouse, one source
transaction per warehouse transaction. Its checkpoint is always the end of the
last applied transaction. Started from a wrong position it does exactly what
DMS would: it silently skips or re-applies transactions.

Source DDL is treated as DMS treats it for a MySQL source and a Redshift target
(HandleSourceTableAltered/Truncated/Dropped true, TableErrorPolicy SUSPEND_TABLE):
:mod:`rehearsal.ddl_rules` decides, against the task's own copy of each table's
definition (read from the source when the applier starts, then changed only by the
DDL it captures), whether a statement is applied, ignored or suspends the table.
A table the target rejects a change for is suspended: its later events are
skipped until the task is started again (a new applier). Each row event and DDL
runs in a SAVEPOINT, so a rejected one leaves the other tables' changes in the
same transaction intact. docs/reference/dms-ddl-emulation.md lists the rules.

Row events are decoded with the columns of the TableMapEvent that precedes them
(pymysqlreplication re-reads it for every event group unless ``freeze_schema``),
and the names come from the binlog itself because the source runs with
``binlog_row_metadata=FULL`` (otherwise the reader would ask information_schema for
today's columns, wrong for events written before an ALTER).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg2
import pymysql
from psycopg2 import sql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import QueryEvent, RotateEvent, XidEvent
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from rehearsal import ddl_rules

log = logging.getLogger(__name__)
# The reader logs its settings at INFO on every reconnect (ten times a second here).
logging.getLogger("pymysqlreplication").setLevel(logging.WARNING)

KEY_COLUMN = "id"
_POLL_SECONDS = 0.05
# Connection-level MySQL errors that DMS treats as recoverable and retries.
_RECOVERABLE = {2003, 2006, 2013}
# The target refusing one table's change (unknown column, type, value): a table error, not a task error. A lost
# connection (OperationalError, InterfaceError) still fails the task.
_TABLE_ERRORS = (psycopg2.DataError, psycopg2.IntegrityError, psycopg2.ProgrammingError, psycopg2.NotSupportedError)
_ROW_KINDS = {WriteRowsEvent: "Inserts", UpdateRowsEvent: "Updates", DeleteRowsEvent: "Deletes"}


@dataclass(frozen=True)
class StartPoint:
    file: str
    position: int


@dataclass
class ApplierStats:
    """What CloudWatch and DescribeTableStatistics report about a task."""

    source_latency_s: float = 0.0
    target_latency_s: float = 0.0
    transactions: int = 0
    # (table, "Inserts" | "Updates" | "Deletes" | "Ddls" | "AppliedDdls") -> count
    per_table: Counter = field(default_factory=Counter)
    suspended: dict[str, str] = field(default_factory=dict)  # table -> why (TableState "Table error")


class CdcApplier:
    def __init__(self, connection: dict, warehouse_connect: Callable, start: StartPoint,
                 schema: str, tables: tuple[str, ...], server_id: int = 101,
                 retry_seconds: Callable[[], float] = lambda: 30.0) -> None:
        self._connection = connection
        self._warehouse_connect = warehouse_connect
        self._file, self._position = start.file, start.position
        self._schema = schema
        self._tables = tables
        self._server_id = server_id
        self._retry_seconds = retry_seconds
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.error: Exception | None = None
        self.stats = ApplierStats()
        self._definitions: dict[str, dict] | None = None  # the task's table definitions (see ddl_rules)
        self._thread = threading.Thread(target=self._run, name="cdc-applier", daemon=True)

    @property
    def checkpoint(self) -> StartPoint:
        """End of the last transaction applied to the warehouse."""
        with self._lock:
            return StartPoint(self._file, self._position)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def wait_for(self, point: StartPoint, timeout: float = 30) -> StartPoint:
        """Run until the checkpoint reaches ``point`` (a transaction boundary), then stop there."""
        deadline = time.monotonic() + timeout
        while self.checkpoint != point:
            if self.error or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"CDC did not reach {point.file}:{point.position}: {self.error or 'timeout'}")
            time.sleep(0.02)
        return self.stop()

    def stop(self, timeout: float = 30) -> StartPoint:
        """Finish the transaction in hand, stop reading, return the checkpoint."""
        self._stop.set()
        self._thread.join(timeout)
        return self.checkpoint

    def _run(self) -> None:
        try:
            warehouse = self._warehouse_connect()
        except Exception as exc:  # the task fails, as DMS does when the target is unreachable
            self.error = exc
            return
        failing_since: float | None = None
        try:
            while not self._stop.is_set():
                try:
                    caught_up = self._read_once(warehouse)
                    failing_since = None
                except pymysql.err.OperationalError as exc:
                    if exc.args[0] not in _RECOVERABLE:
                        raise
                    failing_since = failing_since or time.monotonic()
                    if time.monotonic() - failing_since > self._retry_seconds():
                        raise
                    warehouse.rollback()
                    self._stop.wait(0.5)
                    continue
                if caught_up:
                    self.stats.source_latency_s = self.stats.target_latency_s = 0.0
                    self._stop.wait(_POLL_SECONDS)
        except Exception as exc:
            log.warning("CDC applier stopped on error: %s", exc)
            self.error = exc
            warehouse.rollback()
        finally:
            warehouse.close()

    def _read_once(self, warehouse) -> bool:
        """Read the binlog from the checkpoint to its current end; True when nothing was left."""
        if self._definitions is None:
            self._definitions = self._read_definitions()
        stream = BinLogStreamReader(
            connection_settings=self._connection, server_id=self._server_id,
            log_file=self._file, log_pos=self._position, resume_stream=True, blocking=False,
            only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent, XidEvent, RotateEvent, QueryEvent],
            is_mariadb=False, freeze_schema=False,
        )
        events = 0
        try:
            for event in stream:
                self.connected.set()
                if isinstance(event, RotateEvent):  # every new stream starts with an artificial one
                    if not self._has_open_transaction(warehouse):
                        self._commit_checkpoint(stream.log_file, stream.log_pos, None)
                    continue
                events += 1
                self.stats.source_latency_s = max(0.0, time.time() - event.timestamp)
                if isinstance(event, XidEvent):
                    warehouse.commit()
                    self._commit_checkpoint(stream.log_file, stream.log_pos, event.timestamp)
                elif isinstance(event, QueryEvent):
                    self._on_query(warehouse, event, stream.log_file, stream.log_pos)
                elif event.schema == self._schema and event.table in self._tables:
                    self._apply_rows(warehouse, event)
                if self._stop.is_set() and not self._has_open_transaction(warehouse):
                    break
            self.connected.set()
        finally:
            stream.close()
        warehouse.rollback()  # a transaction cut short is re-read from the checkpoint
        return events == 0

    @staticmethod
    def _has_open_transaction(warehouse) -> bool:
        return warehouse.info.transaction_status != 0  # psycopg2 TRANSACTION_STATUS_IDLE

    def _commit_checkpoint(self, file: str, position: int, timestamp: float | None) -> None:
        with self._lock:
            self._file, self._position = file, position
        if timestamp is not None:
            self.stats.transactions += 1
            self.stats.target_latency_s = max(0.0, time.time() - timestamp)

    def _read_definitions(self) -> dict[str, dict]:
        """The mapped tables' columns as the source has them now: what DMS reads when a task starts."""
        with pymysql.connect(**self._connection, connect_timeout=5) as conn, conn.cursor() as cur:
            cur.execute("SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
                        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME IN %s ORDER BY TABLE_NAME, ORDINAL_POSITION",
                        (self._schema, list(self._tables)))
            return ddl_rules.definitions_from_columns(list(cur.fetchall()))

    def _suspend(self, table: str, reason: str) -> None:
        self.stats.suspended[table] = reason
        log.warning("table %s.%s suspended (TableErrorPolicy SUSPEND_TABLE): %s", self._schema, table, reason)

    def _on_query(self, warehouse, event, file: str, position: int) -> None:
        """A statement in the binlog. BEGIN/SAVEPOINT belong to the transaction in hand; anything else but
        COMMIT/ROLLBACK (DDL above all) is logged as a transaction by itself, so it ends with a checkpoint."""
        marker = ddl_rules.transaction_marker(event.query)
        if marker == "inside":
            return
        if marker is None:
            self._apply_ddl(warehouse, event)
        warehouse.commit()
        self._commit_checkpoint(file, position, event.timestamp)

    def _apply_ddl(self, warehouse, event) -> None:
        decision = ddl_rules.decide(
            event.query, default_schema=event.schema.decode(errors="replace"), schema=self._schema,
            tables=self._tables, definitions=self._definitions,
            ansi_quotes=bool(getattr(event, "sql_mode", 0) & ddl_rules.MODE_ANSI_QUOTES))
        table = decision.table
        if table is None or table in self.stats.suspended:
            log.debug("DDL skipped (%s): %s", "table suspended" if table else decision.reason, event.query)
            return
        if decision.action == ddl_rules.IGNORE:
            log.info("DDL on %s.%s not captured: %s: %s", self._schema, table, decision.reason, event.query)
            return
        self.stats.per_table[(table, "Ddls")] += 1
        if decision.action == ddl_rules.SUSPEND:
            self._suspend(table, f"{decision.reason}: {event.query}")
            return
        try:
            with _table_savepoint(warehouse), warehouse.cursor() as cur:
                for statement in decision.statements:
                    cur.execute(statement)
        except _TABLE_ERRORS as exc:
            self._suspend(table, f"the target rejected {event.query!r}: {exc}".strip())
            return
        if decision.definition is not None:
            self._definitions[table] = dict(decision.definition)
        if decision.counted_as_applied:
            self.stats.per_table[(table, "AppliedDdls")] += 1
        log.info("DDL on %s.%s applied: %s", self._schema, table, decision.reason)

    def _apply_rows(self, warehouse, event) -> None:
        if event.table in self.stats.suspended:
            return
        table, kind = sql.Identifier(self._schema, event.table), _ROW_KINDS[type(event)]
        try:
            with _table_savepoint(warehouse), warehouse.cursor() as cur:
                for row in event.rows:
                    if kind == "Inserts":
                        self._insert(cur, table, row["values"])
                    elif kind == "Updates":
                        self._delete(cur, table, row["before_values"])
                        self._insert(cur, table, row["after_values"])
                    else:
                        self._delete(cur, table, row["values"])
        except _TABLE_ERRORS as exc:
            self._suspend(event.table, f"the target rejected {kind.lower()[:-1]} of a row: {exc}".strip())
            return
        self.stats.per_table[(event.table, kind)] += len(event.rows)

    @staticmethod
    def _insert(cur, table, values: dict) -> None:
        columns = list(values)
        cur.execute(
            sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                table, sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(sql.Placeholder() * len(columns))),
            [values[c] for c in columns],
        )

    @staticmethod
    def _delete(cur, table, values: dict) -> None:
        cur.execute(sql.SQL("DELETE FROM {} WHERE {} = %s").format(table, sql.Identifier(KEY_COLUMN)),
                    [values[KEY_COLUMN]])


@contextlib.contextmanager
def _table_savepoint(warehouse):
    """One table's statements, undone alone if the target rejects them (the transaction goes on)."""
    with warehouse.cursor() as cur:
        cur.execute("SAVEPOINT cdc_table")
    try:
        yield
    except _TABLE_ERRORS:
        with warehouse.cursor() as cur:
            cur.execute("ROLLBACK TO SAVEPOINT cdc_table")
        raise
    with warehouse.cursor() as cur:
        cur.execute("RELEASE SAVEPOINT cdc_table")
