"""Canonical row rendering, row hash and every reconciliation query, generated per SQL dialect. Pure.

Public API (used by :mod:`cdc_runbooks.reconcile.engine` and the benchmark)::

    Dialect.MYSQL | Dialect.POSTGRES | Dialect.REDSHIFT
    Column(name, kind, nullable=True, scale=0, utc=False, convert_charset=False)
    column_from_information_schema(dialect, row) -> Column        # row = COLUMNS_SQL[dialect] result row
    COLUMNS_SQL[dialect], UNIQUE_KEYS_SQL (MySQL)                # %s params: (schema, table)
    RANGE_INDEX_SQL[dialect], BYTEWISE_COLLATIONS                # %s params: (schema, table, column)
    hex_order_probe_sql(charset, collation) -> SQL answering HEX_ORDER_PAIRS when it orders hex digits as numbers
    TableRef(dialect, schema, table, columns, key, scales, fingerprint, concat_limit, key_columns, leading_key,
             ranged_key)                                         # one side, ready for SQL
    TableRef.bounds_sql() / count_sql(hi) / segments_sql(origin, width, ranges) -> [statement, ...]
    TableRef.row_hashes_sql(ranges) / fields_by_key_sql(places, row_hashes=(), identities=())
    TEXT_PLACES, place_bound(place), text_place(key), text_place_sql(key)
    field_digests_sql(dialect, columns, scales), split_digests(text), NULL_DIGEST
    Fingerprint.ROW_HASH_SUM | Fingerprint.ORDERED_MD5
    ConcatLimit.SET_STATEMENT | ConcatLimit.SET_VAR_HINT, ConcatLimit.for_version(version), .statement(selects)

Canonical rendering (what both sides hash, byte for byte, UTF-8):
``field_1 '|' field_2 '|' ...`` over every column in the source's column order, where a NULL is ``N``
and a value is rendered by its kind:

=========  ==============================================================================
INTEGER    decimal digits (any width, signed or unsigned; MySQL ``TINYINT(1)`` gives 0/1)
BOOLEAN    ``1`` / ``0`` (PostgreSQL/Redshift ``boolean``; matches MySQL ``TINYINT(1)``)
DECIMAL    fixed point with exactly the source column's scale (``-12.50``, ``0.00``)
FLOAT      rounded to 6 decimal places, fixed point (see below)
TEXT       ``<character count>:<text>`` (the length prefix keeps ``''``, ``N`` and NULL apart
           and makes the ``|`` separator unambiguous)
DATETIME   ``YYYY-MM-DD HH:MM:SS.ffffff``; an instant type (MySQL ``TIMESTAMP``, ``timestamptz``)
           is rendered in UTC; a MySQL zero date is NULL (DMS writes NULL for it)
DATE       ``YYYY-MM-DD`` (a MySQL zero date: NULL)
BINARY     ``<hex digits count>:<lowercase hex>`` of the bytes (MySQL BINARY/VARBINARY/BLOB, PostgreSQL
           ``bytea``, Redshift ``VARBYTE``): the same text a VARCHAR holding lowercase hex renders as TEXT,
           which is how DMS is assumed to land binary on Redshift (unverified: any other encoding is drift)
BIT        MySQL ``BIT(n)``: its value in decimal digits (matches a boolean's ``1``/``0`` and an integer)
TIME       MySQL ``TIME``: ``<length>:<MySQL's text>`` (``-838:59:59``, ``12:00:00.500000``), against
           the VARCHAR DMS creates
JSON       MySQL ``JSON`` (normalised by MySQL) / PostgreSQL ``jsonb``: ``<length>:<its text>``
=========  ==============================================================================

FLOAT/DOUBLE: both databases convert the binary value to its shortest exact decimal digits (PostgreSQL
through the double's text, MySQL in its DECIMAL cast) before rounding to 6 decimals, so values that differ
only beyond the 6th decimal compare equal; Redshift prints 15 significant digits by default
(``extra_float_digits`` 0), so beyond 15 significant digits a Redshift side can differ (reported as drift,
never hidden). Other types (spatial, PostgreSQL ``json`` and
``time``, Redshift ``SUPER``, ...) are refused with :class:`UnsupportedColumn`.

Row hash: the first 15 hex digits (60 bits) of the MD5 of the rendering, as an integer. Segments are
``FLOOR((key - origin) / width)`` buckets of an integer key; a segment is summarised as ``COUNT(*)`` and a
fingerprint of one of two kinds (both sides of a table use the same):

- ``ROW_HASH_SUM``: the exact ``SUM`` of its row hashes (DECIMAL/NUMERIC: no overflow), one ``GROUP BY`` scan
  for every segment at once. Every dialect.
- ``ORDERED_MD5``: the MD5 of its rows' renderings joined by ``;`` in key order: one MD5 over the segment's
  bytes instead of one MD5, hex parse and decimal addition per row, about twice as fast. PostgreSQL
  aggregates ``STRING_AGG(... ORDER BY key)`` in one ``GROUP BY`` scan; MySQL runs one ``GROUP_CONCAT`` per
  segment (``UNION ALL`` of key-range reads, in the order of the clustered primary key) with
  ``group_concat_max_len`` lifted for that statement only. Redshift cannot: ``LISTAGG`` stops at 64 KB.
  Equal fingerprints mean equal row sequences, so no difference can hide; two sides that return equal rows
  in a different order only look different, and the key-by-key comparison below a segment clears them.

Text places (a single text key an index orders, :func:`text_place`): place ``p`` holds the keys from
:func:`place_bound` ``(p)`` (``p`` in 8 lowercase hex digits) up to the next bound, the lowest and highest places
open-ended. A segment is a range of the key's index on each side, in that side's own collation: fixed-width
lowercase hex bounds are ordered as their numbers by a collation without contractions of hex digits (probed), so
each side's places partition its rows
and equal segments everywhere mean equal rows. PostgreSQL's pass over every place is one scan grouped by
:func:`text_place_sql` instead, which agrees with its index only when that orders bytes (the caller checks).

Identifiers are validated (letters, digits, underscores) and quoted for the dialect; key bounds
and keys are integers rendered by Python, text place bounds hex digits, text keys looked up by value literals of
hex digits; nothing else reaches the SQL text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from cdc_runbooks import identifiers
from cdc_runbooks.refusal import Refusal

_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
FLOAT_SCALE = 6
NULL = "N"
SEPARATOR = "|"
HASH_HEX_DIGITS = 15
HASH_BITS = 4 * HASH_HEX_DIGITS
BIGINT_MAX = 2**63 - 1
PLACE_HEX_DIGITS = 8  # text-range placement: a place starts at 8 lowercase hex digits
TEXT_PLACES = 16**PLACE_HEX_DIGITS
SPREAD_WIDTH = TEXT_PLACES // 16  # the places of one leading hex digit: a spread key fills all sixteen
_HEX = "0123456789abcdef"
KEY_DIGITS = 20  # decimal digits of any integer key, up to MySQL's BIGINT UNSIGNED maximum 2**64 - 1


class Dialect(StrEnum):
    MYSQL = "mysql"  # MySQL, MariaDB, Aurora MySQL
    POSTGRES = "postgres"
    REDSHIFT = "redshift"


class Fingerprint(StrEnum):
    """How a segment's rows are summarised (see the module docstring)."""

    ROW_HASH_SUM = "row_hash_sum"
    ORDERED_MD5 = "ordered_md5"


