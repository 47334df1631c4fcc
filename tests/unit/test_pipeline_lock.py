"""One run per runbook and pipeline: the pure decision over a lock's holder."""

from __future__ import annotations

import pytest

from cdc_runbooks.action import Action
from cdc_runbooks.pipeline_lock import LockHolder, PipelineBusy, check_holder, lock_key
from cdc_runbooks.refusal import Refusal

MINE = LockHolder("aurora_blue_green_switchover", "manual__2026-11-27T03:00:00+00:00", "shop", "2026-11-27T03:00:01")


def test_the_lock_lives_per_runbook_and_pipeline():
    assert MINE.key == lock_key("aurora_blue_green_switchover", "shop")
    assert MINE.key == "locks/aurora_blue_green_switchover/shop.json"
    assert lock_key("dms_cdc_pause", "shop") != MINE.key


def test_holder_round_trips_through_json():
    assert LockHolder.from_json(MINE.to_json()) == MINE
    assert LockHolder.from_json(MINE.to_json().encode()) == MINE


def test_a_foreign_or_damaged_lock_object_still_reads_as_a_holder():
    assert LockHolder.from_json('{"run_id": "x"}') == LockHolder("?", "x", "?", "?")


def test_the_same_run_adopts_its_own_lock():
    again = LockHolder(MINE.dag_id, MINE.run_id, "shop", "2026-11-27T03:05:00")
    assert check_holder(MINE, again, "records") is Action.ADOPT


@pytest.mark.parametrize("other", [
    LockHolder("aurora_blue_green_switchover", "manual__2026-11-27T03:01:00+00:00", "shop", "later"),
    LockHolder("dms_cdc_pause", MINE.run_id, "shop", "later"),  # same run id, another runbook
])
def test_another_run_is_refused_with_the_holder_and_what_to_do(other):
    with pytest.raises(PipelineBusy) as refused:
        check_holder(MINE, other, "records")
    message = str(refused.value)
    assert MINE.run_id in message and MINE.dag_id in message and "changed nothing" in message
    assert "s3://records/locks/aurora_blue_green_switchover/shop.json" in message
    assert isinstance(refused.value, Refusal)
