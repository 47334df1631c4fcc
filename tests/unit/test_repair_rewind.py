"""rows_at_checkpoint / merged: the rows at a checkpoint from the rows now and the changes since, over generated
histories (inserts, updates of values and of keys, deletes, keys reused after a delete, composite keys) read at
any moment."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdc_runbooks.repair.rewind import RowChange, key_of, merged, rows_at_checkpoint

KEYS = st.integers(min_value=-3, max_value=12)


@st.composite
def histories(draw, composite: bool = False):
    """(table at the checkpoint, the changes after it, the table after every change) for a table keyed by
    ``id`` (and ``line`` when composite)."""
    columns = ("id", "line") if composite else ("id",)
    make_key = (lambda: (draw(KEYS), draw(st.integers(0, 2)))) if composite else (lambda: draw(KEYS))
    key = key_of(columns)

    def row(k, value):
        return {**dict(zip(columns, k if composite else (k,), strict=True)), "v": value}

    table = {}
    for _ in range(draw(st.integers(0, 8))):
        k = make_key()
        table[k] = row(k, draw(st.integers(0, 5)))
    start, states, changes = dict(table), [dict(table)], []
    for _ in range(draw(st.integers(0, 25))):
        op = draw(st.sampled_from(["insert", "update", "move", "delete"]))
        if op == "insert" or not table:
            k = make_key()
            if k in table:
                continue
            table[k] = row(k, draw(st.integers(0, 5)))
            changes.append(RowChange(None, table[k]))
        else:
            k = draw(st.sampled_from(sorted(table, key=repr)))
            before = table.pop(k)
            if op == "delete":
                changes.append(RowChange(before, None))
            else:
                new_key = make_key() if op == "move" else k
                if new_key in table:
                    table[k] = before
                    continue
                table[new_key] = row(new_key, draw(st.integers(0, 5)))
                changes.append(RowChange(before, table[new_key]))
        assert key(changes[-1].after or changes[-1].before) is not None
        states.append(dict(table))
    return columns, start, changes, states


@settings(max_examples=400, deadline=None)
@given(histories(), st.data())
def test_the_rows_read_at_any_moment_rewind_to_the_checkpoint(history, data):
    columns, start, changes, states = history
    read_at = data.draw(st.integers(0, len(states) - 1))
    assert merged(states[read_at], rows_at_checkpoint(changes, key_of(columns))) == start


@settings(max_examples=200, deadline=None)
@given(histories(composite=True), st.data())
def test_composite_keys_rewind_too(history, data):
    columns, start, changes, states = history
    read_at = data.draw(st.integers(0, len(states) - 1))
    assert merged(states[read_at], rows_at_checkpoint(changes, key_of(columns))) == start


@settings(max_examples=200, deadline=None)
@given(histories(), st.data())
def test_replaying_the_changes_on_the_rewound_rows_gives_the_newest_rows(history, data):
    """What CDC restarted from the checkpoint does: each change once, in order, on top of the repaired rows."""
    columns, _, changes, states = history
    key = key_of(columns)
    table = merged(states[data.draw(st.integers(0, len(states) - 1))], rows_at_checkpoint(changes, key))
    for change in changes:
        if change.before is not None:
            del table[key(change.before)]
        if change.after is not None:
            assert key(change.after) not in table, "an insert applied twice"
            table[key(change.after)] = change.after
    assert table == states[-1]


def test_a_key_inserted_after_the_checkpoint_was_absent_then_whatever_happened_later():
    changes = [RowChange(None, {"id": 7, "v": 1}), RowChange({"id": 7, "v": 1}, {"id": 7, "v": 2})]
    assert rows_at_checkpoint(changes, key_of(("id",))) == {7: None}


def test_a_key_moved_away_keeps_its_old_row_and_the_new_key_was_absent():
    changes = [RowChange({"id": 1, "v": 1}, {"id": 2, "v": 1})]
    assert rows_at_checkpoint(changes, key_of(("id",))) == {1: {"id": 1, "v": 1}, 2: None}


def test_a_change_needs_an_image():
    with pytest.raises(ValueError, match="before image, an after image or both"):
        RowChange(None, None)
