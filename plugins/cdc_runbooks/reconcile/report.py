"""What a reconciliation found, per table and for a run: markdown for the log, a dict for XCom and the run record.

Public API::

    Cut(key, lo, hi)                      # rows compared: lo <= key <= hi
    ChangedRow(key, columns, null_columns)
    Segment(lo, hi, source_rows, target_rows)   # a key range still differing, not localised to keys
    TableResult(table, mode, source, target, cut, elapsed_s, reads, missing, extra, changed, duplicate,
                unexplored, localised)        .diff .drift .status
    Report(tables, tolerance=0)           .passed .drift .attempts .to_markdown() .to_dict()

``Report.to_dict()`` keeps the contract of the switchover runbook's summary:
``{"drift", "passed", "attempts", "tables": {table: {"source", "target", "diff", ...}}}``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cut:
    """The consistent cut: the key range compared (``lo`` <= key <= ``hi``); None bounds mean both sides
    were empty."""

    key: str
    lo: int | None
    hi: int | None

    def describe(self) -> str:
        return "empty" if self.hi is None else f"{self.key} {self.lo}..{self.hi}"


def key_order(key) -> tuple:
    """A sort key for reported keys of any shape: integers by value, then texts, then NULL; tuples (composite keys,
    rows of a table without a key) field by field."""
    if isinstance(key, tuple):
        return (3, tuple(key_order(part) for part in key))
    if isinstance(key, int):
        return (0, key)
    return (1, key) if key is not None else (2,)


def _json(key):
    return list(key) if isinstance(key, tuple) else key


@dataclass(frozen=True)
class ChangedRow:
    key: int | str | tuple | None
    columns: tuple[str, ...] = ()
    null_columns: tuple[str, ...] = ()  # NULL on one side, a value on the other


@dataclass(frozen=True)
class Segment:
    """An inclusive key range and its row count on each side (at the read that found it)."""

    lo: int
    hi: int
    source_rows: int
    target_rows: int

    @property
    def drift(self) -> int:
        """At least one row differs; at least as many as the counts differ."""
        return max(1, abs(self.source_rows - self.target_rows))


@dataclass(frozen=True)
class TableResult:
    table: str
    mode: str
    source: int
    target: int
    cut: Cut
    elapsed_s: float
    reads: int
    missing: tuple[int, ...] = ()
    extra: tuple[int, ...] = ()
    changed: tuple[ChangedRow, ...] = ()
    duplicate: tuple[int, ...] = ()
    unexplored: tuple[Segment, ...] = ()
    localised: bool = False
    max_keys: int = 100

    @property
    def diff(self) -> int:
        return self.target - self.source

    @property
    def drift(self) -> int:
        """Rows that differ: keys found, plus the rows of ranges not localised; |diff| if not localised."""
        if not self.localised:
            return abs(self.diff)
        return (len(self.missing) + len(self.extra) + len(self.changed) + len(self.duplicate)
                + sum(s.drift for s in self.unexplored))

    @property
    def status(self) -> str:
        return "ok" if self.drift == 0 else "drift"

    def _keys(self, keys) -> list:
        return list(keys)[:self.max_keys]

    def _json_keys(self, keys) -> list:
        return [_json(key) for key in self._keys(keys)]

    def to_dict(self) -> dict:
        return {
            "source": self.source, "target": self.target, "diff": self.diff, "drift": self.drift,
            "status": self.status, "mode": self.mode, "cut": {"key": self.cut.key, "lo": self.cut.lo,
                                                              "hi": self.cut.hi},
            "elapsed_s": round(self.elapsed_s, 3), "reads": self.reads, "localised": self.localised,
            "missing": self._json_keys(self.missing), "extra": self._json_keys(self.extra),
            "changed": [{"key": _json(c.key), "columns": list(c.columns), "null_columns": list(c.null_columns)}
                        for c in self._keys(self.changed)],
            "duplicate": self._json_keys(self.duplicate),
            "counts": {"missing": len(self.missing), "extra": len(self.extra), "changed": len(self.changed),
                       "duplicate": len(self.duplicate)},
            "unexplored": [{"lo": s.lo, "hi": s.hi, "source": s.source_rows, "target": s.target_rows}
                           for s in self._keys(self.unexplored)],
        }

    def details_markdown(self) -> list[str]:
        """Bullets naming the keys (at most ``max_keys`` per kind) of a drifted table."""
        lines = []
        for kind, keys in (("missing in target", self.missing), ("extra in target", self.extra),
                           ("duplicate key in target", self.duplicate)):
            if keys:
                lines.append(f"- `{self.table}` {kind} ({len(keys)}): {_shown(self._keys(keys), len(keys))}")
        if self.changed:
            shown = ", ".join(f"{c.key} ({', '.join(c.columns) or '?'}"
                              f"{'; NULL vs value: ' + ', '.join(c.null_columns) if c.null_columns else ''})"
                              for c in self._keys(self.changed))
            lines.append(f"- `{self.table}` changed ({len(self.changed)}): "
                         f"{shown}{' ...' if len(self.changed) > self.max_keys else ''}")
        if self.unexplored:
            ranges = ", ".join(f"{s.lo}..{s.hi} ({s.source_rows} vs {s.target_rows})"
                               for s in self._keys(self.unexplored))
            lines.append(f"- `{self.table}` {len(self.unexplored)} more key ranges differ (not localised, "
                         f"source vs target rows): {ranges}")
        return lines


def _shown(keys: list, total: int) -> str:
    return ", ".join(map(str, keys)) + (" ..." if total > len(keys) else "")


@dataclass(frozen=True)
class Report:
    tables: tuple[TableResult, ...]
    tolerance: int = 0

    @property
    def drift(self) -> int:
        return sum(t.drift for t in self.tables)

    @property
    def passed(self) -> bool:
        return all(t.drift <= self.tolerance for t in self.tables)

    @property
    def attempts(self) -> int:
        return max((t.reads for t in self.tables), default=0)

    def to_markdown(self) -> str:
        verdict = "EQUAL" if self.drift == 0 else ("WITHIN TOLERANCE" if self.passed else "DRIFT")
        lines = [f"### Reconciliation: {verdict} (drift {self.drift}, tolerance {self.tolerance})", "",
                 "| table | mode | cut | source | target | diff | drift | status | reads | elapsed s |",
                 "|---|---|---|---:|---:|---:|---:|---|---:|---:|"]
        lines += [f"| {t.table} | {t.mode} | {t.cut.describe()} | {t.source} | {t.target} | {t.diff:+d} | "
                  f"{t.drift} | {t.status} | {t.reads} | {t.elapsed_s:.2f} |" for t in self.tables]
        details = [line for t in self.tables for line in t.details_markdown()]
        return "\n".join(lines + ([""] + details if details else []))

    def to_dict(self) -> dict:
        return {"drift": self.drift, "passed": self.passed, "attempts": self.attempts,
                "tolerance": self.tolerance, "tables": {t.table: t.to_dict() for t in self.tables}}
