"""The fault matrix of the switchover runbooks (issue #8): a pytest plugin that collects one row per fault test
and prints the table at the end of the run (test helper, registered by ``tests/conftest.py``).

A test declares its row and, once the documented recovery is done, what it saw::

    row = fault_row("approval timed out", expected="run fails at approve_switchover; nothing changed; drift 0")
    ...
    assert row.recovered(estate, "approve_switchover failed after 5 s; DMS running, no switchover call") == 0

A row whose test fails is marked FAILED, whatever it observed. The table (fault, expected outcome, observed, drift,
test) is printed in the terminal summary; with ``FAULT_MATRIX_OUT=<path>`` set it is also written there as markdown
(a relative path is taken from the repository root), so a plain ``make test`` writes no file.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

# The rows of issue #8, in its order; a test names one of them (a typo fails the test, not the table).
FAULTS = (
    "switchover failed (rolled back)",
    "switchover timed out",
    "coordinates event never published",
    "DMS start fails",
    "DMS stuck in starting",
    "DMS task fails after restart (FATAL_ERROR)",
    "worker killed mid-step, task cleared and re-run",
    "binlog file purged before restart (retention too short)",
    "green parameter group without ROW",
    "approval rejected",
    "approval timed out",
    "AWS throttling bursts on describe calls",
    "warehouse unavailable during reconcile",
    "two runs of the same runbook for the same pipeline at once",
    # issue 12
    "old blue's checkpoint restarted on green (overlapping file names)",
    "CDC restarted from an earlier position of the writer's own",
    "resume DAG paused when the switchover publishes",
    "coordinates event dated in the future",
    "coordinates event disagreeing with green's binlog",
    # aurora_snapshot_to_athena (issue 13)
    "snapshot wait failed once, step retried; export lost rows",
    "redo of a validated day (export_attempt + 1) lost rows",
    "export status polls throttled past the SDK's retries",
    # the warehouse through the Redshift Data API (issue 16)
    "Data API statement failed",
    "Data API statement aborted, or overdue and cancelled",
    "Data API statement polls throttled past the SDK's retries",
    # event-driven recovery (issue 17)
    "Aurora failover under traffic, DMS reconnects",
    "writer down longer than DMS's retries (task failed)",
    "binlog tail truncated after CDC read it",
    "event delivered twice (SQS/EventBridge at least once)",
    "triggerer killed while the event waits",
    "DMS task failed on its own (fatal error, no failover)",
    "restart of a failed task rejected, then its event again",
    "blue/green switchover started in the console while DMS reads blue",
    "console switchover completed before DMS was stopped (the event came late)",
    "DMS paused on purpose, then a switchover started in the console",
    # drift repair (issue 18)
    "Drift found by a reconcile (missing, extra, duplicate, changed, NULL-vs-value rows)",
    "A key changes on the source while cdc_repair re-copies it",
    "Online schema change rebuild (RENAME swap DMS does not capture) under traffic",
    "Table reload fails (a type the warehouse table cannot be created for)",
    "The warehouse rejects a row cdc_repair writes",
)
COLUMNS = ("fault", "expected outcome", "observed", "drift", "test")
_ROWS = pytest.StashKey[dict]()  # the rows of the tests run in this process
_PROPERTY = "fault_row"
_table_rows: dict[str, FaultRow] = {}  # the rows reported to this process (its own, or its workers')


@dataclass
class FaultRow:
    fault: str
    expected: str
    test: str
    observed: str = "(the test ended before observing)"
    drift: int | None = None
    failed: bool = False

    def observe(self, observed: str, drift: int) -> None:
        """What the run states and messages showed, and the drift after the documented recovery."""
        self.observed, self.drift = observed, drift

    def recovered(self, estate, observed: str) -> int:
        """Observe ``observed`` with the drift of ``estate`` measured now, after the recovery; return the drift."""
        self.observe(observed, measured_drift(estate))
        return self.drift

    def settled(self, estate, observed: str) -> int:
        """:meth:`recovered` once CDC has applied a transaction written after the recovery: the estate's CDC is
        caught up at a transaction's end, not at the header of the new writer's binlog file."""
        with estate.source.connect_app() as conn, conn.cursor() as cur:
            cur.execute("INSERT INTO customers (name) VALUES ('after the recovery')")
        return self.recovered(estate, observed)

    def cells(self) -> tuple[str, ...]:
        observed = f"FAILED: {self.observed}" if self.failed else self.observed
        return (self.fault, self.expected, observed, "?" if self.drift is None else str(self.drift),
                f"{'FAILED' if self.failed else 'passed'} `{self.test}`")


def measured_drift(estate) -> int:
    """Rows that differ between the source writer and the warehouse, over every estate table, once CDC has applied
    all the writer binlogged: rows missing on either side, duplicates and changed rows each count."""
    estate.wait_cdc_idle()
    drift = 0
    for table in estate.source_counts():
        source, warehouse = Counter(estate.source_rows(table)), Counter(estate.warehouse_rows(table))
        drift += (source - warehouse).total() + (warehouse - source).total()
    return drift


def run_outcome(record: dict) -> str:
    """A run record in one line for the observed column: its outcome, or the first failed step and the first
    paragraph of its recorded failure (what the on-call engineer reads first)."""
    failed = [step for step in record["steps"] if step["state"] == "failed"]
    if not failed:
        return f"{record['dag_id']} {record['outcome']}"
    reason = " ".join((failed[0]["failure"] or "no message recorded").split("\n\n")[0].split())
    return f"{record['dag_id']} failed at {failed[0]['task_id']}: \"{reason}\""


class FaultRows:
    """The ``fault_row`` fixture: ``fault_row(fault, expected=...)`` declares the test's row and returns it."""

    def __init__(self, rows: dict[str, FaultRow], test: str) -> None:
        self._rows = rows
        self._test = test

    def __call__(self, fault: str, expected: str) -> FaultRow:
        if fault not in FAULTS:
            raise ValueError(f"{fault!r} is not a row of the fault matrix: {FAULTS}")
        row = self._rows[self._test] = FaultRow(fault, expected, self._test)
        return row

    def observe(self, observed: str, drift: int) -> None:
        self._rows[self._test].observe(observed, drift)


