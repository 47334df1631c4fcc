"""CDC latency: when a DMS task has drained (before a pause) or converged (after a restart).

DMS publishes ``CDCLatencySource`` and ``CDCLatencyTarget`` to CloudWatch
(namespace AWS/DMS; https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Monitoring.html).
Latency is "settled" when both stay at or below a threshold for a sustained
window; one low sample between bursts is not enough.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise


@dataclass(frozen=True)
class LatencySample:
    at: float  # seconds, monotonic or epoch; only differences matter
    source_s: float
    target_s: float

    @property
    def worst_s(self) -> float:
        return max(self.source_s, self.target_s)


@dataclass
class LatencyWindow:
    """Feed samples in time order; ``settled`` once every sample of the last ``sustain_s`` is low enough."""

    max_latency_s: float
    sustain_s: float
    samples: list[LatencySample] = field(default_factory=list)

    def add(self, sample: LatencySample) -> None:
        self.samples.append(sample)

    @property
    def settled(self) -> bool:
        if not self.samples:
            return False
        newest = self.samples[-1].at
        high = [s.at for s in self.samples if s.worst_s > self.max_latency_s]
        low_since = max(high) if high else None
        first = self.samples[0].at
        if low_since is None:
            return newest - first >= self.sustain_s
        later = [s.at for s in self.samples if s.at > low_since]
        return bool(later) and newest - later[0] >= self.sustain_s

    def rising_for(self, over_s: float) -> bool:
        """True when the samples of at least the last ``over_s`` seconds all stay above ``max_latency_s`` and
        never fall, and the last is higher than the first: CDC falls further behind instead of draining (changes
        arrive faster than they are applied), so waiting longer cannot make it settle."""
        start = [i for i, s in enumerate(self.samples) if s.at <= self.samples[-1].at - over_s]
        if not start:
            return False
        worst = [s.worst_s for s in self.samples[start[-1]:]]
        return (min(worst) > self.max_latency_s and all(b >= a for a, b in pairwise(worst))
                and worst[-1] > worst[0])

    def describe(self) -> str:
        if not self.samples:
            return "no CDC latency samples yet"
        last = self.samples[-1]
        return (f"latest CDCLatencySource {last.source_s:.1f} s, CDCLatencyTarget {last.target_s:.1f} s; "
                f"need <= {self.max_latency_s:g} s for {self.sustain_s:g} s")

    def progress(self) -> str:
        """:meth:`describe` and how the worst latency moved since the previous sample (what a wait logs per poll)."""
        if len(self.samples) < 2:
            return self.describe()
        previous, last = self.samples[-2:]
        return f"{self.describe()}; worst {last.worst_s - previous.worst_s:+.1f} s in {last.at - previous.at:.0f} s"
