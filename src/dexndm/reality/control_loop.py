"""A fixed-rate loop that keeps its period and measures how well it did.

``RateLoop.wait()`` sleeps until the next tick: an OS sleep for most of the remaining time, then
a short spin on the clock, because OS sleeps wake up late by up to a millisecond or more.
Ticks stay on a fixed schedule (``start + k * period``) so late wake-ups do not accumulate. After
an overrun (the work took longer than a period) the tick happens at once; if a whole period was
lost, the schedule restarts from now instead of firing a burst of short periods to catch up.

The clock and the sleep are injectable; :class:`FakeClock` runs loops in simulated time (tests,
or a simulated hand faster than real time).

Example::

    loop = RateLoop(hz=20)
    for tick in loop.ticks(200):
        hand.send_joint_targets(policy(hand.read_state()))
    print(loop.stats())
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from dexndm.hand.constants import CONTROL_HZ


@dataclass(frozen=True)
class LoopStats:
    """Timing of a :class:`RateLoop` since its start; all times in seconds.

    A *period* is the time between two consecutive ticks (returns of ``wait``).
    """

    target_period_s: float
    num_periods: int
    period_mean_s: float
    period_std_s: float
    period_min_s: float
    period_max_s: float
    jitter_s: float
    """Largest ``|period - target_period_s|``."""
    num_overruns: int
    """Ticks where the work alone took longer than a period (``wait`` was called late)."""
    work_mean_s: float
    """Mean time between a tick and the next ``wait`` call: the loop body's cost."""
    work_max_s: float

    def summary(self) -> str:
        """One line for logs, in milliseconds."""
        return (
            f"{self.num_periods} periods of {1e3 * self.target_period_s:.1f} ms: "
            f"mean {1e3 * self.period_mean_s:.2f}, std {1e3 * self.period_std_s:.2f}, "
            f"max {1e3 * self.period_max_s:.2f}, jitter {1e3 * self.jitter_s:.2f} ms; "
            f"{self.num_overruns} overruns; work mean {1e3 * self.work_mean_s:.2f}, "
            f"max {1e3 * self.work_max_s:.2f} ms"
        )


class RateLoop:
    """Keep a loop at ``hz``.

    Args:
        hz: loop rate, Hz.
        clock: monotonic time source, s (default ``time.perf_counter``).
        sleep: sleep function, s (default ``time.sleep``).
        spin_s: the last part of each wait spent spinning on ``clock`` instead of sleeping, s.
    """

    def __init__(
        self,
        hz: float = CONTROL_HZ,
        *,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
        spin_s: float = 0.002,
    ) -> None:
        if not hz > 0:
            raise ValueError(f"hz must be positive, got {hz}")
        self.period_s = 1.0 / hz
        self.spin_s = spin_s
        self._clock = clock
        self._sleep = sleep
        self._deadline: float | None = None
        self._last_tick = 0.0
        self._reset_stats()

    def _reset_stats(self) -> None:
        # Running sums (Welford) so a loop of hours keeps constant memory.
        self._n = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._min = math.inf
        self._max = 0.0
        self._jitter = 0.0
        self._overruns = 0
        self._work_sum = 0.0
        self._work_max = 0.0

    def start(self) -> float:
        """Start (or restart) the schedule and the statistics now; returns the tick time, s."""
        self._reset_stats()
        self._last_tick = self._clock()
        self._deadline = self._last_tick + self.period_s
        return self._last_tick

    def wait(self) -> float:
        """Sleep until the next tick; returns the tick time, s. Starts the loop if needed."""
        if self._deadline is None:
            return self.start()
        now = self._clock()
        work = now - self._last_tick
        if now >= self._deadline:
            self._overruns += 1
            tick = now  # no catch-up burst: the next period starts now
        else:
            remaining = self._deadline - now
            if remaining > self.spin_s:
                self._sleep(remaining - self.spin_s)
            tick = self._clock()
            while tick < self._deadline:
                tick = self._clock()
        self._record(tick - self._last_tick, work)
        self._last_tick = tick
        # Keep the phase (a late wake-up does not shift later ticks) unless a whole period was
        # lost, in which case restart from now.
        self._deadline += self.period_s
        if self._deadline <= tick:
            self._deadline = tick + self.period_s
        return tick

    def ticks(self, n: int | None = None) -> Iterator[int]:
        """Yield tick indices ``0..n-1`` (forever if ``n`` is None), one per period."""
        self.start()
        i = 0
        while n is None or i < n:
            yield i
            i += 1
            if n is None or i < n:
                self.wait()

    def _record(self, period: float, work: float) -> None:
        self._n += 1
        delta = period - self._mean
        self._mean += delta / self._n
        self._m2 += delta * (period - self._mean)
        self._min = min(self._min, period)
        self._max = max(self._max, period)
        self._jitter = max(self._jitter, abs(period - self.period_s))
        self._work_sum += work
        self._work_max = max(self._work_max, work)

    def stats(self) -> LoopStats:
        """Timing since :meth:`start`; zeros before the first full period."""
        n = self._n
        return LoopStats(
            target_period_s=self.period_s,
            num_periods=n,
            period_mean_s=self._mean,
            period_std_s=math.sqrt(self._m2 / n) if n else 0.0,
            period_min_s=self._min if n else 0.0,
            period_max_s=self._max,
            jitter_s=self._jitter,
            num_overruns=self._overruns,
            work_mean_s=self._work_sum / n if n else 0.0,
            work_max_s=self._work_max,
        )


class FakeClock:
    """Simulated time for :class:`RateLoop` (and anything taking a ``clock``).

    Call it to read the time, ``sleep(dt)`` to let time pass as a sleep would, ``advance(dt)``
    to model work. Each read advances time by ``read_cost_s``, as time passes on a real clock
    while one spins on it (with 0, a loop spinning on this clock never ends); ``oversleep_s``
    models the OS waking a sleeper late.
    """

    def __init__(self, start: float = 0.0, *, read_cost_s: float = 1e-6, oversleep_s: float = 0.0) -> None:
        self.now = start
        self.read_cost_s = read_cost_s
        self.oversleep_s = oversleep_s

    def __call__(self) -> float:
        now = self.now
        self.now += self.read_cost_s
        return now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds) + self.oversleep_s

    def advance(self, seconds: float) -> None:
        self.now += seconds
