"""The sim <-> motor joint map, end to end: the most common cause of fingers bending backwards.

Three independent sources must agree: ``hand.constants`` (used by the driver), the emulator's
own wiring table, and the literal table below, written from the LEAP hand's documentation.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from dexndm.hand.constants import DEFAULT_POSE, JOINT_NAMES, RAD_PER_TICK
from dexndm.hardware.emulator import DynamixelEmulator
from dexndm.hardware.leap import LeapHand, LeapHandConfig, joint_targets_to_goal_ticks, registers_to_state
from dexndm.hardware.motor_backend import FirstOrderServoBackend
from dexndm.reality.control_loop import FakeClock

# Motors per finger: [rot, mcp, pip, dip]; thumb motors 12-15 follow the sim order.
EXPECTED_MOTOR_ID = {
    "if_mcp": 1, "if_rot": 0, "if_pip": 2, "if_dip": 3,
    "mf_mcp": 5, "mf_rot": 4, "mf_pip": 6, "mf_dip": 7,
    "rf_mcp": 9, "rf_rot": 8, "rf_pip": 10, "rf_dip": 11,
    "th_cmc": 12, "th_axl": 13, "th_mcp": 14, "th_ipl": 15,
}  # fmt: skip


@pytest.fixture(scope="module")
def rig() -> Iterator[tuple[DynamixelEmulator, FirstOrderServoBackend, LeapHand]]:
    backend = FirstOrderServoBackend(DEFAULT_POSE)
    with (
        DynamixelEmulator(backend, clock=FakeClock(read_cost_s=0.0)) as emulator,
        LeapHand(LeapHandConfig(emulator.port, install_signal_handlers=False, answer_timeout_ms=200)) as hand,
    ):
        yield emulator, backend, hand


@pytest.mark.parametrize("joint", JOINT_NAMES)
def test_one_sim_joint_moves_exactly_its_motor(rig, joint: str) -> None:
    emulator, _, hand = rig
    baseline = hand.safety.last_targets.copy()
    handled = emulator.instructions_handled
    hand.send_joint_targets(baseline)
    emulator.wait_handled(handled + 1)
    before = emulator.registers("goal_position")

    targets = baseline.copy()
    j = JOINT_NAMES.index(joint)
    targets[j] += 0.05 if targets[j] < 0.5 else -0.05
    handled = emulator.instructions_handled
    hand.send_joint_targets(targets)
    emulator.wait_handled(handled + 1)
    after = emulator.registers("goal_position")

    changed = np.flatnonzero(after != before)
    assert changed.tolist() == [EXPECTED_MOTOR_ID[joint]]
    assert after[EXPECTED_MOTOR_ID[joint]] == round((targets[j] + np.pi) / RAD_PER_TICK)


@pytest.mark.parametrize("joint", JOINT_NAMES)
def test_one_motor_moving_shows_in_exactly_its_sim_joint(rig, joint: str) -> None:
    _, backend, hand = rig
    before = hand.read_state().joint_pos
    j = JOINT_NAMES.index(joint)
    backend.pos[j] += 0.2  # the backend speaks sim order; the emulator maps it to motor ids
    try:
        after = hand.read_state().joint_pos
    finally:
        backend.pos[j] -= 0.2
    moved = np.flatnonzero(np.abs(after - before) > RAD_PER_TICK)
    assert moved.tolist() == [j]
    assert after[j] - before[j] == pytest.approx(0.2, abs=RAD_PER_TICK)


def test_pure_conversions() -> None:
    np.testing.assert_array_equal(joint_targets_to_goal_ticks(np.zeros(16)), 2048)  # sim 0 = pi
    targets = np.zeros(16)
    targets[JOINT_NAMES.index("th_cmc")] = np.pi / 2
    ticks = joint_targets_to_goal_ticks(targets)
    assert ticks[12] == 3072 and (np.delete(ticks, 12) == 2048).all()
    pos, vel, current = registers_to_state(ticks, np.full(16, -10), np.full(16, 250))
    np.testing.assert_allclose(pos, targets, atol=1e-12)
    np.testing.assert_allclose(vel, -10 * 0.229 * 2 * np.pi / 60)
    np.testing.assert_allclose(current, 0.25)