@pytest.fixture
def fault_row(request) -> FaultRows:
    return FaultRows(request.config.stash.setdefault(_ROWS, {}), request.node.name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Carry the test's row on its reports: with parallel workers (pytest -n) the table is printed by the
    controlling process, which sees only the reports."""
    report = yield
    row = item.config.stash.get(_ROWS, {}).get(item.name)
    if row is not None:
        row.failed = row.failed or report.failed
        report.user_properties.append((_PROPERTY, asdict(row)))
    return report


def pytest_runtest_logreport(report) -> None:
    for name, row in report.user_properties:
        if name == _PROPERTY:
            _table_rows[row["test"]] = FaultRow(**row)


def ordered_rows(rows: dict[str, FaultRow]) -> list[FaultRow]:
    return sorted(rows.values(), key=lambda row: (FAULTS.index(row.fault), row.test))


def to_markdown(rows: list[FaultRow]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row.cells()) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def pytest_terminal_summary(terminalreporter, config) -> None:
    rows = ordered_rows(_table_rows)
    if not rows:
        return
    terminalreporter.write_sep("=", "fault matrix")
    for row in rows:
        fault, expected, observed, drift, test = row.cells()
        terminalreporter.write_line(f"{fault}\n    expected: {expected}\n    observed: {observed}\n"
                                    f"    drift: {drift}    {test}")
    out = os.environ.get("FAULT_MATRIX_OUT")
    if out:
        path = Path(config.rootpath, out)
        path.write_text(to_markdown(rows))
        terminalreporter.write_line(f"fault matrix written to {path}")
