"""Faults on the wire: lost and corrupted status packets, dead motors, hardware errors."""

from __future__ import annotations

import numpy as np
import pytest

from dexndm.hand.constants import RAD_PER_TICK
from dexndm.hardware import protocol as p2
from dexndm.hardware.bus import BusTimeoutError, HardwareError
from dexndm.hardware.emulator import DynamixelEmulator
from dexndm.hardware.leap import LeapHand
from dexndm.hardware.motor_backend import FirstOrderServoBackend


def test_dropped_status_is_retried(emulator: DynamixelEmulator, backend, make_config) -> None:
    with LeapHand(make_config(emulator.port, retries=1)) as hand:
        reads = emulator.instructions[p2.INST_SYNC_READ]
        emulator.drop_status(1, motor_id=5)
        state = hand.read_state()
        assert emulator.status_dropped == 1
        assert emulator.instructions[p2.INST_SYNC_READ] == reads + 2
        assert hand.bus.failed_attempts == 1
    np.testing.assert_allclose(state.joint_pos, backend.pos, atol=RAD_PER_TICK / 2 + 1e-12)


def test_dropped_ack_during_connect_is_retried(emulator: DynamixelEmulator, make_config) -> None:
    emulator.drop_status(1)  # motor 0's answer to the first ping
    with LeapHand(make_config(emulator.port, retries=1)) as hand:
        assert hand.is_connected
    assert emulator.status_dropped == 1
    assert emulator.instructions[p2.INST_PING] == 17


def test_corrupted_status_is_never_used(
    emulator: DynamixelEmulator, backend: FirstOrderServoBackend, make_config
) -> None:
    with LeapHand(make_config(emulator.port, retries=1)) as hand:
        # The corruption flips a bit of the position's top byte: 2**24 ticks off if it got through.
        emulator.corrupt_status(1, motor_id=3)
        state = hand.read_state()
        assert emulator.status_corrupted == 1
        assert hand.bus.failed_attempts == 1
    np.testing.assert_allclose(state.joint_pos, backend.pos, atol=RAD_PER_TICK / 2 + 1e-12)


def test_silent_motor_trips_watchdog_and_torque_goes_off(emulator: DynamixelEmulator, make_config) -> None:
    config = make_config(emulator.port, retries=1, watchdog_reads=3)
    with pytest.raises(BusTimeoutError) as info, LeapHand(config) as hand:
        first = hand.read_state()
        emulator.drop_status(10**6, motor_id=7)  # mf_dip stops answering for good
        # Below the watchdog, a failed read hands back the last state, its timestamp unchanged.
        assert hand.read_state() is first
        assert hand.read_state() is first
        hand.read_state()
    assert info.value.silent_ids == (7,)
    assert "motor 7 (mf_dip)" in str(info.value) and "3 consecutive" in str(info.value)
    # The torque-off sync write needs no answer, so it reaches the silent motor too.
    np.testing.assert_array_equal(emulator.registers("torque_enable"), 0)
    assert not hand.is_connected


def test_persistent_corruption_trips_watchdog(emulator: DynamixelEmulator, make_config) -> None:
    with (
        pytest.raises(BusTimeoutError, match=r"motor 12 \(th_cmc\)"),
        LeapHand(make_config(emulator.port, retries=0, watchdog_reads=1)) as hand,
    ):
        emulator.corrupt_status(10**6, motor_id=12)
        hand.read_state()
    np.testing.assert_array_equal(emulator.registers("torque_enable"), 0)


def test_hardware_error_names_the_joint(emulator: DynamixelEmulator, make_config) -> None:
    with (
        pytest.raises(HardwareError, match="th_ipl: overload") as info,
        LeapHand(make_config(emulator.port)) as hand,
    ):
        hand.read_state()
        emulator.set_hardware_error(15, 1 << 5)
        hand.read_state()
    assert info.value.errors == {15: ["overload"]}
    np.testing.assert_array_equal(emulator.registers("torque_enable"), 0)
