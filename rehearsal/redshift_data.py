"""The Redshift Data API made real on the estate: statements run on the PostgreSQL warehouse, with the API's
lifecycle and paging.

moto 5.2.5's redshift-data never runs a statement: ExecuteStatement ignores WorkgroupName, DescribeStatement
says STARTED forever, and GetStatementResult returns the same three canned rows for any statement. Installed into
moto, this controller answers the four calls the runbooks make as the service documents them
(https://docs.aws.amazon.com/redshift-data/latest/APIReference/Welcome.html):

- ExecuteStatement: exactly one of ClusterIdentifier and WorkgroupName, a Database; named parameters
  (``:name``, values as strings); returns an Id; the statement is SUBMITTED, then STARTED in a thread of its own
  on the warehouse, then FINISHED, or FAILED with the warehouse's error as ``Error``.
- DescribeStatement: Status, Error, HasResultSet, ResultRows, Duration, the target.
- GetStatementResult: records as typed fields (``isNull``, ``longValue``, ``doubleValue``, ``booleanValue``,
  ``stringValue`` — NUMERIC and dates too —, ``blobValue``), :attr:`page_size` records a page, ``NextToken``; a
  statement not FINISHED, or without a result set, is a ValidationException.
- CancelStatement: a SUBMITTED or STARTED statement becomes ABORTED.

The warehouse gets the Redshift functions the runbooks' Redshift SQL uses (``STRTOL``, ``LEN``, ``TO_HEX`` of
bytes) as SQL functions, so that SQL runs here unchanged. Faults (``faults``): the next statements fail with an
error, are aborted, or stay STARTED for a while.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from moto.core.exceptions import JsonRESTError
from moto.redshiftdata.responses import RedshiftDataAPIServiceResponse

from rehearsal.patching import Patches

MAX_SQL_BYTES = 100_000  # "The maximum query statement size is 100 KB" (Data API considerations)

# Redshift built-ins the runbooks' Redshift dialect calls, for PostgreSQL.
REDSHIFT_FUNCTIONS = (
    "CREATE OR REPLACE FUNCTION strtol(text, integer) RETURNS bigint LANGUAGE sql IMMUTABLE AS "
    "$$ SELECT CASE WHEN $2 = 16 THEN CAST(CAST('x' || LPAD($1, 16, '0') AS BIT(64)) AS BIGINT) END $$",
    "CREATE OR REPLACE FUNCTION len(text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT CHAR_LENGTH($1) $$",
    "CREATE OR REPLACE FUNCTION to_hex(bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT ENCODE($1, 'hex') $$",
)
RUNNING = ("SUBMITTED", "PICKED", "STARTED")


class DataApiError(JsonRESTError):
    """An error the Data API answers with (``code``, ``message``): HTTP 400 in its JSON protocol."""


@dataclass
class DataApiFaults:
    fail_next: list[str] = field(default_factory=list)  # errors of the next statements (FAILED)
    abort_next: int = 0  # the next statements end ABORTED
    hold_s: list[float] = field(default_factory=list)  # how long each of the next statements stays STARTED


@dataclass
class _Statement:
    id: str
    sql: str
    target: dict
    status: str = "SUBMITTED"
    error: str | None = None
    columns: list[str] = field(default_factory=list)
    records: list[list[dict]] | None = None
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)


class RedshiftDataController:
    """Runs Data API statements on the warehouse (``connect()``: a new DB-API connection) while installed."""

    page_size = 100

    def __init__(self, connect: Callable) -> None:
        self._connect = connect
        self.faults = DataApiFaults()
        self.statements: dict[str, _Statement] = {}
        self._lock = threading.Lock()
        self._patches = Patches()

    def install(self) -> None:
        with contextlib.closing(self._connect()) as conn, conn, conn.cursor() as cur:  # committed, then closed
            for statement in REDSHIFT_FUNCTIONS:
                cur.execute(statement)
        controller = self
        for name in ("execute_statement", "describe_statement", "get_statement_result", "cancel_statement"):
            self._patches.set(RedshiftDataAPIServiceResponse, name,
                              lambda response, _name=name: (200, {}, json.dumps(getattr(controller, _name)(response))))

    def uninstall(self) -> None:
        self._patches.restore()

    # -- the four calls --------------------------------------------------------------------------------
    def execute_statement(self, response) -> dict:
        target = {name: response._get_param(name) for name in ("ClusterIdentifier", "WorkgroupName", "Database",
                                                               "SecretArn", "DbUser")}
        if (target["ClusterIdentifier"] is None) == (target["WorkgroupName"] is None):
            raise DataApiError("ValidationException", "Exactly one of ClusterIdentifier and WorkgroupName is required")
        if not target["Database"]:
            raise DataApiError("ValidationException", "Database is required")
        sql = response._get_param("Sql")
        if len(sql.encode()) > MAX_SQL_BYTES:
            raise DataApiError("ValidationException", f"The query statement is {len(sql.encode())} bytes: the maximum "
                                                      f"is {MAX_SQL_BYTES}")
        parameters = {p["name"]: p["value"] for p in response._get_param("Parameters") or []}
        statement = _Statement(str(uuid.uuid4()), sql, {k: v for k, v in target.items() if v is not None})
        with self._lock:
            self.statements[statement.id] = statement
            error = self.faults.fail_next.pop(0) if self.faults.fail_next else None
            abort = self.faults.abort_next > 0
            self.faults.abort_next -= abort
            hold = self.faults.hold_s.pop(0) if self.faults.hold_s else 0.0
        threading.Thread(target=self._run, args=(statement, parameters, error, abort, hold), daemon=True,
                         name=f"redshift-data-{statement.id[:8]}").start()
        return {"Id": statement.id, "CreatedAt": statement.created, **statement.target}

    def describe_statement(self, response) -> dict:
        statement = self._statement(response._get_param("Id"))
        with self._lock:
            described = {"Id": statement.id, "Status": statement.status, "QueryString": statement.sql,
                         "HasResultSet": statement.records is not None and statement.status == "FINISHED",
                         "ResultRows": len(statement.records or ()), "CreatedAt": statement.created,
                         "UpdatedAt": statement.updated, "Duration": int((statement.updated - statement.created) * 1e9),
                         **statement.target}
            if statement.error is not None:
                described["Error"] = statement.error
        return described

    def get_statement_result(self, response) -> dict:
        statement = self._statement(response._get_param("Id"))
        if statement.status != "FINISHED" or statement.records is None:
            raise DataApiError("ValidationException", f"Query does not have result. Please check query status "
                                                      f"with DescribeStatement: {statement.status}")
        start = int(response._get_param("NextToken") or 0)
        page = statement.records[start:start + self.page_size]
        result = {"Records": page, "TotalNumRows": len(statement.records),
                  "ColumnMetadata": [{"name": name} for name in statement.columns]}
        if start + self.page_size < len(statement.records):
            result["NextToken"] = str(start + self.page_size)
        return result

    def cancel_statement(self, response) -> dict:
        statement = self._statement(response._get_param("Id"))
        with self._lock:
            if statement.status not in RUNNING:
                raise DataApiError("ValidationException", f"Could not cancel a query that is already in "
                                                          f"{statement.status} state with ID: {statement.id}")
            statement.status, statement.updated = "ABORTED", time.time()
        return {"Status": True}

    # -- running ---------------------------------------------------------------------------------------
    def _statement(self, statement_id: str) -> _Statement:
        with self._lock:
            found = self.statements.get(statement_id)
        if found is None:
            raise DataApiError("ResourceNotFoundException", f"Query does not exist: {statement_id}")
        return found

    def _set(self, statement: _Statement, **changes) -> bool:
        """Apply ``changes`` unless the statement was cancelled meanwhile; whether they were applied."""
        with self._lock:
            if statement.status == "ABORTED":
                return False
            for name, value in changes.items():
                setattr(statement, name, value)
            statement.updated = time.time()
            return True

    def _run(self, statement: _Statement, parameters: dict[str, str], error: str | None, abort: bool,
             hold: float) -> None:
        if not self._set(statement, status="STARTED"):
            return
        time.sleep(hold)
        if abort:
            self._set(statement, status="ABORTED")
            return
        if error is not None:
            self._set(statement, status="FAILED", error=error)
            return
        try:
            columns, records = self._query(statement.sql, parameters)
        except Exception as failure:  # the warehouse's refusal is the statement's Error, as in Redshift
            self._set(statement, status="FAILED", error=str(failure).strip().splitlines()[0])
            return
        self._set(statement, status="FINISHED", columns=columns, records=records)

    def _query(self, sql: str, parameters: dict[str, str]) -> tuple[list[str], list[list[dict]] | None]:
        text = sql.replace("%", "%%") if parameters else sql  # psycopg2 reads % only when given parameters
        for name in parameters:
            text = re.sub(rf"(?<![:\w]):{re.escape(name)}\b", f"%({name})s", text)
        with contextlib.closing(self._connect()) as conn, conn, conn.cursor() as cur:
            cur.execute(text, parameters or None)
            if cur.description is None:
                return [], None
            return [d[0] for d in cur.description], [[_field(value) for value in row] for row in cur.fetchall()]


def _field(value) -> dict:
    """A value as the Data API types it."""
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, bytes | memoryview):
        return {"blobValue": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, Decimal):
        return {"stringValue": format(value, "f")}  # NUMERIC in plain digits, never 1E-8
    return {"stringValue": str(value)}  # text, dates and times: as the Data API returns them
