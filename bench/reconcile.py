"""Reconciliation benchmark (issue #5): our engine against bare ``COUNT(*)``, a plain checksum scan and reladiff.

For each size the same table (bigint key, two ints, a varchar and an int with NULLs, a decimal, a datetime)
is generated inside a private MariaDB (the source) and PostgreSQL (the target: key indexed, no primary key,
like Redshift), both the estate's server classes with its settings, from a deterministic function of the key:
no row travels through Python. Then, in one run:

1. bare ``COUNT(*)`` on both sides in parallel, and our count mode (median of :data:`COUNT_REPEATS`
   alternating rounds);
2. our localisation (checksum mode) with no difference: every key it reports is a false one;
3. 100 differences planted at keys drawn by a seeded RNG: 25 missing in the target, 25 extra in the target
   (deleted from the source), 25 changed values (int, decimal, datetime in turn), 25 NULL-vs-value;
4. (median of :func:`heavy_repeats` rounds) one full-table checksum scan per side in parallel, of which the
   slower side is the baseline; our localisation, scored against the plan (``found``: planted keys reported
   with their kind; ``false``: reported keys, in every run, not planted as that kind); reladiff on the same
   tables (see :data:`RELADIFF_OPTIONS`), in a child process so its memory is not counted as ours, consuming
   its whole diff iterator.

Prints, per size, a detail line and::

    BENCH reconcile rows=N count_s=… count_ratio=… diff_s=… diff_vs_reladiff=… diff_vs_scan=… found=k/100
    false=… peak_rss_mb=…

Targets: every planted difference found, no false one; count_ratio <= 1.2; diff_vs_reladiff <= 0.33;
diff_vs_scan <= 1.5; the peak RSS of this process stays flat from the smallest size to the largest.
"""

from __future__ import annotations

import contextlib
import functools
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

SIZES = (1_000_000, 10_000_000)
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

