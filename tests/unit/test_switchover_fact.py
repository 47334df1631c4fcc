"""SwitchoverFact: the data platform resumes only from a complete, well-formed fact of its own pipeline (the conf
of its triggered run, or the latest asset event); the product platform's fact round-trips through the extra."""

from __future__ import annotations

import pytest

from cdc_runbooks.switchover_fact import InvalidSwitchoverFact, SwitchoverFact

FACT = {"pipeline": "shop", "deployment": "bgd-0123456789abcdef", "checkpoint": "mysql-bin-changelog.000003:352",
        "old_blue_end": "mysql-bin-changelog.000003:9120", "position": "mysql-bin-changelog.000004:4",
        "position_source": "event",
        "needs_reconciliation_attention": False, "paused_at": "2026-12-01T03:00:00+00:00",
        "product_run_id": "manual__2026-12-01T02:55:00+00:00"}


def validate_fact(extra: dict, pipeline: str) -> dict:
    return SwitchoverFact.from_extra(extra, pipeline).to_extra()


def test_a_complete_fact_of_the_pipeline_is_returned_as_is():
    assert validate_fact(dict(FACT), "shop") == FACT


def test_a_fact_of_another_pipeline_is_refused():
    with pytest.raises(InvalidSwitchoverFact, match="is for pipeline 'shop', not 'orders'"):
        validate_fact(dict(FACT), "orders")


@pytest.mark.parametrize("key", sorted(FACT))
def test_a_fact_without_a_key_is_refused_naming_it(key):
    incomplete = {k: v for k, v in FACT.items() if k != key}
    with pytest.raises(InvalidSwitchoverFact, match=f"lacks \\['{key}'\\]"):
        validate_fact(incomplete, "shop")


def test_a_huge_fact_is_not_echoed_whole():
    with pytest.raises(InvalidSwitchoverFact) as error:
        validate_fact({"junk": "x" * 100_000}, "shop")
    assert len(str(error.value)) <= 500


@pytest.mark.parametrize(("key", "value", "message"), [
    ("paused_at", "not a date", "paused_at: .* is not valid"),
    ("paused_at", 5, "paused_at: 5 is not valid"),
    ("needs_reconciliation_attention", "false", "is not true or false"),
    ("needs_reconciliation_attention", None, "is not true or false"),
    ("position_source", ["event"], "position_source: .* is not a name"),
    ("product_run_id", None, "product_run_id: None is not a name"),
    ("position", "mysql-bin-changelog.000004:4\n; DROP", "position: invalid binlog position"),
    ("checkpoint", 352, "checkpoint: invalid binlog position"),
    ("old_blue_end", "mysql-bin-changelog.000003", "old_blue_end: invalid binlog position"),
])
def test_a_fact_with_a_malformed_value_is_refused_before_anything_acts_on_it(key, value, message):
    with pytest.raises(ValueError, match=message):
        validate_fact({**FACT, key: value}, "shop")


def test_keys_beyond_the_fact_are_dropped():
    assert validate_fact({**FACT, "note": "x"}, "shop") == FACT


def test_the_fact_built_from_the_switchover_steps_is_the_published_extra():
    fact = SwitchoverFact.from_steps(
        pipeline="shop", deployment=FACT["deployment"], product_run_id=FACT["product_run_id"],
        paused={"recovery_checkpoint": FACT["checkpoint"], "stopped_at": FACT["paused_at"], "status": "stopped"},
        drained={"drained_to": FACT["old_blue_end"], "old_blue_end": FACT["old_blue_end"], "action": "act"},
        position={"position": FACT["position"], "source": "event", "needs_reconciliation_attention": False})
    assert fact.to_extra() == FACT
    assert SwitchoverFact.from_extra(fact.to_extra(), "shop") == fact


def test_a_switchover_step_result_that_is_malformed_is_refused_before_publishing():
    with pytest.raises(ValueError, match="position: invalid binlog position"):
        SwitchoverFact.from_steps(pipeline="shop", deployment=FACT["deployment"], product_run_id="r",
                                  paused={"recovery_checkpoint": FACT["checkpoint"], "stopped_at": FACT["paused_at"]},
                                  drained={"drained_to": FACT["old_blue_end"]},
                                  position={"position": "", "source": "event", "needs_reconciliation_attention": True})


def test_the_summary_gives_the_gap_from_pause_to_running_again():
    fact = SwitchoverFact.from_extra(FACT, "shop")
    summary = fact.summary({"running_since": "2026-12-01T03:00:12.5+00:00"},
                           {"drift": 0, "tables": {"orders": {"drift": 0}}})
    assert summary["cdc_gap_s"] == 12.5
    assert (summary["blue_checkpoint"], summary["old_blue_end"], summary["new_position"], summary["drift"]) == (
        FACT["checkpoint"], FACT["old_blue_end"], FACT["position"], 0)


@pytest.mark.parametrize("extra", [None, "pipeline deployment checkpoint position", ["pipeline"], 7])
def test_a_fact_that_is_not_an_object_is_refused(extra):
    with pytest.raises(InvalidSwitchoverFact, match="not an object"):
        validate_fact(extra, "shop")
