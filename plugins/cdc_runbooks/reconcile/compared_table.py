"""What the reconciliation compares: one table on a source and a target, discovered from their information
schemas and validated before any data query runs. Pure (no Airflow): a side is anything that runs SQL.

Public API::

    Side(dialect, schema, run)                 # run(sql, params_or_None) -> list of row tuples
    Side.concat_limit                          # probed once per side (MySQL)
    describe_table(source, target, table, key=None) -> TablePair
    describe_tables(source, target, tables, keys=None) -> [TablePair]   # refuses naming every bad table
    TablePair(table, key, columns, source: TableReader, target: TableReader)
    TableReader.bounds() / count(hi) / segments(origin, width, ranges) / row_hashes(ranges) / fields(keys)

Rules (each refusal names the table, the column and the reason, before any data is read):
- ``table`` and both schemas must be plain identifiers (:func:`cdc_runbooks.identifiers.table_name`);
- the table must exist on both sides (information schema), with the same column names (case-insensitive);
- every column must have a canonical rendering and compatible kinds on both sides;
- the key is the source's single-column integer primary key (or ``key``, which must be an integer column).

Segments are fingerprinted by ``ORDERED_MD5`` when both sides can (PostgreSQL; MySQL/MariaDB whose statements
can lift ``group_concat_max_len``, which a probe checks), else by ``ROW_HASH_SUM`` (always with Redshift).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from cdc_runbooks import identifiers
from cdc_runbooks.reconcile.row_checksum import (
    COLUMNS_SQL,
    CONCAT_PROBE_SQL,
    GROUP_CONCAT_MAX_LEN,
    PRIMARY_KEY_SQL,
    Column,
    ConcatLimit,
    Dialect,
    Fingerprint,
    Kind,
    TableRef,
    column_from_information_schema,
)
from cdc_runbooks.refusal import Refusal

Rows = list[tuple]


class TableMismatch(Refusal, ValueError):
    """The table cannot be compared as asked: absent, different columns, incompatible types, no integer key."""


class QueryFailed(Refusal, RuntimeError):
    """A side refused a statement (a SQL error, not a lost connection): the same query would fail again, so the
    step is not retried. Raised by a :class:`Side`'s ``run``; a table's reader adds the table's name."""


@dataclass(frozen=True)
class Side:
    """A database to read: its dialect, the schema (MySQL database) holding the tables, and a query runner
    (``run`` raises :class:`QueryFailed` for a statement the database refuses, anything else for a transient
    failure)."""

    dialect: Dialect
    schema: str
    run: Callable[[str, Sequence | None], Rows]

    def __post_init__(self) -> None:
        identifiers.table_name(self.schema, "schema")

    @cached_property
    def concat_limit(self) -> ConcatLimit | None:
        """How a MySQL side's statements lift ``group_concat_max_len``: the form its version understands, if a
        probe shows that it works (MySQL 5.7 ignores the hint); None for other dialects or when it does not.
        Asked once per side, however many tables are described on it."""
        if self.dialect is not Dialect.MYSQL:
            return None
        limit = ConcatLimit.for_version(self.run("SELECT VERSION()", None)[0][0])
        return limit if int(self.run(limit.statement([CONCAT_PROBE_SQL]), None)[0][0]) == GROUP_CONCAT_MAX_LEN else None


_COMPATIBLE = {
    Kind.INTEGER: {Kind.INTEGER, Kind.DECIMAL, Kind.BOOLEAN},
    Kind.BOOLEAN: {Kind.BOOLEAN, Kind.INTEGER},
    Kind.DECIMAL: {Kind.DECIMAL, Kind.INTEGER},
    Kind.FLOAT: {Kind.FLOAT},
    Kind.TEXT: {Kind.TEXT},
    Kind.DATETIME: {Kind.DATETIME},
    Kind.DATE: {Kind.DATE},
}