ROW_SEPARATOR = ";"  # between rows in ORDERED_MD5; fields are self-delimiting, so any character would do
GROUP_CONCAT_MAX_LEN = 1073741824  # 1 GiB: MariaDB caps larger values there (with a warning)
SEGMENTS_PER_STATEMENT = 64  # MySQL ORDERED_MD5: key-range reads per UNION ALL statement


class ConcatLimit(StrEnum):
    """How one MySQL statement lifts ``group_concat_max_len`` (1 KB by default on MySQL, so ``GROUP_CONCAT``
    would truncate) without touching the session."""

    SET_STATEMENT = "set_statement"  # MariaDB 10.1.2+: SET STATEMENT var = value FOR <statement>
    SET_VAR_HINT = "set_var_hint"  # MySQL 8.0+ (Aurora MySQL 3): SELECT /*+ SET_VAR(var = value) */ ...

    @classmethod
    def for_version(cls, version: str) -> ConcatLimit:
        """The form a server answering ``SELECT VERSION()`` with ``version`` understands (MySQL 5.7 ignores
        the hint: :data:`CONCAT_PROBE_SQL` tells)."""
        return cls.SET_STATEMENT if "mariadb" in str(version).lower() else cls.SET_VAR_HINT

    def statement(self, selects: Sequence[str]) -> str:
        """``selects`` (each a ``SELECT ...``) as one ``UNION ALL`` statement with ``group_concat_max_len``
        lifted for it."""
        setting = f"group_concat_max_len = {GROUP_CONCAT_MAX_LEN}"
        if self is ConcatLimit.SET_STATEMENT:
            return f"SET STATEMENT {setting} FOR {' UNION ALL '.join(selects)}"
        hinted = f"SELECT /*+ SET_VAR({setting}) */ "
        return " UNION ALL ".join(hinted + select.removeprefix("SELECT ") for select in selects)


CONCAT_PROBE_SQL = "SELECT @@SESSION.group_concat_max_len"  # through ConcatLimit.statement: is it lifted?


class Kind(StrEnum):
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DECIMAL = "decimal"
    FLOAT = "float"
    TEXT = "text"
    DATETIME = "datetime"
    DATE = "date"
    BINARY = "binary"
    BIT = "bit"
    TIME = "time"
    JSON = "json"


LENGTH_PREFIXED = frozenset((Kind.TEXT, Kind.BINARY, Kind.TIME, Kind.JSON))  # rendered ``<length>:<text>``


class UnsupportedColumn(Refusal, ValueError):
    """A column whose type has no canonical rendering; the message names the column and its type."""


@dataclass(frozen=True)
class Column:
    """One column as one side stores it.

    :param scale: declared decimal places (DECIMAL); ``None`` for an unconstrained NUMERIC.
    :param utc: an instant type (MySQL TIMESTAMP, timestamptz), rendered in UTC.
    :param convert_charset: MySQL text column not stored in a UTF-8 character set.
    """

    name: str
    kind: Kind
    nullable: bool = True
    scale: int | None = 0
    utc: bool = False
    convert_charset: bool = False


_MYSQL_KINDS = {
    **dict.fromkeys(("tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year"), Kind.INTEGER),
    **dict.fromkeys(("decimal", "numeric"), Kind.DECIMAL),
    **dict.fromkeys(("float", "double", "real"), Kind.FLOAT),
    **dict.fromkeys(("char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"), Kind.TEXT),
    **dict.fromkeys(("datetime", "timestamp"), Kind.DATETIME),
    "date": Kind.DATE,
    **dict.fromkeys(("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"), Kind.BINARY),
    "bit": Kind.BIT,
    "time": Kind.TIME,
    "json": Kind.JSON,  # MySQL's own type; MariaDB's JSON is LONGTEXT (TEXT)
}
_PG_KINDS = {
    **dict.fromkeys(("smallint", "integer", "bigint"), Kind.INTEGER),
    "boolean": Kind.BOOLEAN,
    "numeric": Kind.DECIMAL,
    **dict.fromkeys(("real", "double precision"), Kind.FLOAT),
    **dict.fromkeys(("character varying", "character", "text", "bpchar"), Kind.TEXT),
    **dict.fromkeys(("timestamp without time zone", "timestamp with time zone"), Kind.DATETIME),
    "date": Kind.DATE,
    **dict.fromkeys(("bytea", "binary varying"), Kind.BINARY),  # PostgreSQL; Redshift VARBYTE
    "jsonb": Kind.JSON,
}
_UTF8 = {"utf8mb4", "utf8mb3", "utf8", "ascii", None}

