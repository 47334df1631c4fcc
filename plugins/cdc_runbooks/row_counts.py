"""Row counts, source against warehouse, per table: the check that turns "we think it worked" into "it worked".

Pure comparison; the operator reads both sides. Under live CDC the warehouse lags
the source by the CDC latency, so the operator re-reads until every table matches
(counts equal at one read, both sides read after CDC latency settled) or a
bounded time passes; a mismatch then fails loudly with the table below. Equal
counts cannot prove equal rows (a lost row and a duplicated one cancel out):
the reconciliation engine's checksum mode does.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int

    @property
    def diff(self) -> int:
        return self.target - self.source

    @property
    def status(self) -> str:
        return "ok" if self.diff == 0 else ("missing in target" if self.diff < 0 else "extra in target")


@dataclass(frozen=True)
class CountReport:
    counts: tuple[TableCount, ...]
    attempts: int

    @property
    def drift(self) -> int:
        return sum(abs(c.diff) for c in self.counts)

    @property
    def passed(self) -> bool:
        return self.drift == 0

    def to_markdown(self) -> str:
        lines = [f"### Row counts: {'EQUAL' if self.passed else 'DRIFT ' + str(self.drift)} "
                 f"(read {self.attempts} time{'s' if self.attempts > 1 else ''})", "",
                 "| table | source | warehouse | diff | status |", "|---|---:|---:|---:|---|"]
        lines += [f"| {c.table} | {c.source} | {c.target} | {c.diff:+d} | {c.status} |" for c in self.counts]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"drift": self.drift, "passed": self.passed, "attempts": self.attempts,
                "tables": {c.table: {"source": c.source, "target": c.target, "diff": c.diff} for c in self.counts}}


def compare(source: dict[str, int], target: dict[str, int], attempts: int) -> CountReport:
    return CountReport(tuple(TableCount(t, source[t], target[t]) for t in sorted(source)), attempts)
