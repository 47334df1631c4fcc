"""Lookups made together: every one runs, results keep their order, the first failure in order wins."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdc_runbooks.lookups import look_up_together


def test_lookups_run_side_by_side_and_keep_their_order():
    """Each lookup waits for the others to have started: only lookups running together can all return."""
    barrier = threading.Barrier(3, timeout=10)

    def lookup(value):
        def call():
            barrier.wait()
            return value
        return call

    assert look_up_together(lookup("dms"), lookup("rds"), lookup("binlog")) == ["dms", "rds", "binlog"]


@given(st.lists(st.booleans(), min_size=1, max_size=8))
def test_the_first_failure_in_the_given_order_is_raised_after_every_lookup_ended(fails):
    ended = []

    def lookup(index, fail):
        def call():
            ended.append(index)
            if fail:
                raise LookupError(index)
            return index
        return call

    calls = [lookup(index, fail) for index, fail in enumerate(fails)]
    if not any(fails):
        assert look_up_together(*calls) == list(range(len(fails)))
    else:
        with pytest.raises(LookupError) as raised:
            look_up_together(*calls)
        assert raised.value.args == (fails.index(True),)
    assert sorted(ended) == list(range(len(fails)))
