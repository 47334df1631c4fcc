"""The reconciliation engine on in-memory sides: equal tables pass, every kind of drift is found and named,
differences in flight settle, real ones are reported after the settle window, and reads stay bounded."""

from __future__ import annotations

import hashlib
from collections import Counter
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdc_runbooks.reconcile.compared_table import TablePair
from cdc_runbooks.reconcile.engine import Settings, reconcile_table
from cdc_runbooks.reconcile.row_checksum import NULL, TEXT_PLACES, Kind, text_place

COLUMNS = ("id", "name", "amount")


def _row(key: int) -> tuple:
    return (str(key), f"n{key}", f"{key % 97}.50")


class FakeReader:
    """One side of a table in memory, answering the engine's reads like the SQL would; ``rows`` may repeat
    keys (a warehouse without a primary key). ``after_reads`` replaces the rows after that many reads
    (a change in flight landing)."""

    def __init__(self, rows: list[tuple], after_reads: tuple[int, list[tuple]] | None = None) -> None:
        self.rows = list(rows)
        self.after_reads = after_reads
        self.reads = 0
        self.largest_fetch = 0

    def _read(self) -> list[tuple]:
        self.reads += 1
        if self.after_reads and self.reads > self.after_reads[0]:
            self.rows = list(self.after_reads[1])
        return self.rows

    @staticmethod
    def _key(row) -> int:
        return int(row[0])

    @staticmethod
    def _hash(row) -> int:
        return int(hashlib.md5("|".join(row).encode()).hexdigest()[:15], 16)

    def bounds(self):
        keys = [self._key(r) for r in self._read()]
        return (min(keys), max(keys)) if keys else (None, None)

    def count(self, hi):
        return sum(1 for r in self._read() if self._key(r) <= hi)

    def segments(self, origin, width, ranges):
        out: dict[int, tuple[int, int]] = {}
        for row in self._in(ranges):
            n, total = out.get((self._key(row) - origin) // width, (0, 0))
            out[(self._key(row) - origin) // width] = (n + 1, total + self._hash(row))
        return out

    def row_hashes(self, ranges):
        rows = [(self._key(r), self._key(r), self._hash(r), "") for r in self._in(ranges)]
        self.largest_fetch = max(self.largest_fetch, len(rows))
        return rows

    def fields(self, places, row_hashes=None):
        return {self._key(r): r for r in self._read()
                if self._key(r) in places and (row_hashes is None or self._hash(r) in row_hashes)}

    def null_keys(self):  # the key is never NULL here (see LeadingReader)
        return 0

    def _in(self, ranges):
        self.most_ranges = max(getattr(self, "most_ranges", 0), len(ranges))
        return [r for r in self._read() if any(lo <= self._key(r) <= hi for lo, hi in ranges)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.01)


def _run(source_rows, target: FakeReader | list, clock: Clock | None = None, **settings):
    clock = clock or Clock()
    target = target if isinstance(target, FakeReader) else FakeReader(target)
    pair = TablePair("orders", "id", COLUMNS, FakeReader(source_rows), target)
    result = reconcile_table(pair, Settings(**{"settle_s": 5, "poll_s": 1, **settings}),
                             clock=clock, sleep=clock.sleep)
    return result, pair


ROWS = [_row(k) for k in range(1, 1001)]


@pytest.mark.parametrize("mode", ["count", "checksum"])
def test_equal_tables_pass_in_one_read(mode):
    result, _ = _run(ROWS, list(ROWS), mode=mode)

    assert result.status == "ok" and result.drift == 0 and result.reads == 1
    assert (result.source, result.target, result.cut.lo, result.cut.hi) == (1000, 1000, 1, 1000)


def test_every_kind_of_drift_is_found_and_named():
    target = [r for r in ROWS if r[0] not in ("10", "500")]
    target = [("77", "other", "77.50") if r[0] == "77" else r for r in target]
    target = [("78", NULL, r[2]) if r[0] == "78" else r for r in target]
    target += [_row(300), _row(2000)]

    result, _ = _run(ROWS, target, mode="checksum")

    assert result.missing == (10, 500) and result.duplicate == (300,) and result.extra == (2000,)
    assert [(c.key, c.columns, c.null_columns) for c in result.changed] == [
        (77, ("name",), ()), (78, ("name",), ("name",))]
    assert result.status == "drift" and result.drift == 6 and result.cut.hi == 2000


def test_count_mode_localises_when_counts_differ():
    result, _ = _run(ROWS, ROWS[1:], mode="count")

    assert result.localised and result.missing == (1,) and (result.source, result.target) == (1000, 999)


def test_count_mode_cannot_see_a_loss_cancelled_by_a_duplicate_but_checksum_mode_does():
    target = [r for r in ROWS if r[0] != "5"] + [_row(6)]

    assert _run(ROWS, target, mode="count")[0].status == "ok"
    found = _run(ROWS, target, mode="checksum")[0]
    assert (found.missing, found.duplicate) == ((5,), (6,))


def test_a_change_in_flight_settles_and_is_not_drift():
    lagging = FakeReader([r for r in ROWS if r[0] != "999"], after_reads=(3, list(ROWS)))

    result, _ = _run(ROWS, lagging, mode="checksum")

    assert result.status == "ok" and result.reads > 1
    assert (result.source, result.target) == (1000, 1000)  # the settled read's counts, not the first one's


def test_a_change_landing_between_the_segment_pass_and_the_keys_reports_counts_that_agree():
    lagging = FakeReader([r for r in ROWS if r[0] != "999"], after_reads=(2, list(ROWS)))  # bounds, segments

    result, _ = _run(ROWS, lagging, mode="checksum")

    assert result.status == "ok" and result.drift == 0
    assert (result.source, result.target) == (1000, 1000)  # not the segment pass's 1000 vs 999


def test_a_real_loss_is_reported_only_after_the_settle_window():
    clock = Clock()

    result, _ = _run(ROWS, ROWS[1:], clock=clock, mode="checksum", settle_s=5, poll_s=1)

    assert result.missing == (1,) and clock.now >= 5 and result.reads >= 5


def test_rows_inserted_on_the_source_after_the_watermark_are_not_compared():
    growing = FakeReader(ROWS, after_reads=(1, ROWS + [_row(k) for k in range(1001, 1010)]))
    pair = TablePair("orders", "id", COLUMNS, growing, FakeReader(ROWS))
    clock = Clock()

    result = reconcile_table(pair, Settings(mode="checksum", settle_s=0), clock=clock,
                             sleep=clock.sleep)

    assert result.status == "ok" and result.cut.hi == 1000


def test_big_drift_lists_at_most_max_keys_and_reads_boundedly():
    source = [_row(k) for k in range(1, 20001)]

    result, pair = _run(source, source[:100], mode="checksum", settle_s=0, max_keys=10, leaf_rows=16,
                        max_segments=256)

    assert result.status == "drift" and result.drift >= 19900
    assert len(result.to_dict()["missing"]) == 10 and result.unexplored
    assert pair.source.largest_fetch <= 10 * 16 * 2


def test_settings_are_validated():
    with pytest.raises(ValueError, match="mode"):
        Settings(mode="rows")
    with pytest.raises(ValueError, match="settle_s"):
        Settings(settle_s=-1)
    with pytest.raises(ValueError, match="max_keys"):
        Settings(max_keys=0)


class HashedReader(FakeReader):
    """A side whose rows are placed at a hash of their key (``key_width`` leading fields; every field: a table
    without a key), told apart by that key, as the SQL of hashed placement answers."""

    def __init__(self, rows, key_width: int | None, digests: bool = True) -> None:
        super().__init__(rows)
        self.key_width = key_width
        self.digests = digests  # False: a table too wide for digests in its key-by-key read

    def _identity(self, row) -> tuple:
        return tuple(row[:self.key_width])

    def _key(self, row) -> int:  # the place
        return int(hashlib.md5("|".join(self._identity(row)).encode()).hexdigest()[:15], 16)

    def row_hashes(self, ranges):  # with each field's digest, as the SQL of hashed placement answers
        digests = lambda row: "".join(hashlib.md5(f.encode()).hexdigest()[:8] for f in row) * self.digests  # noqa: E731
        return [(self._key(r), self._identity(r), self._hash(r), digests(r)) for r in self._in(ranges)]

    def fields(self, places, row_hashes=None):
        assert not self.digests, "hashed placement names changed columns from the digests, with no other read"
        rows = [r for r in self._read() if row_hashes is None or self._hash(r) in row_hashes]
        return {self._identity(r): r for r in rows if self._identity(r) in places}


def _hashed_run(source_rows, target_rows, key_width, **settings):
    clock = Clock()
    pair = TablePair("events", "hash", ("a", "b", "c"), HashedReader(source_rows, key_width),
                     HashedReader(target_rows, key_width), hashed=True, multiset=key_width is None)
    return reconcile_table(pair, Settings(**{"mode": "checksum", "settle_s": 0, "leaf_rows": 2, "max_segments": 4,
                                             "hashed_segments": 4, "leaf_budget_rows": 4, **settings}),
                           clock=clock, sleep=clock.sleep)


WHOLE_ROWS = [(a, b, c) for a in "xy" for b in "12" for c in ("", "N")]


@given(st.lists(st.sampled_from(WHOLE_ROWS), max_size=30), st.lists(st.sampled_from(WHOLE_ROWS), max_size=30))
@settings(max_examples=150, deadline=None)
def test_a_table_without_a_key_is_compared_as_a_multiset_of_whole_rows(source, target):
    """Rows whose number of copies differs are named (missing: fewer in the target; extra: more), nothing else."""
    result = _hashed_run(source, target, key_width=None)

    have, got = Counter(source), Counter(target)
    assert set(result.missing) == {row for row in have if got[row] < have[row]}
    assert set(result.extra) == {row for row in got if got[row] > have[row]}
    assert result.changed == result.duplicate == result.unexplored == ()
    assert (result.status == "ok") is (have == got)


COMPOSITE_KEYS = [(a, b) for a in ("1", "2", "10") for b in ("a", "A", "a ")]


@given(st.dictionaries(st.sampled_from(COMPOSITE_KEYS), st.sampled_from(("u", "v", NULL)), max_size=9),
       st.dictionaries(st.sampled_from(COMPOSITE_KEYS), st.sampled_from(("u", "v", NULL)), max_size=9),
       st.lists(st.sampled_from(COMPOSITE_KEYS), max_size=3))
@settings(max_examples=150, deadline=None)
def test_a_composite_key_placed_at_its_hash_names_every_differing_key(source, target, doubled):
    """Keys that differ only in case or a trailing space are different keys, as their bytes are; a changed row's
    columns are named from the field digests of the same read, a NULL against a value as such."""
    source_rows, target_rows = _keyed_rows(source, target, doubled)

    result = _hashed_run(source_rows, target_rows, key_width=2)

    _assert_every_key_named(result, source, target, target_rows)


def _keyed_rows(source: dict, target: dict, doubled: list) -> tuple[list, list]:
    """Rows of (key..., value) on each side, the target holding a second copy of each ``doubled`` key it has."""
    return ([(*key, value) for key, value in source.items()],
            [(*key, value) for key, value in target.items()] + [(*key, "u") for key in doubled if key in target])


def _assert_every_key_named(result, source: dict, target: dict, target_rows: list) -> None:
    copies = Counter(row[:2] for row in target_rows)
    assert set(result.missing) == set(source) - set(target)
    assert set(result.extra) == set(target) - set(source)
    assert set(result.duplicate) == {key for key in set(source) & set(target) if copies[key] > 1}
    assert {c.key for c in result.changed} == {key for key in set(source) & set(target)
                                               if copies[key] == 1 and source[key] != target[key]}
    assert all(c.columns == ("c",) for c in result.changed)
    assert all(c.null_columns == (("c",) if NULL in (source[c.key], target[c.key]) else ()) for c in result.changed)


@given(st.lists(st.sampled_from(WHOLE_ROWS), max_size=30), st.lists(st.sampled_from(WHOLE_ROWS), max_size=30),
       st.integers(1, 3), st.integers(1, 8))
@settings(max_examples=150, deadline=None)
def test_hashed_placement_with_tight_bounds_never_passes_a_difference(source, target, max_keys, budget):
    """Whatever is left unexplored for want of max_keys or budget, a difference never reads as ok."""
    result = _hashed_run(source, target, key_width=None, max_keys=max_keys, leaf_budget_rows=budget)

    assert (result.status == "ok") is (Counter(source) == Counter(target))


@given(st.integers(5, 80), st.integers(1, 6), st.integers(0, 2))
@settings(max_examples=60, deadline=None)
def test_after_a_wide_hashed_first_pass_no_read_names_more_than_max_segments(rows, max_segments, kept_every):
    """The first pass splits the hash space finer than any later statement may name (the Data API takes 100 KB):
    its differing segments are merged into at most max_segments before they are read again, and drift is still
    named key by key."""
    source_rows = [(str(k), "v", "w") for k in range(rows)]
    target_rows = source_rows[::kept_every + 2]
    source, target = HashedReader(source_rows, key_width=1), HashedReader(target_rows, key_width=1)
    pair = TablePair("events", "hash", ("a", "b", "c"), source, target, hashed=True)
    clock = Clock()
    settings_ = Settings(mode="checksum", settle_s=0, max_segments=max_segments, hashed_segments=1024,
                         leaf_budget_rows=1000)

    result = reconcile_table(pair, settings_, clock=clock, sleep=clock.sleep)

    assert max(source.most_ranges, target.most_ranges) <= max_segments
    assert set(result.missing) == {row[:1] for row in source_rows} - {row[:1] for row in target_rows}
    assert result.extra == result.changed == result.unexplored == ()


def test_a_table_too_wide_for_digests_has_its_changed_columns_read_by_key():
    source_rows = [("1", "a", NULL), ("2", "b", "c")]
    target_rows = [("1", "a", "x"), ("2", "z", "c")]
    pair = TablePair("events", "hash", ("id", "b", "c"), HashedReader(source_rows, 1, digests=False),
                     HashedReader(target_rows, 1, digests=False), hashed=True)

    result = reconcile_table(pair, Settings(mode="checksum", settle_s=0), sleep=lambda _: None)

    assert [(c.key, c.columns, c.null_columns) for c in result.changed] == [(("1",), ("c",), ("c",)),
                                                                           (("2",), ("b",), ())]


class LeadingReader(FakeReader):
    """A side whose rows are placed at their first field, an integer leading a key of two fields, told apart by
    both, as the SQL of a key led by an integer answers; placed at a hash, it is a :class:`HashedReader`."""

    def _identity(self, row) -> tuple:
        return tuple(row[:2])

    def row_hashes(self, ranges):  # no field digests: a changed key's fields are read through the index
        rows = [(self._key(r), self._identity(r), self._hash(r), "") for r in self._in(ranges)]
        self.largest_fetch = max(self.largest_fetch, len(rows))
        return rows

    def fields(self, places, row_hashes=None):
        self.fields_read = [r for r in self._read() if self._key(r) in places.values()
                            and (row_hashes is None or self._hash(r) in row_hashes)]
        return {self._identity(r): r for r in self.fields_read if self._identity(r) in places}

    def placed_at_hash(self) -> HashedReader:
        hashed = HashedReader(self.rows, key_width=2)
        hashed.ref = SimpleNamespace(key_columns=("a", "b"))  # what the hashed table's label names
        return hashed


def _leading_run(source_rows, target_rows, **settings):
    """The result, and the table compared (its readers: while placed at the leading column)."""
    clock = Clock()
    pair = TablePair("lines", "a (leading column of a, b)", ("a", "b", "c"), LeadingReader(source_rows),
                     LeadingReader(target_rows), leading=True)
    result = reconcile_table(pair, Settings(**{"mode": "checksum", "settle_s": 0, "leaf_rows": 2, "max_segments": 4,
                                               **settings}), clock=clock, sleep=clock.sleep)
    return result, pair


LINES = [(a, b) for a in ("1", "2", "3", "10", "11") for b in ("x", "X", "x ")]


@given(st.dictionaries(st.sampled_from(LINES), st.sampled_from(("u", "v", NULL)), max_size=15),
       st.dictionaries(st.sampled_from(LINES), st.sampled_from(("u", "v", NULL)), max_size=15),
       st.lists(st.sampled_from(LINES), max_size=3), st.integers(1, 8))
@settings(max_examples=200, deadline=None)
def test_a_key_led_by_an_integer_names_every_differing_key_whatever_the_read_budget(source, target, doubled, budget):
    """Rows placed at the leading column are compared key by key on every key column: lines of one order are told
    apart, in reads of at most the budget's rows; a value of the leading column holding more rows than a read may
    is compared again placed at a hash, with the same findings."""
    source_rows, target_rows = _keyed_rows(source, target, doubled)

    result, pair = _leading_run(source_rows, target_rows, leaf_budget_rows=budget)

    # a read holds at most the budget; a segment of several places at most leaf_rows (2) rows
    assert max(pair.source.largest_fetch, pair.target.largest_fetch) <= max(budget, 2)
    _assert_every_key_named(result, source, target, target_rows)
    assert result.unexplored == () and (result.status == "ok") is (Counter(source_rows) == Counter(target_rows))


@pytest.mark.parametrize(("budget", "placed_at"), [(100, "a (leading column of a, b)"), (4, "hash(a, b)")])
def test_an_order_with_more_lines_than_a_read_may_hold_is_compared_placed_at_a_hash(budget, placed_at):
    source_rows = [("7", str(line), "u") for line in range(10)] + [("8", "0", "u")]
    target_rows = [(*row[:2], "v") if row[1] == "3" else row for row in source_rows]

    result, pair = _leading_run(source_rows, target_rows, leaf_budget_rows=budget)

    assert result.cut.key == placed_at and [(c.key, c.columns) for c in result.changed] == [(("7", "3"), ("c",))]
    assert result.missing == result.extra == result.duplicate == ()
    if placed_at.startswith("a "):  # the changed columns: a read of the changed row, not of order 7's ten
        assert [len(side.fields_read) for side in (pair.source, pair.target)] == [1, 1]


class ChangedAgainBeforeItsFieldsAreRead(LeadingReader):
    """The source row changes again (column c) after the key-by-key reads, before its fields are read."""

    def __init__(self, rows, later) -> None:
        super().__init__(rows)
        self.later = later

    def fields(self, places, row_hashes=None):
        self.rows = list(self.later)
        return super().fields(places, row_hashes)


def test_a_changed_row_that_changes_again_before_its_fields_are_read_is_named_with_its_columns_now():
    source = ChangedAgainBeforeItsFieldsAreRead([("7", "1", "u")], later=[("7", "1", "w")])

    result = reconcile_table(TablePair("lines", "a (leading column of a, b)", ("a", "b", "c"), source,
                                       LeadingReader([("7", "1", "v")]), leading=True),
                             Settings(mode="checksum", settle_s=0), sleep=lambda _: None)

    assert [(c.key, c.columns) for c in result.changed] == [(("7", "1"), ("c",))]


def test_an_order_that_gains_lines_while_a_difference_settles_is_counted_before_it_is_read_again():
    """The re-read of a leaf counts its order first: 5,000 new lines (on both sides) send the table to hashed
    placement instead of into one read, and the lost line is still named."""
    lines = [("7", str(n), "u") for n in range(3)] + [("8", "0", "u")]
    source, target = LeadingReader(lines), LeadingReader([row for row in lines if row[1] != "2"])
    reads = iter(range(1, 100))

    def bulk_insert_after_the_first_leaf_read(read):
        def row_hashes(ranges):
            rows = read(ranges)
            if next(reads) == 2:  # both sides have been read key by key once
                for side in (source, target):
                    side.rows += [("7", f"b{n}", "u") for n in range(5000)]
            return rows
        return row_hashes

    source.row_hashes = bulk_insert_after_the_first_leaf_read(source.row_hashes)
    target.row_hashes = bulk_insert_after_the_first_leaf_read(target.row_hashes)
    pair = TablePair("lines", "a (leading column of a, b)", ("a", "b", "c"), source, target, leading=True)
    clock = Clock()

    result = reconcile_table(pair, Settings(mode="checksum", settle_s=5, leaf_rows=2, max_segments=4, max_keys=10,
                                            leaf_budget_rows=100), clock=clock, sleep=clock.sleep)

    assert result.missing == (("7", "2"),) and result.cut.key == "hash(a, b)"
    assert max(source.largest_fetch, target.largest_fetch) <= 100


class RangedReader(FakeReader):
    """A side whose rows are placed at their text key's place in this side's own order (``fold``: what a
    case-insensitive collation compares), each range read on its own with its rows given the range's first place,
    as the SQL of text places answers; placed at a hash, a :class:`TextHashedReader`."""

    def __init__(self, rows, fold=str, after_reads=None) -> None:
        super().__init__(rows, after_reads)
        self.fold = fold
        self.ref = SimpleNamespace(key_columns=("id",))

    def _key(self, row) -> int:  # the place
        return text_place(self.fold(row[0]))

    @staticmethod
    def _identity(row) -> str:
        return f"{len(row[0])}:{row[0]}"

    def text_places_spread(self) -> bool:  # as many keys as a table of UUIDs would have
        return True

    def bounds(self):
        return (0, TEXT_PLACES - 1) if self._read() else (None, None)

    def count(self, hi):
        return len(self._read())

    def row_hashes(self, ranges):
        self.most_ranges = max(getattr(self, "most_ranges", 0), len(ranges))
        rows = self._read()
        return [(lo, self._identity(r), self._hash(r), "") for lo, hi in ranges for r in rows
                if lo <= self._key(r) <= hi]

    def fields(self, places, row_hashes=None):
        return {self._identity(r): r for r in self._read()
                if self._identity(r) in places and (row_hashes is None or self._hash(r) in row_hashes)}

    def placed_at_hash(self) -> HashedReader:
        hashed = TextHashedReader(self.rows, key_width=1, digests=False)
        hashed.ref = self.ref
        return hashed


class TextHashedReader(HashedReader):
    _identity = staticmethod(RangedReader._identity)

    def _key(self, row) -> int:
        return int(hashlib.md5(self._identity(row).encode()).hexdigest()[:15], 16)


TEXT_KEYS = ["", "0", "0a", "0A", "0b", "0B", "9", "9:", ":", "-", "a", "A", "ab", "AB", "f", "F", "g", "G", "é", "É",
             "00000000", "0000000a", "0000000A", "0000000-", "ffffffff", "FFFFFFFF", "fffffffffz", "6f1c2a3b-00"]


@given(st.dictionaries(st.sampled_from(TEXT_KEYS), st.sampled_from(("u", "v", NULL)), max_size=12),
       st.dictionaries(st.sampled_from(TEXT_KEYS), st.sampled_from(("u", "v", NULL)), max_size=12),
       st.lists(st.sampled_from(TEXT_KEYS), max_size=3), st.integers(1, 4), st.integers(1, 8))
@settings(max_examples=300, deadline=None)
def test_text_places_name_every_differing_key_though_the_two_collations_place_keys_apart(
        source, target, doubled, max_keys, budget):
    """The source orders keys case-insensitively, the warehouse by bytes: a key whose case makes the two disagree is
    at one place on one side and another on the other; each side's places still partition its rows, so no difference
    hides, and the key-by-key read of every differing place at once matches it, so none is invented. Too many
    differing places, or one place holding more than a read may, and the table is compared again at the hash of its
    key, with the same findings."""
    source_rows = [(key, value) for key, value in source.items()]
    target_rows = [(key, value) for key, value in target.items()] + [(key, "u") for key in doubled if key in target]
    pair = TablePair("handles", "place(id)", ("id", "note"), RangedReader(source_rows, fold=str.lower),
                     RangedReader(target_rows), ranged=True, key_kinds=(Kind.TEXT,))
    clock = Clock()

    result = reconcile_table(pair, Settings(mode="checksum", settle_s=0, leaf_rows=1, max_segments=4,
                                            max_keys=max_keys, leaf_budget_rows=budget),
                             clock=clock, sleep=clock.sleep)

    assert (result.status == "ok") is (Counter(source_rows) == Counter(target_rows))
    if result.unexplored:  # placed at a hash, with differences beyond max_keys: reported as hash ranges
        assert result.cut.key == "hash(id)"
        return
    copies = Counter(row[0] for row in target_rows)
    assert set(result.missing) == set(source) - set(target)
    assert set(result.extra) == set(target) - set(source)
    assert set(result.duplicate) == {key for key in set(source) & set(target) if copies[key] > 1}
    assert {c.key for c in result.changed} == {key for key in set(source) & set(target)
                                               if copies[key] == 1 and source[key] != target[key]}
    assert all(c.columns == ("note",) for c in result.changed[:max_keys])  # beyond max_keys: keys only


def test_a_key_the_collations_place_apart_that_lands_while_the_difference_settles_is_not_drift():
    """The source has '0A1' (case-insensitive: place 0x0a0fffff); CDC lands it in the warehouse only after the first
    key-by-key read, at its bytewise place 0x09ffffff, in no leaf read so far: the re-read looks there too."""
    rows = [("0A1", "x"), ("0a2", "y")]
    pair = TablePair("handles", "place(id)", ("id", "note"), RangedReader(rows, fold=str.lower),
                     RangedReader(rows[1:], after_reads=(3, rows)), ranged=True, key_kinds=(Kind.TEXT,))
    clock = Clock()

    result = reconcile_table(pair, Settings(mode="checksum", settle_s=10, poll_s=1), clock=clock, sleep=clock.sleep)

    assert (result.status, result.missing, result.source, result.target) == ("ok", (), 2, 2)
    assert result.reads >= 2  # it was found, then settled


class Streaming:
    """Steady inserts: the source has ``base + rate * (now + head)`` rows, the target the same ``lag`` seconds
    later (every row lands within ``lag``, less than settle_s)."""

    def __init__(self, clock: Clock, lag: float, rate: int = 3, base: int = 100, head: float = 10) -> None:
        self.clock, self.lag, self.rate, self.base, self.head = clock, lag, rate, base, head

    def rows(self, make) -> list[tuple]:
        return [make(i) for i in range(self.base + int(self.rate * (self.clock.now + self.head - self.lag)))]


class StreamingHashed(HashedReader):
    def __init__(self, stream: Streaming) -> None:
        super().__init__([], key_width=1)
        self.stream = stream

    def _read(self):
        self.reads += 1
        self.rows = self.stream.rows(lambda i: (f"k{i}", "v", "w"))
        return self.rows

    def bounds(self):  # the whole hash space
        return (0, 2**60 - 1) if self._read() else (None, None)


class StreamingRanged(RangedReader):
    def __init__(self, stream: Streaming) -> None:
        super().__init__([])
        self.stream = stream

    def _read(self):
        self.reads += 1
        self.rows = self.stream.rows(lambda i: (hashlib.md5(str(i).encode()).hexdigest(), "v"))  # not security
        return self.rows


def _streaming_pair(clock: Clock, ranged: bool) -> TablePair:
    if ranged:
        return TablePair("tickets", "place(id)", ("id", "note"), StreamingRanged(Streaming(clock, lag=0)),
                         StreamingRanged(Streaming(clock, lag=1)), ranged=True, key_kinds=(Kind.TEXT,))
    return TablePair("events", "hash(a)", ("a", "b", "c"), StreamingHashed(Streaming(clock, lag=0)),
                     StreamingHashed(Streaming(clock, lag=1)), hashed=True)


@pytest.mark.parametrize("mode", ["count", "checksum"])
@pytest.mark.parametrize("ranged", [False, True], ids=["hashed", "text places"])
def test_steady_inserts_that_land_within_the_settle_window_are_not_drift_without_a_watermark(mode, ranged):
    """No watermark (a hash, text places): the full counts are always a few rows apart while rows stream in, and each
    row found missing lands within a second. Keys found after the counts settled get their own settle window."""
    clock = Clock()

    result = reconcile_table(_streaming_pair(clock, ranged), Settings(mode=mode, settle_s=5, poll_s=1), clock=clock,
                             sleep=clock.sleep)

    assert (result.missing, result.extra, result.changed, result.status) == ((), (), (), "ok")
    assert result.source > result.target  # the counts of the last read still differ: rows in flight, not drift


def test_rows_in_flight_at_the_first_pass_do_not_count_against_the_tolerance():
    """One row really changed (tolerance 1); five deletes were in flight at the first pass and land within the
    settle window: drift is the one changed row."""
    changed = [("77", "other", "77.50") if r[0] == "77" else r for r in ROWS]
    lagging = FakeReader([r for r in changed if r[0] not in ("995", "996", "997", "998", "999")],
                         after_reads=(3, changed))
    clock = Clock()
    pair = TablePair("orders", "id", COLUMNS, FakeReader(ROWS), lagging)

    result = reconcile_table(pair, Settings(mode="checksum", settle_s=5, poll_s=1, tolerance=1), clock=clock,
                             sleep=clock.sleep)

    assert [c.key for c in result.changed] == [77] and result.missing == () and result.drift == 1
