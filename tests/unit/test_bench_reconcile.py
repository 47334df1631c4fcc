"""The reconciliation benchmark's pure helpers: the planting plan, the scoring of what a tool reported against
it, and the reading of our engine's and reladiff's reports (no server: the benchmark itself is `make bench`)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.reconcile import (
    KINDS,
    PER_KIND,
    SHAPES,
    engine_kinds,
    plan,
    plan_differences,
    reladiff_kinds,
    rows_sql,
    score,
    uuid_of,
)
from cdc_runbooks.reconcile.report import ChangedRow, Cut, Segment, TableResult
from cdc_runbooks.reconcile.row_checksum import Dialect


def test_the_plan_is_seeded_scattered_and_even_per_kind():
    plan = plan_differences(1_000_000)

    assert plan == plan_differences(1_000_000)
    assert plan != plan_differences(1_000_000, seed=6)
    assert all(1 <= key <= 1_000_000 for key in plan)
    assert sorted(plan.values()) == sorted(KINDS * PER_KIND)
    assert max(plan) - min(plan) > 900_000


def _kinds(**by_key: str) -> dict:
    return {int(key[1:]): frozenset(kinds.split("+")) for key, kinds in by_key.items()}


def test_score_counts_only_keys_reported_with_their_kinds():
    planted = {1: "missing", 2: "extra", 3: "changed", 4: "null"}
    reported = _kinds(k1="missing", k2="extra", k3="null", k9="changed")

    assert score(planted, reported) == (2, 2)  # 3 has the wrong kind, 9 was never planted; 4 is not found
    assert score(planted, {k: frozenset((v,)) for k, v in planted.items()}) == (4, 0)


def test_without_a_key_a_change_is_found_as_the_old_row_missing_and_the_new_one_extra():
    planted = {1: "missing", 2: "extra", 3: "changed", 4: "null"}

    assert score(planted, _kinds(k1="missing", k2="extra", k3="missing+extra", k4="missing+extra"),
                 multiset=True) == (4, 0)
    assert score(planted, _kinds(k1="missing", k2="extra", k3="changed", k4="missing"), multiset=True) == (2, 2)


def test_engine_report_kinds_and_unlocalised_ranges_count_as_reported():
    result = TableResult(table="t", mode="checksum", source=3, target=3, cut=Cut("id", 1, 9), elapsed_s=0.1,
                         reads=2, missing=(1,), extra=(2,), changed=(ChangedRow(3, ("qty",)),
                                                                   ChangedRow(4, ("label",), ("label",))),
                         duplicate=(5,), unexplored=(Segment(6, 9, 2, 1),), localised=True)

    kinds = engine_kinds(result)

    assert {k: v for k, v in kinds.items() if k > 0} == _kinds(k1="missing", k2="extra", k3="changed", k4="null",
                                                                k5="duplicate")
    assert list(kinds.values()).count(frozenset(("unexplored",))) == 1


def _reported(**kinds) -> TableResult:
    return TableResult(table="t", mode="checksum", source=3, target=3, cut=Cut("id", 0, 9), elapsed_s=0.1, reads=2,
                       localised=True, **kinds)


def test_reported_keys_of_every_shape_read_back_as_their_row():
    uuid = engine_kinds(_reported(missing=(uuid_of(7), "not-a-uuid")), SHAPES["uuid"])
    composite = engine_kinds(_reported(extra=((10**12 + 1234, 567),)), SHAPES["composite"])
    whole_rows = engine_kinds(_reported(missing=((42, 1, None),), extra=((42, 2, None),)), SHAPES["none"])

    assert uuid == {7: frozenset(("missing",)), "not-a-uuid": frozenset(("missing",))}  # the second: no row's
    assert composite == {1234567: frozenset(("extra",))}
    assert whole_rows == {42: frozenset(("missing", "extra"))}


@given(st.integers(1, 10**10))
@settings(max_examples=200, deadline=None)
def test_a_uuid_key_reads_back_as_its_row_and_nothing_else_does(k):
    shape = SHAPES["uuid"]
    key = uuid_of(k)

    assert len(key) == 36 and [len(part) for part in key.split("-")] == [8, 4, 4, 4, 12]
    assert shape.k_of(key) == k
    assert shape.k_of(key[:-1] + ("0" if key[-1] != "0" else "1")) != k  # a neighbour's last digit: not row k


def test_reladiff_signs_become_kinds():
    diff = [("-", ("1", "5", "x")), ("+", ("2", "5", "x")), ("-", ("3", "5", "x")), ("+", ("3", "6", "x")),
            ("+", ("4", "5", None)), ("-", ("4", "5", "y"))]

    assert reladiff_kinds(diff) == _kinds(k1="missing", k2="extra", k3="changed", k4="null")
    composite = [("-", (str(10**12 + 1), "2", "x")), ("+", (str(10**12 + 1), "2", "y"))]
    assert reladiff_kinds(composite, SHAPES["composite"]) == {1002: frozenset(("changed",))}


def test_generated_rows_come_from_the_database_not_python():
    assert "seq_1_to_1000" in rows_sql(Dialect.MYSQL, 1000)
    assert "generate_series(CAST(1 AS BIGINT), 1000)" in rows_sql(Dialect.POSTGRES, 1000)
    assert "MD5(k)" in rows_sql(Dialect.MYSQL, 10, SHAPES["uuid"])


def test_the_default_plan_is_every_shape_at_ten_million_and_the_integer_key_at_each_size():
    assert [(shape.name, rows) for shape, rows in plan([])] == [
        ("integer", 1_000_000), ("integer", 10_000_000), ("uuid", 10_000_000), ("composite", 10_000_000),
        ("none", 10_000_000)]
    assert [(shape.name, rows) for shape, rows in plan(["none", "uuid", "1000"])] == [("none", 1000), ("uuid", 1000)]
    with pytest.raises(SystemExit, match="unknown shape"):
        plan(["uuids"])
