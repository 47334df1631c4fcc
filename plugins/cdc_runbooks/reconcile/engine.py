"""Reconciliation engine: prove source = target under live CDC, or name the keys that differ. Pure (no Airflow).

Public API::

    Settings(mode="count", settle_s=60.0, poll_s=1.0, tolerance=0, max_keys=100, leaf_rows=64,
             max_segments=4096, hashed_segments=32768, leaf_budget_rows=65536)
    reconcile(source: Side, target: Side, tables, settings=Settings(), keys=None) -> Report
    reconcile_table(pair: TablePair, settings=Settings()) -> TableResult
    # Side / describe_table / TablePair: cdc_runbooks.reconcile.compared_table
    # Report / TableResult: cdc_runbooks.reconcile.report

Every table is validated on both sides before any data is read. Both sides are read in parallel; all
counting and hashing happens inside the databases.

The consistent cut (why a live pipeline shows no false drift, and why a real loss cannot hide):
1. The key watermark ``hi`` is the source's largest key, read *before* the target's: rows inserted
   after the check started are not compared (the target may not have them yet). If the target holds
   keys above every key the source has (read again after the target), ``hi`` is raised to include
   them: extra rows at the top are compared, not cut off.
2. A difference found at a read is re-read (both sides, only the differing keys and key ranges) every
   ``poll_s`` until it disappears or ``settle_s`` has passed since it was first seen (at least one
   re-read). A change in flight (target lagging by the CDC latency) disappears once applied; a lost,
   extra, duplicated or wrongly changed row never does, so it is reported. ``settle_s`` must exceed the
   CDC latency; if it does not, the result is false drift (loud), never hidden drift.
3. Checksum mode: a key range counts as equal only when its row count *and* its fingerprint (the MD5 of
   its rows' canonical renderings in key order, or the exact sum of their 60-bit row hashes where Redshift
   is a side: :class:`~cdc_runbooks.reconcile.row_checksum.Fingerprint`) agree on one read; in-flight
   changes cannot fake that. Count mode compares only counts (a lost row and a duplicated one cancel
   out), and localises to keys when counts differ after settling.

Localisation (drift to keys, faster than per-segment diff tools): level 0 buckets the cut into at most
``max_segments`` power-of-two-wide key segments and gets every segment's count and fingerprint from ONE
pass over the table per side. Differing segments (at most ``max_keys`` of them; the rest are reported
as ranges) are split again with one query per level, touching only their key ranges, until a segment
has at most ``leaf_rows`` rows; then (key, row hash) pairs are fetched and classified: missing, extra,
changed (with the columns that differ, NULL-vs-value named) and duplicate key in the target.

A key of several columns led by an integer (``TablePair.leading``: order_id, line_no) takes the same walk over the
leading column, and its key-by-key reads tell rows apart by every key column, at most ``max_keys`` x ``leaf_rows`` rows
a read. A value of that column holding more than ``leaf_budget_rows`` rows (a tenant id leading millions of rows)
sends the table to hashed placement, from the start.

A single text key that an index orders on both sides (``TablePair.ranged``: a UUID primary key) takes the same walk
over text places (:func:`~cdc_runbooks.reconcile.row_checksum.text_place`: ranges of the key's index whose bounds are
fixed-width lowercase hex, so each side's places partition its rows in its own collation's order), with no watermark
(the cut is every place, as for a hash below). A key the two collations order apart is at a different place on each
side: every differing place is read key by key in one read and re-read together, with each found key's place in code
point order (where a bytewise side lands a copy CDC applies meanwhile), judging only the keys found at first, so such
a key is matched, not reported. Keys that do not fill every sixteenth of the places (a probe of 16 index lookups),
more differing places than ``max_keys``, or more rows in them than ``leaf_budget_rows``, send the table to hashed
placement, from the start (a table whose keys mostly pile at one place though each sixteenth holds one is not
caught: past about 1 GB of rows at a place its fingerprint fails loudly, as a refused query).

Hashed placement (any other key, or no key: ``TablePair.hashed``): the same walk over the
60-bit hash of each row's key text instead of the key. There is no watermark (the cut is the whole hash space,
so rows written during the check are compared and settle like any change in flight, rule 2), every level is a
full scan, so the first pass splits the hash space into ``hashed_segments`` (not ``max_segments``) segments and the
differing segments go to keys as soon as they hold ``leaf_budget_rows`` rows together: with up to about 200
differing rows in 10M, two scans per side before the re-read of rule 2. That last read brings each row's field
digests, so the columns of a changed row are named without a third scan. Keys are matched on their canonical
texts, then reported as values (``TablePair.shown_key``). Without a key
(``TablePair.multiset``) a row's key is the whole row: copies are counted, and every lost or extra copy is one
row of drift.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby

from cdc_runbooks import identifiers
from cdc_runbooks.reconcile.compared_table import Key, Side, TablePair, TableReader, describe_tables
from cdc_runbooks.reconcile.report import ChangedRow, Cut, Report, Segment, TableResult, key_order
from cdc_runbooks.reconcile.row_checksum import NULL, NULL_DIGEST, split_digests, text_place

MODES = ("count", "checksum")


@dataclass(frozen=True)
class Settings:
    """How to reconcile.

    :param mode: ``count`` (counts; localise only if they differ) or ``checksum`` (always compare rows).
    :param settle_s: how long a difference may take to disappear (longer than the CDC latency).
    :param poll_s: seconds between re-reads of a difference.
    :param tolerance: rows of drift per table that still pass (0: any difference fails).
    :param max_keys: differing segments followed to keys per level, and keys listed per kind.
    :param leaf_rows: a segment with at most this many rows per side is compared key by key.
    :param max_segments: segments per pass (bounds memory and the GROUP BY size).
    :param hashed_segments: hashed placement: segments of the first pass (a full scan: more segments now, fewer
        levels after).
    :param leaf_budget_rows: hashed placement: the differing segments are compared key by key once they hold
        at most this many rows together (bounds memory; each further level is a full scan).
    """

    mode: str = "count"
    settle_s: float = 60.0
    poll_s: float = 1.0
    tolerance: int = 0
    max_keys: int = 100
    leaf_rows: int = 64
    max_segments: int = 4096
    hashed_segments: int = 32768
    leaf_budget_rows: int = 65536

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode: {identifiers.shown(self.mode)} is not one of {MODES}")
        for name in ("settle_s", "poll_s", "tolerance"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must not be negative")
        for name in ("max_keys", "leaf_rows", "max_segments", "hashed_segments", "leaf_budget_rows"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1")


@dataclass
class _Findings:
    """Keys found per kind, each with the number of rows it accounts for (more than one when copies differ:
    rows of a table without a key, a key the source repeats, a key the target holds three times)."""

    missing: Counter[Key] = field(default_factory=Counter)
    extra: Counter[Key] = field(default_factory=Counter)
    changed: Counter[Key] = field(default_factory=Counter)
    duplicate: Counter[Key] = field(default_factory=Counter)
    places: dict[Key, int] = field(default_factory=dict)  # where each key found is placed (its hash, or itself)
    digests: dict[Key, tuple[str, str]] = field(default_factory=dict)  # changed keys' field digests, hashed
    hashes: dict[Key, tuple[list[int], list[int]]] = field(default_factory=dict)  # changed keys' row hashes
    leaves: list[Segment] = field(default_factory=list)  # segments compared key by key, with drift
    leaf_width: int = 1  # the width of those segments
    unexplored: list[tuple[Segment, int]] = field(default_factory=list)  # (segment, its width)

    def __bool__(self) -> bool:
        return bool(self.leaves or self.unexplored)

    def all_keys(self) -> set[Key]:
        """Every key found, of any kind."""
        return {key for kind in (self.missing, self.extra, self.changed, self.duplicate) for key in kind}

    def keep(self, before: _Findings) -> None:
        """Text places: keep only the keys found ``before`` (a re-read also reads places where a key the two sides
        place apart lands, and other keys there may be placed apart too: each is judged where it was first read)."""
        kept = before.all_keys()
        for kind in (self.missing, self.extra, self.changed, self.duplicate):
            for key in set(kind) - kept:
                del kind[key]
        if not self.all_keys():
            self.leaves = []


class _PlaceAtHash(Exception):
    """The table cannot be compared placed as it is, found after ``reads`` reads: one value of a leading key column,
    or one text place, holds more rows than a key-by-key read may (``leaf_budget_rows``); or more text places differ
    than ``max_keys`` (keys the two sides' collations order apart, or drift too wide to follow by ranges)."""

    def __init__(self, reads: int) -> None:
        super().__init__(reads)
        self.reads = reads


def _pow2_at_least(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _merged(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted inclusive ranges with touching ones joined (shorter SQL, same rows)."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out


class _Probe:
    """The reads of one table's reconciliation; each read runs on both sides at once."""

    def __init__(self, pair: TablePair, settings: Settings, pool: ThreadPoolExecutor, reads: int = 0) -> None:
        self.pair, self.settings, self.pool = pair, settings, pool
        self.cut: Cut | None = None
        self.null_keys = (0, 0)  # rows whose key is NULL, per side: read with the cut
        self.reads = reads

    def both(self, read: Callable[[TableReader], object]) -> tuple:
        source, target = self.pool.submit(read, self.pair.source), self.pool.submit(read, self.pair.target)
        return source.result(), target.result()

    def read_cut(self) -> Cut:
        source_lo, source_hi = self.pair.source.bounds()
        target_lo, target_hi = self.pair.target.bounds()
        hi = source_hi
        if target_hi is not None and (source_hi is None or target_hi > source_hi):
            _, source_hi_now = self.pair.source.bounds()
            if source_hi_now is None or target_hi > source_hi_now:
                hi = target_hi
        lows = [v for v in (source_lo, target_lo) if v is not None and (hi is None or v <= hi)]
        self.cut = Cut(self.pair.key, min(lows) if lows and hi is not None else None, hi)
        self.null_keys = self.both(lambda side: side.null_keys())
        return self.cut

    def counts(self) -> tuple[int, int]:
        self.reads += 1
        return self.both(lambda side: side.count(self.cut.hi))

    def compare(self, segments: Sequence[Segment], width: int,
                most: int | None = None) -> tuple[list[Segment], tuple[int, int], int]:
        """Segments of ``width`` inside ``segments`` whose count or checksum differ, the row totals, and that width.
        With ``most`` (the hashed first pass, finer than any later statement may name: the Redshift Data API takes
        100 KB), more differing segments than that are merged into aligned ones of a wider power-of-two width,
        with the rows they really hold: the equal rows they take in are cleared by the reads below."""
        origin, ranges = self.cut.lo, _merged((s.lo, s.hi) for s in segments)
        source, target = self.both(lambda side: side.segments(origin, width, ranges))
        differing = {bucket for bucket in set(source) | set(target) if source.get(bucket) != target.get(bucket)}
        factor = 1
        while most is not None and len({bucket // factor for bucket in differing}) > most:
            factor *= 2
        rows = {bucket // factor: [0, 0] for bucket in differing}
        for side, summaries in enumerate((source, target)):
            for bucket, (n, _) in summaries.items():
                if bucket // factor in rows:
                    rows[bucket // factor][side] += n
        width *= factor
        found = [Segment(max(origin + block * width, self.cut.lo), min(origin + (block + 1) * width - 1, self.cut.hi),
                         *rows[block]) for block in sorted(rows)]
        totals = sum(n for n, _ in source.values()), sum(n for n, _ in target.values())
        return found, totals, width

    def localise(self) -> tuple[_Findings, tuple[int, int]]:
        """Level 0 over the whole cut (one scan per side), then down to keys."""
        self.reads += 1
        segments = self.settings.hashed_segments if self.pair.hashed else self.settings.max_segments
        width = _pow2_at_least(-(-(self.cut.hi - self.cut.lo + 1) // segments))
        differing, totals, width = self.compare([Segment(self.cut.lo, self.cut.hi, 0, 0)], width,
                                                most=self.settings.max_segments)
        return self.descend(differing, width), totals

    def descend(self, segments: list[Segment], width: int) -> _Findings:
        found = _Findings()
        while segments:
            if self.pair.ranged and len(segments) > self.settings.max_keys:
                raise _PlaceAtHash(self.reads)
            if not (self.pair.hashed and self.small_enough(segments)):  # within the budget: every one to keys
                found.unexplored += [(s, width) for s in segments[self.settings.max_keys:]]
                segments = segments[:self.settings.max_keys]
            if width == 1 or self.small_enough(segments):
                found.leaf_width = width
                self.classify(segments, found)
                break
            width = self.child_width(segments, width)
            segments, _, _ = self.compare(segments, width)
        return found

    def small_enough(self, segments: Sequence[Segment]) -> bool:
        """Whether to compare ``segments`` key by key now. Key ranges: when each has at most ``leaf_rows`` rows (a
        range read through the key's index costs its rows). Hashed placement: when all of them together have at
        most ``leaf_budget_rows`` rows: every level is a full scan (the hash is not indexed), so fewer levels and
        a larger last read are cheaper. Text places too: they are read together (a key may be at two places)."""
        rows = [max(s.source_rows, s.target_rows) for s in segments]
        if self.pair.hashed or self.pair.ranged:
            return sum(rows) <= self.settings.leaf_budget_rows
        return max(rows) <= self.settings.leaf_rows

    def child_width(self, segments: Sequence[Segment], width: int) -> int:
        """Text places: children of a quarter of ``leaf_budget_rows`` shared among the segments, so that the next
        level goes to keys in one read of about that many rows (a statement per segment: fewer, larger ones, with
        room for a child holding more than its share); else of ``leaf_rows``."""
        rows = max(max(s.source_rows, s.target_rows) for s in segments)
        settings = self.settings
        per_child = max(settings.leaf_rows, settings.leaf_budget_rows // (4 * len(segments))) if self.pair.ranged \
            else settings.leaf_rows
        ideal = 1 << max(0, (width * per_child // rows).bit_length() - 1)
        enough = _pow2_at_least(-(-len(segments) * width // self.settings.max_segments))
        return max(1, min(width // 2, max(ideal, enough)))

    def classify(self, segments: Sequence[Segment], found: _Findings) -> None:
        """Compare ``segments`` key by key; placed at a key column, in reads of at most ``max_keys`` x ``leaf_rows``
        rows (as many as ``max_keys`` full leaves of a single key; a key has one place, so all its rows are in one
        read). A place holding more than ``leaf_budget_rows`` rows (a leading key column with few values) is
        refused with :class:`_PlaceAtHash`: the table is placed at a hash instead. Hashed placement reads them
        together (every read is a full scan; :meth:`small_enough` bounds them); so do text places (a key the two
        collations place apart is in two of them), up to ``leaf_budget_rows`` rows, else :class:`_PlaceAtHash`."""
        settings = self.settings
        rows = [max(s.source_rows, s.target_rows) for s in segments]
        if self.pair.leading and any(s.lo == s.hi and n > settings.leaf_budget_rows
                                     for s, n in zip(segments, rows, strict=True)):
            raise _PlaceAtHash(self.reads)
        if self.pair.ranged and sum(rows) > settings.leaf_budget_rows:  # read at once: places holding many rows
            raise _PlaceAtHash(self.reads)
        # hashed placement, and text places (a key the collations order apart is in two of them): one read
        most = None if self.pair.hashed or self.pair.ranged else min(settings.leaf_budget_rows,
                                                                     settings.max_keys * settings.leaf_rows)
        batch: list[Segment] = []
        for segment in segments:
            if batch and most is not None and sum(max(s.source_rows, s.target_rows) for s in (*batch, segment)) > most:
                self.classify_batch(batch, found)
                batch = []
            batch.append(segment)
        self.classify_batch(batch, found)

    def classify_batch(self, segments: list[Segment], found: _Findings) -> None:
        """Fetch (place, key, row hash, field digests) in ``segments`` from both sides and sort every differing key
        into its kind (a table without a key: every differing row into missing or extra, by its copies on each
        side). A leading key value found holding more than ``leaf_budget_rows`` rows (it grew since it was
        counted: a re-read of a leaf while its order gains lines) is refused as :meth:`classify` refuses it."""
        # text places: each segment its own read, whose first place each of its rows is given
        ranges = sorted((s.lo, s.hi) for s in segments) if self.pair.ranged else _merged((s.lo, s.hi) for s in segments)
        source_rows, target_rows = self.both(lambda side: side.row_hashes(ranges))
        source: dict[Key, list[int]] = {}
        target: dict[Key, list[int]] = {}
        places: tuple[dict[Key, int], dict[Key, int]] = ({}, {})  # each side's: text places may differ
        fields: tuple[dict[Key, str], dict[Key, str]] = ({}, {})
        for rows, side, digests, placed in ((source_rows, source, fields[0], places[0]),
                                            (target_rows, target, fields[1], places[1])):
            at_place: Counter[int] = Counter()
            for place, key, row_hash, field_digests in rows:
                side.setdefault(key, []).append(row_hash)
                placed[key] = place
                at_place[place] += 1
                if field_digests:  # hashed placement only
                    digests[key] = field_digests
            if self.pair.leading and at_place and max(at_place.values()) > self.settings.leaf_budget_rows:
                raise _PlaceAtHash(self.reads)
        differing = []
        for key in set(source) | set(target):
            kind, rows = _kind(source.get(key, []), target.get(key, []), self.pair.multiset)
            if kind is not None:
                getattr(found, kind)[key] += rows
                found.places[key] = places[1].get(key, places[0].get(key))
                differing += [placed[key] for placed in places if key in placed]
            if kind == "changed":
                found.hashes[key] = (source[key], target[key])
                if fields[0].get(key) and fields[1].get(key):
                    found.digests[key] = (fields[0][key], fields[1][key])
        if self.pair.ranged and differing:  # a key the collations place apart is in two: re-read every one at once
            found.leaves += segments
        else:
            found.leaves += [s for s in segments if any(s.lo <= place <= s.hi for place in differing)]

    def recheck(self, found: _Findings) -> _Findings:
        """Re-read only what differed: the key-by-key ranges, and each unexplored segment at its width. Placed at a
        leading key column, the ranges are counted again first (index-served): a value may have gained rows since
        (new lines of an order), and one holding more than a read may goes to hashed placement before it is read."""
        self.reads += 1
        again = _Findings(leaf_width=found.leaf_width)
        leaves = found.leaves
        if leaves and self.pair.leading:
            leaves, _, _ = self.compare(leaves, found.leaf_width)
        if leaves and self.pair.ranged:
            self.classify(self.with_bytewise_places(leaves, found), again)
            again.keep(found)
        elif leaves:
            self.classify(leaves, again)
        for width, group in groupby(sorted(found.unexplored, key=lambda u: u[1]), key=lambda u: u[1]):
            differing, _, _ = self.compare([s for s, _ in group], width)
            again.unexplored += [(s, width) for s in differing]
        return again

    def with_bytewise_places(self, leaves: list[Segment], found: _Findings) -> list[Segment]:
        """Text places: ``leaves`` and the code point order place of each key found (where a bytewise side holds or
        will hold it: a row that CDC lands while the difference settles may be placed apart from the source's copy,
        in no leaf). More of them than ``max_keys`` goes to hashed placement."""
        shown = (self.pair.shown_key(key) for key in found.all_keys())
        places = {text_place(text) for text in shown if isinstance(text, str)}
        apart = sorted(p for p in places if not any(s.lo <= p <= s.hi for s in leaves))
        if len(apart) > self.settings.max_keys:
            raise _PlaceAtHash(self.reads)
        return sorted([*leaves, *(Segment(p, p, 0, 0) for p in apart)], key=lambda s: s.lo)

    def changed_rows(self, keys: list[Key], found: _Findings) -> tuple[ChangedRow, ...]:
        """Name the columns that differ for each changed key: from the field digests its key-by-key read brought
        (hashed placement, up to ``MAX_DIGEST_COLUMNS`` columns), else canonical field texts read by key and row hash
        (the rows found changed, not every row at their place: a leading key column's value holds many)."""
        if not keys:
            return ()
        if all(key in found.digests for key in keys):
            source = {key: split_digests(found.digests[key][0]) for key in keys}
            target = {key: split_digests(found.digests[key][1]) for key in keys}
            null = NULL_DIGEST
        else:
            places = {key: found.places[key] for key in keys}
            hashes = tuple({row_hash for key in keys for row_hash in found.hashes[key][side]} for side in (0, 1))
            source, target = self.both(lambda side: side.fields(places, hashes[side is self.pair.target]))
            again = {key: place for key, place in places.items() if key not in source or key not in target}
            if again:  # changed again since it was found: its row as it is now
                more = self.both(lambda side: side.fields(again))
                source, target = {**source, **more[0]}, {**target, **more[1]}
            null = NULL
        rows = []
        for key in keys:
            pairs = list(zip(self.pair.columns, source.get(key, ()), target.get(key, ()), strict=False))
            rows.append(ChangedRow(self.pair.shown_key(key), tuple(c for c, s, t in pairs if s != t),
                                   tuple(c for c, s, t in pairs if s != t and null in (s, t))))
        return tuple(rows)


def _kind(source: list[int], target: list[int], multiset: bool) -> tuple[str | None, int]:
    """Which finding a key is, from its row hashes on each side, and how many rows it accounts for; None when
    equal. A key has one row per side unless the source repeats it (a table without a key; a named key that is
    not unique) or the target does (no primary key there): then copies are compared, never just the first."""
    if multiset:  # the key is the whole row: only its number of copies can differ
        lost = len(source) - len(target)
        return (None, 0) if lost == 0 else ("missing", lost) if lost > 0 else ("extra", -lost)
    if not source:
        return "extra", len(target)
    if not target:
        return "missing", len(source)
    if len(target) > len(source):
        return "duplicate", len(target) - len(source)
    if len(target) < len(source):
        return "missing", len(source) - len(target)
    return (None, 0) if sorted(target) == sorted(source) else ("changed", len(source))


def _settle(probe: _Probe, found: _Findings, deadline: float, settings: Settings,
            clock: Callable[[], float], sleep: Callable[[float], None]) -> _Findings:
    """Re-read the differences until none is left or the deadline passed (at least one re-read)."""
    while found:
        sleep(max(0.0, min(settings.poll_s, deadline - clock())))
        found = probe.recheck(found)
        if clock() >= deadline:
            break
    return found


def _counts_until_equal(probe: _Probe, settings: Settings, clock: Callable[[], float], sleep: Callable[[float], None],
                        deadline: float | None = None) -> tuple[tuple[int, int], float | None]:
    """Counts re-read until both sides agree or ``settle_s`` after they first differed (or ``deadline``);
    the counts and that deadline."""
    counts = probe.counts()
    while counts[0] != counts[1]:
        deadline = deadline or clock() + settings.settle_s
        if clock() >= deadline:
            break
        sleep(settings.poll_s)
        counts = probe.counts()
    return counts, deadline


def reconcile_table(pair: TablePair, settings: Settings = Settings(), *, clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep) -> TableResult:
    """Reconcile one validated table (see the module docstring for the rules); a table placed at its leading key
    column whose differing rows share a value too many to read key by key is reconciled again placed at a hash."""
    started = clock()
    if pair.ranged and not pair.source.text_places_spread():  # keys that do not start with hex digits
        pair = pair.placed_at_hash()
    try:
        return _reconcile_table(pair, settings, started, clock, sleep)
    except _PlaceAtHash as dense:
        return _reconcile_table(pair.placed_at_hash(), settings, started, clock, sleep, dense.reads)


def _reconcile_table(pair: TablePair, settings: Settings, started: float, clock: Callable[[], float],
                     sleep: Callable[[float], None], reads: int = 0) -> TableResult:
    with ThreadPoolExecutor(2, thread_name_prefix=f"reconcile-{pair.table}") as pool:
        probe = _Probe(pair, settings, pool, reads)
        cut = probe.read_cut()
        result = {"table": pair.table, "mode": settings.mode, "cut": cut, "max_keys": settings.max_keys}
        nulls = probe.null_keys  # rows whose key is NULL (a warehouse without NOT NULL): drift, in no key range
        unplaced = {"missing": (None,) * nulls[0], "extra": (None,) * nulls[1]}
        if cut.hi is None:
            return TableResult(source=nulls[0], target=nulls[1], elapsed_s=clock() - started, reads=1,
                               localised=any(nulls), **unplaced, **result)
        deadline = None
        if settings.mode == "count":
            counts, deadline = _counts_until_equal(probe, settings, clock, sleep)
            if counts[0] == counts[1]:
                return TableResult(source=counts[0] + nulls[0], target=counts[1] + nulls[1],
                                   elapsed_s=clock() - started, reads=probe.reads, localised=any(nulls),
                                   **unplaced, **result)
        found, totals = probe.localise()
        counts = counts if settings.mode == "count" else totals
        if found:  # keys get their own settle window: found after the counts', they may be in flight too
            found = _settle(probe, found, clock() + settings.settle_s, settings, clock, sleep)
        if not found and counts[0] != counts[1]:  # it was in flight: the counts of a read after CDC caught up
            counts, _ = _counts_until_equal(probe, settings, clock, sleep, deadline)
        changed_keys = _reported(found.changed, pair)
        changed = probe.changed_rows(changed_keys[:settings.max_keys], found)
        return TableResult(source=counts[0] + nulls[0], target=counts[1] + nulls[1], elapsed_s=clock() - started,
                           reads=probe.reads,
                           missing=_shown(found.missing, pair) + unplaced["missing"],
                           extra=_shown(found.extra, pair) + unplaced["extra"],
                           changed=changed + tuple(ChangedRow(pair.shown_key(k))
                                                   for k in changed_keys[settings.max_keys:]),
                           duplicate=_shown(found.duplicate, pair),
                           unexplored=tuple(s for s, _ in sorted(found.unexplored, key=lambda u: u[0].lo)),
                           localised=True, **result)


def _shown(keys: Counter[Key], pair: TablePair) -> tuple[Key, ...]:
    """The keys as reported, in report order, each repeated once per row it accounts for (each key read back
    once: a composite or keyless row's rendering is split into its fields)."""
    return tuple(sorted((pair.shown_key(key) for key in keys.elements()), key=key_order))


def _reported(keys: Counter[Key], pair: TablePair) -> list[Key]:
    """Keys in report order (by their shown values), each repeated once per row it accounts for."""
    return sorted(keys.elements(), key=lambda key: key_order(pair.shown_key(key)))


def reconcile(source: Side, target: Side, tables: Iterable[str], settings: Settings = Settings(),
              keys: dict[str, str] | None = None) -> Report:
    """Validate every table on both sides first (refusing before any data query, naming every table that cannot
    be compared), then reconcile each."""
    pairs = describe_tables(source, target, tables, keys)
    return Report(tuple(reconcile_table(pair, settings) for pair in pairs), tolerance=settings.tolerance)
