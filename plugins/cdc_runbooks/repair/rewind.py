"""The rows of a table as they were at a DMS checkpoint, from the rows read now and the binlog's row changes since
that checkpoint. Pure (no Airflow, no SQL).

While the DMS task is stopped at its RecoveryCheckpoint C, the warehouse holds every change up to C and none
after. A repair that writes the source's rows *as they are now* races with CDC: when the task restarts from C it
applies the changes after C again on top of them (an insert applied twice is a duplicate in Redshift, which does
not enforce keys). A repair that writes the rows *as they were at C* cannot race: CDC restarted from C then applies
every later change exactly once, and each key ends with its newest value.

The rule (row-based binlog with full images, which DMS requires: ``binlog_row_image=FULL``):

- a key that no row change after C names (before or after) is unchanged since C: its row now is its row at C;
- a key that a change names is as the *first* such change found it: that change's before image when the key is
  its before key (an update or a delete of the row), absent when the key is only its after key (an insert, or an
  update that moved another row to this key).

The rows now may be read at any moment between C and the end of the changes (``SHOW MASTER STATUS`` read after
the rows): a row changed after it was read is named by a change, so the moment of the read does not matter.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass

Row = dict  # column name -> value


@dataclass(frozen=True)
class RowChange:
    """One row of a binlog row event: ``before`` is None for an insert, ``after`` None for a delete."""

    before: Row | None
    after: Row | None

    def __post_init__(self) -> None:
        if self.before is None and self.after is None:
            raise ValueError("a row change has a before image, an after image or both")


def key_of(columns: tuple[str, ...]) -> Callable[[Row], Hashable]:
    """A row's key: the value of its one key column, or the tuple of several."""
    if len(columns) == 1:
        (column,) = columns
        return lambda row: row[column]
    return lambda row: tuple(row[column] for column in columns)


def rows_at_checkpoint(changes: Iterable[RowChange], key: Callable[[Row], Hashable]) -> dict[Hashable, Row | None]:
    """Every key the changes name, with its row at the checkpoint they follow (None: absent then)."""
    found: dict[Hashable, Row | None] = {}
    for change in changes:
        if change.before is not None:
            found.setdefault(key(change.before), change.before)
        if change.after is not None:
            found.setdefault(key(change.after), None)
    return found


def merged(now: Mapping[Hashable, Row], at_checkpoint: Mapping[Hashable, Row | None]) -> dict[Hashable, Row]:
    """The rows at the checkpoint: ``now`` where no change named the key, the change's verdict where one did."""
    rows = {key: row for key, row in now.items() if key not in at_checkpoint}
    rows.update({key: row for key, row in at_checkpoint.items() if row is not None})
    return rows
