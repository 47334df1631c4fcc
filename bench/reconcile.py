"""Reconciliation benchmark (issues #5, #16): our engine against bare ``COUNT(*)``, a plain checksum scan and reladiff.

For each (key shape, size) the same table (a key, two ints, a varchar and an int with NULLs, a decimal, a
datetime) is generated inside a private MariaDB (the source) and PostgreSQL (the target: key indexed, no
primary key, like Redshift), both the estate's server classes with its settings, from a deterministic function
of a row number ``k``: no row travels through Python. The key shapes (:data:`SHAPES`): ``integer`` (a bigint
primary key: rows placed at the key), ``uuid`` (a CHAR(36) primary key), ``composite`` (a (bigint, int)
primary key) and ``none`` (no key, no unique index: compared as a multiset of rows). ``uuid`` is placed at text
places (ranges of the primary key and of the warehouse's index, whose C.UTF-8 collation is bytewise),
``composite`` at its leading column, ``none`` at a hash of every column. Then, in one run:

1. bare ``COUNT(*)`` on both sides in parallel, and our count mode (median of :data:`COUNT_REPEATS`
   alternating rounds);
2. our localisation (checksum mode) with no difference: every key it reports is a false one;
3. 100 differences planted at keys drawn by a seeded RNG: 25 missing in the target, 25 extra in the target
   (deleted from the source), 25 changed values (int, decimal, datetime in turn), 25 NULL-vs-value;
4. (median of :func:`heavy_repeats` rounds) one full-table checksum scan per side in parallel, of which the
   slower side is the baseline; our localisation, scored against the plan (``found``: planted keys reported
   with their kind; ``false``: reported keys, in every run, not planted as that kind); reladiff on the same
   tables (see :data:`RELADIFF_OPTIONS`), in a child process so its memory is not counted as ours, consuming
   its whole diff iterator. reladiff takes a key of one or several columns (``uuid``, ``composite``); it
   cannot compare a table without a key (``none``: no reladiff, ``diff_vs_reladiff=n/a``).

A table without a key has no changed row, only rows: a planted change is found when the source's row is
reported missing and the target's extra, both under its ``k`` (the ``id`` column, here not a key).

Prints, per shape and size, a detail line and::

    BENCH reconcile rows=N key=integer|uuid|composite|none count_s=… count_ratio=… diff_s=…
    diff_vs_reladiff=… diff_vs_scan=… found=k/100 false=… peak_rss_mb=…

Targets: every planted difference found, no false one; count_ratio <= 1.2; diff_vs_reladiff <= 0.33 where
reladiff runs; diff_vs_scan <= 1.5 for the integer key (a hashed key's every level is a full scan); the peak
RSS of this process stays flat from the smallest table to the largest.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import multiprocessing
import random
import resource
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cdc_runbooks.reconcile.compared_table import Side, describe_table
from cdc_runbooks.reconcile.engine import Settings, reconcile
from cdc_runbooks.reconcile.report import TableResult
from cdc_runbooks.reconcile.row_checksum import Dialect, TableRef, row_hash_sql
from rehearsal.mariadb import MariaDBServer
from rehearsal.net import LOOPBACK
from rehearsal.postgres import PostgresServer

SIZES = (1_000_000, 10_000_000)  # the integer key's sizes; every other shape at the largest
SCHEMA = "bench"  # the source database, and the target schema of the same name
KINDS = ("missing", "extra", "changed", "null")
PER_KIND = 25
SEED = 5
COUNT_REPEATS = 9
SLOW_GENERATION_S = 300  # reported when one side takes longer to generate a size (the run goes on)

MAX_COUNT_RATIO = 1.2
MAX_DIFF_VS_RELADIFF = 0.33
MAX_DIFF_VS_SCAN = 1.5
MAX_RSS_GROWTH_MB = 64  # more growth of the peak RSS from the smallest size to the largest is not "flat"

# reladiff 0.6.0 (hashdiff, as the databases differ) with the defaults of its command line, ``--threads 1``:
# one connection per database and two worker threads, so both databases are read at once, as ours does
# (the library's own default, one worker, reads them one after the other); bisection factor 32, threshold
# 16384. Results are left unsorted: 0.6.0's sorting crashes on a NULL-vs-value difference (None < str).
RELADIFF_THREADS = 1
RELADIFF_OPTIONS = {"max_threadpool_size": 2 * RELADIFF_THREADS, "skip_sort_results": True}

VALUE_COLUMNS = ("qty", "score", "label", "amount", "created_at")
_VALUE_DDL = {
    Dialect.MYSQL: "qty INT NOT NULL, score INT NULL, label VARCHAR(40) NULL, amount DECIMAL(12,2) NOT NULL, "
                   "created_at DATETIME(6) NOT NULL",
    Dialect.POSTGRES: "qty INTEGER NOT NULL, score INTEGER, label VARCHAR(40), amount NUMERIC(12,2) NOT NULL, "
                      "created_at TIMESTAMP(6) NOT NULL",
}
_ROWS = {
    Dialect.MYSQL: f"(SELECT CAST(seq AS SIGNED) AS k FROM {SCHEMA}.seq_1_to_{{rows}}) AS s",  # noqa: S608
    Dialect.POSTGRES: "generate_series(CAST(1 AS BIGINT), {rows}) AS k",
}
_LABEL = {
    Dialect.MYSQL: "CONCAT(ELT(k % 3 + 1, 'item-', 'grün-', 'a|b '), k % 9973, REPEAT('x', k % 17))",
    Dialect.POSTGRES: "(ARRAY['item-', 'grün-', 'a|b '])[k % 3 + 1] || (k % 9973) || REPEAT('x', CAST(k % 17 AS INT))",
}
_MOMENT = {
    Dialect.MYSQL: "TIMESTAMP '2020-01-01 00:00:00' + INTERVAL ((k * 104729) % 157766400) SECOND "
                   "+ INTERVAL (k % 1000000) MICROSECOND",
    Dialect.POSTGRES: "TIMESTAMP '2020-01-01 00:00:00' + ((k * 104729) % 157766400) * INTERVAL '1 second' "
                      "+ (k % 1000000) * INTERVAL '1 microsecond'",
}
_UUID_PARTS = ((1, 8), (9, 4), (13, 4), (17, 4))  # uuid: these MD5 hex digits of k, then k in 12 hex digits
TENANTS_FROM = 10**12  # composite key: (TENANTS_FROM + k // 1000, k % 1000)
# Planted in the PostgreSQL target, in turn: a changed value; a NULL turned into a value or a value into NULL.
_CHANGES = ("qty = qty + 1", "amount = amount + 0.01", "created_at = created_at + INTERVAL '1 microsecond'")
_NULL_FLIPS = ("label = CASE WHEN label IS NULL THEN 'planted' END", "score = CASE WHEN score IS NULL THEN 0 END")


def uuid_of(k: int) -> str:
    """The ``uuid`` shape's key of row ``k``, as both databases compute it: random order (from ``MD5(k)``), and
    ``k`` readable back from its last group."""
    digest = hashlib.md5(str(int(k)).encode()).hexdigest()  # a generated key, not security
    return "-".join([*(digest[start - 1:start - 1 + length] for start, length in _UUID_PARTS), f"{int(k):012x}"])


@dataclass(frozen=True)
class Shape:
    """A key shape: the key columns' DDL and values per dialect (functions of ``k``), the key's columns (none:
    ``id`` is an ordinary column), and how a reported key reads back as its ``k``."""

    name: str
    key_ddl: dict[Dialect, str]
    key_values: dict[Dialect, tuple[str, ...]]
    key_columns: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return (*(self.key_columns or ("id",)), *VALUE_COLUMNS)

    @property
    def multiset(self) -> bool:
        return not self.key_columns

    def ddl(self, dialect: Dialect, name: str) -> str:
        key = f", PRIMARY KEY ({', '.join(self.key_columns)})" if self.key_columns and dialect is Dialect.MYSQL else ""
        charset = " DEFAULT CHARSET=utf8mb4" if dialect is Dialect.MYSQL else ""
        return f"CREATE TABLE {name} ({self.key_ddl[dialect]}, {_VALUE_DDL[dialect]}{key}){charset}"

    def key_of(self, k: int) -> tuple:
        """The key columns' values of row ``k`` (none: its ``id``)."""
        if self.name == "uuid":
            return (uuid_of(k),)
        if self.name == "composite":
            return TENANTS_FROM + k // 1000, k % 1000
        return (int(k),)

    def k_of(self, key) -> int | object:
        """The row number a reported key names (a whole row without a key: its ``id``), or the key itself
        when no generated row has it (a false report)."""
        values = tuple(key) if isinstance(key, (tuple, list)) else (key,)
        if self.name == "uuid":
            text = str(values[0])
            with contextlib.suppress(ValueError):
                if uuid_of(int(text[-12:], 16)) == text:
                    return int(text[-12:], 16)
            return text
        if self.name == "composite":
            return (int(values[0]) - TENANTS_FROM) * 1000 + int(values[1])
        return int(values[0])

    def where_keys(self, ks: Iterable[int]) -> str:
        """A predicate selecting the rows ``ks`` by their key (or ``id``)."""
        names = self.key_columns or ("id",)
        literals = [", ".join(f"'{v}'" if isinstance(v, str) else str(int(v)) for v in self.key_of(k)) for k in ks]
        if len(names) == 1:
            return f"{names[0]} IN ({', '.join(literals)})"
        return f"({', '.join(names)}) IN ({', '.join(f'({values})' for values in literals)})"


