"""The row changes of one table in the writer's binlog since a position, read as DMS reads them: over the MySQL
replication protocol with the DMS user's credentials (REPLICATION SLAVE, which DMS needs anyway:
https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Source.MySQL.html), with full before and after images
(``binlog_row_image=FULL``, a DMS requirement checked by ``verify_binlog_readiness``).

Requires Airflow (the connection) and ``mysql-replication``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

from airflow.sdk import BaseHook
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import QueryEvent
from pymysqlreplication.row_event import DeleteRowsEvent, PartialUpdateRowsEvent, UpdateRowsEvent, WriteRowsEvent

from cdc_runbooks.aws.cluster import ClusterWriter
from cdc_runbooks.binlog_position import BinlogPosition
from cdc_runbooks.refusal import Refusal
from cdc_runbooks.repair.rewind import RowChange

# A replica's server id must be unique among the writer's replicas: DMS and other readers use their own.
_SERVER_IDS = (1_000_000_000, 2_000_000_000)


class DefinitionChanged(Refusal, RuntimeError):
    """A table's definition changed (DDL) since the checkpoint: its row changes cannot be rewound across it."""


def row_changes_since(conn_id: str, writer: ClusterWriter, position: BinlogPosition, schema: str,
                      table: str) -> Iterator[RowChange]:
    """Every row change of ``schema.table`` from ``position`` to the binlog's end now, in binlog order. Refuses
    (:class:`DefinitionChanged`) any statement naming the table on the way (in ROW format that is DDL, however
    commented or version-gated), and a partial JSON update."""
    base = BaseHook.get_connection(conn_id)
    stream = BinLogStreamReader(
        connection_settings={"host": writer.endpoint, "port": writer.port, "user": base.login,
                             "passwd": base.password or ""},
        server_id=random.randint(*_SERVER_IDS), log_file=position.file, log_pos=position.position,
        resume_stream=True, blocking=False, only_schemas=[schema], only_tables=[table],
        only_events=[WriteRowsEvent, UpdateRowsEvent, PartialUpdateRowsEvent, DeleteRowsEvent, QueryEvent])
    named = re.compile(rf"(^|[^\w$]){re.escape(table)}($|[^\w$])", re.IGNORECASE)
    try:
        for event in stream:
            if isinstance(event, QueryEvent):  # in ROW format only DDL and transaction control are statements
                if named.search(event.query):
                    raise DefinitionChanged(
                        f"{schema}.{table} changed definition since the DMS checkpoint {position} "
                        f"({event.query.strip()[:200]!r}): its rows cannot be rewound across it. Nothing was "
                        "written. Trigger the repair again: its checkpoint will then be after this change (if the "
                        "warehouse table no longer matches the source's, that needs a table maintenance first).")
                continue
            if event.schema != schema or event.table != table:
                continue
            if isinstance(event, PartialUpdateRowsEvent):
                raise DefinitionChanged(f"{schema}.{table} has partial JSON updates since the DMS checkpoint "
                                        "(binlog_row_value_options=PARTIAL_JSON): their before images are not whole "
                                        "rows, so they cannot be rewound. Nothing was written.")
            for row in event.rows:
                _require_names(row, schema, table)
                if isinstance(event, WriteRowsEvent):
                    yield RowChange(None, row["values"])
                elif isinstance(event, UpdateRowsEvent):
                    yield RowChange(row["before_values"], row["after_values"])
                else:
                    yield RowChange(row["values"], None)
    finally:
        stream.close()


def _require_names(row: dict, schema: str, table: str) -> None:
    """The reader names columns from the binlog's metadata or, failing that, the information schema."""
    images = [row.get(name) or {} for name in ("values", "before_values", "after_values")]
    if any(str(column).startswith("UNKNOWN_COL") for image in images for column in image):
        raise DefinitionChanged(f"the binlog row changes of {schema}.{table} could not be given column names (no "
                                "column metadata in the binlog, and the table's columns no longer match): nothing "
                                "was written. Set binlog_row_metadata=FULL on the cluster, then repair again.")