# Each returns (name, data type, nullable YES/NO, numeric scale, character set) in column order.
COLUMNS_SQL = {
    Dialect.MYSQL: "SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE, NUMERIC_SCALE, CHARACTER_SET_NAME "
                   "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s "
                   "ORDER BY ORDINAL_POSITION",
    **dict.fromkeys((Dialect.POSTGRES, Dialect.REDSHIFT),
                    "SELECT column_name, data_type, is_nullable, numeric_scale, NULL "
                    "FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                    "ORDER BY ordinal_position"),
}
# What orders a text key for range reads, params (schema, table, column). MySQL: (character set, collation) of the
# column where a whole-value B-tree index leads with it (its order is the collation's; each side's places partition
# its rows as long as the collation orders the bounds as numbers, which HEX_ORDER_PROBE checks). PostgreSQL: the
# locale of each B-tree index leading with it in its own collation, if the libc provider's ('default': the
# database's, unless that is ICU or builtin); bytewise if one of BYTEWISE_COLLATIONS (a scan grouped by text place, in
# code point order, must agree with the index's ranges).
RANGE_INDEX_SQL = {
    Dialect.MYSQL: "SELECT c.CHARACTER_SET_NAME, c.COLLATION_NAME FROM information_schema.STATISTICS s "
                   "JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = s.TABLE_SCHEMA "
                   "AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME "
                   "WHERE s.TABLE_SCHEMA = %s AND s.TABLE_NAME = %s AND s.COLUMN_NAME = %s AND s.SEQ_IN_INDEX = 1 "
                   "AND s.SUB_PART IS NULL AND s.INDEX_TYPE = 'BTREE'",
    Dialect.POSTGRES: "SELECT CASE WHEN co.collname = 'default' THEN CASE WHEN COALESCE(TO_JSONB(d) ->> "
                      "'datlocprovider', 'c') = 'c' THEN d.datcollate END WHEN co.collprovider = 'c' "
                      "THEN co.collcollate END FROM pg_index i "
                      "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
                      "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0] "
                      "JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_am am ON am.oid = x.relam "
                      "JOIN pg_collation co ON co.oid = i.indcollation[0] "
                      "JOIN pg_database d ON d.datname = CURRENT_DATABASE() "
                      "WHERE n.nspname = %s AND t.relname = %s AND a.attname = %s AND am.amname = 'btree' "
                      "AND i.indpred IS NULL AND i.indcollation[0] = a.attcollation",
}
# libc locales that compare bytes: glibc's C.UTF-8 sorts by code point (glibc 2.35 release notes), as C and POSIX
# compare bytes (PostgreSQL's ucs_basic is C).
BYTEWISE_COLLATIONS = frozenset(("C", "POSIX", "C.UTF-8", "C.utf8"))
_HEX_PAIRS = [f"{i:02x}" for i in range(256)]


def hex_order_probe_sql(charset: str, collation: str) -> str:
    """MySQL: how many of the 255 consecutive two-hex-digit texts (``00`` < ``01`` < ... < ``ff``) the collation
    orders strictly as their numbers: 255 unless it has a contraction of hex digits (Danish and Norwegian ``aa``
    sorts after ``z``), which would leave text place bounds out of order and count rows at two places."""
    charset, collation = column_name(charset, "character set"), column_name(collation, "collation")
    return "SELECT " + " + ".join(f"(_{charset}'{low}' COLLATE {collation} < _{charset}'{high}')"
                                  for low, high in pairwise(_HEX_PAIRS))


HEX_ORDER_PAIRS = len(_HEX_PAIRS) - 1
# (index name, column name) of every unique index of a MySQL table (the primary key is named PRIMARY), in order.
UNIQUE_KEYS_SQL = ("SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s "
                   "AND TABLE_NAME = %s AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX")


def column_name(value: object, field: str = "column") -> str:
    """A column name that may reach SQL (quoted): letters, digits and underscores."""
    if not isinstance(value, str) or not _COLUMN.fullmatch(value):
        raise identifiers.InvalidIdentifier(
            f"{field}: {value!r:.120} is not valid; expected a column name of letters, digits and underscores, "
            "not starting with a digit")
    return value


def column_from_information_schema(dialect: Dialect, row: Sequence, table: str = "") -> Column:
    """The :class:`Column` for one ``COLUMNS_SQL[dialect]`` row; refuses names and types it cannot render."""
    name, data_type, nullable, scale, charset = row
    name = column_name(name, f"{table}.column" if table else "column")
    kinds = _MYSQL_KINDS if dialect is Dialect.MYSQL else _PG_KINDS
    kind = kinds.get(str(data_type).lower())
    if kind is None:
        raise UnsupportedColumn(f"{table}.{name}: type {data_type!r} has no canonical rendering; supported: "
                                f"{', '.join(sorted(kinds))}")
    return Column(name=name, kind=kind, nullable=str(nullable).upper() == "YES",
                  scale=None if scale is None else int(scale),
                  utc=str(data_type).lower() in ("timestamp", "timestamp with time zone"),
                  convert_charset=kind is Kind.TEXT and dialect is Dialect.MYSQL and charset not in _UTF8)


def quote(dialect: Dialect, name: str) -> str:
    """``name`` quoted for ``dialect``; refused unless it is a plain identifier."""
    column_name(name, "identifier")
    return f"`{name}`" if dialect is Dialect.MYSQL else f'"{name}"'


def _text(dialect: Dialect, expression: str) -> str:
    if dialect is Dialect.MYSQL:
        return f"CAST({expression} AS CHAR)"
    return f"CAST({expression} AS {'TEXT' if dialect is Dialect.POSTGRES else 'VARCHAR'})"


def _decimal(dialect: Dialect, column: Column, col: str, scale: int) -> str:
    if column.kind is Kind.DECIMAL and column.scale == scale:
        return _text(dialect, col)
    if dialect is Dialect.MYSQL:
        return f"CAST(CAST({col} AS DECIMAL(65,{scale})) AS CHAR)"
    if dialect is Dialect.POSTGRES:
        return f"CAST(ROUND(CAST({col} AS NUMERIC), {scale}) AS TEXT)"
    return f"CAST(CAST({col} AS DECIMAL(38,{scale})) AS VARCHAR)"


def _float(dialect: Dialect, col: str) -> str:
    if dialect is Dialect.MYSQL:
        return f"CAST(CAST({col} AS DOUBLE) AS DECIMAL(65,{FLOAT_SCALE}))"
    if dialect is Dialect.POSTGRES:
        # Through its text: PostgreSQL 12+ prints a double's shortest exact digits (up to 17, as MySQL converts it),
        # where a direct cast to NUMERIC keeps only 15 significant digits.
        return f"CAST(ROUND(CAST(CAST(CAST({col} AS DOUBLE PRECISION) AS TEXT) AS NUMERIC), {FLOAT_SCALE}) AS TEXT)"
    return f"CAST(CAST(CAST({col} AS FLOAT8) AS DECIMAL(38,{FLOAT_SCALE})) AS VARCHAR)"


def _length_prefixed(dialect: Dialect, text: str) -> str:
    if dialect is Dialect.MYSQL:
        return f"CONCAT(CHAR_LENGTH({text}), ':', {text})"
    length = "CHAR_LENGTH" if dialect is Dialect.POSTGRES else "LEN"
    return f"{_text(dialect, f'{length}({text})')} || ':' || {text}"


def _textual(dialect: Dialect, column: Column, col: str) -> str:
    """The text a TEXT, BINARY (lowercase hex), TIME or JSON column is compared as, before its length prefix."""
    if column.kind is Kind.BINARY:
        return {Dialect.MYSQL: f"LOWER(HEX({col}))", Dialect.POSTGRES: f"ENCODE({col}, 'hex')",
                Dialect.REDSHIFT: f"LOWER(TO_HEX({col}))"}[dialect]
    if column.kind in (Kind.TIME, Kind.JSON):
        return _text(dialect, col)
    return f"CONVERT({col} USING utf8mb4)" if column.convert_charset else col


_ZERO = {True: "0000-00-00 00:00:00.000000", False: "0000-00-00"}


def _datetime(dialect: Dialect, column: Column, col: str, with_time: bool) -> str:
    if dialect is Dialect.MYSQL:  # a zero date is NULL: DMS writes NULL for it where the target has none
        value = f"CONVERT_TZ({col}, @@session.time_zone, '+00:00')" if column.utc else col
        return (f"NULLIF(DATE_FORMAT({value}, '{'%Y-%m-%d %H:%i:%s.%f' if with_time else '%Y-%m-%d'}'), "
                f"'{_ZERO[with_time]}')")
    value = f"({col} AT TIME ZONE 'UTC')" if column.utc else col
    return f"TO_CHAR({value}, '{'YYYY-MM-DD HH24:MI:SS.US' if with_time else 'YYYY-MM-DD'}')"


def field_sql(dialect: Dialect, column: Column, scale: int = 0) -> str:
    """The canonical text of one column (never NULL); ``scale`` is the canonical number of decimals of a
    DECIMAL/INTEGER pair (the source column's scale)."""
    col = quote(dialect, column.name)
    if column.kind is Kind.INTEGER:
        rendered = _text(dialect, col) if scale == 0 else _decimal(dialect, column, col, scale)
    elif column.kind is Kind.BOOLEAN:
        rendered = f"CASE WHEN {col} THEN '1' WHEN NOT {col} THEN '0' END"
    elif column.kind is Kind.DECIMAL:
        rendered = _decimal(dialect, column, col, scale)
    elif column.kind is Kind.FLOAT:
        rendered = _float(dialect, col)
    elif column.kind in LENGTH_PREFIXED:
        rendered = _length_prefixed(dialect, _textual(dialect, column, col))
    elif column.kind is Kind.BIT:  # MySQL BIT(n): its value as digits
        rendered = f"CAST({col} + 0 AS CHAR)"
    else:
        rendered = _datetime(dialect, column, col, with_time=column.kind is Kind.DATETIME)
    zero_date = dialect is Dialect.MYSQL and column.kind in (Kind.DATE, Kind.DATETIME)
    return f"COALESCE({rendered}, '{NULL}')" if column.nullable or zero_date else rendered


def row_text_sql(dialect: Dialect, columns: Sequence[Column], scales: Sequence[int]) -> str:
    """The canonical rendering of a whole row: fields joined by ``|``."""
    fields = [field_sql(dialect, c, s) for c, s in zip(columns, scales, strict=True)]
    if dialect is Dialect.MYSQL:
        return f"CONCAT_WS('{SEPARATOR}', {', '.join(fields)})"
    return f" || '{SEPARATOR}' || ".join(fields)


def split_rendering(text: str, kinds: Sequence[Kind]) -> tuple[str, ...] | None:
    """The fields of a :func:`row_text_sql` rendering of columns of ``kinds`` (a length-prefixed field may hold
    ``|``); None when ``text`` cannot be one (a length prefix running past the text, or not followed by ``|``). For
    display only (keys are matched on the whole text): a side whose length prefix counted otherwise (bytes, not
    characters) could give another split that is also a rendering."""
    fields, at = [], 0
    for i, kind in enumerate(kinds):
        if i:
            if not text.startswith(SEPARATOR, at):
                return None
            at += len(SEPARATOR)
        if kind in LENGTH_PREFIXED and not text.startswith(NULL, at):
            colon = text.find(":", at)
            digits = text[at:colon]
            if colon < 0 or not (digits.isascii() and digits.isdigit()):
                return None
            end = colon + 1 + int(digits)
        else:
            end = text.find(SEPARATOR, at) if i < len(kinds) - 1 else len(text)
        if end < at or end > len(text):
            return None
        fields.append(text[at:end])
        at = end
    return tuple(fields) if at == len(text) else None


def row_hash_sql(dialect: Dialect, columns: Sequence[Column], scales: Sequence[int]) -> str:
    """A 60-bit integer per row: the first 15 hex digits of MD5(canonical rendering)."""
    digest = f"MD5({row_text_sql(dialect, columns, scales)})"
    if dialect is Dialect.MYSQL:
        return f"CAST(CONV(SUBSTRING({digest}, 1, {HASH_HEX_DIGITS}), 16, 10) AS UNSIGNED)"
    if dialect is Dialect.POSTGRES:
        return f"CAST(CAST('x' || SUBSTR({digest}, 1, {HASH_HEX_DIGITS}) AS BIT({4 * HASH_HEX_DIGITS})) AS BIGINT)"
    return f"STRTOL(SUBSTRING({digest}, 1, {HASH_HEX_DIGITS}), 16)"


FIELD_DIGEST_HEX_DIGITS = 8
MAX_DIGEST_COLUMNS = 128  # more columns: a changed row's fields are read again by key instead
NULL_DIGEST = hashlib.md5(NULL.encode()).hexdigest()[:FIELD_DIGEST_HEX_DIGITS]  # a NULL field's digest


def field_digests_sql(dialect: Dialect, columns: Sequence[Column], scales: Sequence[int]) -> str:
    """One text per row: for each column, the first 8 hex digits of the MD5 of its canonical text. Names which
    columns of a changed row differ without reading the values (the row hash tells *that* it differs; two values
    with the same 32-bit digest would only leave that column unnamed); a NULL field's digest is
    :data:`NULL_DIGEST`. One short text, not one per column: the rows read key by key stay small in memory."""
    digests = [f"SUBSTRING(MD5({field_sql(dialect, c, s)}), 1, {FIELD_DIGEST_HEX_DIGITS})"
               for c, s in zip(columns, scales, strict=True)]
    return f"CONCAT({', '.join(digests)})" if dialect is Dialect.MYSQL else " || ".join(digests)


def split_digests(text: str) -> tuple[str, ...]:
    """The per-column digests of one :func:`field_digests_sql` text."""
    return tuple(text[i:i + FIELD_DIGEST_HEX_DIGITS] for i in range(0, len(text), FIELD_DIGEST_HEX_DIGITS))


def _int(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"a key bound must be an integer, got {value!r:.60}")
    return str(value)


@dataclass(frozen=True)
class TableRef:
    """One side of a compared table: where it is, its columns (in the source's order) and the integer key.

    :param key: the integer key column (rows are placed at their key); ignored with ``key_columns`` unless
        ``leading_key``.
    :param scales: canonical decimals per column (see :func:`field_sql`), same order as ``columns``.
    :param fingerprint: how segments are summarised; the same on both sides.
    :param concat_limit: MySQL with ``ORDERED_MD5``: how its statements lift ``group_concat_max_len``.
    :param key_columns: what tells rows apart when it is not ``key`` alone, ``ROW_HASH_SUM`` only: rows are placed
        at the 60-bit hash of these columns' canonical rendering (any key of any types; every column of a table
        without a key), or with ``leading_key`` at ``key``, their first column.
    :param leading_key: a key of several columns whose first, ``key``, is an integer: rows are placed at that
        column (ranges its index serves, the same integer order on both sides) and told apart by ``key_columns``.
    :param ranged_key: a single text key (``key_columns == (key,)``) that an index of this side orders: rows are
        placed at its text place (:func:`text_place`), every read a range of that index (see the module docstring).
    """

    dialect: Dialect
    schema: str
    table: str
    columns: tuple[Column, ...]
    key: str
    scales: tuple[int, ...]
    fingerprint: Fingerprint = Fingerprint.ROW_HASH_SUM
    concat_limit: ConcatLimit | None = None
    key_columns: tuple[str, ...] = ()
    leading_key: bool = False
    ranged_key: bool = False

    def __post_init__(self) -> None:
        identifiers.table_name(self.schema, "schema")
        identifiers.table_name(self.table, "table")
        names = {c.name for c in self.columns}
        for name in self.key_columns or (self.key,):
            if name not in names:
                raise ValueError(f"key column {name!r} is not a column of {self.table}")
        if self.fingerprint is Fingerprint.ORDERED_MD5 and (
                self.dialect is Dialect.REDSHIFT or (self.dialect is Dialect.MYSQL and self.concat_limit is None)):
            raise ValueError(f"{self.dialect} cannot fingerprint segments by {self.fingerprint}"
                             f"{' without a concat_limit' if self.dialect is Dialect.MYSQL else ''}")
        if self.key_columns and not self.ranged_key and self.fingerprint is not Fingerprint.ROW_HASH_SUM:
            raise ValueError(f"a key of several columns summarises segments by {Fingerprint.ROW_HASH_SUM} only")
        if self.ranged_key and (self.key_columns != (self.key,) or self.dialect is Dialect.REDSHIFT):
            raise ValueError(f"ranged_key: {self.key_columns} is not one text key an index orders on {self.dialect}")
        if self.leading_key and self.key_columns[:1] != (self.key,):
            raise ValueError(f"leading_key: {self.key!r} is not the first of the key columns {self.key_columns}")

    @property
    def hashed(self) -> bool:
        """Rows are placed at a hash of ``key_columns`` (else at the integer ``key``)."""
        return bool(self.key_columns) and not self.leading_key and not self.ranged_key

    @property
    def _places(self) -> int:
        """How many places the engine splits: a 60-bit hash, the text places, or (an integer key) unbounded."""
        return 2**HASH_BITS if self.hashed else TEXT_PLACES

    @property
    def _key_nullable(self) -> bool:
        return next(c.nullable for c in self.columns if c.name == self.key)

    @property
    def name(self) -> str:
        return f"{quote(self.dialect, self.schema)}.{quote(self.dialect, self.table)}"

    @property
    def _keyed(self) -> tuple[list[Column], list[int]]:
        """The key columns, in the key's order, and their scales."""
        by_name = {c.name: (c, s) for c, s in zip(self.columns, self.scales, strict=True)}
        keyed = [by_name[name] for name in self.key_columns]
        return [c for c, _ in keyed], [s for _, s in keyed]

    @property
    def _key(self) -> str:
        """Where a row is placed on the integer line the engine splits: its key, the hash of its key columns, or
        (PostgreSQL) its text place."""
        if self.ranged_key:
            return text_place_sql(quote(self.dialect, self.key))
        return row_hash_sql(self.dialect, *self._keyed) if self.hashed else quote(self.dialect, self.key)

    @property
    def _identity(self) -> str:
        """What tells rows apart in a key-by-key comparison: the key, or the canonical rendering of the key columns
        (one text per row, however many columns: :func:`split_rendering` reads it back)."""
        return row_text_sql(self.dialect, *self._keyed) if self.key_columns else self._key

    @property
    def _hash(self) -> str:
        return row_hash_sql(self.dialect, self.columns, self.scales)

    def _sum(self, expression: str) -> str:
        return f"SUM(CAST({expression} AS DECIMAL(38,0)))" if self.dialect is Dialect.REDSHIFT else f"SUM({expression})"

    def _bucket(self, origin: int, width: int, top: int) -> str:
        """``(key - origin) // width`` for keys from ``origin`` to ``top``, exact in every dialect: integer
        arithmetic when the key is an integer column and ``top - origin`` fits a BIGINT (the cheapest); otherwise
        DECIMAL arithmetic (no BIGINT overflow, keys from -2**63 to 2**64 - 1) dividing an exact multiple of
        ``width`` (so no quotient is rounded: PostgreSQL rounds NUMERIC division to about 16 digits)."""
        placed_at_column = not (self.hashed or self.ranged_key)  # else at a computed BIGINT
        key_kind = next(c.kind for c in self.columns if c.name == self.key) if placed_at_column else Kind.INTEGER
        if key_kind is Kind.INTEGER and top - origin <= BIGINT_MAX:
            divide = "DIV" if self.dialect is Dialect.MYSQL else "/"
            return f"({self._key} - {_int(origin)}) {divide} {_int(width)}"
        offset = f"(CAST({self._key} AS DECIMAL({KEY_DIGITS},0)) - {_int(origin)})"
        return f"({offset} - MOD({offset}, {_int(width)})) / {_int(width)}"

    def _in_ranges(self, ranges: Iterable[tuple[int, int]]) -> str:
        ranges = list(ranges)
        if not ranges:
            raise ValueError("at least one key range is required")
        if self.hashed:
            return self._in_hash_blocks(ranges)
        if self.ranged_key:
            return " OR ".join(self._text_range(lo, hi) for lo, hi in ranges)
        return " OR ".join(f"({self._key} >= {_int(lo)} AND {self._key} <= {_int(hi)})" for lo, hi in ranges)

    def _in_hash_blocks(self, ranges: list[tuple[int, int]]) -> str:
        """Hash ranges as ``hash DIV size IN (...)`` per block size (:func:`hash_blocks`): the hash, an MD5 per row
        that no database computes once for several comparisons, appears once per size, not twice per range."""
        blocks = hash_blocks(ranges)
        if blocks == {2**HASH_BITS: {0}}:  # the whole hash space: no filter, no hash to compute
            return "1 = 1"
        divide = "DIV" if self.dialect is Dialect.MYSQL else "/"
        return " OR ".join(f"({self._key} {divide} {size} IN ({', '.join(map(str, sorted(found)))}))"
                           for size, found in sorted(blocks.items()))

    def _text_range(self, lo: int, hi: int) -> str:
        """The rows at text places ``lo`` to ``hi``: a range of the key's index (an open end at either end of the
        places, so every row is at some place; a NULL key at none: :meth:`null_keys_sql` counts those)."""
        _int(lo), _int(hi)
        if not 0 <= lo <= hi < TEXT_PLACES:
            raise ValueError(f"text place range {lo}..{hi} is outside 0..{TEXT_PLACES - 1}")
        key = quote(self.dialect, self.key)
        ends = [f"{key} >= '{place_bound(lo)}'"] if lo > 0 else []
        ends += [f"{key} < '{place_bound(hi + 1)}'"] if hi < TEXT_PLACES - 1 else []
        return f"({' AND '.join(ends)})" if ends else f"{key} IS NOT NULL"

    def spread_sql(self) -> str:
        """Text places: the first key in each sixteenth of the places (``0…`` to ``f…``), 16 index dives: keys spread
        over the places (UUIDs) fill all of them; keys that all start alike (``user_…``, e-mail addresses) would
        put the table at a few places, each too large for one segment's fingerprint."""
        dives = [(i, self._text_range(i * SPREAD_WIDTH, (i + 1) * SPREAD_WIDTH - 1)) for i in range(16)]
        return " UNION ALL ".join(f"SELECT {i}, (SELECT MIN({quote(self.dialect, self.key)}) "  # noqa: S608
                                  f"FROM {self.name} WHERE {where})" for i, where in dives)

    def _in_keys(self, keys: Iterable[int]) -> str:
        keys = list(keys)
        if not keys:
            raise ValueError("at least one key is required")
        return f"{self._key} IN ({', '.join(_int(k) for k in keys)})"

    def bounds_sql(self) -> str:
        """``(min key, max key)`` of the whole table; hashed placement: the whole hash space unless it is empty
        (a hash has no order that later rows respect, so there is no watermark to read)."""
        if self.key_columns and not self.leading_key:  # MIN over the one row a non-empty table gives, no count
            return (f"SELECT MIN(0), MIN({self._places - 1}) "  # noqa: S608
                    f"FROM (SELECT 1 AS present FROM {self.name} LIMIT 1) AS one")
        return f"SELECT MIN({self._key}), MAX({self._key}) FROM {self.name}"  # noqa: S608

    def null_keys_sql(self) -> str | None:
        """The number of rows whose placement column is NULL (a warehouse without the source's NOT NULL): no key
        range holds them. None when the column cannot be NULL, or rows are placed at a hash (NULL hashes as ``N``)."""
        if self.hashed or not self._key_nullable:
            return None
        return f"SELECT COUNT(*) FROM {self.name} WHERE {quote(self.dialect, self.key)} IS NULL"  # noqa: S608

    def count_sql(self, hi: int) -> str:
        """The number of rows whose key is at or below the cut ``hi``, in one statement (one snapshot): the rows
        with a key (a bare ``COUNT(*)`` when the key is NOT NULL: the cheapest full count the database has,
        no per-row filter) minus those above ``hi`` (a key range, empty unless rows arrived after the cut)."""
        with_key = f"COUNT({quote(self.dialect, self.key)})" if self._key_nullable else "COUNT(*)"
        if self.hashed or self.ranged_key:  # the cut is every place (a hash has no NULL: it hashes ``N``)
            return f"SELECT {'COUNT(*)' if self.hashed else with_key} FROM {self.name}"  # noqa: S608
        return (f"SELECT {with_key} - (SELECT COUNT(*) FROM {self.name} WHERE {self._key} > {_int(hi)}) "  # noqa: S608
                f"FROM {self.name}")

    def segments_sql(self, origin: int, width: int, ranges: Iterable[tuple[int, int]]) -> list[str]:
        """Statements returning ``(segment, count, fingerprint)`` of every non-empty segment
        ``(key - origin) // width`` of the inclusive key ``ranges`` (disjoint, sorted): one ``GROUP BY`` scan; or one
        index range read per segment, :data:`SEGMENTS_PER_STATEMENT` a statement, where that is the only way (MySQL
        ``ORDERED_MD5``: in the clustered key's order) or the rows' place is a range of the key's index (a text key
        on MySQL, or on PostgreSQL below the whole text place space, which one scan grouped by place reads faster)."""
        ranges = list(ranges)
        if self.fingerprint is Fingerprint.ROW_HASH_SUM:
            summary = self._sum(self._hash)
        elif self.dialect is Dialect.POSTGRES:
            order = quote(self.dialect, self.key) if self.ranged_key else self._key
            summary = f"MD5(STRING_AGG({self._text}, '{ROW_SEPARATOR}' ORDER BY {order}))"
        else:
            summary = f"MD5(GROUP_CONCAT({self._text} SEPARATOR '{ROW_SEPARATOR}'))"
        if self.dialect is Dialect.MYSQL and (self.ranged_key or self.fingerprint is Fingerprint.ORDERED_MD5) or (
                self.ranged_key and ranges != [(0, TEXT_PLACES - 1)]):
            return self._segment_reads_sql(origin, width, ranges, summary)
        top = max((hi for _, hi in ranges), default=origin)
        return [f"SELECT {self._bucket(origin, width, top)} AS segment, COUNT(*), {summary} "  # noqa: S608
                f"FROM {self.name} WHERE {self._in_ranges(ranges)} GROUP BY 1"]

    @property
    def _text(self) -> str:
        return row_text_sql(self.dialect, self.columns, self.scales)

    def _segment_reads_sql(self, origin: int, width: int, ranges: list[tuple[int, int]], summary: str) -> list[str]:
        for value in (origin, width, *(bound for pair in ranges for bound in pair)):
            _int(value)
        pieces: dict[int, list[tuple[int, int]]] = {}  # segment -> its parts of the ranges
        for lo, hi in ranges:
            for segment in range((lo - origin) // width, (hi - origin) // width + 1):
                start = origin + segment * width
                pieces.setdefault(segment, []).append((max(lo, start), min(hi, start + width - 1)))
        if not pieces:
            raise ValueError("at least one key range is required")
        reads = [f"SELECT {segment} AS segment, COUNT(*), {summary} "  # noqa: S608
                 f"FROM {self.name} WHERE {self._in_ranges(parts)} HAVING COUNT(*) > 0"
                 for segment, parts in pieces.items()]
        return [self._union(reads[i:i + SEGMENTS_PER_STATEMENT]) for i in range(0, len(reads), SEGMENTS_PER_STATEMENT)]

    def _union(self, selects: Sequence[str]) -> str:
        if self.concat_limit is not None and self.fingerprint is Fingerprint.ORDERED_MD5:
            return self.concat_limit.statement(selects)
        return " UNION ALL ".join(selects)

    def row_hashes_sql(self, ranges: Iterable[tuple[int, int]]) -> str:
        """``(place, identity, row hash[, field digests])`` of every row placed in the inclusive ``ranges``
        (integer key: the key, the key; several key columns, or none: the place (the key hash, or the leading key
        column), the canonical rendering of the key columns; hashed placement then :func:`field_digests_sql` unless
        every column is the key (no changed row to name) or there are more than :data:`MAX_DIGEST_COLUMNS` columns (a
        statement the Redshift Data API still takes), so that naming a changed row's columns needs no second full
        scan; placed at a key column, that is a read of the changed keys through its index instead). A text key:
        one index range read per range, each row's place given as its range's first (the engine passes each
        segment it compares as its own range)."""
        if self.ranged_key:
            return " UNION ALL ".join(
                f"SELECT {_int(lo)}, {self._identity}, {self._hash} "  # noqa: S608
                f"FROM {self.name} WHERE {self._text_range(lo, hi)}" for lo, hi in ranges)
        selected = [self._key, self._identity, self._hash]
        if self.hashed and len(self.key_columns) < len(self.columns) <= MAX_DIGEST_COLUMNS:
            selected.append(field_digests_sql(self.dialect, self.columns, self.scales))
        return f"SELECT {', '.join(selected)} FROM {self.name} WHERE {self._in_ranges(ranges)}"  # noqa: S608

    def fields_by_key_sql(self, places: Iterable[int], row_hashes: Iterable[int] = (),
                          identities: Iterable[str] = ()) -> str:
        """``(identity, field_1, ... field_n)`` of the rows placed at ``places`` (and with one of ``row_hashes``, if
        given): each column's canonical text, to name the columns that differ (several key columns: the caller
        keeps the identities it asked for). A text key is looked up by its value, from each of ``identities`` (its
        canonical rendering) as a literal of hex digits: no key text reaches the SQL."""
        fields = ", ".join(field_sql(self.dialect, c, s) for c, s in zip(self.columns, self.scales, strict=True))
        places = list(places)
        if self.ranged_key:
            where = f"{quote(self.dialect, self.key)} IN ({', '.join(map(self._text_literal, identities))})"
        else:
            where = self._in_ranges(_merged_points(places)) if self.hashed else self._in_keys(places)
        row_hashes = sorted(set(row_hashes))
        if row_hashes:
            where = f"({where}) AND {self._hash} IN ({', '.join(_int(h) for h in row_hashes)})"
        return f"SELECT {self._identity}, {fields} FROM {self.name} WHERE {where}"  # noqa: S608

    def _text_literal(self, identity: str) -> str:
        """The text key whose canonical rendering is ``identity`` (``<length>:<text>``) as a constant of hex digits
        that the key's index serves: MySQL, its UTF-8 bytes introduced as utf8mb4 (so it takes the key column's
        collation); PostgreSQL, a Unicode-escaped literal of its code points (a function of them would be compared
        row by row, not looked up)."""
        text = identity.partition(":")[2]
        if self.dialect is Dialect.MYSQL:
            return f"_utf8mb4 X'{text.encode().hex()}'"
        return "U&'" + "".join(f"\\+{ord(character):06x}" for character in text) + "'"


MAX_HASH_BLOCKS = 4096


def hash_blocks(ranges: Iterable[tuple[int, int]]) -> dict[int, set[int]]:
    """``{size: blocks}``, sizes powers of two, whose ``[block * size, (block + 1) * size - 1]`` cover exactly the
    inclusive hash ``ranges``. One size when the ranges' ends share an alignment that needs at most
    :data:`MAX_HASH_BLOCKS` blocks (the engine's ranges are runs of whole segments of one power-of-two width),
    else the fewest aligned blocks per range (at most two per bit)."""
    ranges = list(ranges)
    for lo, hi in ranges:
        _int(lo), _int(hi)
        if not 0 <= lo <= hi < 2**HASH_BITS:
            raise ValueError(f"hash range {lo}..{hi} is outside 0..2**{HASH_BITS} - 1")
    size = min((_low_bit(end) for lo, hi in ranges for end in (lo, hi + 1)), default=1)
    if sum((hi + 1 - lo) // size for lo, hi in ranges) <= MAX_HASH_BLOCKS:
        return {size: {block for lo, hi in ranges for block in range(lo // size, (hi + 1) // size)}}
    blocks: dict[int, set[int]] = {}
    for lo, hi in ranges:
        while lo <= hi:
            size = _low_bit(lo)
            while lo + size - 1 > hi:
                size //= 2
            blocks.setdefault(size, set()).add(lo // size)
            lo += size
    return blocks


def _low_bit(value: int) -> int:
    """The largest power of two dividing ``value`` (0: the whole hash space)."""
    return value & -value if value else 2**HASH_BITS


def _merged_points(places: Iterable[int]) -> list[tuple[int, int]]:
    """Single places as one-wide ranges, in order, duplicates dropped."""
    return [(place, place) for place in sorted(set(places))]


def place_bound(place: int) -> str:
    """The text at which text place ``place`` starts: ``place`` in :data:`PLACE_HEX_DIGITS` lowercase hex digits.
    A collation without contractions of hex digits orders these texts as their numbers (digits before letters,
    ``a`` to ``f``, character by character: :func:`hex_order_probe_sql` checks), so the places of a side partition
    its keys in its own order."""
    _int(place)
    if not 0 <= place < TEXT_PLACES:
        raise ValueError(f"text place {place} is outside 0..{TEXT_PLACES - 1}")
    return f"{place:0{PLACE_HEX_DIGITS}x}"


def text_place(key: str) -> int:
    """The place of text ``key`` in code point order: the largest ``p`` with ``place_bound(p) <= key``, 0 for a
    key below every bound. What :func:`text_place_sql` computes, and a bytewise index's ranges select."""
    head = key[:PLACE_HEX_DIGITS]
    hexes = len(head) - len(head.lstrip(_HEX))
    if hexes == PLACE_HEX_DIGITS:
        return int(head, 16)
    after = ord(key[hexes]) if hexes < len(key) else 0  # the first character that is no lowercase hex digit
    if after > ord("f"):  # above every bound that shares the hex digits before it
        return int(key[:hexes].ljust(PLACE_HEX_DIGITS, "f"), 16)
    if after > ord("9"):  # between ``9`` and ``a``
        return int((key[:hexes] + "9").ljust(PLACE_HEX_DIGITS, "f"), 16)
    return max(int(key[:hexes].ljust(PLACE_HEX_DIGITS, "0"), 16) - 1, 0)  # below them (or the key ends)


def text_place_sql(key: str) -> str:
    """PostgreSQL: :func:`text_place` of the text column ``key`` (quoted); cheap when the key starts with 8 hex
    digits (a UUID)."""
    head = f"LEFT({key}, {PLACE_HEX_DIGITS})"
    hexes = f"(CHAR_LENGTH({head}) - CHAR_LENGTH(LTRIM({head}, '{_HEX}')))"
    after = f"ASCII(SUBSTRING({key}, {hexes} + 1, 1))"  # 0 when the key ends there
    padded = (f"RPAD(LEFT({key}, {hexes}) || CASE WHEN {after} BETWEEN {ord('9') + 1} AND {ord('a') - 1} THEN '9' "
              f"ELSE '' END, {PLACE_HEX_DIGITS}, CASE WHEN {after} > {ord('9')} THEN 'f' ELSE '0' END)")
    below = f"CASE WHEN {after} < {ord('0')} THEN 1 ELSE 0 END"
    return (f"CASE WHEN {hexes} = {PLACE_HEX_DIGITS} THEN {_hex_number(head)} "
            f"ELSE GREATEST({_hex_number(padded)} - {below}, 0) END")


def _hex_number(digits: str) -> str:
    return f"CAST(CAST('x' || {digits} AS BIT({4 * PLACE_HEX_DIGITS})) AS BIGINT)"
