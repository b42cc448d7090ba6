"""Fixtures for the hardware tests: a byte-level emulated hand on a pseudo-terminal.

Emulated time is a frozen :class:`FakeClock`: joints move only when a test advances it, so
reads are deterministic. Bus timeouts still run on real time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from dexndm.hand.constants import DEFAULT_POSE
from dexndm.hardware.emulator import DynamixelEmulator
from dexndm.hardware.leap import LeapHandConfig
from dexndm.hardware.motor_backend import FirstOrderServoBackend
from dexndm.reality.control_loop import FakeClock

TIME_CONSTANT_S = 0.1
ANSWER_TIMEOUT_MS = 200.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(read_cost_s=0.0)


@pytest.fixture
def backend() -> FirstOrderServoBackend:
    return FirstOrderServoBackend(DEFAULT_POSE, time_constant_s=TIME_CONSTANT_S)


@pytest.fixture
def emulator(backend: FirstOrderServoBackend, clock: FakeClock) -> Iterator[DynamixelEmulator]:
    with DynamixelEmulator(backend, clock=clock) as emu:
        yield emu


@pytest.fixture
def make_config() -> Callable[..., LeapHandConfig]:
    """Config for the emulator: few retries, no signal handlers, and a long answer timeout so
    that a test machine under load (the emulator thread waiting for a CPU) does not lose
    answers; tests that expect a lost answer pay this timeout once per lost answer."""

    def make(port: str, **overrides) -> LeapHandConfig:
        settings = dict(
            port=port,
            retries=1,
            watchdog_reads=2,
            install_signal_handlers=False,
            answer_timeout_ms=ANSWER_TIMEOUT_MS,
        )
        settings.update(overrides)
        return LeapHandConfig(**settings)

    return make