COLUMNS = ("id", "qty", "score", "label", "amount", "created_at")
_DDL = {
    Dialect.MYSQL: "CREATE TABLE {name} (id BIGINT PRIMARY KEY, qty INT NOT NULL, score INT NULL, "
                   "label VARCHAR(40) NULL, amount DECIMAL(12,2) NOT NULL, created_at DATETIME(6) NOT NULL) "
                   "DEFAULT CHARSET=utf8mb4",
    Dialect.POSTGRES: "CREATE TABLE {name} (id BIGINT NOT NULL, qty INTEGER NOT NULL, score INTEGER, "
                      "label VARCHAR(40), amount NUMERIC(12,2) NOT NULL, created_at TIMESTAMP(6) NOT NULL)",
}
_KEYS = {
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
# Planted in the PostgreSQL target, in turn: a changed value; a NULL turned into a value or a value into NULL.
_CHANGES = ("qty = qty + 1", "amount = amount + 0.01", "created_at = created_at + INTERVAL '1 microsecond'")
_NULL_FLIPS = ("label = CASE WHEN label IS NULL THEN 'planted' END", "score = CASE WHEN score IS NULL THEN 0 END")


def rows_sql(dialect: Dialect, rows: int) -> str:
    """``SELECT`` of the generated rows 1..``rows`` (keys from MariaDB's Sequence engine / ``generate_series``):
    every column a function of the key ``k``, the same value in both databases."""
    values = ("(k * 2654435761) % 1000003",
              "CASE WHEN k % 11 = 0 THEN NULL ELSE (k * 40503) % 65536 - 32768 END",
              f"CASE WHEN k % 7 = 0 THEN NULL ELSE {_LABEL[dialect]} END",
              "CAST((k * 7907) % 10000000 - 5000000 AS DECIMAL(12,2)) / 100",
              _MOMENT[dialect])
    return f"SELECT k, {', '.join(values)} FROM {_KEYS[dialect].format(rows=int(rows))}"  # noqa: S608


def plan_differences(rows: int, per_kind: int = PER_KIND, seed: int = SEED) -> dict[int, str]:
    """{key: kind} of the differences to plant among keys 1..rows: ``per_kind`` of each of :data:`KINDS`."""
    keys = random.Random(seed).sample(range(1, rows + 1), per_kind * len(KINDS))
    return {key: KINDS[i // per_kind] for i, key in enumerate(keys)}


def score(planted: dict[int, str], reported: dict[int, str]) -> tuple[int, int]:
    """(planted differences reported with their kind, reported differences not planted as that kind)."""
    found = sum(reported.get(key) == kind for key, kind in planted.items())
    false = sum(planted.get(key) != kind for key, kind in reported.items())
    return found, false


def engine_kinds(result: TableResult) -> dict[int, str]:
    """{key: kind} of what our engine reported (a changed row naming a NULL-vs-value column is ``null``);
    a key range it did not localise counts as one reported difference under a key no row has."""
    kinds = {key: "missing" for key in result.missing} | {key: "extra" for key in result.extra}
    kinds |= {row.key: "null" if row.null_columns else "changed" for row in result.changed}
    kinds |= {key: "duplicate" for key in result.duplicate}
    return kinds | {-1 - i: "unexplored" for i in range(len(result.unexplored))}


def reladiff_kinds(diff: Iterable[tuple[str, tuple]]) -> dict[int, str]:
    """{key: kind} of reladiff's ``(sign, row)`` stream (key first): ``-`` only is missing in the target,
    ``+`` only is extra, both is changed (``null`` when a column is NULL on exactly one side)."""
    rows: dict[int, dict[str, tuple]] = {}
    for sign, row in diff:
        rows.setdefault(int(row[0]), {})[sign] = row
    kinds = {}
    for key, signs in rows.items():
        if len(signs) == 1:
            kinds[key] = "missing" if "-" in signs else "extra"
        else:
            nulls = any((a is None) != (b is None) for a, b in zip(signs["-"], signs["+"], strict=True))
            kinds[key] = "null" if nulls else "changed"
    return kinds


def heavy_repeats(rows: int) -> int:
    """Rounds of the full-table measurements: the median of 3 while a round takes seconds, 1 above 1M rows."""
    return 3 if rows <= 1_000_000 else 1


def table_name(rows: int) -> str:
    return f"rows_{rows // 1_000_000}m" if rows % 1_000_000 == 0 else f"rows_{rows}"


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


def generate(db: Databases, table: str, rows: int) -> tuple[float, float]:
    """Create ``table`` with the same ``rows`` rows on both sides (at once); the seconds each side took.
    The load is not CDC traffic: it stays out of the source's binlog."""
    source, target = _names(table)
    source_steps = ("SET SESSION sql_log_bin = 0", f"DROP TABLE IF EXISTS {source}",
                    _DDL[Dialect.MYSQL].format(name=source), f"INSERT INTO {source} {rows_sql(Dialect.MYSQL, rows)}",
                    f"ANALYZE TABLE {source}", "SET SESSION sql_log_bin = 1")
    target_steps = (f"DROP TABLE IF EXISTS {target}", _DDL[Dialect.POSTGRES].format(name=target),
                    f"INSERT INTO {target} {rows_sql(Dialect.POSTGRES, rows)}",
                    f'CREATE INDEX "{table}_id" ON {target} (id)', f"VACUUM ANALYZE {target}")
    with ThreadPoolExecutor(2) as pool:
        done = [pool.submit(_timed, functools.partial(_run_all, run, steps))
                for run, steps in ((db.run_source, source_steps), (db.run_target, target_steps))]
        return done[0].result()[0], done[1].result()[0]


def _run_all(run: Callable[[str], object], statements: Iterable[str]) -> None:
    for statement in statements:
        run(statement)


def plant(db: Databases, table: str, planned: dict[int, str]) -> None:
    """Make the planned differences: missing, changed and null in the target, extra by deleting from the source."""
    by_kind = {kind: sorted(key for key, planted in planned.items() if planted == kind) for kind in KINDS}
    source, target = _names(table)

    def keys(kind: str) -> str:
        return ", ".join(str(int(key)) for key in by_kind[kind])

    _run_all(db.run_source, ("SET SESSION sql_log_bin = 0", f"DELETE FROM {source} WHERE id IN ({keys('extra')})",  # noqa: S608
                             "SET SESSION sql_log_bin = 1"))
    db.run_target(f"DELETE FROM {target} WHERE id IN ({keys('missing')})")  # noqa: S608
    for kind, changes in (("changed", _CHANGES), ("null", _NULL_FLIPS)):
        for i, key in enumerate(by_kind[kind]):
            db.run_target(f"UPDATE {target} SET {changes[i % len(changes)]} WHERE id = {int(key)}")  # noqa: S608
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


def run_reladiff(urls: tuple[str, str], table: str) -> tuple[float, dict[int, str], float]:
    """In a child process: (seconds to consume reladiff's whole diff, {key: kind}, the child's peak RSS MB)."""
    import reladiff

    logging.getLogger("hashdiff_tables").setLevel(logging.ERROR)  # "no compatibility handling" for text columns
    source, target = (reladiff.connect_to_table(url, path, "id", thread_count=RELADIFF_THREADS)
                      for url, path in zip(urls, (table, f"{SCHEMA}.{table}"), strict=True))
    try:
        started = time.perf_counter()
        with reladiff.diff_tables(source, target, extra_columns=COLUMNS[1:], **RELADIFF_OPTIONS) as diff:
            kinds = reladiff_kinds(diff)
        return time.perf_counter() - started, kinds, _peak_rss_mb()
    finally:
        for segment in (source, target):
            segment.database.close()


@dataclass(frozen=True)
class SizeResult:
    rows: int
    generate_s: tuple[float, float]
    bare_count_s: float
    count_s: float
    clean_diff_s: float
    scan_s: float
    diff_s: float
    reladiff_s: float
    found: int
    false: int
    reladiff_found: int
    reladiff_false: int
    peak_rss_mb: float
    reladiff_rss_mb: float

    @property
    def count_ratio(self) -> float:
        return self.count_s / self.bare_count_s

    @property
    def diff_vs_reladiff(self) -> float:
        return self.diff_s / self.reladiff_s

    @property
    def diff_vs_scan(self) -> float:
        return self.diff_s / self.scan_s

    def met(self) -> bool:
        return (self.found == PER_KIND * len(KINDS) and self.false == 0 and self.count_ratio <= MAX_COUNT_RATIO
                and self.diff_vs_reladiff <= MAX_DIFF_VS_RELADIFF and self.diff_vs_scan <= MAX_DIFF_VS_SCAN)

    def line(self) -> str:
        return (f"BENCH reconcile rows={self.rows} count_s={self.count_s:.2f} count_ratio={self.count_ratio:.2f} "
                f"diff_s={self.diff_s:.2f} diff_vs_reladiff={self.diff_vs_reladiff:.2f} "
                f"diff_vs_scan={self.diff_vs_scan:.2f} found={self.found}/{PER_KIND * len(KINDS)} "
                f"false={self.false} peak_rss_mb={self.peak_rss_mb:.0f}")

    def detail(self) -> str:
        return (f"reconcile rows={self.rows}: generated in {self.generate_s[0]:.1f}s (MariaDB) / "
                f"{self.generate_s[1]:.1f}s (PostgreSQL); bare COUNT(*) {self.bare_count_s:.2f}s; checksum scan "
                f"(slower side) {self.scan_s:.2f}s; ours with no difference {self.clean_diff_s:.2f}s; reladiff "
                f"{self.reladiff_s:.2f}s (found {self.reladiff_found}/{PER_KIND * len(KINDS)}, false "
                f"{self.reladiff_false}, its process's peak RSS {self.reladiff_rss_mb:.0f} MB)")


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


def _localisations(db: Databases, table: str, rows: int, planned: dict[int, str], peer: ProcessPoolExecutor) -> dict:
    """Rounds of: checksum scan, our localisation, reladiff; medians and scores (see :class:`SizeResult`)."""
    scans, diffs, peers = [], [], []
    for _ in range(heavy_repeats(rows)):
        scans.append(checksum_scan(db, table))
        diffs.append(ours(db, table, "checksum"))
        peers.append(peer.submit(run_reladiff, db.urls(), table).result())
    scored = [score(planned, engine_kinds(result)) for _, result in diffs]
    peer_scored = [score(planned, kinds) for _, kinds, _ in peers]
    return {"scan_s": statistics.median(scans), "diff_s": statistics.median(seconds for seconds, _ in diffs),
            "reladiff_s": statistics.median(seconds for seconds, _, _ in peers),
            "found": min(found for found, _ in scored), "false": sum(false for _, false in scored),
            "reladiff_found": min(found for found, _ in peer_scored),
            "reladiff_false": sum(false for _, false in peer_scored),
            "reladiff_rss_mb": max(rss for _, _, rss in peers)}


def measure(db: Databases, rows: int, peer: ProcessPoolExecutor) -> SizeResult:
    """Generate, time and score one size (the order is the module docstring's); drops the table after."""
    table = table_name(rows)
    generate_s = generate(db, table, rows)
    if max(generate_s) > SLOW_GENERATION_S:
        print(f"reconcile rows={rows}: generation took {max(generate_s):.0f}s on one side", file=sys.stderr)
    bare_s, count_s, false = _counts(db, table)
    clean_s, clean = ours(db, table, "checksum")
    planned = plan_differences(rows)
    plant(db, table, planned)
    localised = _localisations(db, table, rows, planned, peer)
    source, target = _names(table)
    db.run_source(f"DROP TABLE {source}")
    db.run_target(f"DROP TABLE {target}")
    return SizeResult(rows=rows, generate_s=generate_s, bare_count_s=bare_s, count_s=count_s, clean_diff_s=clean_s,
                      peak_rss_mb=_peak_rss_mb(),
                      **localised | {"false": false + len(engine_kinds(clean)) + localised["false"]})


def main(sizes: Sequence[int] = SIZES) -> int:
    results = []
    with databases() as db, ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as peer:
        for rows in sizes:
            result = measure(db, rows, peer)
            print(result.detail())
            print(result.line(), flush=True)
            results.append(result)
    growth = results[-1].peak_rss_mb - results[0].peak_rss_mb
    flat = growth <= MAX_RSS_GROWTH_MB
    print(f"reconcile peak RSS {results[0].peak_rss_mb:.0f} MB at {results[0].rows} rows, "
          f"{results[-1].peak_rss_mb:.0f} MB at {results[-1].rows} rows: {'flat' if flat else 'NOT flat'} "
          f"(limit +{MAX_RSS_GROWTH_MB} MB)")
    return 0 if flat and all(result.met() for result in results) else 1


if __name__ == "__main__":
    raise SystemExit(main([int(arg) for arg in sys.argv[1:]] or SIZES))
