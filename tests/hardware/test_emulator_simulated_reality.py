"""LeapHand through the byte-level emulator backed by SimulatedReality == SimulatedReality directly."""

from __future__ import annotations

import numpy as np
import pytest

from dexndm.hand.constants import RAD_PER_TICK
from dexndm.hardware.emulator import DynamixelEmulator
from dexndm.hardware.leap import LeapHand
from dexndm.hardware.motor_backend import MotorBackend, SimulatedRealityBackend
from dexndm.reality.base import SafetyFilter
from dexndm.reality.control_loop import FakeClock
from dexndm.reality.simulated import SimulatedReality

STEPS = 30


def test_leap_hand_on_emulated_reality_follows_the_direct_trajectory(make_config) -> None:
    """Same profile, seed and targets: driver + packets + emulator, or straight into the simulated
    hand. Emulated time advances by control periods (a frozen FakeClock), never by wall clock."""
    clock = FakeClock(read_cost_s=0.0)
    served = SimulatedReality("harsh", obj="cube", seed=3)  # harsh: noise, jitter and latencies all on
    direct = SimulatedReality("harsh", obj="cube", seed=3, safety=SafetyFilter(max_delta_per_tick=None))
    backend = SimulatedRealityBackend(served)
    assert isinstance(backend, MotorBackend)
    phases = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    with (
        DynamixelEmulator(backend, clock=clock) as emulator,
        LeapHand(make_config(emulator.port, max_delta_per_tick=None), clock=clock) as hand,
        direct,
    ):
        start = hand.read_state().joint_pos
        np.testing.assert_allclose(start, direct.read_state().joint_pos, atol=RAD_PER_TICK)
        worst = 0.0
        for k in range(STEPS):
            targets = start + 0.3 * np.sin(2 * np.pi * k / 20 + phases)
            handled = emulator.instructions_handled
            sent = hand.send_joint_targets(targets)
            emulator.wait_handled(handled + 1)  # a sync write has no answer to wait for
            np.testing.assert_allclose(direct.send_joint_targets(targets), sent)
            clock.advance(0.05)
            direct.advance(0.05)
            over_bus, reference = hand.read_state(), direct.read_state()
            worst = max(worst, float(np.abs(over_bus.joint_pos - reference.joint_pos).max()))
            assert np.abs(over_bus.joint_vel - reference.joint_vel).max() < 0.03  # 0.229 rpm units
            assert np.abs(over_bus.motor_current - reference.motor_current).max() <= 1.5e-3  # mA units
        assert worst <= RAD_PER_TICK
        assert served.time == direct.time == pytest.approx(STEPS * 0.05)
        assert np.abs(reference.joint_pos - start).max() > 0.1  # the hand really moved