@dataclass(frozen=True)
class TableReader:
    """The data queries of one side of a table, each run as one statement on that side."""

    ref: TableRef
    side: Side

    def _run(self, sql: str) -> Rows:
        try:
            return [tuple(row) for row in self.side.run(sql, None)]
        except QueryFailed as error:
            raise QueryFailed(f"{self.ref.table}: {error}") from error

    def bounds(self) -> tuple[int | None, int | None]:
        low, high = self._run(self.ref.bounds_sql())[0]
        return (None if low is None else int(low)), (None if high is None else int(high))

    def count(self, hi: int) -> int:
        return int(self._run(self.ref.count_sql(hi))[0][0])

    def segments(self, origin: int, width: int, ranges: Iterable[tuple[int, int]]) -> dict[int, tuple[int, int | str]]:
        """{segment: (rows, fingerprint)}."""
        summary = int if self.ref.fingerprint is Fingerprint.ROW_HASH_SUM else str
        return {int(s): (int(n), summary(fingerprint)) for statement in self.ref.segments_sql(origin, width, ranges)
                for s, n, fingerprint in self._run(statement)}

    def row_hashes(self, ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        return [(int(k), int(h)) for k, h in self._run(self.ref.row_hashes_sql(ranges))]

    def fields(self, keys: Iterable[int]) -> list[tuple]:
        return [(int(row[0]), *row[1:]) for row in self._run(self.ref.fields_by_key_sql(keys))]


@dataclass(frozen=True)
class TablePair:
    """A validated table: its key, its columns (source names and order) and a reader per side."""

    table: str
    key: str
    columns: tuple[str, ...]
    source: TableReader
    target: TableReader


def _columns(side: Side, table: str, where: str) -> list[Column]:
    rows = side.run(COLUMNS_SQL[side.dialect], (side.schema, table))
    if not rows:
        raise TableMismatch(f"{table}: no such table on the {where} ({side.schema}.{table} is not in its "
                            "information schema)")
    return [column_from_information_schema(side.dialect, row, table) for row in rows]


def _primary_key(side: Side, table: str) -> str:
    if side.dialect is not Dialect.MYSQL:
        raise TableMismatch(f"{table}: name the key column (only a MySQL source's primary key is discovered)")
    keys = [row[0] for row in side.run(PRIMARY_KEY_SQL, (side.schema, table))]
    if len(keys) != 1:
        raise TableMismatch(f"{table}: needs a single-column primary key on the source, found {keys or 'none'}")
    return keys[0]


def _scale(source: Column, target: Column) -> int:
    """Decimals of the canonical rendering: the larger declared scale, so rounding never hides a digit."""
    return max((c.scale or 0 for c in (source, target) if c.kind is Kind.DECIMAL), default=0)


def _paired(table: str, source: list[Column], target: list[Column]) -> list[tuple[Column, Column]]:
    by_name = {c.name.lower(): c for c in target}
    only_source = [c.name for c in source if c.name.lower() not in by_name]
    only_target = sorted(set(by_name) - {c.name.lower() for c in source})
    if only_source or only_target:
        raise TableMismatch(f"{table}: columns differ: only on the source {only_source}, only on the target "
                            f"{only_target}")
    pairs = [(c, by_name[c.name.lower()]) for c in source]
    for s, t in pairs:
        if t.kind not in _COMPATIBLE[s.kind]:
            raise TableMismatch(f"{table}.{s.name}: source {s.kind} and target {t.kind} cannot be compared")
    return pairs


def _fingerprint(source: Side, target: Side) -> tuple[Fingerprint, ConcatLimit | None, ConcatLimit | None]:
    """``ORDERED_MD5`` when both sides can compute it, else ``ROW_HASH_SUM``; and each side's concat limit."""
    if Dialect.REDSHIFT in (source.dialect, target.dialect):
        return Fingerprint.ROW_HASH_SUM, None, None
    sides = source, target
    limits = tuple(side.concat_limit for side in sides)
    able = all(limit is not None or side.dialect is Dialect.POSTGRES for side, limit in zip(sides, limits, strict=True))
    return (Fingerprint.ORDERED_MD5, *limits) if able else (Fingerprint.ROW_HASH_SUM, None, None)


def describe_table(source: Side, target: Side, table: str, key: str | None = None) -> TablePair:
    """Validate ``table`` on both sides and return its readers; refuses (:class:`TableMismatch`,
    :class:`~cdc_runbooks.identifiers.InvalidIdentifier`) before any data query."""
    identifiers.table_name(table)
    pairs = _paired(table, _columns(source, table, "source"), _columns(target, table, "target"))
    key = key if key is not None else _primary_key(source, table)
    found = next((s for s, _ in pairs if s.name.lower() == str(key).lower()), None)
    if found is None or found.kind is not Kind.INTEGER:
        raise TableMismatch(f"{table}: key {identifiers.shown(key)} must be an integer column of the table")
    scales = tuple(_scale(s, t) for s, t in pairs)
    target_key = next(t.name for s, t in pairs if s is found)
    fingerprint, source_limit, target_limit = _fingerprint(source, target)
    return TablePair(
        table=table, key=found.name, columns=tuple(s.name for s, _ in pairs),
        source=TableReader(TableRef(source.dialect, source.schema, table, tuple(s for s, _ in pairs),
                                    found.name, scales, fingerprint, source_limit), source),
        target=TableReader(TableRef(target.dialect, target.schema, table, tuple(t for _, t in pairs),
                                    target_key, scales, fingerprint, target_limit), target))


def describe_tables(source: Side, target: Side, tables: Iterable[str],
                    keys: dict[str, str] | None = None) -> list[TablePair]:
    """:func:`describe_table` for each table (``keys``: a key column per table); if any cannot be compared,
    one :class:`TableMismatch` naming every such table with its reason, before any data query."""
    pairs, refusals = [], []
    for table in tables:
        try:
            pairs.append(describe_table(source, target, table, (keys or {}).get(table)))
        except Refusal as refusal:
            refusals.append(str(refusal))
    if refusals:
        raise TableMismatch(f"{len(refusals)} of {len(pairs) + len(refusals)} tables cannot be compared: "
                            + "; ".join(refusals))
    return pairs
