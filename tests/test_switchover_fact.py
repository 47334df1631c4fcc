"""switchover_fact.validate_fact: the data platform resumes only from a complete, well-formed fact of its own
pipeline (the conf of its triggered run, or the latest asset event)."""

from __future__ import annotations

import pytest

from cdc_runbooks.switchover_fact import InvalidSwitchoverFact, validate_fact

FACT = {"pipeline": "shop", "deployment": "bgd-0123456789abcdef", "checkpoint": "mysql-bin-changelog.000003:352",
        "position": "mysql-bin-changelog.000004:4", "position_source": "event",
        "needs_reconciliation_attention": False, "paused_at": "2026-12-01T03:00:00+00:00",
        "product_run_id": "manual__2026-12-01T02:55:00+00:00"}


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
])
def test_a_fact_with_a_malformed_value_is_refused_before_anything_acts_on_it(key, value, message):
    with pytest.raises(ValueError, match=message):
        validate_fact({**FACT, key: value}, "shop")


def test_keys_beyond_the_fact_are_dropped():
    assert validate_fact({**FACT, "note": "x"}, "shop") == FACT
