"""What the reconciliation compares: one table on a source and a target, discovered from their information
schemas and validated before any data query runs. Pure (no Airflow): a side is anything that runs SQL.

Public API::

    Side(dialect, schema, run)                 # run(sql, params_or_None) -> list of row tuples
    Side.concat_limit                          # probed once per side (MySQL)
    Side.orders_text_key(table, column)        # an index serves text place ranges of it
    describe_table(source, target, table, key=None) -> TablePair
    describe_tables(source, target, tables, keys=None) -> [TablePair]   # refuses naming every bad table
    table_columns(side, table, where) -> [Column]; source_key(source, table, columns) -> key column names
    compatible(source_kind, target_kind) -> bool                          # may land as / be compared with
    TablePair(table, key, columns, source: TableReader, target: TableReader)
    TableReader.bounds() / null_keys() / count(hi) / segments(origin, width, ranges) / row_hashes(ranges)
    TableReader.fields(keys, row_hashes=()) / placed_at_hash()

Rules (each refusal names the table, the column and the reason, before any data is read):
- ``table`` and both schemas must be plain identifiers (:func:`cdc_runbooks.identifiers.table_name`);
- the table must exist on both sides (information schema), with the same column names (case-insensitive);
- every column must have a canonical rendering and compatible kinds on both sides;
- the key is the source's primary key, else its first unique index of NOT NULL columns, else none (``key`` names
  NOT NULL columns instead); no key column may be approximate (FLOAT/DOUBLE).

A single integer key places rows at the key; a key of several columns whose first is an integer, at that column
(``TableRef.leading_key``: ranges its index serves; rows told apart by every key column); a single text key that an
index orders on each side (MySQL: any B-tree index it leads; PostgreSQL: one with a bytewise collation; never
Redshift), at its text place (``TableRef.ranged_key``); any other key, or none (every column: a multiset of rows),
at a 60-bit hash of the key columns' canonical text (``TableRef.key_columns``).
Segments are fingerprinted by ``ORDERED_MD5`` when both sides can (PostgreSQL; MySQL/MariaDB whose statements can
lift ``group_concat_max_len``, which a probe checks) and rows are placed at a single integer key or text places, else
by
``ROW_HASH_SUM`` (always with Redshift).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cached_property

from cdc_runbooks import identifiers
from cdc_runbooks.reconcile.row_checksum import (
    BYTEWISE_COLLATIONS,
    COLUMNS_SQL,
    CONCAT_PROBE_SQL,
    GROUP_CONCAT_MAX_LEN,
    HEX_ORDER_PAIRS,
    LENGTH_PREFIXED,
    NULL,
    RANGE_INDEX_SQL,
    SPREAD_WIDTH,
    UNIQUE_KEYS_SQL,
    Column,
    ConcatLimit,
    Dialect,
    Fingerprint,
    Kind,
    TableRef,
    column_from_information_schema,
    hex_order_probe_sql,
    split_rendering,
    text_place,
)
from cdc_runbooks.refusal import Refusal

Rows = list[tuple]
Key = int | str | None | tuple  # a row's key as matched (TableReader._key) or reported (TablePair.shown_key)


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

    def orders_text_key(self, table: str, column: str) -> bool:
        """Whether an index of ``table`` serves range reads of the text ``column`` in an order its text places
        partition: MySQL, a B-tree index it leads, in a collation that orders hex digits as numbers (a probe of
        constants); PostgreSQL, one whose collation is bytewise; Redshift, none. A side that refuses to tell (a
        catalog it may not read, a collation it cannot name) has none: the key is hashed."""
        if self.dialect is Dialect.REDSHIFT:
            return False
        try:
            found = self.run(RANGE_INDEX_SQL[self.dialect], (self.schema, table, column))
            if self.dialect is Dialect.POSTGRES:
                return any(locale in BYTEWISE_COLLATIONS for locale, in found)
            return any(int(self.run(hex_order_probe_sql(charset, collation), None)[0][0]) == HEX_ORDER_PAIRS
                       for charset, collation in set(found))
        except QueryFailed:
            return False


_COMPATIBLE = {
    Kind.INTEGER: {Kind.INTEGER, Kind.DECIMAL, Kind.BOOLEAN},
    Kind.BOOLEAN: {Kind.BOOLEAN, Kind.INTEGER},
    Kind.DECIMAL: {Kind.DECIMAL, Kind.INTEGER},
    Kind.FLOAT: {Kind.FLOAT},
    Kind.TEXT: {Kind.TEXT},
    Kind.DATETIME: {Kind.DATETIME},
    Kind.DATE: {Kind.DATE},
    # What DMS creates on Redshift (docs/reference/dms-mysql-to-redshift-types.md): binary as VARCHAR (hex text,
    # unverified: an upper-case or prefixed encoding is reported as drift), BIT(1) as BOOL, TIME and JSON as VARCHAR
    # (MySQL's text of them); or the native type where a warehouse has one.
    Kind.BINARY: {Kind.BINARY, Kind.TEXT},
    Kind.BIT: {Kind.BIT, Kind.BOOLEAN, Kind.INTEGER},
    Kind.TIME: {Kind.TIME, Kind.TEXT},
    Kind.JSON: {Kind.JSON, Kind.TEXT},
}


def compatible(source: Kind, target: Kind) -> bool:
    """A source column of kind ``source`` can be compared with (and land as) a warehouse column of kind ``target``."""
    return target in _COMPATIBLE[source]


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
        return (None if low is None else _whole(low)), (None if high is None else _whole(high))

    def null_keys(self) -> int:
        """Rows no key range holds: their placement column is NULL (see :meth:`TableRef.null_keys_sql`)."""
        statement = self.ref.null_keys_sql()
        return 0 if statement is None else _whole(self._run(statement)[0][0])

    def count(self, hi: int) -> int:
        return _whole(self._run(self.ref.count_sql(hi))[0][0])

    def segments(self, origin: int, width: int, ranges: Iterable[tuple[int, int]]) -> dict[int, tuple[int, int | str]]:
        """{segment: (rows, fingerprint)}."""
        summary = _whole if self.ref.fingerprint is Fingerprint.ROW_HASH_SUM else str
        return {_whole(s): (_whole(n), summary(fingerprint))
                for statement in self.ref.segments_sql(origin, width, ranges)
                for s, n, fingerprint in self._run(statement)}

    def row_hashes(self, ranges: Iterable[tuple[int, int]]) -> Iterator[tuple[int, Key, int, str]]:
        """``(place, key, row hash, field digests)`` of every row placed in ``ranges`` (digests: hashed placement
        with columns outside the key, as one text: :func:`~cdc_runbooks.reconcile.row_checksum.split_digests`;
        else ``""``). The statement runs now; rows are converted as they are consumed, not into a second list (a
        leaf read can hold tens of thousands of rows)."""
        rows = self._run(self.ref.row_hashes_sql(ranges))
        return ((_whole(row[0]), self._key(row[1]), _whole(row[2]), "".join(row[3:])) for row in rows)

    def fields(self, places: dict[Key, int], row_hashes: Iterable[int] = ()) -> dict[Key, tuple]:
        """``{key: canonical field texts}`` of the rows with the given keys (``{key: place}``) that exist here, and
        have one of ``row_hashes`` if given."""
        rows = self._run(self.ref.fields_by_key_sql(places.values(), row_hashes, places))
        found = {self._key(row[0]): tuple(row[1:]) for row in rows}
        return {key: fields for key, fields in found.items() if key in places}

    def text_places_spread(self) -> bool:
        """Text places: whether every sixteenth of the places holds a key, each at a place of its sixteenth in code
        point order (:meth:`TableRef.spread_sql`; a case-insensitive side whose keys sort apart from their bytes
        does not count as spread)."""
        return all(key is not None and text_place(key) // SPREAD_WIDTH == int(i)
                   for i, key in self._run(self.ref.spread_sql()))

    def placed_at_hash(self) -> TableReader:
        """This side with rows placed at the hash of the key columns (not the leading one, nor text places)."""
        return TableReader(replace(self.ref, leading_key=False, ranged_key=False,
                                   fingerprint=Fingerprint.ROW_HASH_SUM, concat_limit=None), self.side)

    def _key(self, identity) -> Key:
        """A row's key as matched: the integer key, or the canonical rendering of its key columns (the same on both
        sides whatever each side's column types; :meth:`TablePair.shown_key` turns it into values). One text per
        row, not one per column: a key-by-key read of a table without a key holds every column of its rows."""
        return identity if self.ref.key_columns else _whole(identity)


def _whole(value) -> int:
    """An integer the database computed, however the driver typed it: int, Decimal, or text as the Redshift Data API
    returns NUMERIC (``'1.0000'``: a whole number divided in DECIMAL arithmetic keeps its scale)."""
    if isinstance(value, int):
        return value
    number = Decimal(str(value))
    if number != number.to_integral_value():
        raise ValueError(f"expected a whole number from the database, got {value!r:.40}")
    return int(number)


def _shown_field(text: str, kind: Kind) -> Key:
    if text == NULL:
        return None
    if kind in LENGTH_PREFIXED:  # binary: lowercase hex
        return text.partition(":")[2]
    return _whole(text) if kind in (Kind.INTEGER, Kind.BIT) else text  # '2.00': an INT landed as NUMERIC(12,2)


@dataclass(frozen=True)
class TablePair:
    """A validated table: its key (a label unless a single integer column), its columns (source names and order)
    and a reader per side; ``hashed``: rows placed at a hash of their key; ``multiset``: a table without a key,
    compared as a multiset of whole rows (placed at a hash of every column); :attr:`leading`: rows placed at the
    leading integer column of a key of several columns; :attr:`ranged`: rows placed at their text key's place
    (:func:`~cdc_runbooks.reconcile.row_checksum.text_place`), read by ranges of its index on each side."""

    table: str
    key: str
    columns: tuple[str, ...]
    source: TableReader
    target: TableReader
    hashed: bool = False
    multiset: bool = False
    leading: bool = False
    ranged: bool = False
    key_kinds: tuple[Kind, ...] = ()  # hashed placement: the source kinds of the key columns

    def placed_at_hash(self) -> TablePair:
        """This table with its rows placed at the hash of their key columns instead of the leading one, or of
        their text places."""
        source = self.source.placed_at_hash()
        return replace(self, key=_hash_label(source.ref.key_columns), hashed=True, leading=False, ranged=False,
                       source=source, target=self.target.placed_at_hash())

    def shown_key(self, key: Key) -> Key:
        """A matched key as reported: its values from the canonical rendering, read with the source's column kinds
        (NULL None, an integer an int, text and binary hex without the length prefix); a tuple when there are
        several columns; the rendering itself if it cannot be read back (a warehouse whose length prefix counts
        otherwise, or whose integer key column holds ``1.50``)."""
        texts = split_rendering(key, self.key_kinds) if self.key_kinds else None
        if texts is None:
            return key
        try:
            values = tuple(_shown_field(text, kind) for text, kind in zip(texts, self.key_kinds, strict=True))
        except (ValueError, ArithmeticError):  # a field not in its source kind's form
            return key
        return values[0] if len(values) == 1 else values


def table_columns(side: Side, table: str, where: str) -> list[Column]:
    rows = side.run(COLUMNS_SQL[side.dialect], (side.schema, table))
    if not rows:
        raise TableMismatch(f"{table}: no such table on the {where} ({side.schema}.{table} is not in its "
                            "information schema)")
    return [column_from_information_schema(side.dialect, row, table) for row in rows]


def source_key(side: Side, table: str, columns: list[Column]) -> tuple[str, ...]:
    """The source's primary key columns; without one, the first unique index (by name) whose columns are all
    NOT NULL, as DMS does; () when there is neither (the table is compared as a multiset of rows)."""
    if side.dialect is not Dialect.MYSQL:
        raise TableMismatch(f"{table}: name the key column (only a MySQL source's primary key is discovered)")
    not_null = {c.name.lower() for c in columns if not c.nullable}
    indexes: dict[str, list[str]] = {}
    for index, column in side.run(UNIQUE_KEYS_SQL, (side.schema, table)):
        indexes.setdefault(index, []).append(column)
    for index in sorted(indexes, key=lambda name: (name != "PRIMARY", name)):
        # a functional key part (MySQL 8) has no column name: that index is no key of columns
        if all(column is not None and column.lower() in not_null for column in indexes[index]):
            return tuple(indexes[index])
    return ()


def _key_columns(table: str, pairs: list[tuple[Column, Column]], key: str | Sequence[str] | None,
                 discovered: Callable[[], tuple[str, ...]]) -> tuple[Column, ...]:
    """The source columns of the key (``key``: a column name, names joined by commas, or a sequence of names;
    None: the source's own key)."""
    names = (key.split(",") if isinstance(key, str) else list(key)) if key is not None else discovered()
    by_name = {s.name.lower(): s for s, _ in pairs}
    found = []
    for name in names:
        column = by_name.get(str(name).strip().lower())
        if column is None:
            raise TableMismatch(f"{table}: key column {identifiers.shown(name)} is not a column of the table")
        if column.nullable:
            raise TableMismatch(f"{table}: key column {column.name} allows NULL, so it does not tell rows apart "
                                "(a unique index allows several NULLs); name NOT NULL columns, or none")
        if column.kind is Kind.FLOAT:
            raise TableMismatch(f"{table}: key column {column.name} is approximate ({column.kind}): rows that differ "
                                "only beyond its rendering would share a key; name another key")
        found.append(column)
    if len({c.name for c in found}) != len(found):
        raise TableMismatch(f"{table}: key columns {[c.name for c in found]} repeat a column")
    return tuple(found)


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
        if not compatible(s.kind, t.kind):
            raise TableMismatch(f"{table}.{s.name}: source {s.kind} and target {t.kind} cannot be compared")
    return pairs


def _placed_at_first(pairs: list[tuple[Column, Column]], key_columns: tuple[Column, ...]) -> bool:
    """Whether rows can be placed at the first key column: an integer on the source that the target holds as a
    number too (a TINYINT(1) may land as a boolean: no MIN, MAX or arithmetic there)."""
    first = key_columns[0] if key_columns else None
    return first is not None and first.kind is Kind.INTEGER and next(
        t.kind for s, t in pairs if s.name == first.name) in (Kind.INTEGER, Kind.DECIMAL)


def _ranged(source: Side, target: Side, table: str, pairs: list[tuple[Column, Column]],
            key_columns: tuple[Column, ...]) -> bool:
    """Whether rows can be placed at their text key's place: one key column, UTF-8 text on both sides, that an index
    of each side orders (:meth:`Side.orders_text_key`)."""
    if len(key_columns) != 1 or key_columns[0].kind is not Kind.TEXT:
        return False
    pair = next((s, t) for s, t in pairs if s.name == key_columns[0].name)
    return all(c.kind is Kind.TEXT and not c.convert_charset for c in pair) and all(
        side.orders_text_key(table, column.name) for side, column in zip((source, target), pair, strict=True))


def _hash_label(key_columns: Sequence[str]) -> str:
    return f"hash({', '.join(key_columns)})"


def _fingerprint(source: Side, target: Side) -> tuple[Fingerprint, ConcatLimit | None, ConcatLimit | None]:
    """``ORDERED_MD5`` when both sides can compute it, else ``ROW_HASH_SUM``; and each side's concat limit."""
    if Dialect.REDSHIFT in (source.dialect, target.dialect):
        return Fingerprint.ROW_HASH_SUM, None, None
    sides = source, target
    limits = tuple(side.concat_limit for side in sides)
    able = all(limit is not None or side.dialect is Dialect.POSTGRES for side, limit in zip(sides, limits, strict=True))
    return (Fingerprint.ORDERED_MD5, *limits) if able else (Fingerprint.ROW_HASH_SUM, None, None)


def describe_table(source: Side, target: Side, table: str, key: str | Sequence[str] | None = None) -> TablePair:
    """Validate ``table`` on both sides and return its readers; refuses (:class:`TableMismatch`,
    :class:`~cdc_runbooks.identifiers.InvalidIdentifier`) before any data query. A single integer key places rows
    at their key, a key of several columns led by an integer at that column; any other key (text, date, decimal,
    several led by another type) or none places them at a hash."""
    identifiers.table_name(table)
    source_columns = table_columns(source, table, "source")
    pairs = _paired(table, source_columns, table_columns(target, table, "target"))
    key_columns = _key_columns(table, pairs, key, lambda: source_key(source, table, source_columns))
    scales = tuple(_scale(s, t) for s, t in pairs)
    target_name = {s.name: t.name for s, t in pairs}
    placed = _placed_at_first(pairs, key_columns)
    leading = placed and len(key_columns) > 1
    ranged = _ranged(source, target, table, pairs, key_columns)
    single = placed and len(key_columns) == 1
    if single or ranged:
        fingerprint, source_limit, target_limit = _fingerprint(source, target)
    else:
        fingerprint, source_limit, target_limit = Fingerprint.ROW_HASH_SUM, None, None
    if single:
        name = key_columns[0].name
        hashed, label, source_keys, target_keys = False, name, (), ()
    else:
        hashed = not leading and not ranged
        source_keys = tuple(c.name for c in key_columns) or tuple(s.name for s, _ in pairs)
        target_keys = tuple(target_name[name] for name in source_keys)
        name = source_keys[0]
        label = (f"{name} (leading column of {', '.join(source_keys)})" if leading
                 else f"place({name})" if ranged
                 else _hash_label(source_keys) if key_columns else "hash(every column: no key)")
    return TablePair(
        table=table, key=label, columns=tuple(s.name for s, _ in pairs), hashed=hashed,
        multiset=hashed and not key_columns, leading=leading, ranged=ranged,
        key_kinds=tuple(next(c.kind for c, _ in pairs if c.name == name) for name in source_keys),
        source=TableReader(TableRef(source.dialect, source.schema, table, tuple(s for s, _ in pairs),
                                    name, scales, fingerprint, source_limit, source_keys, leading, ranged), source),
        target=TableReader(TableRef(target.dialect, target.schema, table, tuple(t for _, t in pairs),
                                    target_name[name], scales, fingerprint, target_limit, target_keys, leading,
                                    ranged), target))


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
