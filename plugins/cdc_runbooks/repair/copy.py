"""The repair itself, on DB-API connections (no Airflow): read the source rows, rewind them to the DMS checkpoint
with the binlog's row changes since (:mod:`cdc_runbooks.repair.rewind`), write them in one warehouse transaction.

Values are written as DMS lands them on Redshift (docs/reference/dms-mysql-to-redshift-types.md), which is what the
reconcile compares: binary as lowercase hex text, TIME as ``[-]H:MM:SS[.ffffff]`` text, JSON as its text, BIT as a
boolean or an integer; anything else as the driver reads it (integers, decimals, text, dates, datetimes).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta

from cdc_runbooks.reconcile.row_checksum import Column, Dialect, Kind
from cdc_runbooks.repair.plan import TableRepair
from cdc_runbooks.repair.rewind import RowChange, key_of, merged, rows_at_checkpoint

BATCH_ROWS = 5000  # rows per fetch and per executemany of a whole-table copy: memory stays bounded


def target_value(source: Column, target: Column, value):
    """``value`` as read from the source (the driver, or a binlog image) in the form the warehouse column holds."""
    if value is None:
        return None
    if source.kind is Kind.BIT and isinstance(value, str):  # the binlog reader gives BIT as a string of bits
        value = int(value, 2)
    if target.kind is Kind.BOOLEAN:
        return bool(value)
    if target.kind is not Kind.TEXT:
        return bytes(value) if isinstance(value, bytearray) else value
    if source.kind is Kind.BINARY and isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, timedelta):
        return _time_text(value)
    if isinstance(value, dict | list):  # a JSON binlog image (bytes keys and values from MySQL 8's binary JSON)
        return json.dumps(_text_json(value), ensure_ascii=False)
    return value


def _text_json(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, dict):
        return {_text_json(k): _text_json(v) for k, v in value.items()}
    return [_text_json(v) for v in value] if isinstance(value, list) else value


def _time_text(value: timedelta) -> str:
    """MySQL's text of a TIME (``[-]HH:MM:SS[.ffffff]``, at least two hour digits). Only binlog images are
    converted here (the source read gets MySQL's own text: ``TableRepair.text_columns``), and CDC replays the change
    after them, so a fraction MySQL would print at the column's precision is transient."""
    micros = abs(value) // timedelta(microseconds=1)
    seconds, fraction = divmod(micros, 1_000_000)
    text = f"{'-' if value < timedelta(0) else ''}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return f"{text}.{fraction:06d}" if fraction else text


@dataclass(frozen=True)
class RepairDone:
    """What one table's repair wrote: keys asked for, rows written, keys rewound (changed since the checkpoint)."""

    table: str
    method: str
    keys: int
    rows_written: int
    rewound: int

    def to_dict(self) -> dict:
        return {"table": self.table, "method": self.method, "keys": self.keys, "rows_written": self.rows_written,
                "rewound": self.rewound}


def repair_table(repair: TableRepair, schema: str, source, target, dialect: Dialect,
                 changes_since_checkpoint: Callable[[], Iterable[RowChange]],
                 columns: tuple[tuple[Column, Column], ...], before: Sequence[str] = ()) -> RepairDone:
    """Re-copy ``repair``'s rows as they were at the checkpoint, in one transaction of ``target`` (rolled back on
    any error). ``changes_since_checkpoint`` is called after the source rows are read: every change after that read
    must be in it (read the binlog to its end then). ``columns`` pairs each source column with the warehouse's.
    ``before``: statements run first in the same transaction (re-creating the table)."""
    copy = _Copy(repair, schema, dialect, _converter(columns), changes_since_checkpoint)
    _in_utc(source)
    try:
        with closing(target.cursor()) as out:
            for statement in before:
                out.execute(statement)
            out.execute(repair.target_delete(schema, dialect))
            done = copy.rows(source, out) if repair.method == "rows" else copy.table(source, out)
        target.commit()
    except BaseException:
        target.rollback()
        raise
    return done


def _in_utc(source) -> None:
    """Read TIMESTAMP values in UTC, as DMS lands them on Redshift and as the binlog holds them (the session's zone
    would shift every re-copied TIMESTAMP: docs/reference/dms-mysql-to-redshift-types.md)."""
    with closing(source.cursor()) as cursor:
        cursor.execute("SET time_zone = '+00:00'")


def _converter(columns: tuple[tuple[Column, Column], ...]) -> Callable[[dict], tuple]:
    def convert(row: dict) -> tuple:
        return tuple(target_value(s, t, row[s.name]) for s, t in columns)
    return convert


def _read(source, statement: str) -> Iterator[dict]:
    with closing(source.cursor()) as cursor:
        cursor.execute(statement)
        names = [d[0] for d in cursor.description]
        while batch := cursor.fetchmany(BATCH_ROWS):
            yield from (dict(zip(names, row, strict=True)) for row in batch)


@dataclass(frozen=True)
class _Copy:
    repair: TableRepair
    schema: str
    dialect: Dialect
    convert: Callable[[dict], tuple]
    changes_since_checkpoint: Callable[[], Iterable[RowChange]]

    def _at_checkpoint(self) -> dict:
        return rows_at_checkpoint(self.changes_since_checkpoint(), key_of(self.repair.key_columns))

    def _insert(self, out, rows: Iterable[dict]) -> int:
        values = [self.convert(row) for row in rows]
        if values:
            out.executemany(self.repair.target_insert(self.schema, self.dialect), values)
        return len(values)

    def rows(self, source, out) -> RepairDone:
        """The keys' rows: read now, rewound, written (their rows in the warehouse were deleted first)."""
        key, wanted = key_of(self.repair.key_columns), set(self.repair.keys)
        now = {key(row): row for row in _read(source, self.repair.source_select(self.schema))}
        changed = {k: row for k, row in self._at_checkpoint().items() if k in wanted}
        written = self._insert(out, merged({k: row for k, row in now.items() if k in wanted}, changed).values())
        return RepairDone(self.repair.table, "rows", len(wanted), written, len(changed))

    def table(self, source, out) -> RepairDone:
        """Every row (the warehouse's were deleted first), in batches; then the rows changed since the checkpoint
        are put back as they were at it."""
        written, batch = 0, []
        for row in _read(source, self.repair.source_select(self.schema)):
            batch.append(row)
            if len(batch) == BATCH_ROWS:
                written, batch = written + self._insert(out, batch), []
        written += self._insert(out, batch)
        changed = self._at_checkpoint()
        if changed:
            out.executemany(self.repair.target_delete_key(self.schema, self.dialect),
                            [k if isinstance(k, tuple) else (k,) for k in changed])
            self._insert(out, (row for row in changed.values() if row is not None))
        return RepairDone(self.repair.table, "table", 0, written, len(changed))
