"""The reconciliation benchmark's pure helpers: the planting plan, the scoring of what a tool reported against
it, and the reading of our engine's and reladiff's reports (no server: the benchmark itself is `make bench`)."""

from __future__ import annotations

from bench.reconcile import KINDS, PER_KIND, engine_kinds, plan_differences, reladiff_kinds, rows_sql, score
from cdc_runbooks.reconcile.report import ChangedRow, Cut, Segment, TableResult
from cdc_runbooks.reconcile.row_checksum import Dialect


def test_the_plan_is_seeded_scattered_and_even_per_kind():
    plan = plan_differences(1_000_000)

    assert plan == plan_differences(1_000_000)
    assert plan != plan_differences(1_000_000, seed=6)
    assert all(1 <= key <= 1_000_000 for key in plan)
    assert sorted(plan.values()) == sorted(KINDS * PER_KIND)
    assert max(plan) - min(plan) > 900_000


def test_score_counts_only_keys_reported_with_their_kind():
    planted = {1: "missing", 2: "extra", 3: "changed", 4: "null"}
    reported = {1: "missing", 2: "extra", 3: "null", 9: "changed"}

    assert score(planted, reported) == (2, 2)  # 3 has the wrong kind, 9 was never planted; 4 is not found
    assert score(planted, planted) == (4, 0)


def test_engine_report_kinds_and_unlocalised_ranges_count_as_reported():
    result = TableResult(table="t", mode="checksum", source=3, target=3, cut=Cut("id", 1, 9), elapsed_s=0.1,
                         reads=2, missing=(1,), extra=(2,), changed=(ChangedRow(3, ("qty",)),
                                                                   ChangedRow(4, ("label",), ("label",))),
                         duplicate=(5,), unexplored=(Segment(6, 9, 2, 1),), localised=True)

    kinds = engine_kinds(result)

    assert {k: v for k, v in kinds.items() if k > 0} == {1: "missing", 2: "extra", 3: "changed", 4: "null",
                                                          5: "duplicate"}
    assert list(kinds.values()).count("unexplored") == 1


def test_reladiff_signs_become_kinds():
    diff = [("-", ("1", "5", "x")), ("+", ("2", "5", "x")), ("-", ("3", "5", "x")), ("+", ("3", "6", "x")),
            ("+", ("4", "5", None)), ("-", ("4", "5", "y"))]

    assert reladiff_kinds(diff) == {1: "missing", 2: "extra", 3: "changed", 4: "null"}


def test_generated_rows_come_from_the_database_not_python():
    assert "seq_1_to_1000" in rows_sql(Dialect.MYSQL, 1000)
    assert "generate_series(CAST(1 AS BIGINT), 1000)" in rows_sql(Dialect.POSTGRES, 1000)
