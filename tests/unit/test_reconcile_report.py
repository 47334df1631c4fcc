"""The reconciliation report: the XCom contract the switchover summary reads, drift arithmetic, tolerance,
bounded key lists and the markdown an on-call engineer reads."""

from __future__ import annotations

from cdc_runbooks.reconcile.report import ChangedRow, Cut, Report, Segment, TableResult

CUT = Cut("id", 1, 1000)


def _table(name="orders", **kwargs) -> TableResult:
    return TableResult(**{"table": name, "mode": "checksum", "source": 1000, "target": 1000, "cut": CUT,
                          "elapsed_s": 0.5, "reads": 1, "localised": True, **kwargs})


def test_equal_tables_keep_the_switchover_summary_contract():
    report = Report((_table(), _table("customers", mode="count", localised=False, source=5, target=5)))

    data = report.to_dict()
    assert (data["drift"], data["passed"], data["attempts"]) == (0, True, 1)
    assert {k: data["tables"]["customers"][k] for k in ("source", "target", "diff", "status")} == {
        "source": 5, "target": 5, "diff": 0, "status": "ok"}
    assert "### Reconciliation: EQUAL" in report.to_markdown()


def test_drift_counts_keys_and_unexplored_ranges():
    table = _table(target=998, missing=(1, 2, 3), duplicate=(9,), changed=(ChangedRow(7, ("email",), ("email",)),),
                   unexplored=(Segment(500, 599, 100, 90), Segment(700, 700, 1, 1)))

    assert (table.diff, table.drift, table.status) == (-2, 3 + 1 + 1 + 10 + 1, "drift")
    markdown = Report((table,)).to_markdown()
    assert "`orders` missing in target (3): 1, 2, 3" in markdown
    assert "`orders` changed (1): 7 (email; NULL vs value: email)" in markdown
    assert "`orders` duplicate key in target (1): 9" in markdown
    assert "500..599 (100 vs 90)" in markdown


def test_a_count_only_result_drifts_by_the_count_difference():
    assert _table(localised=False, target=990).drift == 10


def test_key_lists_are_bounded_but_counted():
    table = _table(missing=tuple(range(1, 251)), max_keys=100)

    data = table.to_dict()
    assert len(data["missing"]) == 100 and data["counts"]["missing"] == 250 and data["drift"] == 250
    assert "missing in target (250): 1, 2," in "\n".join(table.details_markdown())
    assert "99, 100 ..." in "\n".join(table.details_markdown())


def test_tolerance_passes_small_drift_per_table():
    report = Report((_table(missing=(1,)), _table("customers")), tolerance=1)

    assert report.passed and report.drift == 1
    assert "WITHIN TOLERANCE" in report.to_markdown()
    assert not Report((_table(missing=(1, 2)),), tolerance=1).passed


def test_empty_tables_show_an_empty_cut():
    assert Cut("id", None, None).describe() == "empty" and CUT.describe() == "id 1..1000"
