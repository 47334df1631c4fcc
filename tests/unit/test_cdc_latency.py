"""cdc_latency: when CDCLatencySource/Target count as settled (drained before a pause, converged after a restart).

Settled means: the newest unbroken run of low samples (both metrics at or below the threshold) spans at least
``sustain_s``; any high sample starts the run again. Pure: no CloudWatch.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdc_runbooks.cdc_latency import LatencySample, LatencyWindow

MAX = 5.0
SUSTAIN = 60.0
LOW = 1.0
HIGH = 30.0


def window(*samples: tuple[float, float, float], max_latency_s: float = MAX,
           sustain_s: float = SUSTAIN) -> LatencyWindow:
    built = LatencyWindow(max_latency_s, sustain_s)
    for at, source_s, target_s in samples:
        built.add(LatencySample(at, source_s, target_s))
    return built


def low(at: float) -> tuple[float, float, float]:
    return (at, LOW, LOW)


def high(at: float) -> tuple[float, float, float]:
    return (at, HIGH, LOW)


@pytest.mark.parametrize(("source_s", "target_s", "worst"), [(1, 2, 2), (3, 0.5, 3), (4, 4, 4), (0, 0, 0)])
def test_sample_worst_is_the_higher_of_source_and_target(source_s, target_s, worst):
    assert LatencySample(0, source_s, target_s).worst_s == worst


def test_empty_window_is_not_settled():
    empty = window()
    assert empty.settled is False
    assert empty.describe() == "no CDC latency samples yet"


def test_samples_are_kept_in_order():
    built = window(low(0), high(10), low(20))
    assert [s.at for s in built.samples] == [0, 10, 20]
    assert window().samples == [] and window().samples is not window().samples


@pytest.mark.parametrize(("samples", "settled"), [
    pytest.param([low(0)], False, id="one-low-sample"),
    pytest.param([low(0), low(30)], False, id="all-low-but-short"),
    pytest.param([low(0), low(20), low(40), low(59.999)], False, id="all-low-just-short"),
    pytest.param([low(0), low(30), low(60)], True, id="all-low-exactly-sustained"),
    pytest.param([low(0), low(90)], True, id="all-low-long-enough-sparse"),
    pytest.param([low(100), low(130), low(160)], True, id="only-differences-matter"),
    pytest.param([high(0)], False, id="one-high-sample"),
    pytest.param([high(0), high(100)], False, id="all-high"),
    pytest.param([low(0), low(50), high(55)], False, id="spike-is-newest"),
    pytest.param([low(0), low(30), high(40), low(50), low(100)], False, id="spike-resets-the-window"),
    pytest.param([low(0), low(30), high(40), low(50), low(109.9)], False, id="after-spike-just-short"),
    pytest.param([low(0), low(30), high(40), low(50), low(110)], True, id="after-spike-exactly-sustained"),
    pytest.param([high(0), low(10), low(70)], True, id="spike-then-long-low-streak"),
    pytest.param([high(0), low(10), low(69)], False, id="spike-then-short-low-streak"),
    pytest.param([high(0), low(60)], False, id="single-low-after-spike-is-not-a-window"),
    pytest.param([high(0), low(10), high(20), low(30), low(89)], False, id="second-spike-restarts"),
    pytest.param([high(0), low(10), high(20), low(30), low(90)], True, id="after-second-spike"),
    pytest.param([low(0), low(100), high(101), low(102)], False, id="long-low-then-spike-forgets-history"),
])
def test_settled(samples, settled):
    assert window(*samples).settled is settled


@pytest.mark.parametrize(("source_s", "target_s", "counts_as_low"), [
    (MAX, MAX, True),  # at the threshold is low enough
    (MAX, 0, True),
    (0, MAX, True),
    (MAX + 0.01, 0, False),
    (0, MAX + 0.01, False),  # target higher than source, and above the threshold
    (0.2, 12.0, False),
    (12.0, 0.2, False),
])
def test_both_metrics_must_be_at_or_below_the_threshold(source_s, target_s, counts_as_low):
    built = window((0, source_s, target_s), (SUSTAIN, source_s, target_s))
    assert built.settled is counts_as_low


def test_target_spike_resets_the_window_like_a_source_spike():
    assert window(low(0), (30, 0.0, 9.0), low(40), low(90)).settled is False
    assert window(low(0), (30, 0.0, 9.0), low(40), low(100)).settled is True


def test_settling_as_samples_arrive():
    built = LatencyWindow(MAX, SUSTAIN)
    seen = []
    for sample in [low(0), low(30), high(45), low(60), low(90), low(119), low(120), low(150)]:
        built.add(LatencySample(*sample))
        seen.append(built.settled)
    assert seen == [False, False, False, False, False, False, True, True]


def test_a_new_spike_unsettles_a_settled_window():
    built = window(low(0), low(60))
    assert built.settled is True
    built.add(LatencySample(61, LOW, HIGH))
    assert built.settled is False


@pytest.mark.parametrize(("samples", "settled"), [
    ([low(0)], True),  # no sustain: one low sample is enough
    ([high(0)], False),
    ([low(0), high(1)], False),
    ([high(0), low(1)], True),
])
def test_zero_sustain(samples, settled):
    assert window(*samples, sustain_s=0).settled is settled


def test_zero_threshold_needs_zero_latency():
    assert window((0, 0, 0), (60, 0, 0), max_latency_s=0).settled is True
    assert window((0, 0, 0), (60, 0, 0.001), max_latency_s=0).settled is False


@pytest.mark.parametrize(("max_latency_s", "sustain_s", "last", "expected"), [
    (5, 60, (0, 1, 2.5), "latest CDCLatencySource 1.0 s, CDCLatencyTarget 2.5 s; need <= 5 s for 60 s"),
    (2.5, 90.5, (0, 12.345, 0.04), "latest CDCLatencySource 12.3 s, CDCLatencyTarget 0.0 s; need <= 2.5 s for 90.5 s"),
])
def test_describe_reports_the_newest_sample_and_the_goal(max_latency_s, sustain_s, last, expected):
    built = window((-10, 99, 99), last, max_latency_s=max_latency_s, sustain_s=sustain_s)
    assert built.describe() == expected


# -- CDC falling behind: the latency rises instead of draining --------------------------------------------------
def rising(*worst: float, every_s: float = 10) -> LatencyWindow:
    return window(*((i * every_s, w, LOW) for i, w in enumerate(worst)))


@pytest.mark.parametrize(("built", "over_s", "expected"), [
    pytest.param(rising(10, 20, 30, 40), 30, True, id="rising-for-exactly-the-span"),
    pytest.param(rising(10, 20, 30, 40), 31, False, id="not-that-long-yet"),
    pytest.param(rising(10, 20, 20, 40), 30, True, id="a-repeated-datapoint-is-not-a-fall"),
    pytest.param(rising(10, 20, 19, 40), 30, False, id="one-fall-is-draining"),
    pytest.param(rising(20, 20, 20, 20), 30, False, id="flat-is-not-rising"),
    pytest.param(rising(LOW, 20, 30, 40), 30, False, id="low-in-the-span"),
    pytest.param(rising(50, 10, 20, 30, 40), 30, True, id="only-the-last-span-counts"),
    pytest.param(rising(), 30, False, id="no-samples"),
])
def test_rising_for(built, over_s, expected):
    assert built.rising_for(over_s) is expected


@given(worst=st.lists(st.floats(0, 1e5, allow_nan=False), min_size=2, max_size=30),
       every_s=st.floats(0.1, 100), over_s=st.floats(0, 3000))
def test_rising_only_when_every_sample_of_the_span_is_high_and_none_falls(worst, every_s, over_s):
    built = rising(*worst, every_s=every_s)
    if built.rising_for(over_s):
        start = max(i for i, sample in enumerate(built.samples) if sample.at <= built.samples[-1].at - over_s)
        span = worst[start:]  # from the newest sample at least over_s old
        assert min(span) > MAX and worst[-1] > span[0]
        assert all(b >= a for a, b in zip(span, span[1:], strict=False))
        assert built.settled is False


def test_progress_shows_how_the_latency_moved_since_the_previous_poll():
    assert rising(10).progress() == rising(10).describe()
    assert rising(10, 25, every_s=15).progress() == (
        "latest CDCLatencySource 25.0 s, CDCLatencyTarget 1.0 s; need <= 5 s for 60 s; worst +15.0 s in 15 s")