def _uuid_sql(dialect: Dialect) -> str:
    digest, k = ("MD5(k)", "LOWER(HEX(k))") if dialect is Dialect.MYSQL else ("MD5(CAST(k AS TEXT))", "TO_HEX(k)")
    return f"CONCAT_WS('-', {', '.join(f'SUBSTRING({digest}, {a}, {n})' for a, n in _UUID_PARTS)}, LPAD({k}, 12, '0'))"


SHAPES = {
    "integer": Shape("integer", {Dialect.MYSQL: "id BIGINT", Dialect.POSTGRES: "id BIGINT NOT NULL"},
                     {d: ("k",) for d in Dialect}, ("id",)),
    "uuid": Shape("uuid", {Dialect.MYSQL: "id CHAR(36) NOT NULL", Dialect.POSTGRES: "id VARCHAR(36) NOT NULL"},
                  {d: (_uuid_sql(d),) for d in (Dialect.MYSQL, Dialect.POSTGRES)}, ("id",)),
    "composite": Shape("composite", {Dialect.MYSQL: "tenant BIGINT NOT NULL, seq INT NOT NULL",
                                     Dialect.POSTGRES: "tenant BIGINT NOT NULL, seq INTEGER NOT NULL"},
                       {Dialect.MYSQL: (f"{TENANTS_FROM} + k DIV 1000", "k % 1000"),
                        Dialect.POSTGRES: (f"{TENANTS_FROM} + k / 1000", "k % 1000")}, ("tenant", "seq")),
    "none": Shape("none", {Dialect.MYSQL: "id BIGINT NOT NULL", Dialect.POSTGRES: "id BIGINT NOT NULL"},
                  {d: ("k",) for d in Dialect}, ()),
}


