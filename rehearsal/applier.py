"""The CDC applier: what a running DMS task does, for real, on the estate.

It follows a MySQL binlog from a ``file:position`` through the production
endpoint (as DMS follows the cluster writer endpoint) and applies row inserts,
updates and deletes of the mapped tables to the warehouse, one source
transaction per warehouse transaction. Its checkpoint is always the end of the
last applied transaction. Started from a wrong position it does exactly what
DMS would: it silently skips or re-applies transactions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pymysql
from psycopg2 import sql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import RotateEvent, XidEvent
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

log = logging.getLogger(__name__)
# The reader logs its settings at INFO on every reconnect (ten times a second here).
logging.getLogger("pymysqlreplication").setLevel(logging.WARNING)

KEY_COLUMN = "id"
_POLL_SECONDS = 0.05
# Connection-level MySQL errors that DMS treats as recoverable and retries.
_RECOVERABLE = {2003, 2006, 2013}


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
    per_table: Counter | None = None


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
        self.stats = ApplierStats(per_table=Counter())
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
        stream = BinLogStreamReader(
            connection_settings=self._connection, server_id=self._server_id,
            log_file=self._file, log_pos=self._position, resume_stream=True, blocking=False,
            only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent, XidEvent, RotateEvent],
            is_mariadb=False,
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
                elif event.schema == self._schema and event.table in self._tables:
                    self._apply(warehouse, event)
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

    def _apply(self, warehouse, event) -> None:
        table = sql.Identifier(self._schema, event.table)
        with warehouse.cursor() as cur:
            for row in event.rows:
                if isinstance(event, WriteRowsEvent):
                    self._insert(cur, table, row["values"])
                    self.stats.per_table[(event.table, "Inserts")] += 1
                elif isinstance(event, UpdateRowsEvent):
                    self._delete(cur, table, row["before_values"])
                    self._insert(cur, table, row["after_values"])
                    self.stats.per_table[(event.table, "Updates")] += 1
                else:
                    self._delete(cur, table, row["values"])
                    self.stats.per_table[(event.table, "Deletes")] += 1

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
