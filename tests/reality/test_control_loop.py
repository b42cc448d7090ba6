"""RateLoop timing, measured in simulated time (deterministic) and once on the real clock."""

from __future__ import annotations

import pytest

from dexndm.reality.control_loop import FakeClock, RateLoop


def _loop(clock: FakeClock, hz: float = 20.0, spin_s: float = 0.002) -> RateLoop:
    return RateLoop(hz, clock=clock, sleep=clock.sleep, spin_s=spin_s)


def test_idle_loop_keeps_period_exactly() -> None:
    clock = FakeClock()
    loop = _loop(clock)
    ticks = [loop.start()] + [loop.wait() for _ in range(100)]
    stats = loop.stats()
    assert stats.num_periods == 100 and stats.num_overruns == 0
    assert stats.period_mean_s == pytest.approx(0.05, abs=1e-5)
    assert stats.period_std_s < 1e-5 and stats.jitter_s < 1e-5
    assert ticks[-1] - ticks[0] == pytest.approx(100 * 0.05, abs=1e-5)


def test_overruns_counted_and_jitter_measured() -> None:
    clock = FakeClock()
    loop = _loop(clock)
    loop.start()
    for i in range(20):
        clock.advance(0.07 if i in (3, 11) else 0.01)  # the loop body's work
        loop.wait()
    stats = loop.stats()
    assert stats.num_overruns == 2
    assert stats.period_max_s == pytest.approx(0.07, abs=1e-5)
    assert stats.jitter_s == pytest.approx(0.02, abs=1e-5)
    assert stats.work_max_s == pytest.approx(0.07, abs=1e-5)
    assert stats.work_mean_s == pytest.approx((18 * 0.01 + 2 * 0.07) / 20, abs=1e-5)
    # After a 70 ms tick the schedule holds its phase: the next period is 30 ms, not a burst.
    assert stats.period_min_s == pytest.approx(0.03, abs=1e-5)
    assert stats.period_mean_s > 0.05


def test_long_overrun_restarts_schedule() -> None:
    clock = FakeClock()
    loop = _loop(clock)
    loop.start()
    clock.advance(0.2)  # four periods lost
    late = loop.wait()
    nxt = loop.wait()
    assert nxt - late == pytest.approx(0.05, abs=1e-5)
    assert loop.stats().num_overruns == 1


def test_late_wakeups_are_absorbed_by_the_spin() -> None:
    clock = FakeClock(oversleep_s=0.001)  # the OS wakes us 1 ms late; the spin covers 2 ms
    loop = _loop(clock)
    loop.start()
    for _ in range(10):
        loop.wait()
    assert loop.stats().jitter_s < 1e-5


def test_late_wakeups_beyond_the_spin_do_not_accumulate() -> None:
    clock = FakeClock(oversleep_s=0.003)
    loop = _loop(clock, spin_s=0.0)
    start = loop.start()
    ticks = [loop.wait() for _ in range(10)]
    assert ticks[-1] - start == pytest.approx(10 * 0.05 + 0.003, abs=1e-5)
    assert loop.stats().jitter_s == pytest.approx(0.003, abs=1e-5)


def test_ticks_iterator_counts() -> None:
    clock = FakeClock()
    loop = _loop(clock)
    assert list(loop.ticks(5)) == [0, 1, 2, 3, 4]
    assert loop.stats().num_periods == 4
    assert "4 periods of 50.0 ms" in loop.stats().summary()


def test_real_clock_never_ticks_early() -> None:
    loop = RateLoop(hz=200.0)
    start = loop.start()
    for _ in range(10):
        last = loop.wait()
    assert last - start >= 10 * loop.period_s - 1e-6
    assert loop.stats().num_periods == 10


def test_rejects_bad_rate() -> None:
    with pytest.raises(ValueError):
        RateLoop(hz=0)