def rows_sql(dialect: Dialect, rows: int, shape: Shape = SHAPES["integer"]) -> str:
    """``SELECT`` of the generated rows 1..``rows`` (``k`` from MariaDB's Sequence engine / ``generate_series``):
    every column a function of ``k``, the same value in both databases."""
    values = ("(k * 2654435761) % 1000003",
              "CASE WHEN k % 11 = 0 THEN NULL ELSE (k * 40503) % 65536 - 32768 END",
              f"CASE WHEN k % 7 = 0 THEN NULL ELSE {_LABEL[dialect]} END",
              "CAST((k * 7907) % 10000000 - 5000000 AS DECIMAL(12,2)) / 100",
              _MOMENT[dialect])
    return (f"SELECT {', '.join((*shape.key_values[dialect], *values))} "  # noqa: S608
            f"FROM {_ROWS[dialect].format(rows=int(rows))}")


def plan_differences(rows: int, per_kind: int = PER_KIND, seed: int = SEED) -> dict[int, str]:
    """{k: kind} of the differences to plant among rows 1..rows: ``per_kind`` of each of :data:`KINDS`."""
    keys = random.Random(seed).sample(range(1, rows + 1), per_kind * len(KINDS))
    return {key: KINDS[i // per_kind] for i, key in enumerate(keys)}


def expected(kind: str, multiset: bool) -> frozenset[str]:
    """What a tool should report for a planted ``kind``: itself, or for a table without a key, a change as
    the source's row missing and the target's extra."""
    return frozenset(("missing", "extra") if multiset and kind in ("changed", "null") else (kind,))


def score(planted: dict[int, str], reported: dict[object, frozenset[str]], multiset: bool = False) -> tuple[int, int]:
    """(planted differences reported with exactly their kinds, reported rows not planted as those kinds)."""
    found = sum(reported.get(k) == expected(kind, multiset) for k, kind in planted.items())
    false = sum(k not in planted or kinds != expected(planted[k], multiset) for k, kinds in reported.items())
    return found, false


def _by_row(pairs: Iterable[tuple[object, str]]) -> dict[object, frozenset[str]]:
    rows: dict[object, set[str]] = {}
    for k, kind in pairs:
        rows.setdefault(k, set()).add(kind)
    return {k: frozenset(kinds) for k, kinds in rows.items()}


def engine_kinds(result: TableResult, shape: Shape = SHAPES["integer"]) -> dict[object, frozenset[str]]:
    """{k: kinds} of what our engine reported (a changed row naming a NULL-vs-value column is ``null``); a key
    range it did not localise counts as one reported difference under a ``k`` no row has."""
    reported = [(key, "missing") for key in result.missing] + [(key, "extra") for key in result.extra]
    reported += [(row.key, "null" if row.null_columns else "changed") for row in result.changed]
    reported += [(key, "duplicate") for key in result.duplicate]
    return _by_row([(shape.k_of(key), kind) for key, kind in reported]
                   + [(-1 - i, "unexplored") for i in range(len(result.unexplored))])


def reladiff_kinds(diff: Iterable[tuple[str, tuple]], shape: Shape = SHAPES["integer"]) -> dict[object, frozenset[str]]:
    """{k: kinds} of reladiff's ``(sign, row)`` stream (key columns first): ``-`` only is missing in the target,
    ``+`` only is extra, both is changed (``null`` when a column is NULL on exactly one side)."""
    width = len(shape.key_columns)
    rows: dict[object, dict[str, tuple]] = {}
    for sign, row in diff:
        rows.setdefault(shape.k_of(tuple(row[:width])), {})[sign] = row
    kinds = []
    for k, signs in rows.items():
        if len(signs) == 1:
            kinds.append((k, "missing" if "-" in signs else "extra"))
        else:
            nulls = any((a is None) != (b is None) for a, b in zip(signs["-"], signs["+"], strict=True))
            kinds.append((k, "null" if nulls else "changed"))
    return _by_row(kinds)


def heavy_repeats(rows: int) -> int:
    """Rounds of the full-table measurements: the median of 3 while a round takes seconds, 1 above 1M rows."""
    return 3 if rows <= 1_000_000 else 1


def table_name(shape: Shape, rows: int) -> str:
    size = f"{rows // 1_000_000}m" if rows % 1_000_000 == 0 else str(rows)
    return f"{shape.name}_{size}"


def _timed(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Databases:
    """The two servers with one open connection each (the engine's sides) and a TCP login for reladiff."""

    def __init__(self, source: MariaDBServer, target: PostgresServer, password: str) -> None:
        self.source, self.target, self._password = source, target, password
        self._mysql = source.admin(charset="utf8mb4")
        self._pg = target.connect()
        self._pg.autocommit = True

    def close(self) -> None:
        self._mysql.close()
        self._pg.close()

    def run_source(self, sql: str, params: Sequence | None = None) -> list[tuple]:
        with self._mysql.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    def run_target(self, sql: str, params: Sequence | None = None) -> list[tuple]:
        with self._pg.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []

    def sides(self) -> tuple[Side, Side]:
        return Side(Dialect.MYSQL, SCHEMA, self.run_source), Side(Dialect.POSTGRES, SCHEMA, self.run_target)

    def urls(self) -> tuple[str, str]:
        return (f"mysql://bench:{self._password}@{LOOPBACK}:{self.source.port}/{SCHEMA}",
                f"postgresql://postgres@{LOOPBACK}:{self.target.port}/{self.target.database}")

    def both(self, source_sql: str, target_sql: str) -> tuple[float, float]:
        """Run one statement on each side at once; the seconds each took."""
        with ThreadPoolExecutor(2) as pool:
            source = pool.submit(_timed, lambda: self.run_source(source_sql))
            target = pool.submit(_timed, lambda: self.run_target(target_sql))
            return source.result()[0], target.result()[0]


@contextlib.contextmanager
def databases() -> Iterator[Databases]:
    """A private MariaDB and PostgreSQL in a temp directory, stopped and removed on exit."""
    base = Path(tempfile.mkdtemp(prefix="cdc-bench-reconcile-"))
    source, target = MariaDBServer("source", base, server_id=1), PostgresServer(base)
    opened = None
    try:
        if source.install().wait(timeout=120) != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{(source.dir / 'install.log').read_text()[-2000:]}")
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda server: server.start(), (source, target)))
        password = secrets.token_urlsafe(12)
        source.execute(f"CREATE DATABASE {SCHEMA} DEFAULT CHARSET utf8mb4",
                       f"CREATE USER 'bench'@'{LOOPBACK}' IDENTIFIED BY '{password}'",
                       f"GRANT SELECT ON {SCHEMA}.* TO 'bench'@'{LOOPBACK}'")
        target.query(f"CREATE SCHEMA {SCHEMA}")
        opened = Databases(source, target, password)
        yield opened
    finally:
        if opened is not None:
            opened.close()
        source.stop()
        target.stop()
        shutil.rmtree(base, ignore_errors=True)


def _names(table: str) -> tuple[str, str]:
    return f"`{SCHEMA}`.`{table}`", f'"{SCHEMA}"."{table}"'


def generate(db: Databases, shape: Shape, table: str, rows: int) -> tuple[float, float]:
    """Create ``table`` of ``shape`` with the same ``rows`` rows on both sides (at once); the seconds each side
    took. The source is filled in key order (a random UUID order would split InnoDB pages for minutes); the load
    is not CDC traffic: it stays out of the source's binlog."""
    source, target = _names(table)
    in_key_order = f" ORDER BY {', '.join(map(str, range(1, len(shape.key_columns) + 1)))}" if shape.key_columns else ""
    source_steps = ("SET SESSION sql_log_bin = 0", f"DROP TABLE IF EXISTS {source}", shape.ddl(Dialect.MYSQL, source),
                    f"INSERT INTO {source} {rows_sql(Dialect.MYSQL, rows, shape)}{in_key_order}",
                    f"ANALYZE TABLE {source}", "SET SESSION sql_log_bin = 1")
    index = [f'CREATE INDEX "{table}_key" ON {target} ({", ".join(shape.key_columns)})'] if shape.key_columns else []
    target_steps = (f"DROP TABLE IF EXISTS {target}", shape.ddl(Dialect.POSTGRES, target),
                    f"INSERT INTO {target} {rows_sql(Dialect.POSTGRES, rows, shape)}", *index,
                    f"VACUUM ANALYZE {target}")
    with ThreadPoolExecutor(2) as pool:
        done = [pool.submit(_timed, functools.partial(_run_all, run, steps))
                for run, steps in ((db.run_source, source_steps), (db.run_target, target_steps))]
        return done[0].result()[0], done[1].result()[0]


def _run_all(run: Callable[[str], object], statements: Iterable[str]) -> None:
    for statement in statements:
        run(statement)


def plant(db: Databases, shape: Shape, table: str, planned: dict[int, str]) -> None:
    """Make the planned differences: missing, changed and null in the target, extra by deleting from the source."""
    by_kind = {kind: sorted(k for k, planted in planned.items() if planted == kind) for kind in KINDS}
    source, target = _names(table)
    _run_all(db.run_source, ("SET SESSION sql_log_bin = 0",
                             f"DELETE FROM {source} WHERE {shape.where_keys(by_kind['extra'])}",  # noqa: S608
                             "SET SESSION sql_log_bin = 1"))
    db.run_target(f"DELETE FROM {target} WHERE {shape.where_keys(by_kind['missing'])}")  # noqa: S608
    for kind, changes in (("changed", _CHANGES), ("null", _NULL_FLIPS)):
        for i, change in enumerate(changes):
            db.run_target(f"UPDATE {target} SET {change} "  # noqa: S608
                          f"WHERE {shape.where_keys(by_kind[kind][i::len(changes)])}")
    db.run_target(f"VACUUM ANALYZE {target}")


def bare_count(db: Databases, table: str) -> float:
    """Wall seconds of ``COUNT(*)`` on both sides in parallel."""
    source, target = _names(table)
    return _timed(lambda: db.both(f"SELECT COUNT(*) FROM {source}", f"SELECT COUNT(*) FROM {target}"))[0]  # noqa: S608


def checksum_scan(db: Databases, table: str) -> float:
    """One full-table ``COUNT(*), SUM(row hash)`` per side in parallel: the slower side's seconds."""
    pair = describe_table(*db.sides(), table)

    def scan(ref: TableRef) -> str:
        return f"SELECT COUNT(*), SUM({row_hash_sql(ref.dialect, ref.columns, ref.scales)}) FROM {ref.name}"  # noqa: S608

    return max(db.both(scan(pair.source.ref), scan(pair.target.ref)))


def ours(db: Databases, table: str, mode: str) -> tuple[float, TableResult]:
    """Wall seconds of one :func:`reconcile` call (validation included) on a static table, and its result."""
    seconds, report = _timed(lambda: reconcile(*db.sides(), [table], Settings(mode=mode, settle_s=0, poll_s=0)))
    return seconds, report.tables[0]


def run_reladiff(urls: tuple[str, str], shape: Shape, table: str) -> tuple[float, dict, float]:
    """In a child process: (seconds to consume reladiff's whole diff, {k: kinds}, the child's peak RSS MB)."""
    import reladiff

    logging.getLogger("hashdiff_tables").setLevel(logging.ERROR)  # "no compatibility handling" for text columns
    source, target = (reladiff.connect_to_table(url, path, shape.key_columns, thread_count=RELADIFF_THREADS)
                      for url, path in zip(urls, (table, f"{SCHEMA}.{table}"), strict=True))
    try:
        started = time.perf_counter()
        with reladiff.diff_tables(source, target, extra_columns=VALUE_COLUMNS, **RELADIFF_OPTIONS) as diff:
            kinds = reladiff_kinds(diff, shape)
        return time.perf_counter() - started, kinds, _peak_rss_mb()
    finally:
        for segment in (source, target):
            segment.database.close()


@dataclass(frozen=True)
class SizeResult:
    shape: Shape
    rows: int
    generate_s: tuple[float, float]
    bare_count_s: float
    count_s: float
    clean_diff_s: float
    scan_s: float
    diff_s: float
    reladiff_s: float | None  # None: reladiff cannot compare this shape
    found: int
    false: int
    reladiff_found: int | None
    reladiff_false: int | None
    peak_rss_mb: float
    reladiff_rss_mb: float | None

    @property
    def count_ratio(self) -> float:
        return self.count_s / self.bare_count_s

    @property
    def diff_vs_reladiff(self) -> float | None:
        return None if self.reladiff_s is None else self.diff_s / self.reladiff_s

    @property
    def diff_vs_scan(self) -> float:
        return self.diff_s / self.scan_s

    def met(self) -> bool:
        return (self.found == PER_KIND * len(KINDS) and self.false == 0 and self.count_ratio <= MAX_COUNT_RATIO
                and (self.diff_vs_reladiff is None or self.diff_vs_reladiff <= MAX_DIFF_VS_RELADIFF)
                and (self.shape.name != "integer" or self.diff_vs_scan <= MAX_DIFF_VS_SCAN))

    def line(self) -> str:
        versus = "n/a" if self.diff_vs_reladiff is None else f"{self.diff_vs_reladiff:.2f}"
        return (f"BENCH reconcile rows={self.rows} key={self.shape.name} count_s={self.count_s:.2f} "
                f"count_ratio={self.count_ratio:.2f} diff_s={self.diff_s:.2f} diff_vs_reladiff={versus} "
                f"diff_vs_scan={self.diff_vs_scan:.2f} found={self.found}/{PER_KIND * len(KINDS)} "
                f"false={self.false} peak_rss_mb={self.peak_rss_mb:.0f}")

    def detail(self) -> str:
        peer = ("reladiff cannot compare a table without a key" if self.reladiff_s is None else
                f"reladiff {self.reladiff_s:.2f}s (found {self.reladiff_found}/{PER_KIND * len(KINDS)}, false "
                f"{self.reladiff_false}, its process's peak RSS {self.reladiff_rss_mb:.0f} MB)")
        return (f"reconcile rows={self.rows} key={self.shape.name}: generated in {self.generate_s[0]:.1f}s (MariaDB)"
                f" / {self.generate_s[1]:.1f}s (PostgreSQL); bare COUNT(*) {self.bare_count_s:.2f}s; checksum scan "
                f"(slower side) {self.scan_s:.2f}s; ours with no difference {self.clean_diff_s:.2f}s; {peer}")


def _counts(db: Databases, table: str) -> tuple[float, float, int]:
    """(bare ``COUNT(*)`` seconds, our count mode's seconds, differences it reported), medians, no difference.
    Both are run once untimed, then in alternating rounds, so a slow moment of the machine (a count takes
    ~0.1 s at 1M rows) lands on both."""
    bare_count(db, table)
    ours(db, table, "count")
    rounds = [(bare_count(db, table), ours(db, table, "count")) for _ in range(COUNT_REPEATS)]
    false = sum(len(engine_kinds(result)) + (result.source != result.target) for _, (_, result) in rounds)
    return (statistics.median(bare for bare, _ in rounds),
            statistics.median(seconds for _, (seconds, _) in rounds), false)


def _localisations(db: Databases, shape: Shape, table: str, rows: int, planned: dict[int, str],
                   peer: ProcessPoolExecutor) -> dict:
    """Rounds of: checksum scan, our localisation, reladiff (where it runs); medians and scores (see
    :class:`SizeResult`)."""
    scans, diffs, peers = [], [], []
    for _ in range(heavy_repeats(rows)):
        scans.append(checksum_scan(db, table))
        diffs.append(ours(db, table, "checksum"))
        if shape.key_columns:
            peers.append(peer.submit(run_reladiff, db.urls(), shape, table).result())
    scored = [score(planned, engine_kinds(result, shape), shape.multiset) for _, result in diffs]
    peer_scored = [score(planned, kinds, shape.multiset) for _, kinds, _ in peers]
    return {"scan_s": statistics.median(scans), "diff_s": statistics.median(seconds for seconds, _ in diffs),
            "found": min(found for found, _ in scored), "false": sum(false for _, false in scored),
            "reladiff_s": statistics.median(seconds for seconds, _, _ in peers) if peers else None,
            "reladiff_found": min(found for found, _ in peer_scored) if peers else None,
            "reladiff_false": sum(false for _, false in peer_scored) if peers else None,
            "reladiff_rss_mb": max(rss for _, _, rss in peers) if peers else None}


def measure(db: Databases, shape: Shape, rows: int, peer: ProcessPoolExecutor) -> SizeResult:
    """Generate, time and score one table (the order is the module docstring's); drops it after."""
    table = table_name(shape, rows)
    generate_s = generate(db, shape, table, rows)
    if max(generate_s) > SLOW_GENERATION_S:
        print(f"reconcile {table}: generation took {max(generate_s):.0f}s on one side", file=sys.stderr)
    bare_s, count_s, false = _counts(db, table)
    clean_s, clean = ours(db, table, "checksum")
    planned = plan_differences(rows)
    plant(db, shape, table, planned)
    localised = _localisations(db, shape, table, rows, planned, peer)
    source, target = _names(table)
    db.run_source(f"DROP TABLE {source}")
    db.run_target(f"DROP TABLE {target}")
    return SizeResult(shape=shape, rows=rows, generate_s=generate_s, bare_count_s=bare_s, count_s=count_s,
                      clean_diff_s=clean_s, peak_rss_mb=_peak_rss_mb(),
                      **localised | {"false": false + len(engine_kinds(clean, shape)) + localised["false"]})


def plan(args: Sequence[str]) -> list[tuple[Shape, int]]:
    """The tables to measure: every shape at the largest size and the integer key at each size, or those named
    (``python -m bench.reconcile uuid none 1000000``: each named shape at each named size)."""
    unknown = [arg for arg in args if arg not in SHAPES and not arg.isdigit()]
    if unknown:
        raise SystemExit(f"unknown shape(s) {unknown}; choose from {list(SHAPES)} and sizes")
    shapes = [SHAPES[arg] for arg in args if arg in SHAPES]
    sizes = [int(arg) for arg in args if arg.isdigit()]
    if not args:
        return [(SHAPES["integer"], rows) for rows in SIZES] + [(shape, SIZES[-1]) for shape in SHAPES.values()
                                                                if shape.name != "integer"]
    return [(shape, rows) for shape in shapes or [SHAPES["integer"]] for rows in sizes or SIZES]


def main(args: Sequence[str] = ()) -> int:
    results = []
    with databases() as db, ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as peer:
        for shape, rows in plan(args):
            result = measure(db, shape, rows, peer)
            print(result.detail())
            print(result.line(), flush=True)
            results.append(result)
    smallest, largest = min(results, key=lambda r: r.rows), max(results, key=lambda r: r.peak_rss_mb)
    flat = largest.peak_rss_mb - smallest.peak_rss_mb <= MAX_RSS_GROWTH_MB
    print(f"reconcile peak RSS {smallest.peak_rss_mb:.0f} MB at {smallest.rows} rows, at most "
          f"{largest.peak_rss_mb:.0f} MB ({largest.rows} rows, key={largest.shape.name}): "
          f"{'flat' if flat else 'NOT flat'} (limit +{MAX_RSS_GROWTH_MB} MB)")
    return 0 if flat and all(result.met() for result in results) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
